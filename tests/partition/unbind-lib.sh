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
#
# Then one peer window (an ivshmem-plain device: BAR2 is a peer's RAM) is
# unbound the same way: partition 1's window onto 0, found in sysfs by its
# xpmem_window index (the window column of 1's partitions view), while a
# reader in 1 reads 0's pages again and again through mappings it already
# has.  The reader must get SIGBUS (its mappings of the window's frames are
# dropped before the BAR goes), 0 and 1 stay UP under the same epochs (a
# window is not a fence), and binding the device again restores the data
# path; nothing is left behind.  Before the window's removal dropped the
# mappings, the reader read on through the stale mappings for its whole
# 30 s and never got SIGBUS.

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

# ---- one peer window unbound and bound again -------------------------------

WINDOW_BDF=
# Runs in partition 1: the window device with index $3, the reader in the
# background until it mapped its pages, the unbind, then its output.
# shellcheck disable=SC2016  # expanded in the guest
window_guest_script='
bin=$1 drv=$2 w=$3
bdf=
for d in "$drv"/0000:*; do
	[ "$(cat "$d/xpmem_role" 2>/dev/null)" = window ] &&
		[ "$(cat "$d/xpmem_window" 2>/dev/null)" = "$w" ] && bdf=${d##*/}
done
[ -n "$bdf" ] || { echo "no window device with index $w"; exit 1; }
echo "window $w is $bdf"
"$bin/xpmem-xpart-attach" window-loss "$4" "$5" --hold-ms 30000 >/tmp/window.att 2>&1 &
reader=$!
i=0
until grep -q "^ready" /tmp/window.att; do
	i=$((i + 1))
	[ $i -ge 600 ] && { echo "the reader never got ready"; break; }
	sleep 0.1
done
echo "reader: $(head -n 1 /tmp/window.att)"
echo "unbinding at_ms $(awk "{ printf \"%d\", \$1 * 1000 }" /proc/uptime)"
echo "$bdf" >"$drv/unbind"
echo "unbind status $?"
wait $reader
echo "reader exit $?"
sed "s/^/    reader: /" /tmp/window.att
'

window_unbind_under_reads() {
	local v0 v1 e0 e1 w exp r=0 t_unbind t_sigbus
	v0=$(view 0) v1=$(view 1)
	e0=$(field "$v1" 0 3) e1=$(field "$v0" 1 3) w=$(field "$v1" 0 6)
	echo "1 sees 0 at epoch $e0 through window $w; 0 sees 1 at epoch $e1"
	[ -n "$w" ] && [ "$w" -ge 0 ] || { echo "1 has no window onto 0"; return 1; }
	start_exporter window-owner 0 owner-death --hold-ms 300000 || { wait "$EXP_PID"; return 1; }
	exp=$EXP_PID
	# shellcheck disable=SC2086  # SEGIDS are two words
	"$lab" exec 1 --timeout 120 -- sh -c "$window_guest_script" window "$bin" \
		"$unbind_drv" "$w" $SEGIDS >"$logs/window.guest" 2>&1 ||
		{ echo "the window run in 1 failed or hung"; r=1; }
	cat "$logs/window.guest"
	stop_exec "$exp"
	WINDOW_BDF=$(awk '/^window .* is /{ print $4 }' "$logs/window.guest")
	grep -q '^unbind status 0' "$logs/window.guest" || r=1
	grep -q '^    reader: PASS ' "$logs/window.guest" ||
		{ echo "the reader in 1 did not end with SIGBUS"; r=1; }
	t_unbind=$(awk '/^unbinding at_ms /{ print $3 }' "$logs/window.guest")
	t_sigbus=$(awk '/^    reader: rereads /{ print $5 }' "$logs/window.guest")
	[ -n "$t_unbind" ] && [ -n "$t_sigbus" ] &&
		echo "SIGBUS $((t_sigbus - t_unbind)) ms after the unbind began (uptime vs monotonic, +-10 ms)"
	# Not a fence: both stay UP under the epochs they had.
	v0=$(view 0) v1=$(view 1)
	echo "partition 1: $(grep '^0 ' <<<"$v1")"
	echo "partition 0: $(grep '^1 ' <<<"$v0")"
	[ "$(field "$v1" 0 2)" = UP ] && [ "$(field "$v1" 0 3)" = "$e0" ] ||
		{ echo "1 no longer sees 0 UP at epoch $e0"; r=1; }
	[ "$(field "$v0" 1 2)" = UP ] && [ "$(field "$v0" 1 3)" = "$e1" ] ||
		{ echo "0 no longer sees 1 UP at epoch $e1"; r=1; }
	[ "$(field "$v1" 0 6)" = -1 ] || { echo "1 still shows a window onto 0"; r=1; }
	"$lab" exec 1 --timeout 30 -- sh -c "dmesg | grep -E 'xpmem.*(window|fenced)' | tail -n 5"
	"$lab" dmesg-check 1 || r=1
	return $r
}

window_rebind() {
	local t0 w r=0
	[ -n "$WINDOW_BDF" ] || { echo "no window was unbound"; return 1; }
	"$lab" exec 1 --timeout 60 -- sh -c "echo $WINDOW_BDF > $unbind_drv/bind" ||
		{ echo "bind failed"; return 1; }
	# The rescan finds the window again by 0's tag.
	t0=$(now_ms)
	while w=$(field "$(view 1)" 0 6) && [ "${w:--1}" = -1 ]; do
		[ $(($(now_ms) - t0)) -lt 30000 ] || { echo "1 never found its window onto 0 again"; return 1; }
		sleep 0.2
	done
	echo "1 sees 0 through window $w again after $(($(now_ms) - t0)) ms"
	pair window-rebound 0 1 pattern || r=1
	no_leaks 0 || r=1
	no_leaks 1 || r=1
	"$lab" dmesg-check 0 || r=1
	"$lab" dmesg-check 1 || r=1
	return $r
}

# ---- rmmod while peers are UP -------------------------------------------------
# Issue 10 (unbind, item 2).  `rmmod xpmem` in 0 is refused while a process
# there has /dev/xpmem open or an attachment (the module is in use), so it
# never runs under a live export: what peers may still map at unload is only
# what 0 quarantined.  What must hold: the unload announces itself (0's word
# says DEAD, disconnect: peers fence 0 at their next tick, not after
# dead_ms), and a quarantined page is never returned to the allocator (kept
# pinned for ever, logged).  Before the unload left the fabric, 1 and 2
# fenced 0 for its heartbeat after dead_ms; before it kept quarantined pins,
# they were unpinned at unload and the frames reused under pressure.
# A partition's agent runs one command at a time: what must happen while a
# program runs there is done by one guest script.

# In partition 0: an exporter, rmmod under it, the exporter killed, rmmod.
# shellcheck disable=SC2016  # expanded in the guest
rmmod_guest_script='
bin=$1
"$bin/xpmem-xpart-export" owner-death --hold-ms 300000 >/tmp/rmmod.exp 2>&1 &
exp=$!
i=0
until grep -q "^segids " /tmp/rmmod.exp; do
	i=$((i + 1))
	[ $i -ge 600 ] && { echo "the exporter printed no segids"; break; }
	sleep 0.1
done
grep "^segids " /tmp/rmmod.exp
busybox rmmod xpmem
echo "rmmod under the exporter: status $?"
grep -q "^xpmem " /proc/modules && echo "module still loaded"
kill $exp
wait $exp
busybox rmmod xpmem
echo "rmmod status $? at_ms $(awk "{ printf \"%d\", \$1 * 1000 }" /proc/uptime)"
'

rmmod_announced() {
	local t0 ms r=0 v p
	# 1 and 2 would fence 0 for its heartbeat only after 10 s.
	xctl 1 set dead_ms 10000 && xctl 2 set dead_ms 10000 || return 1
	"$lab" exec 0 --timeout 120 -- sh -c "$rmmod_guest_script" rmmod "$bin" \
		>"$logs/rmmod.guest" 2>&1 || { echo "the run in 0 failed or hung"; r=1; }
	t0=$(now_ms)
	cat "$logs/rmmod.guest"
	grep -q '^rmmod under the exporter: status [1-9]' "$logs/rmmod.guest" &&
		grep -q '^module still loaded' "$logs/rmmod.guest" ||
		{ echo "rmmod was not refused under a live exporter"; r=1; }
	grep -q '^rmmod status 0 ' "$logs/rmmod.guest" || { echo "rmmod failed"; r=1; }
	for p in 1 2; do
		ms=$(wait_state "$p" 0 DEAD 20000) || r=1
		v=$(view "$p")
		echo "$p saw 0 DEAD within ${ms:-?} ms of the rmmod's return reaching the host (dead_ms 10000): $(grep '^0 ' <<<"$v")"
		[ "$(field "$v" 0 5)" = disconnect ] ||
			{ echo "$p fenced 0 for $(field "$v" 0 5), not disconnect: the unload was not announced"; r=1; }
	done
	echo "both saw it $(($(now_ms) - t0)) ms after the guest run returned"
	"$lab" exec 0 --timeout 30 -- sh -c "dmesg | grep -E 'xpmem.*(leaves|unloading)'"
	xctl 1 set dead_ms 1000 && xctl 2 set dead_ms 1000 || r=1
	# The module again in 0: it rejoins under a new epoch.
	"$lab" exec 0 --timeout 60 -- busybox insmod "$LAB_MODULE" || { echo "insmod failed"; return 1; }
	wait_state 1 0 UP 60000 >/dev/null && wait_state 0 1 UP 60000 >/dev/null &&
		wait_state 0 2 UP 60000 >/dev/null && wait_state 2 0 UP 60000 >/dev/null || r=1
	xctl 0 set inval_ms 1000 && xctl 0 set fault_ms 1000 || r=1
	"$lab" dmesg-check 0 || r=1
	return $r
}

# In partition 1: the canary attacher; once 0's INVALIDATE is in service
# (1 sleeps in it), say so and wait for the attacher.
# shellcheck disable=SC2016  # expanded in the guest
quarantine_guest_script='
bin=$1 ctl=$2
"$bin/xpmem-xpart-attach" canary "$3" "$4" --hold-ms 20000 >/tmp/rq.att 2>&1 &
att=$!
in_service() {
	"$ctl" stats | awk "\$1 == \"invalidates_in_service\" { print \$2 }"
}
i=0
until [ "$(in_service)" -ge 1 ] 2>/dev/null; do
	i=$((i + 1))
	[ $i -ge 600 ] && { echo "no INVALIDATE in service"; break; }
	sleep 0.1
done
echo "attacher: $(cat /tmp/rq.att)"
echo "in service: $(in_service)"
wait $att
echo "attacher exit $?"
'

# 0 quarantines 1's pins (1 stopped inside 0's INVALIDATE, fenced for
# its heartbeat), then unloads: the pins must stay, the frames keep 1's canaries
# under memory pressure; 1, continued, sees 0 gone for disconnect.
rmmod_keeps_quarantine() {
	local t0 q r=0 v i g
	# 0 would fence 1 at inval_ms 10 s: 1 is stopped well before, while
	# it holds the INVALIDATE, and fenced for its heartbeat meanwhile.
	xctl 1 inject delay_invalidate_ms 60000 && xctl 0 set inval_ms 10000 || return 1
	start_exporter rmmod-canary 0 canary || { wait "$EXP_PID"; return 1; }
	# shellcheck disable=SC2086  # SEGIDS are two words
	"$lab" exec 1 --timeout 300 -- sh -c "$quarantine_guest_script" quarantine "$bin" \
		"$xpmemctl" $SEGIDS >"$logs/quarantine.guest" 2>&1 &
	g=$!
	for ((i = 0; i < 900; i++)); do
		grep -q '^in service' "$logs/quarantine.guest" && break
		kill -0 "$g" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^in service: [1-9]' "$logs/quarantine.guest" ||
		{ echo "1 never held 0's INVALIDATE"; cat "$logs/quarantine.guest"; r=1; }
	# 1 stopped while it holds 0's INVALIDATE: 0 fences it (heartbeat).
	"$lab" stop 1 || r=1
	finish_exporter rmmod-canary || r=1
	wait_state 0 1 DEAD 10000 >/dev/null || r=1
	q=$(field "$(view 0)" 1 7)
	echo "0 quarantined ${q:-?} pages for 1"
	[ "${q:-0}" -gt 0 ] || r=1
	t0=$(now_ms)
	"$lab" exec 0 --timeout 60 -- busybox rmmod xpmem || { echo "rmmod failed"; r=1; }
	echo "rmmod in 0 took $(($(now_ms) - t0)) ms (1 stopped: its quarantine cannot end)"
	"$lab" exec 0 --timeout 30 -- sh -c "dmesg | grep -E 'xpmem.*(leaves|unloading)'"
	"$lab" exec 0 --timeout 30 -- sh -c "dmesg | grep -q 'stay pinned for ever'" ||
		{ echo "0 logged no pages kept pinned"; r=1; }
	"$lab" exec 0 --timeout 300 -- "$bin/xpmem-xpart-pressure" 48 || r=1
	frames_hold_canaries "$logs/rmmod-canary.exp" "$(ram_of 0)" || r=1
	"$lab" cont 1 || r=1
	wait "$g"
	cat "$logs/quarantine.guest"
	wait_state 1 0 DEAD 30000 >/dev/null || r=1
	v=$(view 1)
	echo "partition 1: $(grep '^0 ' <<<"$v")"
	[ "$(field "$v" 0 5)" = disconnect ] ||
		{ echo "1 fenced 0 for $(field "$v" 0 5), not disconnect"; r=1; }
	xctl 1 inject delay_invalidate_ms 0 >/dev/null || r=1
	"$lab" exec 1 --timeout 30 -- sh -c "dmesg | grep -E 'xpmem.*(fenced|partition 0)' | tail -n 5"
	# A fresh boot of 0 drops the pages kept for ever.
	"$lab" restart 0 >"$logs/rmmod-restart.log" 2>&1 || { cat "$logs/rmmod-restart.log"; return 1; }
	wait_state 1 0 UP 60000 >/dev/null && wait_state 0 1 UP 60000 >/dev/null &&
		wait_state 0 2 UP 60000 >/dev/null || r=1
	xctl 0 set inval_ms 1000 && xctl 0 set fault_ms 1000 || r=1
	pair after-unload 0 1 pattern || r=1
	"$lab" dmesg-check 1 || r=1
	return $r
}
