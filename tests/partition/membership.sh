#!/usr/bin/env bash
# tests/partition/membership.sh - the module's partition layer in the lab:
# three partitions with xpmem.ko loaded join over fabricd's control region,
# find each other's windows, answer PINGs, and follow every failure the lab
# can cause: a killed partition is fenced within dead_ms plus a heartbeat
# and rejoins under a new epoch when restarted; a stopped one is fenced and,
# continued, fences itself and rejoins; doorbells fabricd drops are made up
# for by the periodic rescan.  Partition 0's view is read from
# /sys/kernel/xpmem/partitions ("id state epoch hb_age_ms reason window").
# One verdict line per check, as run-suite.sh; exits non-zero on a failure.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
lab=$repo/tools/xpmem-lab
n=3
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}
dead_ms=1000 hb_ms=100
failed=0
mkdir -p "$logs"

pass() { echo "PASS partition: $*"; }
fail() { echo "FAIL partition: $*"; failed=1; }
check() { # NAME CMD...
	local name=$1
	shift
	if "$@" >>"$logs/membership.log" 2>&1; then pass "$name"; else fail "$name"; fi
}
# An abort (set -u, a helper's exit) keeps its non-zero status.
trap 'rc=$?; "$lab" down >"$logs/membership-down.log" 2>&1; [ $rc = 0 ] && rc=$failed; exit $rc' EXIT
# The verdicts this script prints (tests/run fails a suite printing fewer or
# more): twelve checks, then kernel log and rmmod per partition.
echo "PLAN $((13 + 2 * n))"

view() { # P: partition P's table
	"$lab" exec "$1" --timeout 30 -- cat /sys/kernel/xpmem/partitions
}
field() { # VIEW ID COLUMN (1-based)
	awk -v id="$2" -v c="$3" '$1 == id { print $c }' <<<"$1"
}
now_ms() { date +%s%3N; }
# Polls partition P's view until ID shows STATE; prints the ms it took.
wait_state() { # P ID STATE LIMIT_MS
	local t0 v
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$4" ]; do
		v=$(view "$1" 2>/dev/null)
		if [ "$(field "$v" "$2" 2)" = "$3" ]; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		sleep 0.1
	done
	echo "partition $1 never saw $2 $3; last view:" >&2
	echo "$v" >&2
	return 1
}
ping_ok() { # FROM TO
	"$lab" exec "$1" --timeout 30 -- sh -c "echo $2 > /sys/kernel/xpmem/ping && cat /sys/kernel/xpmem/ping"
}

"$lab" down >/dev/null 2>&1
if ! "$lab" up -n "$n" >"$logs/membership-up.log" 2>&1; then
	fail "up -n $n with the module (log: ${logs#"$repo"/}/membership-up.log)"
	exit 1
fi

all_up() {
	local p q v
	for ((p = 0; p < n; p++)); do
		wait_state "$p" "$p" UP 20000 >/dev/null || return 1
		v=$(view "$p")
		echo "partition $p:"; echo "$v"
		for ((q = 0; q < n; q++)); do
			wait_state "$p" "$q" UP 20000 >/dev/null || return 1
			[ "$(field "$(view "$p")" "$q" 3)" -ge 1 ] || return 1
		done
	done
}
check "every partition sees all $n UP" all_up

windows_found() {
	local p q v w
	for ((p = 0; p < n; p++)); do
		v=$(view "$p")
		for ((q = 0; q < n; q++)); do
			[ "$q" = "$p" ] && continue
			w=$(field "$v" "$q" 6)
			[ -n "$w" ] && [ "$w" -ge 0 ] || { echo "partition $p: no window for $q"; return 1; }
		done
	done
}
check "every partition identified each peer's window by its tag" windows_found

check "PING 0 -> 1 and 0 -> 2, 2 -> 1" sh -c "$(declare -f ping_ok); lab=$lab; ping_ok 0 1 && ping_ok 0 2 && ping_ok 2 1"

# The lab's doorbell (tools/xpmem-lab up --doorbell, XPMEM_LAB_DOORBELL).
lab_db=$(cat "$LAB_RUN/doorbell" 2>/dev/null || echo msix)

