#!/usr/bin/env bash
# tests/partition/soak.sh - kill-mid-invalidate, over and over: three
# partitions; XPMEM_SOAK_ROUNDS times (default 20) the attacher's partition 1
# is killed while its kernel shows an INVALIDATE from 0 in service, and
# restarted (tests/partition/kmi.py invalidate, the lab library's one
# kill-mid-invalidate: munmap within dead_ms of the kill, 1 fenced, its
# pages quarantined and still holding the canaries after memory pressure,
# released and unpinned once 1 rejoins).  Every round must pass: no hang
# (every command is bounded), pinned_pages back to 0, and at the end every
# partition's kernel log clean, partition 1's console logs of the killed
# boots included, and rmmod clean.  Prints the munmap times it measured.
# tests/run --suite soak runs it; it is not in the default run.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}/soak
# shellcheck source=remote-lib.sh
. "$repo/tests/partition/remote-lib.sh"
n=3
rounds=${XPMEM_SOAK_ROUNDS:-20}
rm -rf "$logs"
mkdir -p "$logs"
log=$logs/soak.log

# shellcheck source=../../tools/lab/verdicts.sh
. "$repo/tools/lab/verdicts.sh"
verdicts_init soak "$log" "$logs/down.log"
# The verdicts this script prints (tests/run fails a suite printing fewer or
# more): the rounds, the killed consoles, kernel log and rmmod per partition.
plan "$((2 + 2 * n))"

[ -x "$bin/xpmem-xpart-export" ] || { fail "${bin#"$repo"/} is not built"; exit 1; }
"$lab" down >/dev/null 2>&1
if ! "$lab" up -n "$n" >"$logs/up.log" 2>&1; then
	fail "up -n $n with the module (log: ${logs#"$repo"/}/up.log)"
	exit 1
fi
for ((p = 0; p < n; p++)); do
	wait_state 0 "$p" UP 30000 >/dev/null || { fail "partition $p not UP"; exit 1; }
done

bad=0 times=()
t0=$SECONDS
for ((i = 1; i <= rounds; i++)); do
	echo "==== round $i" >>"$log"
	if kill_mid_invalidate "$i" 1 >"$logs/round-$i.log" 2>&1; then
		times+=("$(awk '/^kmi_munmap_ms /{ print $2 }' "$logs/round-$i.log")")
	else
		bad=$((bad + 1))
		echo "round $i failed:"
		sed 's/^/    | /' "$logs/round-$i.log" | tail -n 30
	fi
	cat "$logs/round-$i.log" >>"$log"
done
if [ $bad = 0 ]; then
	pass "kill mid-invalidate x $rounds: every round fenced, quarantined, kept, released ($((SECONDS - t0)) s)"
else
	fail "kill mid-invalidate: $bad of $rounds rounds failed (logs: ${logs#"$repo"/}/)"
fi
if [ ${#times[@]} -gt 0 ]; then
	printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
		printf "    munmap under a dying peer, ms (inval_ms 10000, dead_ms 1000): n %d  min %d  median %d  max %d\n",
			NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
fi

# Kernel messages of warning level and up reach the console log: the killed
# boots of 1 (kept by kmi.py) must show none either.
if killed_consoles_clean "$rounds" >>"$log" 2>&1; then
	pass "partition 1: console logs of the $rounds killed boots clean"
else
	fail "partition 1: a killed boot's console log shows errors, or is missing (soak.log)"
fi
for ((p = 0; p < n; p++)); do
	if "$lab" dmesg-check "$p" >>"$log" 2>&1; then
		pass "partition $p: kernel log clean"
	else
		fail "partition $p: kernel log shows errors (${logs#"$repo"/}/soak.log)"
	fi
done
for ((p = 0; p < n; p++)); do
	if "$lab" exec "$p" --timeout 60 -- busybox rmmod xpmem >>"$log" 2>&1; then
		pass "partition $p: rmmod xpmem"
	else
		fail "partition $p: rmmod xpmem"
	fi
done
exit $failed
