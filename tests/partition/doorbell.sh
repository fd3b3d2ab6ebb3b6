#!/usr/bin/env bash
# tests/partition/doorbell.sh - RDMA doorbells (xpmem_rdma.ko over Soft-RoCE)
# in a two-partition lab (tools/xpmem-lab up -n 2 --doorbell rdma): the
# module says it uses them, xpmemctl shows "rdma" for the live peer, PINGs
# are rung over RDMA (receive completions counted), and the failures:
#   - partition 1's links cut while a shootdown from 0 is in flight: the
#     munmap completes through polling, nobody is fenced (heartbeats are in
#     shared memory), the doorbell shows "poll"; restored: "rdma" again;
#   - links cut and 1's heartbeat stopped: 1 is fenced (heartbeat) exactly
#     as with MSI-X, rejoins once it beats again, and reconnects;
#   - partition 1 killed: rmmod xpmem in 0 tears its queue pairs down
#     (none left, kernel log clean), and xpmem_rdma.ko unloads;
#   - with no RDMA device left in 0, xpmem.ko doorbell=rdma loads and says
#     it polls, before and after xpmem_rdma.ko comes.
# One verdict line per check; exits non-zero on a failure.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
n=2
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}
mkdir -p "$logs"
# shellcheck source=remote-lib.sh
. "$repo/tests/partition/remote-lib.sh"
log=$logs/doorbell.log
: >"$log"

# shellcheck source=../../tools/lab/verdicts.sh
. "$repo/tools/lab/verdicts.sh"
verdicts_init "partition: doorbell" "$log" "$logs/doorbell-down.log"
# The verdicts this script prints (tests/run fails a suite printing fewer or more).
plan 11

# "PEER KIND" for every peer partition P lists, from xpmemctl --json.
doorbells() { # P
	xctl "$1" --json partitions | python3 -c '
import json, sys
for r in json.load(sys.stdin)["partitions"]:
    if not r["self"]:
        print(r["id"], r["state"], r["doorbell"])'
}
wait_doorbell() { # P PEER KIND LIMIT_MS
	local t0 d
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$4" ]; do
		d=$(doorbells "$1" 2>/dev/null | awk -v q="$2" '$1 == q { print $3 }')
		[ "$d" = "$3" ] && { echo "partition $1: doorbell to $2 is $3 after $(($(now_ms) - t0)) ms"; return 0; }
		sleep 0.5
	done
	echo "partition $1: doorbell to $2 is '${d:-}', not $3, after $4 ms" >&2
	return 1
}
rdma_stat() { # P NAME: a counter of /sys/module/xpmem_rdma/parameters/stats
	"$lab" exec "$1" --timeout 30 -- cat /sys/module/xpmem_rdma/parameters/stats |
		awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'
}
ping_ok() { # FROM TO
	"$lab" exec "$1" --timeout 30 -- sh -c "echo $2 > /sys/kernel/xpmem/ping && cat /sys/kernel/xpmem/ping"
}

"$lab" down >/dev/null 2>&1
if ! "$lab" up -n "$n" --doorbell rdma >"$logs/doorbell-up.log" 2>&1; then
	fail "up -n $n --doorbell rdma (log: ${logs#"$repo"/}/doorbell-up.log)"
	exit 1
fi

says_rdma() {
	local p
	for p in 0 1; do
		wait_state "$p" $((1 - p)) UP 30000 >/dev/null || return 1
		"$lab" exec "$p" --timeout 30 -- dmesg | grep -E 'xpmem(_rdma)?: ' | tail -n 8
		"$lab" exec "$p" --timeout 30 -- dmesg | grep -q 'xpmem: doorbells: rdma' || return 1
	done
}
check "each partition's module says it uses RDMA doorbells" says_rdma

every_peer_rdma() {
	wait_doorbell 0 1 rdma 30000 && wait_doorbell 1 0 rdma 30000 || return 1
	doorbells 0 && doorbells 1
}
check "xpmemctl --json partitions: doorbell rdma for the live peer, both ways" every_peer_rdma

# PINGs complete without waiting for a rescan only if the doorbells came:
# each partition's receive completions must have grown.
pings_over_rdma() {
	local r0 r1 s0 s1 i
	r0=$(rdma_stat 0 received) r1=$(rdma_stat 1 received) || return 1
	for i in 1 2 3; do ping_ok 0 1 && ping_ok 1 0 || return 1; done
	s0=$(rdma_stat 0 received) s1=$(rdma_stat 1 received) || return 1
	echo "received: partition 0 $r0 -> $s0, partition 1 $r1 -> $s1"
	[ "$s0" -gt "$r0" ] && [ "$s1" -gt "$r1" ]
}
check "PINGs both ways rung over RDMA (receive completions in both)" pings_over_rdma

