#!/usr/bin/env bash
# tests/partition/highmem.sh - cross-partition memory above the PCI hole
# (issue 10, defect 5): two partitions of 8 GiB (XPMEM_LAB_MEM=8G).  QEMU's
# pc machine then puts 3 GiB of RAM below 4 GiB and 5 GiB above, so an
# owner's frame F >= 4 GiB lies at F - 1 GiB in its RAM file, which is what
# a peer's window shows.  Checks:
#  - the RAM files are sparse (the host holds what the guests touched only);
#  - each partition's RAM reaches past 4 GiB, and each found the other's
#    window (the owner's tag page is above 4 GiB: finding it goes through
#    the translation);
#  - the pattern scenario (data both ways, in place and after a remap) each
#    way, after the owner's memory below 4 GiB was filled by a process that
#    holds it, with every exported page above 4 GiB (the exporter reads its
#    frames from /proc/self/pagemap, --frames-high);
#  - the 100,000-page scenario 0 -> 1 the same way;
#  - kernel logs clean and rmmod per partition.
# Without the translation the tag was looked for at its untranslated frame:
# no window found, every remote fault failed.  Not in the default run (two
# 8 GiB guests; docs/testing.md says how long it takes); tests/run --suite
# soak runs it.  One verdict line per check, exits non-zero on a failure.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export XPMEM_LAB_MEM=${XPMEM_HIGHMEM_MEM:-8G}
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}/highmem
# shellcheck source=remote-lib.sh
. "$repo/tests/partition/remote-lib.sh"
n=2
rm -rf "$logs"
mkdir -p "$logs"
log=$logs/highmem.log

# shellcheck source=../../tools/lab/verdicts.sh
. "$repo/tools/lab/verdicts.sh"
verdicts_init highmem "$log" "$logs/down.log"
plan "$((5 + 2 * n))"

[ -x "$bin/xpmem-xpart-export" ] || { fail "${bin#"$repo"/} is not built"; exit 1; }
"$lab" down >/dev/null 2>&1
t0=$SECONDS
if ! "$lab" up -n $n >"$logs/up.log" 2>&1; then
	fail "up -n $n with $XPMEM_LAB_MEM each (log: ${logs#"$repo"/}/up.log)"
	exit 1
fi
echo "up -n $n with $XPMEM_LAB_MEM: $((SECONDS - t0)) s" >>"$log"

sparse() {
	local p f size used
	for ((p = 0; p < n; p++)); do
		f=$(ram_of $p)
		size=$(stat -c %s "$f")
		used=$(($(stat -c %b "$f") * $(stat -c %B "$f")))
		echo "partition $p: RAM file $f: $size bytes, $used on disk"
		[ "$used" -lt $((size / 2)) ] || return 1
	done
}
check "RAM files of $XPMEM_LAB_MEM are sparse" sparse

windows() {
	local p q v i
	for ((p = 0; p < n; p++)); do
		"$lab" exec $p --timeout 30 -- sh -c 'grep "System RAM" /proc/iomem' || return 1
		"$lab" exec $p --timeout 30 -- sh -c 'grep -q "^1[0-9a-f]\{8\}-.*System RAM" /proc/iomem' ||
			{ echo "partition $p has no RAM above 4 GiB"; return 1; }
		q=$((1 - p))
		wait_state $p $q UP 60000 >/dev/null || return 1
		for ((i = 0; i < 100; i++)); do	# the rescan identifies windows
			v=$(view $p)
			[ "$(field "$v" $q 6)" != -1 ] && break
			sleep 0.3
		done
		echo "partition $p:"
		echo "$v"
		[ "$(field "$v" $q 6)" != -1 ] || { echo "partition $p found no window onto $q"; return 1; }
		"$lab" exec $p --timeout 30 -- sh -c 'dmesg | grep "is peer window"'
	done
}
check "RAM above 4 GiB in both, each found the other's window" windows

for p in 0 1; do
	xctl $p set fault_ms 3000 >/dev/null
done
scenario() { # NAME E A SCENARIO PAGES
	local r=0
	pair "$1" "$2" "$3" "$4" --pages "$5" --frames-high "$5" || r=1
	grep -h '^frames ' "$logs/$1.exp"
	return $r
}
check "pattern, every exported page above 4 GiB (0 -> 1)" scenario hm-pattern 0 1 pattern 64
check "pattern, every exported page above 4 GiB (1 -> 0)" scenario hm-pattern-back 1 0 pattern 64
check "100,000 pages stamped and checked, all above 4 GiB (0 -> 1)" scenario hm-scale 0 1 scale 100000
echo "total: $((SECONDS - t0)) s" >>"$log"

for ((p = 0; p < n; p++)); do
	check "partition $p: kernel log clean" "$lab" dmesg-check $p
	check "partition $p: rmmod xpmem (nothing leaked)" "$lab" exec $p --timeout 120 -- busybox rmmod xpmem
done
echo "highmem: $((SECONDS - t0)) s" | tee -a "$log"
exit $failed
