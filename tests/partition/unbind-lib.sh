# shellcheck shell=bash
# unbind-lib.sh - the fabric device unbound under traffic and bound again
# (issue 10, defect 7), sourced by tests/partition/remote.sh after
# remote-lib.sh.  Partition 1 unbinds its doorbell device (the control
# region's BAR) with `echo BDF > /sys/bus/pci/drivers/xpmem-fabric/unbind`
# while
#  - an attacher in 1 reads fresh pages of an exporter in 2 in a loop, each
#    checked against the pattern (owner-death scenario: it must end with
#    SIGBUS, never wrong data);
#  - a shootdown is in progress: an exporter in 0 munmaps pages an attacher
#    in 1 wrote canaries into, and 1's invalidation thread sleeps 60 s in
#    that INVALIDATE (inject delay_invalidate_ms; 0's inval_ms is 120 s),
#    so 0's munmap must end because 1 left, well before 60 s.
# Before the module quiesced its threads on unbind, the rescan thread read
# the unmapped region: the partition oopsed.

unbind_bdf=0000:00:08.0
unbind_drv=/sys/bus/pci/drivers/xpmem-fabric
UNBIND_EPOCH=

# Runs in partition 1 as one command (the agent runs one at a time): both
# attachers in the background; once the reader is reading and 1's
# invalidation thread is in the INVALIDATE, the unbind; then their output.
# shellcheck disable=SC2016  # expanded in the guest
unbind_guest_script='
bin=$1 ctl=$2 bdf=$3 drv=$4
"$bin/xpmem-xpart-attach" owner-death "$5" "$6" --hold-ms 120000 >/tmp/reader.att 2>&1 &
reader=$!
i=0
until grep -q "^ready" /tmp/reader.att; do
	i=$((i + 1))
	[ $i -ge 600 ] && { echo "the reader never got ready"; break; }
	sleep 0.1
done
echo "reader: $(cat /tmp/reader.att)"
"$bin/xpmem-xpart-attach" canary "$7" "$8" --hold-ms 60000 >/tmp/canary.att 2>&1 &
canary=$!
in_service() {
	"$ctl" stats | awk "\$1 == \"invalidates_in_service\" { print \$2 }"
}
i=0
until [ "$(in_service)" -ge 1 ]; do
	i=$((i + 1))
	[ $i -ge 300 ] && { echo "no INVALIDATE in service"; break; }
	sleep 0.1
done
echo "canary attacher: $(cat /tmp/canary.att)"
echo "unbinding; invalidates_in_service $(in_service)"
echo "$bdf" >"$drv/unbind"
echo "unbind status $?"
wait $reader
echo "reader exit $?"
sed "s/^/    reader: /" /tmp/reader.att
kill $canary 2>/dev/null
wait $canary
sed "s/^/    canary attacher: /" /tmp/canary.att
'

# Ends a background `$lab exec` started by start_exporter: its client
# (which kills the command in the guest when it goes) and the wrapper.
stop_exec() { # PID
	pkill -P "$1" 2>/dev/null
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

unbind_under_traffic() {
	local seg_r exp_r t0 ms v p r=0
	UNBIND_EPOCH=$(field "$(view 0)" 1 3)
	# 1 sleeps 60 s in the INVALIDATE, 0 would wait 120 s: the unbind
	# comes in the middle, and 0's munmap must end before 1 would have
	# answered, because 1 left.
	xctl 1 inject delay_invalidate_ms 60000 && xctl 0 set inval_ms 120000 || return 1
	# The reader's pages come from 2, the shootdown's from 0.
	start_exporter unbind-reader 2 owner-death --hold-ms 300000 || { wait "$EXP_PID"; return 1; }
	exp_r=$EXP_PID seg_r=$SEGIDS
	start_exporter unbind-shootdown 0 canary || { stop_exec "$exp_r"; wait; return 1; }
	t0=$(now_ms)
	# shellcheck disable=SC2086  # SEGIDS are two words each
	"$lab" exec 1 --timeout 240 -- sh -c "$unbind_guest_script" unbind "$bin" "$xpmemctl" \
		"$unbind_bdf" "$unbind_drv" $seg_r $SEGIDS >"$logs/unbind.guest" 2>&1 ||
		{ echo "the unbind run in 1 failed or hung"; r=1; }
	cat "$logs/unbind.guest"
	echo "the run in 1 took $(($(now_ms) - t0)) ms"
	grep -q '^unbind status 0' "$logs/unbind.guest" || r=1
	grep -q '^    reader: PASS ' "$logs/unbind.guest" ||
		{ echo "the reader in 1 did not end with SIGBUS"; r=1; }
	wait "$EXP_PID"
	sed 's/^/    shootdown exporter: /' "$logs/unbind-shootdown.exp" | grep -v ': pfn '
	ms=$(awk '/^munmap_ms /{ print $2 }' "$logs/unbind-shootdown.exp")
	echo "the munmap waiting on 1 took ${ms:-?} ms (1 sleeps 60 s in it, inval_ms 120000)"
	[ -n "$ms" ] && [ "$ms" -lt 55000 ] || r=1
	grep -q '^    canary attacher: canaries written' "$logs/unbind.guest" || r=1
	stop_exec "$exp_r"
	xctl 0 set inval_ms 1000 || r=1
	# Peers see 1 fenced, for leaving; 0 holds back what 1 had pinned.
	for p in 0 2; do
		wait_state "$p" 1 DEAD 5000 >/dev/null || r=1
		v=$(view "$p")
		echo "partition $p: $(grep '^1 ' <<<"$v")"
		[ "$(field "$v" 1 5)" = disconnect ] ||
			{ echo "partition $p: 1 fenced for $(field "$v" 1 5), not disconnect"; r=1; }
	done
	[ "$(field "$(view 0)" 1 7)" -gt 0 ] || { echo "partition 0 quarantined nothing for 1"; r=1; }
	"$lab" exec 1 --timeout 30 -- sh -c "dmesg | grep -E 'xpmem.*(leaves|fenced)'"
	"$lab" dmesg-check 1 || r=1
	return $r
}

rebind_after_unbind() {
	local e1 r=0
	"$lab" exec 1 --timeout 60 -- sh -c "echo $unbind_bdf > $unbind_drv/bind" ||
		{ echo "bind failed"; return 1; }
	xctl 1 inject delay_invalidate_ms 0 >/dev/null
	wait_state 0 1 UP 60000 >/dev/null && wait_state 2 1 UP 60000 >/dev/null || return 1
	wait_state 1 0 UP 60000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch of 1: ${UNBIND_EPOCH:-?} -> $e1"
	[ -n "$UNBIND_EPOCH" ] && [ "$e1" -gt "$UNBIND_EPOCH" ] || r=1
	# 1 dropped its mappings of 0 before rejoining: 0 releases its pins.
	wait_field 0 1 7 0 10000 || r=1
	pair rebound-0-1 0 1 pattern || r=1
	pair rebound-1-0 1 0 pattern || r=1
	no_leaks 1 || r=1
	"$lab" dmesg-check 1 || r=1
	return $r
}
