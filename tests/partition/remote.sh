#!/usr/bin/env bash
# tests/partition/remote.sh - cross-partition XPMEM in the lab: three
# partitions with xpmem.ko, an exporter (build/tests/partition/xpart/
# xpmem-xpart-export) in one and its attacher in another, meeting in a
# control page they both map.  First the data path (both ways, holes,
# removed segment, exporter exit, fork COW, 100,000 pages, readers racing
# munmap/remap), then the failures the contract covers: a partition killed
# in the middle of an invalidation (fenced within inval_ms, its pages
# quarantined and never reused, released when it rejoins), stop/cont, the
# exporter's whole partition killed under an attacher, lost doorbells,
# corrupted messages, a late completion.  Ends with every partition's kernel
# log and rmmod.  One verdict line per check ("PASS partition: ..."), as
# membership.sh; exits non-zero on a failure.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
logs=${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/partition}/remote
# shellcheck source=remote-lib.sh
. "$repo/tests/partition/remote-lib.sh"
# shellcheck source=unbind-lib.sh
. "$repo/tests/partition/unbind-lib.sh"
n=3
failed=0
rm -rf "$logs"
mkdir -p "$logs"
log=$logs/remote.log

pass() { echo "PASS partition: $*"; }
fail() { echo "FAIL partition: $*"; failed=1; }
check() { # NAME CMD...
	local name=$1 t0=$SECONDS
	shift
	echo "==== $name" >>"$log"
	if "$@" >>"$log" 2>&1; then pass "$name"; else fail "$name"; fi
	echo "==== $((SECONDS - t0)) s" >>"$log"
}
# An abort (set -u, a helper's exit) keeps its non-zero status.
trap 'rc=$?; "$lab" down >"$logs/down.log" 2>&1; [ $rc = 0 ] && rc=$failed; exit $rc' EXIT
# The verdicts this script prints (tests/run fails a suite printing fewer or
# more): 37 checks, then kernel log and rmmod per partition.
echo "PLAN $((37 + 2 * n))"

for p in export attach pressure fanout getrace fuse; do
	[ -x "$bin/xpmem-xpart-$p" ] || { fail "${bin#"$repo"/}/xpmem-xpart-$p is not built"; exit 1; }
done
"$lab" down >/dev/null 2>&1
if ! "$lab" up -n "$n" >"$logs/up.log" 2>&1; then
	fail "remote: up -n $n with the module (log: ${logs#"$repo"/}/up.log)"
	exit 1
fi

all_up() {
	local p q
	for ((p = 0; p < n; p++)); do
		for ((q = 0; q < n; q++)); do
			wait_state "$p" "$q" UP 30000 >/dev/null || return 1
		done
	done
	# The deadlines the checks below are measured against, set explicitly.
	for ((p = 0; p < n; p++)); do
		xctl "$p" set inval_ms 1000 && xctl "$p" set fault_ms 1000 || return 1
	done
}
check "remote: all $n partitions UP, inval_ms and fault_ms 1000" all_up

# ---- the data path -----------------------------------------------------------
check "remote: pattern both ways and after a remap (0 -> 1)" pair pattern 0 1 pattern
check "remote: holes at attach time and made later: SIGBUS (0 -> 1)" pair holes 0 1 holes
check "remote: removed segment: SIGBUS, get ENOENT (2 -> 0)" pair remove 2 0 remove
check "remote: exporter exits: SIGBUS, never stale data (1 -> 2)" pair exit 1 2 exit
check "remote: exporter forks: attacher follows the parent's COW pages (0 -> 1)" pair fork 0 1 fork
check "remote: 100,000 pages stamped and checked (0 -> 1)" pair scale 0 1 scale
check "remote: 4 readers vs munmap/remap generations: nothing stale (0 -> 1)" \
	pair race 0 1 race --seconds 5 -- --threads 4 --seconds 5