# Doorbells 0 rings are swallowed (drop_doorbells): 1 finds 0's PING and 0
# the answer by rescanning; no RDMA doorbell left 0 meanwhile.
lost_doorbells() {
	local s0 s1 d r=0
	s0=$(rdma_stat 0 sent) || return 1
	xctl 0 inject drop_doorbells 1 || return 1
	ping_ok 0 1 || r=1
	xctl 0 inject drop_doorbells 0 || r=1
	s1=$(rdma_stat 0 sent)
	d=$("$lab" exec 0 --timeout 30 -- cat /sys/kernel/xpmem/doorbells_dropped)
	echo "partition 0: sent $s0 -> $s1, doorbells_dropped $d"
	[ "$s1" = "$s0" ] && [ "${d:-0}" -gt 0 ] && return $r
}
check "doorbells from 0 lost: PING 0 -> 1 still answered (rescan)" lost_doorbells

# A shootdown from 0 of memory 1 maps; 1 handles the INVALIDATE 5 s late, and
# its links are cut meanwhile: its completion reaches 0 through shared memory
# and 0's polling, 1's doorbell to 0 cannot go.  No fence (the heartbeats are
# in shared memory), munmap within inval_ms.  inval_ms 30000 keeps the
# deadline far from the 5 s delay on a loaded host.
cut_mid_shootdown() {
	local tag=cut-shootdown att i ms r=0 e0 e1
	xctl 0 set inval_ms 30000 || return 1
	xctl 1 inject delay_invalidate_ms 5000 || return 1
	e0=$(field "$(view 0)" 1 3)
	start_exporter "$tag" 0 canary || { wait "$EXP_PID"; return 1; }
	# shellcheck disable=SC2086  # SEGIDS is two words
	"$lab" exec 1 --timeout 120 -- "$bin/xpmem-xpart-attach" canary $SEGIDS \
		--hold-ms 6000 >"$logs/$tag.att" 2>&1 &
	att=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^munmap start' "$logs/$tag.exp" && break
		kill -0 "$EXP_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^munmap start' "$logs/$tag.exp" || { echo "the exporter never reached its munmap"; r=1; }
	"$lab" net cut 1 || r=1
	wait "$att" || r=1
	sed 's/^/    attacher: /' "$logs/$tag.att"
	finish_exporter "$tag" || r=1
	xctl 1 inject delay_invalidate_ms 0 >/dev/null
	xctl 0 set inval_ms 1000 >/dev/null
	ms=$(awk '/^munmap_ms /{ print $2 }' "$logs/$tag.exp")
	echo "munmap_ms ${ms:-none} with 1's links cut (inval_ms 30000, INVALIDATE delayed 5000 ms)"
	[ -n "$ms" ] && [ "$ms" -lt 30000 ] || r=1
	e1=$(field "$(view 0)" 1 3)
	echo "0's view of 1: state $(field "$(view 0)" 1 2), epoch $e0 -> $e1"
	[ "$(field "$(view 0)" 1 2)" = UP ] && [ "$e1" = "$e0" ] || r=1
	# 1's doorbell to 0 could not be delivered: its connection is down.
	wait_doorbell 1 0 poll 30000 || r=1
	return $r
}
check "links of 1 cut mid-shootdown: munmap completes through polling, no fence, doorbell poll" cut_mid_shootdown

# Restored: 0 reconnects (the lower id connects); PINGs both ways rung over
# RDMA again.  PINGs also make a stale connection fail and be replaced.
restored() {
	local t0 r0 r1 s0 s1
	"$lab" net restore 1 || return 1
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt 60000 ]; do
		ping_ok 0 1 >/dev/null && ping_ok 1 0 >/dev/null || return 1
		[ "$(doorbells 0 | awk '$1 == 1 { print $3 }')" = rdma ] &&
			[ "$(doorbells 1 | awk '$1 == 0 { print $3 }')" = rdma ] && break
		sleep 1
	done
	wait_doorbell 0 1 rdma 1000 && wait_doorbell 1 0 rdma 1000 || return 1
	r0=$(rdma_stat 0 received) r1=$(rdma_stat 1 received) || return 1
	ping_ok 0 1 && ping_ok 1 0 || return 1
	s0=$(rdma_stat 0 received) s1=$(rdma_stat 1 received)
	echo "received after the restore: partition 0 $r0 -> $s0, partition 1 $r1 -> $s1"
	[ "$s0" -gt "$r0" ] && [ "$s1" -gt "$r1" ]
}
check "links of 1 restored: reconnected, doorbells rdma both ways again" restored

