#!/usr/bin/env bash
# tests/partition/run-suite.sh - the partition suite: boots a multi-partition
# lab (tools/xpmem-lab up -n N, N = XPMEM_PARTITION_N or 3), checks the
# fabric from inside the guests and from the host, and takes it down.
# One verdict line per check ("PASS partition: ..." / "FAIL partition: ...")
# for tests/run to tally; exits non-zero if any check failed.
#
# The module is not loaded: this suite checks the lab's wiring, which the
# module's partition layer builds on.
# What it proves: each partition sees one ivshmem-doorbell device (MSI-X,
# IVPosition = its fabric id, BAR2 = fabricd's control region) and one
# ivshmem-plain window per peer whose bytes ARE that peer's RAM (a marker
# written through A's window onto B shows up in a page B's process holds
# and in B's RAM file at the page's physical address); doorbells go through
# fabricd, which counts and drops them on request; a killed partition
# restarts under its old id and its peers reach it again; a partition fabricd
# cuts off keeps running but is rung no more; down leaves nothing behind.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
lab=$repo/tools/xpmem-lab
probe=$LAB_BUILD/tests/partition/xpmem-partition-probe
n=${XPMEM_PARTITION_N:-3}
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}
mkdir -p "$logs"
# shellcheck source=../../tools/lab/verdicts.sh
. "$repo/tools/lab/verdicts.sh"
verdicts_init partition "$logs/checks.log" "$logs/down.log"
slot() { printf '0000:00:%02x.0' $((16 + $1)); } # partition Q's window (tools/lab/vm.sh)
ram_of() { if [ "$1" = 0 ]; then echo "$LAB_RUN/ram"; else echo "$LAB_RUN/p$1/ram"; fi; }
# fabricd's counter for id P: field rung | delivered | dropped | connects
counter() { "$lab" fabric stats 2>/dev/null | awk -v id="$1" -v k="$2" \
	'$1 == "id" && $2 == id { for (i = 3; i < NF; i++) if ($i == k) print $(i + 1) }'; }

# The verdicts this script prints (tests/run fails a suite printing fewer or
# more): up; devices per partition; windows a -> b, a != b; three doorbell
# checks, status --json, six kill/restart checks, stop/cont; cut; a region
# of 80 slots; kernel log per partition; down.
plan "$((1 + n + n * (n - 1) + 11 + 1 + 1 + n + 1))"

[ -x "$probe" ] || { fail "${probe#"$repo"/} is not built"; exit 1; }
[ -x "$LAB_FABRICD" ] || { fail "${LAB_FABRICD#"$repo"/} is not built"; exit 1; }
"$lab" down >/dev/null 2>&1
t0=$(date +%s)
# Without the module: these checks read the devices through sysfs, which a
# bound driver (the module's fabric layer) forbids for the registers.
if ! "$lab" up -n "$n" --no-module >"$logs/up.log" 2>&1; then
	fail "up -n $n (log: ${logs#"$repo"/}/up.log)"
	sed 's/^/    | /' "$logs/up.log" | tail -n 40
	exit 1
fi
pass "up -n $n in $(($(date +%s) - t0)) s"

# Devices, seen from each partition.
devices_ok() { # P
	local p=$1 out q want
	out=$("$lab" exec "$p" --timeout 60 -- "$probe" devices) || return 1
	echo "partition $p: $out"
	grep -qx "dev 0000:00:08.0 doorbell msix 1 ivpos $p bar2 [0-9]*" <<<"$out" || return 1
	[ "$(grep -c ' doorbell ' <<<"$out")" = 1 ] || return 1
	[ "$(grep -c ' plain ' <<<"$out")" = $((n - 1)) ] || return 1
	want=$(stat -c %s "$(ram_of "$p")")
	for ((q = 0; q < n; q++)); do
		[ "$q" = "$p" ] && continue
		grep -qx "dev $(slot "$q") plain msix 0 bar2 $want" <<<"$out" || return 1
	done
}
for ((p = 0; p < n; p++)); do
	check "partition $p: one doorbell device (MSI-X, IVPosition $p) and $((n - 1)) peer windows" devices_ok "$p"
done