# The PINGs above were answered through doorbells, not only the rescan: each
# partition's doorbell device counted interrupts (MSI-X delivered), or with
# RDMA doorbells xpmem_rdma.ko counted receive completions.
doorbell_irqs() { # P: "received N" of its doorbell device, or of xpmem_rdma
	if [ "$lab_db" = rdma ]; then
		"$lab" exec "$1" --timeout 30 -- cat /sys/module/xpmem_rdma/parameters/stats |
			awk '{ for (i = 1; i < NF; i++) if ($i == "received") print $(i + 1) }'
		return
	fi
	"$lab" exec "$1" --timeout 30 -- sh -c 'cat /sys/bus/pci/devices/*/xpmem_doorbells 2>/dev/null' |
		awk '$1 == "received" { print $2 }'
}
doorbells_interrupt() {
	local p r
	for p in 0 1 2; do
		r=$(doorbell_irqs "$p")
		echo "partition $p: $lab_db doorbells received ${r:-none}"
		# Polled: no doorbell may arrive at all.
		if [ "$lab_db" = poll ]; then [ "${r:-0}" = 0 ] || return 1; continue; fi
		[ "${r:-0}" -gt 0 ] || return 1
	done
}
check "doorbells arrive ($lab_db) in every partition" doorbells_interrupt

# What every partition's xpmemctl --json partitions says each live peer's
# doorbell is: the lab's kind, for every peer (an RDMA connection comes up
# in the background: allowed 30 s).
doorbell_fields() { # P: "PEER STATE DOORBELL" per peer
	"$lab" exec "$1" --timeout 30 -- "$LAB_BUILD/tools/xpmemctl/xpmemctl" --json partitions |
		python3 -c '
import json, sys
for r in json.load(sys.stdin)["partitions"]:
    if not r["self"]:
        print(r["id"], r["state"], r.get("doorbell"))'
}
doorbells_shown() {
	local p t0 rows ok
	t0=$(date +%s)
	while :; do
		ok=1
		for p in 0 1 2; do
			rows=$(doorbell_fields "$p") || return 1
			awk -v k="$lab_db" 'NF != 3 || $2 != "up" || $3 != k { bad = 1 } END { exit bad || NR != 2 }' \
				<<<"$rows" || ok=0
		done
		[ $ok = 1 ] || [ $(($(date +%s) - t0)) -ge 30 ] && break
		sleep 1
	done
	for p in 0 1 2; do echo "partition $p: $(doorbell_fields "$p" | tr '\n' ';')"; done
	[ $ok = 1 ]
}
check "xpmemctl --json partitions: doorbell \"$lab_db\" for every live peer, in every partition" doorbells_shown

# MSI-X doorbells to 1 are dropped by fabricd; the others never reach it, so
# there 0's module swallows every doorbell it rings (drop_doorbells).
lost_doorbells() {
	local r=0
	if [ "$lab_db" != msix ]; then
		"$lab" exec 0 --timeout 30 -- "$LAB_BUILD/tools/xpmemctl/xpmemctl" inject drop_doorbells 1 || return 1
		ping_ok 0 1 || r=1
		"$lab" exec 0 --timeout 30 -- "$LAB_BUILD/tools/xpmemctl/xpmemctl" inject drop_doorbells 0 || r=1
		echo "partition 0: $("$lab" exec 0 --timeout 30 -- cat /sys/kernel/xpmem/doorbells_dropped) doorbells dropped"
		return $r
	fi
	"$lab" fabric drop-to 1 on || return 1
	ping_ok 0 1 || r=1
	"$lab" fabric drop-to 1 off
	echo "dropped to 1: $("$lab" fabric stats | grep '^id 1 ')"
	return $r
}
check "doorbells to 1 dropped: PING still answered (rescan)" lost_doorbells

xpmemctl=$LAB_BUILD/tools/xpmemctl/xpmemctl
# xpmemctl monitor runs detached in partition 0 through the kill and the
# restart of partition 2; monitor_saw checks what it printed, then stops it.
# Its own bound (600 s) is far above a restart: on a loaded host a restart
# with RDMA doorbells took 87 s, and a 60 s monitor was gone before the
# rejoin it had to report.
monitor_start() {
	"$lab" exec 0 --timeout 30 -- sh -c "setsid $xpmemctl monitor --timeout 600 \
		</dev/null >/tmp/monitor.log 2>&1 & echo \$! >/tmp/monitor.pid"
}
monitor_saw() {
	local out i r=1
	for i in $(seq 20); do
		out=$("$lab" exec 0 --timeout 30 -- cat /tmp/monitor.log) || break
		if grep -q "event=fence id=2 .*reason=heartbeat" <<<"$out" &&
			grep -q "event=partition id=2 state=fenced" <<<"$out" &&
			grep -q "event=partition id=2 state=up" <<<"$out"; then
			r=0
			break
		fi
		sleep 1
	done
	echo "$out"
	# shellcheck disable=SC2016  # expanded by the guest's shell
	"$lab" exec 0 --timeout 30 -- sh -c 'kill "$(cat /tmp/monitor.pid)"' || r=1
	return $r
}