# Links cut and 1's heartbeat stopped: fenced by heartbeat, as ever.  Beating
# again (links still cut), it finds itself fenced and rejoins under a new
# epoch; restored, it is reached over RDMA again.
cut_and_silent() {
	local e0 e1 r=0
	e0=$(field "$(view 0)" 1 3)
	"$lab" net cut 1 || return 1
	xctl 1 inject stop_heartbeat 1 || r=1
	wait_state 0 1 DEAD 15000 >/dev/null || r=1
	echo "0's view of 1: $(view 0 | awk '$1 == 1')"
	[ "$(field "$(view 0)" 1 5)" = heartbeat ] || r=1
	xctl 1 inject stop_heartbeat 0 || r=1
	wait_state 0 1 UP 30000 >/dev/null || r=1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch of 1: $e0 -> $e1"
	[ "$e1" -gt "$e0" ] || r=1
	"$lab" net restore 1 || r=1
	restored >/dev/null || r=1
	return $r
}
check "links of 1 cut and its heartbeat stopped: fenced (heartbeat), rejoins, RDMA again" cut_and_silent

# With 1 dead, rmmod in 0 must not wait for it: every queue pair goes.
rmmod_peer_dead() {
	local out
	"$lab" kill 1 || return 1
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem || return 1
	out=$("$lab" exec 0 --timeout 30 -- dmesg | grep 'xpmem_rdma: stopped')
	echo "$out"
	grep -q 'queue pairs torn down' <<<"$out" || return 1
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem_rdma
}
check "1 killed: rmmod xpmem in 0 tears its queue pairs down, xpmem_rdma unloads" rmmod_peer_dead

# Where no RDMA device exists (0's Soft-RoCE links deleted), xpmem.ko with
# doorbell=rdma still loads and says what it does: first without the
# provider (polling until xpmem_rdma.ko comes), then with it (bound, peers
# polled until connected); the one peer's doorbell reads "poll".
# shellcheck disable=SC2016  # expanded by the guest's shell
no_rdma_device() {
	local r=0 ko=$LAB_MODULE rko t0 waiting bound
	rko=$(dirname "$LAB_MODULE")/xpmem_rdma.ko
	# How often each line was logged so far (the boot logged one "bound").
	says() { "$lab" exec 0 --timeout 30 -- dmesg | grep -c "$1"; }
	waiting=$(says 'xpmem: doorbell=rdma: xpmem_rdma.ko is not loaded yet; polling')
	bound=$(says 'xpmem: doorbells: rdma (xpmem_rdma.ko bound)')
	"$lab" exec 0 --timeout 60 -- sh -c \
		'for l in $(rdma link show | sed -n "s/^link \([^/]*\)\/.*/\1/p"); do rdma link delete "$l" || exit 1; done
		 ls /sys/class/infiniband | wc -l' >"$logs/no-rdma-device.out" 2>&1 || r=1
	echo "RDMA devices left in 0: $(tail -n 1 "$logs/no-rdma-device.out")"
	[ "$(tail -n 1 "$logs/no-rdma-device.out")" = 0 ] || return 1
	"$lab" exec 0 --timeout 60 -- busybox insmod "$ko" doorbell=rdma || return 1
	"$lab" exec 0 --timeout 30 -- sh -c \
		'for i in $(seq 50); do [ -c /dev/xpmem ] && exit 0; sleep 0.1; done; exit 1' || r=1
	[ "$(says 'xpmem: doorbell=rdma: xpmem_rdma.ko is not loaded yet; polling')" -gt "$waiting" ] ||
		{ echo "xpmem.ko did not say it polls without xpmem_rdma.ko"; r=1; }
	doorbells 0
	[ "$(doorbells 0 | awk '$1 == 1 { print $3 }')" = poll ] || r=1
	"$lab" exec 0 --timeout 60 -- busybox insmod "$rko" addr_base=169.254.77.1 || r=1
	t0=$(now_ms)
	until [ "$(says 'xpmem: doorbells: rdma (xpmem_rdma.ko bound)')" -gt "$bound" ]; do
		[ $(($(now_ms) - t0)) -lt 30000 ] || { echo "the provider never bound"; r=1; break; }
		sleep 1
	done
	"$lab" exec 0 --timeout 30 -- dmesg | grep -E 'xpmem(_rdma)?: ' | tail -n 4
	doorbells 0
	[ "$(doorbells 0 | awk '$1 == 1 { print $3 }')" = poll ] || r=1
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem || r=1
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem_rdma || r=1
	return $r
}
check "no RDMA device in 0: xpmem.ko doorbell=rdma loads, says it polls, binds xpmem_rdma.ko" no_rdma_device
check "partition 0: kernel log clean" "$lab" dmesg-check 0
check "partition 1 (killed): its console log clean" "$lab" log-check "$LAB_RUN/p1/console.log"