# A writes through its window onto B; B's process and B's RAM file see it.
window_ok() { # A B
	local a=$1 b=$2 marker hold off got i
	marker="xpmem-window-$a-to-$b-$RANDOM$RANDOM"
	hold=$logs/hold-$a-$b.out
	: >"$hold"
	"$lab" exec "$b" --timeout 60 -- "$probe" hold 40 "$marker" >"$hold" 2>&1 &
	local holder=$!
	for ((i = 0; i < 300; i++)); do
		grep -q '^phys ' "$hold" && break
		kill -0 "$holder" 2>/dev/null || break
		sleep 0.1
	done
	off=$(awk '/^phys /{ print $2 }' "$hold")
	if [ -z "$off" ]; then
		echo "partition $b did not report a physical address:"; cat "$hold"
		kill "$holder" 2>/dev/null; wait "$holder"; return 1
	fi
	"$lab" exec "$a" --timeout 60 -- "$probe" write "$(slot "$b")" "$off" "$marker" || {
		kill "$holder" 2>/dev/null; wait "$holder"; return 1; }
	wait "$holder" || { echo "partition $b:"; cat "$hold"; return 1; }
	got=$(dd if="$(ram_of "$b")" bs=4096 skip=$((off / 4096)) count=1 2>/dev/null |
		head -c "${#marker}")
	echo "A=$a B=$b offset $off host read: $got"
	[ "$got" = "$marker" ]
}
for ((a = 0; a < n; a++)); do
	for ((b = 0; b < n; b++)); do
		[ "$a" = "$b" ] && continue
		check "window $a -> $b maps partition $b's RAM (guest and host see the marker)" window_ok "$a" "$b"
	done
done

# Doorbells through fabricd: counted, dropped on request.
ring() { "$lab" exec "$1" --timeout 60 -- "$probe" ring 0000:00:08.0 "$2" 0 "$3" >/dev/null; }
doorbell_ok() { # A B MODE: MODE = deliver | drop-to | drop-from
	local a=$1 b=$2 mode=$3 d0 x0 d1 x1 r=0 i
	d0=$(counter "$b" delivered); x0=$(counter "$b" dropped)
	case $mode in
	drop-to) "$lab" fabric drop-to "$b" on || return 1 ;;
	drop-from) "$lab" fabric drop-from "$a" on || return 1 ;;
	esac
	ring "$a" "$b" 3 || r=1
	# fabricd forwards asynchronously: give it a moment to read the eventfds.
	for ((i = 0; i < 50; i++)); do
		d1=$(counter "$b" delivered); x1=$(counter "$b" dropped)
		[ $((d1 + x1 - d0 - x0)) -ge 3 ] && break
		sleep 0.1
	done
	case $mode in
	drop-to) "$lab" fabric drop-to "$b" off ;;
	drop-from) "$lab" fabric drop-from "$a" off ;;
	esac
	echo "$mode $a -> $b: delivered $d0 -> $d1, dropped $x0 -> $x1"
	[ $r = 0 ] || return 1
	if [ "$mode" = deliver ]; then
		[ $((d1 - d0)) = 3 ] && [ "$x1" = "$x0" ]
	else
		[ "$d1" = "$d0" ] && [ $((x1 - x0)) = 3 ]
	fi
}
check "doorbell 0 -> 1 delivered through fabricd" doorbell_ok 0 1 deliver
check "fabric drop-to 1 drops doorbells to 1" doorbell_ok 0 1 drop-to
check "fabric drop-from 0 drops doorbells from 0" doorbell_ok 0 1 drop-from

json_ok() {
	"$lab" status --json | python3 -c '
import json, sys
a = json.load(sys.stdin)
n = int(sys.argv[1]); want = sys.argv[2].split(",")
assert isinstance(a, list) and len(a) == n, a
for i, e in enumerate(a):
    assert set(e) == {"id", "state", "epoch", "hb_age_ms", "reason"}, e
    assert e["id"] == i and e["state"] == want[i], (e, want[i])
print(a)' "$n" "$1"
}
all_up=$(printf 'UP,%.0s' $(seq "$n")); all_up=${all_up%,}
check "status --json: $n partitions, all UP" json_ok "$all_up"