# I6: 0 and 1 each export a segment the other attaches, and each munmaps and
# remaps its own pages in a loop while the other's readers fault on them.
# Each partition then invalidates the other's mappings while serving the
# other's faults; with one thread for both per peer they would wait on
# each other until one fenced the other.  No fence, no timeout allowed.
# The lab runs one command at a time per partition: the exporters run as
# daemons (setsid), the attachers as the partitions' commands.
daemon_exporter() { # P TAG: prints the segids of a race exporter left running in P
	"$lab" exec "$1" --timeout 60 -- sh -c "setsid $bin/xpmem-xpart-export race --seconds 8 \
		>/tmp/$2.out 2>&1 </dev/null & i=0; while [ \$i -lt 300 ]; do
		grep -q '^segids ' /tmp/$2.out && break; i=\$((i + 1)); sleep 0.1; done
		awk '/^segids /{ print \$2, \$3 }' /tmp/$2.out"
}
daemon_result() { # P TAG: waits for the daemon's verdict, prints its output
	"$lab" exec "$1" --timeout 60 -- sh -c "i=0; while [ \$i -lt 400 ]; do
		grep -qE '^(PASS|FAIL) ' /tmp/$2.out && break; i=\$((i + 1)); sleep 0.1; done
		cat /tmp/$2.out; grep -q '^PASS ' /tmp/$2.out"
}
# 0 and 1 each export a region (daemon_exporter TAG0, TAG1) that the other
# races on for SECONDS (xpmem-xpart-attach race: readers against the
# exporter's munmap/remap): each invalidates its own memory while serving
# the other's faults.  Fails when a segid is missing or a side fails.
race_both_ways() { # TAG SECONDS
	local s0 s1 a0 a1 r=0
	s0=$(daemon_exporter 0 "${1}0") && s1=$(daemon_exporter 1 "${1}1") || return 1
	echo "race segids in 0: $s0; in 1: $s1"
	[ -n "$s0" ] && [ -n "$s1" ] || return 1
	# shellcheck disable=SC2086  # two words each
	"$lab" exec 0 --timeout 120 -- "$bin/xpmem-xpart-attach" race $s1 --threads 2 --seconds "$2" \
		>"$logs/$1.att0" 2>&1 &
	a0=$!
	# shellcheck disable=SC2086
	"$lab" exec 1 --timeout 120 -- "$bin/xpmem-xpart-attach" race $s0 --threads 2 --seconds "$2" \
		>"$logs/$1.att1" 2>&1 &
	a1=$!
	wait "$a0" || r=1
	wait "$a1" || r=1
	sed 's/^/    race attacher in 0: /' "$logs/$1.att0"
	sed 's/^/    race attacher in 1: /' "$logs/$1.att1"
	daemon_result 0 "${1}0" | sed 's/^/    race exporter in 0: /'
	[ "${PIPESTATUS[0]}" = 0 ] || r=1
	daemon_result 1 "${1}1" | sed 's/^/    race exporter in 1: /'
	[ "${PIPESTATUS[0]}" = 0 ] || r=1
	return $r
}
mutual() {
	local r=0 v0 v1 t0 t1
	v0=$(view 0) && v1=$(view 1) || return 1
	t0=$(counter 0 timeouts) && t1=$(counter 1 timeouts) || return 1
	race_both_ways mutual 5 || r=1
	# Same epochs, both UP, no request timed out.
	[ "$(field "$(view 0)" 1 3)" = "$(field "$v0" 1 3)" ] || { echo "0 saw 1 change epoch"; r=1; }
	[ "$(field "$(view 1)" 0 3)" = "$(field "$v1" 0 3)" ] || { echo "1 saw 0 change epoch"; r=1; }
	[ "$(field "$(view 0)" 1 2)" = UP ] && [ "$(field "$(view 1)" 0 2)" = UP ] || r=1
	[ "$(counter 0 timeouts)" = "$t0" ] && [ "$(counter 1 timeouts)" = "$t1" ] ||
		{ echo "a request timed out"; r=1; }
	return $r
}
check "remote: 0 and 1 invalidate each other's memory while serving each other's faults: no fence, no timeout (I6)" mutual

# One xpmem-xpart-PROG pair: "PROG export 40" in 0 prints its segid, "PROG
# attach SEGID" in 1 works on it; the exporter's own "PASS TAG" is the verdict.
export_then_attach() { # PROG TAG
	local out=$logs/$1.exp e r=0 seg i
	"$lab" exec 0 --timeout 60 -- "$bin/xpmem-xpart-$1" export 40 >"$out" 2>&1 &
	e=$!
	for ((i = 0; i < 300; i++)); do
		seg=$(awk '/^segid /{ print $2 }' "$out")
		[ -n "$seg" ] && break
		sleep 0.1
	done
	[ -n "$seg" ] || { cat "$out"; wait "$e"; return 1; }
	"$lab" exec 1 --timeout 30 -- "$bin/xpmem-xpart-$1" attach "$seg" || r=1
	wait "$e" || r=1
	cat "$out"
	grep -q "^PASS $2" "$out" || r=1
	return $r
}

# Atomics (lock add, xchg, cmpxchg) on a remote page first mapped read-only.
atomics() { export_then_attach atomics atomics; }
check "remote: atomics on a page first read (lock add, xchg, cmpxchg) complete, values right" atomics

# futex, O_DIRECT and vmsplice on a remote attachment of a THP and a 4 KiB
# source: each works or fails with EFAULT, the same for both, and nothing
# oopses (GUP-fast on a PMD of peer-window frames, which have no struct
# page, did where the module mapped PMDs the kernel does not mark special).
gup() {
	local r=0
	export_then_attach gup gup || r=1
	"$lab" dmesg-check 1 || r=1
	return $r
}
check "remote: futex, O_DIRECT, vmsplice on THP and 4 KiB remote attachments: clean, no oops" gup