killed() {
	local e0 t
	e0=$(field "$(view 0)" 2 3)
	# The restart check reads it, whatever this check finds.
	echo "$e0" >"$logs/epoch2"
	monitor_start || return 1
	"$lab" kill 2 || return 1
	t=$(wait_state 0 2 DEAD $((3 * dead_ms))) || return 1
	echo "fenced $t ms after the kill (dead_ms $dead_ms, hb_ms $hb_ms)"
	# The host's kill-to-view latency comes on top of dead_ms: at load
	# 12-15 it measured 2157 and 2229 ms, so the slack is 2 s, not 1.
	[ "$t" -le $((dead_ms + 2 * hb_ms + 2000)) ] || return 1
	[ "$(field "$(view 0)" 2 5)" = heartbeat ] || return 1
}
check "kill 2: partition 0 shows it DEAD (heartbeat) within dead_ms" killed

restarted() {
	local e0 e1
	e0=$(cat "$logs/epoch2")
	"$lab" restart 2 >/dev/null || return 1
	wait_state 0 2 UP 30000 >/dev/null || return 1
	e1=$(field "$(view 0)" 2 3)
	echo "epoch $e0 -> $e1"
	[ "$e1" -gt "$e0" ] && ping_ok 0 2
}
check "restart 2: UP again under a new epoch, answers PING" restarted
check "xpmemctl monitor in partition 0 reported 2's fence and its rejoin" monitor_saw

stopped() {
	local e0 e1
	e0=$(field "$(view 0)" 1 3)
	"$lab" stop 1 || return 1
	wait_state 0 1 DEAD $((3 * dead_ms)) >/dev/null || { "$lab" cont 1; return 1; }
	"$lab" cont 1 || return 1
	wait_state 0 1 UP 30000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch $e0 -> $e1"
	[ "$e1" -gt "$e0" ] || return 1
	"$lab" exec 1 --timeout 30 -- sh -c 'dmesg | grep -q "fenced ourselves"'
}
check "stop 1: DEAD; cont 1: fences itself and rejoins under a new epoch" stopped


injected_hang() {
	local e0 e1 r=0
	e0=$(field "$(view 0)" 1 3)
	"$lab" exec 1 --timeout 30 -- "$xpmemctl" inject stop_heartbeat 1 || return 1
	wait_state 0 1 DEAD $((3 * dead_ms)) >/dev/null || r=1
	"$lab" exec 1 --timeout 30 -- "$xpmemctl" inject stop_heartbeat 0 || return 1
	wait_state 0 1 UP 30000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch $e0 -> $e1"
	[ "$e1" -gt "$e0" ] && return $r
}
check "inject stop_heartbeat in 1: fenced, disarmed: rejoins under a new epoch" injected_hang

injected_drops() {
	local r=0 d
	"$lab" exec 0 --timeout 30 -- "$xpmemctl" inject drop_doorbells 1 || return 1
	ping_ok 0 1 && ping_ok 0 2 || r=1
	d=$("$lab" exec 0 --timeout 30 -- cat /sys/kernel/xpmem/doorbells_dropped)
	"$lab" exec 0 --timeout 30 -- "$xpmemctl" inject drop_doorbells 0 || return 1
	echo "doorbells dropped by partition 0: $d"
	[ "$d" -ge 2 ] && return $r
}
check "inject drop_doorbells in 0: PINGs still answered (peers' rescan)" injected_drops

# Last: partition 2 is left fenced for protocol.
rogue() {
	local v r=0
	"$lab" exec 2 --timeout 60 -- "$LAB_BUILD/tests/partition/xpmem-partition-rogue" 4 || return 1
	wait_state 0 2 DEAD $((3 * dead_ms)) >/dev/null || r=1
	v=$(view 0); echo "$v"
	echo "partition 2 fenced for: $(field "$v" 2 5)"
	[ "$(field "$v" 2 5)" = protocol ] || r=1
	[ "$(field "$v" 1 2)" = UP ] && ping_ok 0 1 && ping_ok 1 0 || r=1
	return $r
}
check "rogue 2 scribbling its rings: fenced for protocol, 0 and 1 keep working" rogue

for ((p = 0; p < n; p++)); do
	check "partition $p: kernel log clean" "$lab" dmesg-check "$p"
done
for ((p = 0; p < n; p++)); do
	check "partition $p: rmmod xpmem (threads stop, nothing leaked)" "$lab" exec "$p" --timeout 60 -- busybox rmmod xpmem
done
exit $failed