# Kill the last partition, restart it: same id, windows and doorbells work.
last=$((n - 1))
killed_ok() {
	local st
	"$lab" kill "$last" || return 1
	st=$("$lab" status)
	echo "$st"
	grep -qx "partition $last: dead, pid [0-9]*, fabric: not connected" <<<"$st"
}
check "kill $last: dead, disconnected from fabricd" killed_ok
t0=$(date +%s)
check "restart $last" "$lab" restart "$last" --no-module
echo "    (restart took $(($(date +%s) - t0)) s)"
check "restart $last: fabric id $last again (second connection)" \
	test "$(counter "$last" connects)" = 2
check "window 0 -> $last after the restart" window_ok 0 "$last"
check "window $last -> 0 after the restart" window_ok "$last" 0
check "doorbell 0 -> $last after the restart" doorbell_ok 0 "$last" deliver

stopped_ok() {
	local r=0 st
	"$lab" stop 1 || return 1
	st=$("$lab" status)
	echo "$st"
	grep -qx "partition 1: stopped, pid [0-9]*, fabric: connected, id 1" <<<"$st" || r=1
	"$lab" cont 1 || return 1
	"$lab" exec 1 --timeout 60 -- true || return 1
	return $r
}
check "stop 1 / cont 1: stopped, then answers again" stopped_ok

# cut: fabricd drops the connection; QEMU lives on, cut off from doorbells.
cut_ok() {
	local st x0 x1 d0 i
	"$lab" fabric cut 1 || return 1
	st=$("$lab" status)
	echo "$st"
	grep -qx "partition 1: running, pid [0-9]*, fabric: not connected" <<<"$st" || return 1
	x0=$(counter 1 dropped); d0=$(counter 1 delivered)
	ring 0 1 2 || return 1
	for ((i = 0; i < 50; i++)); do
		x1=$(counter 1 dropped)
		[ $((x1 - x0)) -ge 2 ] && break
		sleep 0.1
	done
	echo "after cut: delivered $d0 -> $(counter 1 delivered), dropped $x0 -> $x1"
	[ $((x1 - x0)) = 2 ] && [ "$(counter 1 delivered)" = "$d0" ] &&
		"$lab" exec 1 --timeout 60 -- true
}
check "fabric cut 1: QEMU keeps running, doorbells to 1 dropped" cut_ok

# A region with more partition slots than the module's tables (80 > 64),
# slot 70 marked UP as a live partition would be: the module must refuse
# it (clamping the count left the membership core walking all 80 slots,
# past the tables), and its kernel log must stay clean.
big_region_refused() {
	local reformat=$LAB_BUILD/tests/partition/xpmem-partition-reformat r=0
	"$reformat" "$LAB_FABRIC/region" 80 2 70 || return 1
	"$lab" exec 0 --timeout 60 -- busybox insmod "$LAB_MODULE" || return 1
	sleep 3
	"$lab" exec 0 --timeout 30 -- sh -c 'dmesg | grep xpmem | tail -n 5'
	"$lab" exec 0 --timeout 30 -- sh -c \
		'dmesg | grep -q "control region refused: 80 partition slots"' || r=1
	"$lab" dmesg-check 0 || r=1
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem || r=1
	return $r
}
if [ -x "$LAB_BUILD/tests/partition/xpmem-partition-reformat" ] && [ -f "$LAB_MODULE" ]; then
	check "region of 80 slots, slot 70 UP: refused by the module, kernel log clean" big_region_refused
else
	fail "region of 80 slots: xpmem-partition-reformat or the module is not built"
fi

# Per-partition kernel logs: no BUG/WARNING/Oops (dmesg-check reads partition 0).
for ((p = 0; p < n; p++)); do
	check "partition $p: kernel log clean" "$lab" dmesg-check "$p"
done

down_ok() {
	local left
	"$lab" down || return 1
	pgrep -f "xpmem-lab-p[0-9]+ .*$LAB_RUN" && return 1
	[ -f "$LAB_FABRIC/fabricd.pid" ] && return 1
	left=$(find "$LAB_RUN" -type f ! -name '*.log' ! -name 'console.prev.log')
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check "down: no QEMU, no fabricd, only logs left" down_ok
exit $failed