# A process in partition P that leaves P's agent free between commands
# (tests/partition/xpart/puppet.cc says its commands): it can hold a
# segment while the host injects faults into P.
puppet_start() { # P NAME
	"$lab" exec "$1" --timeout 60 -- "$bin/xpmem-xpart-puppet" start "$2" --life 300
}
puppet() { # P NAME WORDS...: prints the answer line; status 0 ok, 1 err
	local p=$1 name=$2
	shift 2
	"$lab" exec "$p" --timeout 90 -- "$bin/xpmem-xpart-puppet" cmd "$name" --timeout 60 "$@"
}
answer() { # KEY LINE: the value of KEY=... in a puppet's answer
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# An owner whose fault service stalls (3 s a request) does not hold the
# asker: its GET gives up at fault_ms (1000) with ETIMEDOUT; nobody is
# fenced; the late answer, once it comes, is handed back (RELEASE) by the
# asker, which counts it (dropped_stale_epoch).  The owner is a puppet, so
# the stall is injected while it holds the segment, and the segment is
# still there after: a GET without the stall attaches and reads it.
stalled_owner() {
	local seg r=0 t0 ms v0 s0 s1 e0 out apid i
	v0=$(view 1) || return 1
	puppet_start 0 stalled-owner && puppet_start 1 stalled-getter || return 1
	puppet 0 stalled-owner map x 8 31 >/dev/null || r=1
	out=$(puppet 0 stalled-owner make x 0600) || r=1
	seg=$(answer segid "$out")
	echo "owner: $out"
	[ -n "$seg" ] || return 1
	s0=$(counter 1 dropped_stale_epoch) || return 1
	e0=$(exports 0) || return 1
	xctl 0 inject stall_fault_service_ms 3000 >/dev/null || r=1
	t0=$(now_ms)
	out=$(puppet 1 stalled-getter get "$seg" rw)
	i=$?
	ms=$(($(now_ms) - t0))
	echo "GET with 0 stalled: status $i: $out ($ms ms through the lab; fault_ms 1000)"
	[ $i = 1 ] && [ "$(answer errno "$out")" = ETIMEDOUT ] || { echo "not ETIMEDOUT"; r=1; }
	[ "$ms" -lt 10000 ] || { echo "the GET waited far past fault_ms"; r=1; }
	# 0 answers about 3 s after the GET; 1 has nobody waiting for it.
	for ((i = 0; i < 50; i++)); do
		s1=$(counter 1 dropped_stale_epoch) || break
		[ "$s1" -gt "$s0" ] && break
		sleep 0.3
	done
	echo "partition 1: answers nobody waited for (dropped_stale_epoch) $s0 -> $s1"
	[ "${s1:-0}" -gt "$s0" ] || { echo "the late answer never came back to 1"; r=1; }
	xctl 0 inject stall_fault_service_ms 0 >/dev/null || r=1
	# The re-posts of the GET queued in 0 are served at once now, but the
	# one being served finishes its 3 s.
	sleep 3.5
	# Every answer to the GET given up is handed back (RELEASE, served by
	# 0's fault service, no longer stalled): the exports 0 made for it are
	# gone while 0 still holds the segment (its exit would drop them all).
	wait_exports 0 "$e0" 10000 || { echo "0 still holds exports made for the GET given up"; r=1; }
	out=$(puppet 1 stalled-getter get "$seg" rw) || { echo "GET after the stall: $out"; r=1; }
	apid=$(answer apid "$out")
	puppet 1 stalled-getter attach x "$apid" 8 >/dev/null && puppet 1 stalled-getter check x 31 ||
		{ echo "the segment did not survive the stalled GET"; r=1; }
	puppet 1 stalled-getter exit >/dev/null || r=1
	puppet 0 stalled-owner exit >/dev/null || r=1
	[ "$(field "$(view 1)" 0 3)" = "$(field "$v0" 0 3)" ] && [ "$(field "$(view 1)" 0 2)" = UP ] ||
		{ echo "partition 0 was fenced"; r=1; }
	no_leaks 0 || r=1
	no_leaks 1 || r=1
	return $r
}
check "remote: stalled fault service: GET gives up at fault_ms (ETIMEDOUT), the late answer handed back, no fence" stalled_owner

# ---- issue 9: requests with ids, gap-free completions, an independent poller ----
# A getrace exporter left running in partition P as UID (setsid): its segid.
getrace_exporter() { # P UID SECONDS
	"$lab" exec "$1" --timeout 60 -- sh -c "setsid $bin/xpmem-xpart-getrace export $3 $2 \
		>/tmp/getrace.out 2>&1 </dev/null & echo \$! >/tmp/getrace.pid; i=0
		while [ \$i -lt 300 ]; do grep -q '^segid ' /tmp/getrace.out && break
		i=\$((i + 1)); sleep 0.1; done; awk '/^segid /{ print \$2 }' /tmp/getrace.out"
}
getrace_exporter_stop() { # P
	"$lab" exec "$1" --timeout 30 -- sh -c 'kill $(cat /tmp/getrace.pid) 2>/dev/null; true'
}
# The checks below assert "no fence" of a kind the defects caused (a request
# or invalidation timeout); a partition the loaded host starves of CPU for
# dead_ms (self-stalled, heartbeat) is not one: dead_ms is raised meanwhile.
set_dead_ms() { # MS
	local p
	for ((p = 0; p < n; p++)); do xctl "$p" set dead_ms "$1" >/dev/null || return 1; done
}

# User A (uid 1000) GETs her 0600 segment in 0 while user B (uid 1001) GETs
# the same segid (EACCES each); 0's fault service takes 300 ms a request
# (fault_ms 1000: GETs are re-posted every 250 ms), so GETs are answered
# twice, and late.  An answer reaches only the GET it answers (its rid):
# B never gets a permit; second answers are handed back (RELEASE) or
# dropped, counted as stale: their count shows the race was run.
two_users_get() {
	local seg r=0 v0 s0 s1
	set_dead_ms 10000 || return 1
	v0=$(view 1) || return 1
	s0=$(counter 1 dropped_stale_epoch) || return 1
	seg=$(getrace_exporter 0 1000 60) || return 1
	echo "segid $seg"
	[ -n "$seg" ] || return 1
	xctl 0 inject stall_fault_service_ms 300 >/dev/null || r=1
	"$lab" exec 1 --timeout 120 -- "$bin/xpmem-xpart-getrace" race "$seg" 15 1000 1001 \
		>"$logs/getrace.att" 2>&1 || r=1
	xctl 0 inject stall_fault_service_ms 0 >/dev/null || r=1
	getrace_exporter_stop 0 || r=1
	cat "$logs/getrace.att"
	grep -q '^PASS getrace' "$logs/getrace.att" || r=1
	s1=$(counter 1 dropped_stale_epoch) || r=1
	echo "partition 1: answers nobody waited for (dropped_stale_epoch) $s0 -> $s1"
	[ "${s1:-0}" -gt "$s0" ] || { echo "no GET was answered twice: the race was not run"; r=1; }
	set_dead_ms 1000 || r=1
	[ "$(field "$(view 1)" 0 3)" = "$(field "$v0" 0 3)" ] || { echo "0 was fenced"; r=1; }
	return $r
}
check "remote: two users GET one segid from a stalled owner: B never gets A's answer (rid)" two_users_get

# The attacher holds two proxies of the same pages (two probers, two GETs:
# two exports on the owner); the owner unmaps a page they both read, and its
# first INVALIDATE to 1 is corrupted (dropped by 1).  The second one's
# completion must not acknowledge the first: the owner waits for the
# re-post, and both proxies get SIGBUS (no unpin while still mapped).
two_proxies() {
	local e0 m0 m1 r=0
	e0=$(field "$(view 0)" 1 3)
	m0=$(counter 1 dropped_malformed) || return 1
	pair two-proxies 0 1 two-proxies --arm-before-munmap "inject corrupt_next 1" || r=1
	m1=$(counter 1 dropped_malformed) || return 1
	echo "partition 1 dropped_malformed $m0 -> $m1"
	[ $((m1 - m0)) = 1 ] || r=1
	[ "$(field "$(view 0)" 1 3)" = "$e0" ] && [ "$(field "$(view 0)" 1 2)" = UP ] ||
		{ echo "1 was fenced"; r=1; }
	return $r
}
check "remote: two proxies of one page, the first INVALIDATE corrupted: SIGBUS through both, no fence" two_proxies

# 0's fault service is stuck (8 s a request) and 1 floods it with GETs until
# its queue is full; meanwhile 1 invalidates 0's attachment of 1's memory
# (pattern 1 -> 0: munmap and remap).  0's poller must keep taking the
# INVALIDATEs and replies (the GETs it has no room for are dropped and
# counted, their requesters re-post): no fence either way.
blocked_fault_service() {
	local seg r=0 v0 v1 d0 d1
	set_dead_ms 10000 || return 1
	v0=$(view 0) && v1=$(view 1) || return 1
	seg=$(getrace_exporter 0 1000 120) || return 1
	[ -n "$seg" ] || return 1
	d0=$(counter 0 dropped_queue_full) || return 1
	xctl 0 inject stall_fault_service_ms 8000 >/dev/null || r=1
	"$lab" exec 1 --timeout 30 -- sh -c "setsid $bin/xpmem-xpart-getrace flood $seg 25 8 \
		>/tmp/flood.out 2>&1 </dev/null &" || r=1
	sleep 8
	pair blocked 1 0 pattern || r=1
	d1=$(counter 0 dropped_queue_full)
	xctl 0 inject stall_fault_service_ms 0 >/dev/null || r=1
	"$lab" exec 1 --timeout 90 -- sh -c 'i=0; while [ $i -lt 600 ]; do
		grep -q "^PASS flood" /tmp/flood.out && break; i=$((i + 1)); sleep 0.1; done
		cat /tmp/flood.out' | sed 's/^/    flood: /'
	getrace_exporter_stop 0 || r=1
	echo "partition 0 dropped_queue_full $d0 -> $d1"
	[ "${d1:-0}" -gt "$d0" ] || { echo "the fault-service queue never filled: nothing was tested"; r=1; }
	[ "$(field "$(view 0)" 1 3)" = "$(field "$v0" 1 3)" ] || { echo "0 saw 1 change epoch"; r=1; }
	[ "$(field "$(view 1)" 0 3)" = "$(field "$v1" 0 3)" ] || { echo "1 fenced 0"; r=1; }
	[ "$(field "$(view 0)" 1 2)" = UP ] && [ "$(field "$(view 1)" 0 2)" = UP ] || r=1
	set_dead_ms 1000 || r=1
	return $r
}
check "remote: 0's fault service stuck and flooded: 1's INVALIDATEs still complete, no fence (I6)" blocked_fault_service

went_remote() {
	local f i
	f=$(counter 1 remote_faults) && i=$(counter 0 remote_invalidations) || return 1
	echo "partition 1 remote_faults $f, partition 0 remote_invalidations $i"
	[ "$f" -gt 0 ] && [ "$i" -gt 0 ] || return 1
	for ((p = 0; p < n; p++)); do
		wait_counter "$p" pinned_pages 0 10000 || return 1
		wait_counter "$p" attachments 0 10000 || return 1
	done
}
check "remote: the faults and invalidations went over the fabric; nothing pinned after" went_remote

# ---- lost and corrupted messages -------------------------------------------------
# With RDMA or polled doorbells (nothing reaches fabricd), P's peers swallow
# every doorbell they ring (drop_doorbells) instead.
lab_db=$(cat "$LAB_RUN/doorbell" 2>/dev/null || echo msix)
dropped_doorbells_module() { # P
	local q d r=0
	for ((q = 0; q < n; q++)); do [ "$q" = "$1" ] || xctl "$q" inject drop_doorbells 1 || r=1; done
	pair "drop-to-$1" 0 1 pattern || r=1
	for ((q = 0; q < n; q++)); do [ "$q" = "$1" ] || xctl "$q" inject drop_doorbells 0 || r=1; done
	d=$("$lab" exec $((1 - $1)) --timeout 30 -- cat /sys/kernel/xpmem/doorbells_dropped)
	echo "doorbells to $1 dropped by partition $((1 - $1)): $d"
	[ "${d:-0}" -gt 0 ] && return $r
}
dropped_doorbells() { # P: doorbells to P dropped by fabricd during a pattern run
	local d0 d1 r=0
	[ "$lab_db" = msix ] || { dropped_doorbells_module "$1"; return; }
	d0=$("$lab" fabric stats | awk -v id="$1" '$1 == "id" && $2 == id { for (i = 3; i < NF; i++) if ($i == "dropped") print $(i + 1) }')
	"$lab" fabric drop-to "$1" on || return 1
	pair "drop-to-$1" 0 1 pattern || r=1
	"$lab" fabric drop-to "$1" off || return 1
	d1=$("$lab" fabric stats | awk -v id="$1" '$1 == "id" && $2 == id { for (i = 3; i < NF; i++) if ($i == "dropped") print $(i + 1) }')
	echo "doorbells to $1 dropped: $d0 -> $d1"
	[ "$d1" -gt "$d0" ] && return $r
}
check "remote: doorbells to the attacher's partition dropped: data path still right" dropped_doorbells 1
check "remote: doorbells to the owner's partition dropped: data path still right" dropped_doorbells 0

# corrupt_next on the sender: the receiver drops the message as malformed,
# the sender's resend (every deadline/4) completes the operation.
corrupt() { # WHO: attacher (its FAULT) | owner (its INVALIDATE)
	local recv m0 m1 e0 e1 r=0
	if [ "$1" = attacher ]; then recv=0; else recv=1; fi
	m0=$(counter $recv dropped_malformed) || return 1
	e0=$(field "$(view 0)" 1 3)
	if [ "$1" = attacher ]; then
		pair "corrupt-$1" 0 1 pattern -- --arm-before-touch "inject corrupt_next 1" || r=1
	else
		pair "corrupt-$1" 0 1 pattern --arm-before-munmap "inject corrupt_next 1" || r=1
	fi
	m1=$(counter $recv dropped_malformed) || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "partition $recv dropped_malformed $m0 -> $m1; epoch of 1 in 0's view $e0 -> $e1"
	[ $((m1 - m0)) = 1 ] || r=1
	# No fence: the resend arrived in time.
	[ "$e1" = "$e0" ] && [ "$(field "$(view 0)" 1 2)" = UP ] || r=1
	return $r
}
check "remote: corrupted FAULT dropped as malformed by the owner, resent, fault completes" corrupt attacher
check "remote: corrupted INVALIDATE dropped by the attacher's partition, resent, munmap completes, no fence" corrupt owner

# A completion that comes after the owner gave up: 1 handles the INVALIDATE
# 3 s late (inval_ms 1000).  The owner fences 1 and quarantines the pages;
# 1's late completion must change nothing; 1 then finds itself fenced,
# fences itself and rejoins, which releases the quarantine.
late_completion() {
	local e0 e1 r=0 ms
	e0=$(field "$(view 0)" 1 3)
	xctl 1 inject delay_invalidate_ms 3000 || return 1
	pair late 0 1 canary -- --hold-ms 8000 || r=1
	xctl 1 inject delay_invalidate_ms 0 || r=1
	ms=$(awk '/^munmap_ms /{ print $2 }' "$logs/late.exp")
	echo "munmap_ms ${ms:-none} (inval_ms 1000)"
	[ -n "$ms" ] && [ "$ms" -lt 3000 ] || r=1
	wait_state 0 1 UP 30000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch of 1: $e0 -> $e1"
	[ "$e1" -gt "$e0" ] || r=1
	wait_field 0 1 7 0 10000 || r=1
	wait_counter 0 pinned_pages 0 10000 || r=1
	return $r
}
check "remote: late completion: 1 fenced at inval_ms, rejoins, quarantine released" late_completion

# One page, 17 exports: 16 GETs from 1, then one from 2.  1 handles
# INVALIDATEs 3 s late (inval_ms 1000).  The munmap asks all 17 at once,
# each with its own deadline: 1 is fenced at its deadline, 2 answers at
# once and must stay UP under the same epoch (a deadline shared by batches
# of 16 fenced it: its batch started after 1's had used up inval_ms).
fanout_one_slow() {
	local out=$logs/fanout.exp e a1 a2 seg i r=0 v0 ms
	v0=$(view 0) || return 1
	"$lab" exec 0 --timeout 120 --env "XPMEMCTL=$xpmemctl" -- \
		"$bin/xpmem-xpart-fanout" export 90 >"$out" 2>&1 &
	e=$!
	for ((i = 0; i < 300; i++)); do
		seg=$(awk '/^segid /{ print $2 }' "$out")
		[ -n "$seg" ] && break
		sleep 0.1
	done
	[ -n "$seg" ] || { cat "$out"; wait "$e"; return 1; }
	"$lab" exec 1 --timeout 120 --env "XPMEMCTL=$xpmemctl" -- "$bin/xpmem-xpart-fanout" \
		attach "$seg" 16 1 15 "inject delay_invalidate_ms 3000" >"$logs/fanout.att1" 2>&1 &
	a1=$!
	for ((i = 0; i < 900; i++)); do
		grep -q '^ready 1' "$out" && break
		kill -0 "$e" 2>/dev/null || break
		sleep 0.1
	done
	"$lab" exec 2 --timeout 120 -- "$bin/xpmem-xpart-fanout" attach "$seg" 1 2 10 \
		>"$logs/fanout.att2" 2>&1 &
	a2=$!
	wait "$e" || r=1
	wait "$a1" || r=1
	wait "$a2" || r=1
	xctl 1 inject delay_invalidate_ms 0 >/dev/null || r=1
	sed 's/^/    exporter: /' "$out"
	sed 's/^/    attacher in 1: /' "$logs/fanout.att1"
	sed 's/^/    attacher in 2: /' "$logs/fanout.att2"
	grep -q '^PASS fanout' "$out" || r=1
	ms=$(awk '/^munmap_ms /{ print $2 }' "$out")
	echo "munmap_ms ${ms:-none} (inval_ms 1000)"
	[ -n "$ms" ] && [ "$ms" -lt 3000 ] || r=1
	echo "partition 2 in 0's view, before: $(field "$v0" 2 2) epoch $(field "$v0" 2 3); after: $(field "$(view 0)" 2 2) epoch $(field "$(view 0)" 2 3)"
	[ "$(field "$(view 0)" 2 3)" = "$(field "$v0" 2 3)" ] && [ "$(field "$(view 0)" 2 2)" = UP ] ||
		{ echo "0 fenced the healthy partition 2"; r=1; }
	[ "$(field "$(view 0)" 1 3)" != "$(field "$v0" 1 3)" ] || [ "$(field "$(view 0)" 1 2)" = DEAD ] ||
		{ echo "0 did not fence the slow partition 1"; r=1; }
	wait_state 0 1 UP 30000 >/dev/null || r=1
	wait_field 0 1 7 0 10000 || r=1
	wait_counter 0 pinned_pages 0 10000 || r=1
	return $r
}
check "remote: 17 exports, 1 slow past inval_ms: only 1 fenced, 2 stays UP (per-target deadlines)" fanout_one_slow

# A lost RELEASE leaks no export (tests/model/rpc.pml, no_export_leaked).
# A process in 1 GETs a segment of 0 (one export in 0), then releases it
# with corrupt_next armed in 1: the RELEASE is dropped by 0's check, and
# 1's rescan re-posts it until 0 acknowledges; 0's exports come back to
# their count.  Before, RELEASE was posted once: the export stayed until
# 1's next epoch.
lost_release() {
	local seg r=0 e0 m0 m1
	seg=$(getrace_exporter 0 0 60) || return 1
	echo "segid $seg"
	[ -n "$seg" ] || return 1
	e0=$(exports 0) && m0=$(counter 0 dropped_malformed) || return 1
	"$lab" exec 1 --timeout 60 -- sh -c "rm -f /tmp/hold.go
		setsid $bin/xpmem-xpart-getrace hold $seg /tmp/hold.go >/tmp/hold.out 2>&1 </dev/null &
		i=0; while [ \$i -lt 300 ]; do grep -qE '^(got|FAIL)' /tmp/hold.out && break
		i=\$((i + 1)); sleep 0.1; done; grep -q '^got' /tmp/hold.out" || r=1
	wait_exports 0 $((e0 + 1)) 10000 || r=1
	xctl 1 inject corrupt_next 1 >/dev/null || r=1
	"$lab" exec 1 --timeout 30 -- touch /tmp/hold.go || r=1
	daemon_result 1 hold | sed 's/^/    holder: /'
	[ "${PIPESTATUS[0]}" = 0 ] || r=1
	wait_exports 0 "$e0" 10000 || r=1
	m1=$(counter 0 dropped_malformed) || r=1
	echo "partition 0: exports $e0 -> $((e0 + 1)) -> $(exports 0); dropped_malformed $m0 -> $m1"
	[ "${m1:-0}" -gt "$m0" ] || { echo "no message was corrupted: the RELEASE was not lost"; r=1; }
	xctl 1 inject corrupt_next 0 >/dev/null || r=1
	getrace_exporter_stop 0 || r=1
	return $r
}
check "remote: a RELEASE corrupted on its way is re-posted: the owner's exports return to their count" lost_release

# Defect 4 (issue 9): a segment in 0 backed by a FUSE file whose daemon
# blocks every read (xpmem-xpart-fuse).  1 faults on it (fault_ms 15000 in
# 1): 0's fault service gives up on that page a quarter of fault_ms at a
# time without answering (1 re-posts), so meanwhile it serves 1's other
# faults while 0 and 1 invalidate each other's memory (the race of
# `mutual`), and the FUSE exporter's own mmap/munmap go on (nothing holds
# its mmap_lock); 1's fault ends with SIGBUS at its deadline, nobody is
# fenced.  Once the daemon answers, the page comes: the partition
# recovered.  Before, the fault service slept on the FUSE page, holding
# the exporter's mmap_lock, until the daemon answered.
fuse_cycles() { "$lab" exec 0 --timeout 30 -- sh -c "awk '/^cycles /{ n = \$2 } END { print n + 0 }' /tmp/fuse-export.out"; }
fuse_fault() {
	local r=0 seg v0 v1 c1 c2 fuseko stuck ms
	[ -x "$bin/xpmem-xpart-fuse" ] || { echo "xpmem-xpart-fuse is not built (libfuse3-dev)"; return 1; }
	fuseko=$(find "$LAB_KERNEL/lib/modules" -name 'fuse.ko*' 2>/dev/null | head -n 1)
	set_dead_ms 10000 || return 1
	v0=$(view 0) && v1=$(view 1) || return 1
	"$lab" exec 0 --timeout 90 -- sh -c "[ -e /dev/fuse ] || insmod $fuseko
		mkdir -p /tmp/xfuse; rm -f /tmp/fuse.gate /tmp/fuse.stop
		setsid $bin/xpmem-xpart-fuse serve /tmp/xfuse /tmp/fuse.gate >/tmp/fuse-serve.out 2>&1 </dev/null &
		i=0; while [ \$i -lt 300 ] && [ ! -e /tmp/xfuse/data ]; do i=\$((i + 1)); sleep 0.1; done
		setsid $bin/xpmem-xpart-fuse export /tmp/xfuse/data 180 /tmp/fuse.stop >/tmp/fuse-export.out 2>&1 </dev/null &
		i=0; while [ \$i -lt 300 ]; do grep -q '^segid ' /tmp/fuse-export.out && break; i=\$((i + 1)); sleep 0.1; done
		cat /tmp/fuse-serve.out; head -n 1 /tmp/fuse-export.out" >"$logs/fuse.setup" 2>&1
	cat "$logs/fuse.setup"
	seg=$(awk '/^segid /{ print $2 }' "$logs/fuse.setup")
	[ -n "$seg" ] || return 1
	xctl 1 set fault_ms 15000 >/dev/null || r=1
	"$lab" exec 1 --timeout 30 -- sh -c "setsid $bin/xpmem-xpart-fuse attach $seg sigbus \
		>/tmp/fuse-stuck.out 2>&1 </dev/null &" || r=1
	sleep 1
	c1=$(fuse_cycles) || r=1
	# Meanwhile, the I6 race both ways; 1's readers need 0's fault service.
	race_both_ways fuse 4 || r=1
	c2=$(fuse_cycles) || r=1
	echo "the FUSE exporter's mmap/munmap cycles while the fault was stuck: $c1 -> $c2"
	[ "${c2:-0}" -gt "${c1:-0}" ] || { echo "the FUSE exporter's mmap_lock was held"; r=1; }
	# The stuck fault: SIGBUS at its deadline (15 s), not when the daemon
	# answers, nor at once (an error would not show the fault was stuck).
	stuck=$(daemon_result 1 fuse-stuck) || r=1
	sed 's/^/    stuck attacher: /' <<<"$stuck"
	ms=$(sed -n 's/^PASS fuse-attach: .* in \([0-9]*\) ms$/\1/p' <<<"$stuck")
	[ "${ms:-0}" -ge 7500 ] || { echo "the stuck fault ended after ${ms:-?} ms, before half of 1's fault_ms: not stuck"; r=1; }
	# The daemon answers: the page comes.
	"$lab" exec 0 --timeout 30 -- touch /tmp/fuse.gate || r=1
	xctl 1 set fault_ms 1000 >/dev/null || r=1
	"$lab" exec 1 --timeout 90 -- "$bin/xpmem-xpart-fuse" attach "$seg" data >"$logs/fuse.after" 2>&1 || r=1
	sed 's/^/    attacher after the gate: /' "$logs/fuse.after"
	"$lab" exec 0 --timeout 60 -- sh -c "touch /tmp/fuse.stop; i=0; while [ \$i -lt 300 ]; do
		grep -q '^PASS fuse-export' /tmp/fuse-export.out && break; i=\$((i + 1)); sleep 0.1; done
		tail -n 1 /tmp/fuse-export.out; umount /tmp/xfuse; grep -q '^PASS fuse-export' /tmp/fuse-export.out" || r=1
	set_dead_ms 1000 || r=1
	[ "$(field "$(view 0)" 1 3)" = "$(field "$v0" 1 3)" ] || { echo "0 saw 1 change epoch"; r=1; }
	[ "$(field "$(view 1)" 0 3)" = "$(field "$v1" 0 3)" ] || { echo "1 saw 0 change epoch"; r=1; }
	return $r
}
check "remote: a fault on a FUSE page whose daemon blocks: answered at its deadline, INVALIDATEs and other faults go on, recovers (defect 4)" fuse_fault

# Nothing under the fabric mutex may enter reclaim (reclaim can run our
# notifier, which takes that mutex to post INVALIDATE).  Fencing 2 and its
# rejoin run partition 0's state callbacks under the mutex, in the rescan
# and peer threads, which do everything else under it too: while 2 is
# stopped and continued, partition 0 traces every allocation those threads
# make that may reclaim directly (__GFP_DIRECT_RECLAIM, 0x400); none may.
trace_reclaim() { # P on|off
	local t=/sys/kernel/tracing
	"$lab" exec "$1" --timeout 60 -- sh -c "
		[ -d $t/events/kmem ] || mount -t tracefs nodev $t || exit 2
		echo 0 >$t/tracing_on
		if [ $2 = on ]; then echo >$t/trace; fi
		for ev in kmalloc kmalloc_node kmem_cache_alloc kmem_cache_alloc_node mm_page_alloc; do
			[ -d $t/events/kmem/\$ev ] || continue
			if [ $2 = on ]; then
				echo '(comm == \"xpmem-rescan\" || comm ~ \"xpmem-peer*\") && gfp_flags & 0x400' \
					>$t/events/kmem/\$ev/filter || exit 3
				echo 1 >$t/events/kmem/\$ev/enable
			else
				echo 0 >$t/events/kmem/\$ev/enable
				echo 0 >$t/events/kmem/\$ev/filter
			fi
		done
		if [ $2 = on ]; then echo 1 >$t/tracing_on; else grep -v '^#' $t/trace; echo >$t/trace; fi"
}
no_reclaim_under_fabric_mutex() {
	local out=$logs/no-reclaim.trace e0 r=0 k
	trace_reclaim 0 on || { echo "cannot trace allocations in partition 0"; return 1; }
	e0=$(field "$(view 0)" 2 3)
	"$lab" stop 2 || r=1
	wait_state 0 2 DEAD 10000 >/dev/null || r=1
	"$lab" cont 2 || r=1
	wait_state 0 2 UP 60000 >/dev/null || r=1
	trace_reclaim 0 off >"$out" || { echo "cannot read the trace"; r=1; }
	[ "$(field "$(view 0)" 2 3)" != "$e0" ] || { echo "2 was not fenced"; r=1; }
	k=$(grep -c . "$out")
	echo "allocations that may reclaim, by partition 0's rescan and peer threads: $k"
	head -n 10 "$out"
	[ "$k" = 0 ] || r=1
	return $r
}
check "remote: a fence and a rejoin allocate nothing that may reclaim under the fabric mutex" \
	no_reclaim_under_fabric_mutex

# ---- partitions dying ------------------------------------------------------------
check "remote: kill 1 mid-invalidate (seen in service by 1's kernel): munmap within dead_ms of the kill, pages quarantined and kept through memory pressure, released on restart" \
	kill_mid_invalidate once 1

# The control for the check above: the same canaries, an INVALIDATE handled
# in time, so the munmap frees the pages; the same pressure must then wipe
# most of them from the RAM file (else "kept" would prove nothing).
freed_reused() {
	local r=0
	pair control 0 1 canary -- --hold-ms 3000 || r=1
	"$lab" exec 0 --timeout 300 -- "$bin/xpmem-xpart-pressure" 48 || r=1
	frames_hold_canaries "$logs/control.exp" "$(ram_of 0)" lost || r=1
	wait_counter 0 pinned_pages 0 10000 || r=1
	return $r
}
check "remote: control: frames freed by a normal munmap are reused under the same pressure" freed_reused

stop_cont() {
	local e0 e1
	e0=$(field "$(view 0)" 1 3)
	"$lab" stop 1 || return 1
	wait_state 0 1 DEAD 5000 >/dev/null || { "$lab" cont 1; return 1; }
	"$lab" cont 1 || return 1
	wait_state 0 1 UP 30000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch of 1: $e0 -> $e1"
	[ "$e1" -gt "$e0" ] || return 1
	"$lab" exec 1 --timeout 30 -- sh -c 'dmesg | grep -q "fenced ourselves"' || return 1
	pair after-cont 0 1 pattern
}
check "remote: stop 1: fenced; cont 1: fences itself, rejoins, data path works again" stop_cont

# The exporter's partition dies while an attacher's FAULT is in flight
# (0's fault service stalled; 1's table shows the request in flight when
# the kill lands): the fault ends in SIGBUS when 1 fences 0 (dead_ms), not
# at its own fault_ms; 1 and 2 hold nothing; 0 restarts and rejoins.
check "remote: kill 0 with a FAULT of 1 in flight (seen in 1's table): SIGBUS at the fence, nothing left; 0 restarts" \
	kill_owner_mid_fault once
after_restarts() {
	local p
	for ((p = 0; p < n; p++)); do xctl "$p" set inval_ms 1000 || return 1; done
	pair restarted-1-0 1 0 pattern && pair restarted-0-2 0 2 pattern
}
check "remote: after the restarts: pattern 1 -> 0 and 0 -> 2" after_restarts

# ---- one peer window unbound and bound again (unbind-lib.sh) --------------------
check "remote: unbind 1's window onto 0 under a reader of mapped pages: SIGBUS, 0 and 1 stay UP, 1's log clean" \
	window_unbind_under_reads
check "remote: bind 1's window onto 0 again: found by its tag, a fresh attach reads 0's data, nothing leaked" \
	window_rebind

# ---- the fabric device unbound and bound again (unbind-lib.sh) ------------------
check "remote: unbind 1's fabric device under reads and a shootdown: reader gets SIGBUS, the munmap ends as 1 leaves, 0 and 2 see 1 fenced (disconnect), 1's log clean" \
	unbind_under_traffic
check "remote: bind 1's fabric device again: UP under a new epoch, quarantine released, pattern both ways, nothing leaked" \
	rebind_after_unbind

# ---- rmmod while peers are UP (unbind-lib.sh) ------------------------------------
check "remote: rmmod in 0 refused under a live exporter; once it exits, rmmod announces: 1 and 2 fence 0 for disconnect, not after dead_ms" \
	rmmod_announced
check "remote: rmmod in 0 with pages quarantined for a stopped 1: kept pinned, frames keep 1's canaries under pressure; 0 restarts" \
	rmmod_keeps_quarantine

# ---- every partition clean -------------------------------------------------------
for ((p = 0; p < n; p++)); do
	check "remote: partition $p: kernel log clean" "$lab" dmesg-check "$p"
done
check "remote: the killed boots' console logs clean" killed_consoles_clean 2
for ((p = 0; p < n; p++)); do
	check "remote: partition $p: rmmod xpmem (nothing pinned or leaked)" \
		"$lab" exec "$p" --timeout 60 -- busybox rmmod xpmem
done
exit $failed
