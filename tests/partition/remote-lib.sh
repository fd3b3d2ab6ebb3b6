# shellcheck shell=bash
# remote-lib.sh - what tests/partition/remote.sh and soak.sh share: views of
# the partition table, counters, running the xpmem-xpart-* programs in the
# lab's partitions, and one kill-mid-invalidate round.  Sourced after
# tools/lab/common.sh; the caller sets $logs (a directory for the programs'
# output).
: "${logs:?remote-lib.sh needs \$logs}"
#
# A program runs through `tools/xpmem-lab exec P --timeout S`: the agent
# kills it at S seconds and the client returns within S + 30 s even if the
# partition hangs, so every `wait` on one of them is bounded.

lab=$LAB_REPO/tools/xpmem-lab
bin=$LAB_BUILD/tests/partition/xpart
xpmemctl=$LAB_BUILD/tools/xpmemctl/xpmemctl
ram_of() { if [ "$1" = 0 ]; then echo "$LAB_RUN/ram"; else echo "$LAB_RUN/p$1/ram"; fi; }
now_ms() { date +%s%3N; }

view() { # P: partition P's table ("id state epoch hb_age_ms reason window quarantined_pages inflight")
	"$lab" exec "$1" --timeout 30 -- cat /sys/kernel/xpmem/partitions
}
field() { # VIEW ID COLUMN (1-based)
	awk -v id="$2" -v c="$3" '$1 == id { print $c }' <<<"$1"
}
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
	echo "partition $1 never saw $2 $3 within $4 ms; last view:" >&2
	echo "$v" >&2
	return 1
}
# Polls until partition P's view of ID has COLUMN equal to VALUE.
wait_field() { # P ID COLUMN VALUE LIMIT_MS
	local t0 v
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$5" ]; do
		v=$(view "$1" 2>/dev/null)
		[ "$(field "$v" "$2" "$3")" = "$4" ] && return 0
		sleep 0.2
	done
	echo "partition $1: column $3 of $2 is not $4 after $5 ms; last view:" >&2
	echo "$v" >&2
	return 1
}
xctl() { # P ARGS...: xpmemctl in partition P
	local p=$1
	shift
	"$lab" exec "$p" --timeout 30 -- "$xpmemctl" "$@"
}
counter() { # P NAME: a counter of `xpmemctl --json stats` (pinned_pages, dropped_malformed...)
	xctl "$1" --json stats | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$2"
}
wait_counter() { # P NAME VALUE LIMIT_MS
	local t0 v
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$4" ]; do
		v=$(counter "$1" "$2" 2>/dev/null)
		[ "$v" = "$3" ] && return 0
		sleep 0.2
	done
	echo "partition $1: $2 is $v, not $3, after $4 ms" >&2
	return 1
}

# Nothing left behind in partition P by programs that have exited: no
# context, segment (proxies included), permit or attachment, and no page
# pinned beyond what P quarantines (the sum of its view's column 7).  Run
# before a partition is restarted, so a leak is seen while its cause is
# still there, not only by the final rmmod of a rebooted partition.
no_leaks() { # P
	local json q
	json=$(xctl "$1" --json stats) || return 1
	q=$(view "$1" | awk '{ s += $7 } END { print s + 0 }')
	python3 - "$1" "$q" "$json" <<'PY'
import json, sys
p, quarantined = sys.argv[1], int(sys.argv[2])
c = json.loads(sys.argv[3])["counters"]
bad = [f"{k} {c[k]}" for k in ("contexts", "segments", "permits", "attachments") if c[k]]
if c["pinned_pages"] != quarantined:
    bad.append(f"pinned_pages {c['pinned_pages']} but {quarantined} quarantined")
print(f"partition {p}: " + ("; ".join(bad) + " left behind" if bad else "nothing left behind"))
sys.exit(1 if bad else 0)
PY
}

# After `restart P`: the killed boot's console log (its kernel messages of
# warning level and up) is console.prev.log; keep it as
# $logs/TAG.console-killed.log for killed_consoles_clean.
keep_killed_console() { # P TAG
	local d=$LAB_RUN
	[ "$1" = 0 ] || d=$LAB_RUN/p$1
	cp -f "$d/console.prev.log" "$logs/$2.console-killed.log"
}
killed_consoles_clean() { # MIN-COUNT: at least that many kept logs, none with errors
	local f k=0 r=0
	for f in "$logs"/*.console-killed.log; do
		[ -f "$f" ] || continue
		k=$((k + 1))
		"$lab" log-check "$f" || r=1
	done
	echo "$k console logs of killed boots read"
	[ $k -ge "$1" ] && return $r
}

# Starts the exporter of SCENARIO in partition P in the background; its
# output goes to $logs/NAME.exp.  Sets EXP_PID and SEGIDS ("CTL DATA").
start_exporter() { # NAME P SCENARIO [ARGS...]
	local name=$1 p=$2 out=$logs/$1.exp i
	shift 2
	: >"$out"
	"$lab" exec "$p" --timeout 600 --env "XPMEMCTL=$xpmemctl" -- \
		"$bin/xpmem-xpart-export" "$@" >"$out" 2>&1 &
	EXP_PID=$!
	SEGIDS=
	for ((i = 0; i < 600; i++)); do
		SEGIDS=$(awk '/^segids /{ print $2, $3 }' "$out")
		[ -n "$SEGIDS" ] && return 0
		kill -0 "$EXP_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "the exporter in partition $p printed no segids:"
	cat "$out"
	return 1
}
# Waits for the exporter's exec (bounded by its --timeout); 0 if it passed.
finish_exporter() { # NAME
	local rc=0 out=$logs/$1.exp
	wait "$EXP_PID" || rc=$?
	sed 's/^/    exporter: /' "$out" | grep -v '^    exporter: pfn '
	[ $rc = 0 ] && grep -q '^PASS ' "$out"
}
# The attacher in partition P, in the foreground; output in $logs/NAME.att.
run_attacher() { # NAME P SCENARIO SEGIDS-WORDS... [ARGS...]
	local name=$1 p=$2 out=$logs/$1.att rc=0
	shift 2
	"$lab" exec "$p" --timeout 600 --env "XPMEMCTL=$xpmemctl" -- \
		"$bin/xpmem-xpart-attach" "$@" >"$out" 2>&1 || rc=$?
	sed 's/^/    attacher: /' "$out"
	[ $rc = 0 ] && grep -q '^PASS ' "$out"
}
# One scenario: the exporter in partition E, the attacher in partition A.
# Exporter arguments, then "--", then the attacher's.
pair() { # NAME E A SCENARIO [EXPORTER ARGS] [-- ATTACHER ARGS]
	local name=$1 e=$2 a=$3 sc=$4 eargs=() aargs=() r=0 seg
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do eargs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	aargs=("$@")
	echo "== $name: $sc, exporter in $e, attacher in $a"
	start_exporter "$name" "$e" "$sc" "${eargs[@]}" || { wait "$EXP_PID"; return 1; }
	# The owner's partition id is in the segid's bits 62..48.
	for seg in $SEGIDS; do
		[ $(((seg >> 48) & 0x7fff)) = "$e" ] ||
			{ echo "segid $seg does not carry partition $e"; r=1; }
	done
	# shellcheck disable=SC2086  # SEGIDS is two words
	run_attacher "$name" "$a" "$sc" $SEGIDS "${aargs[@]}" || r=1
	finish_exporter "$name" || r=1
	return $r
}

# One kill-mid-invalidate round (remote.sh's case a, soak.sh's loop).  The
# attacher in 1 writes canaries into the exporter's pages in 0; 1's
# invalidation handling is delayed 5 s; the exporter's munmap sends the
# INVALIDATE and 1 is killed while it sleeps.  Then:
#  - munmap returned within inval_ms (+2 s for TCG): the owner fenced 1;
#  - 0 shows 1 DEAD and quarantined_pages > 0 for it;
#  - PRESSURE=1: after a program took most of 0's free memory, the frames
#    still hold the canaries (read straight from 0's RAM file): the
#    quarantined pages were never reused;
#  - restart 1: UP under a new epoch, 0's quarantine for 1 drops to 0, and
#    pinned_pages goes back to 0 (the exporter has exited).
# Prints what it measured; "kmi_munmap_ms N" for the caller's statistics.
kill_mid_invalidate() { # TAG PRESSURE
	local tag=kmi-$1 pressure=$2 inval=1000 att i ms e0 e1 v q r=0
	e0=$(field "$(view 0)" 1 3)
	xctl 0 set inval_ms $inval || return 1
	xctl 1 inject delay_invalidate_ms 5000 || return 1
	start_exporter "$tag" 0 canary || { wait "$EXP_PID"; return 1; }
	# shellcheck disable=SC2086  # SEGIDS is two words
	"$lab" exec 1 --timeout 120 -- "$bin/xpmem-xpart-attach" canary $SEGIDS \
		--hold-ms 60000 >"$logs/$tag.att" 2>&1 &
	att=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^munmap start' "$logs/$tag.exp" && break
		kill -0 "$EXP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^munmap start' "$logs/$tag.exp"; then
		echo "the exporter never reached its munmap"
		sed 's/^/    attacher: /' "$logs/$tag.att"
		"$lab" kill 1
		wait "$att"
		finish_exporter "$tag"
		return 1
	fi
	# 1 is now asleep in its INVALIDATE handling (5 s); kill it there.
	sleep 0.3
	"$lab" kill 1 || r=1
	wait "$att"
	sed 's/^/    attacher: /' "$logs/$tag.att"
	finish_exporter "$tag" || r=1
	ms=$(awk '/^munmap_ms /{ print $2 }' "$logs/$tag.exp")
	echo "kmi_munmap_ms ${ms:-none} (inval_ms $inval)"
	if [ -z "$ms" ] || [ "$ms" -ge $((inval + 2000)) ]; then echo "munmap too slow or missing"; r=1; fi
	wait_state 0 1 DEAD 5000 >/dev/null || r=1
	v=$(view 0)
	echo "$v"
	q=$(field "$v" 1 7)
	echo "partition 0: 1 fenced for $(field "$v" 1 5), quarantined_pages $q"
	if [ -z "$q" ] || [ "$q" -le 0 ]; then echo "no page quarantined for 1"; r=1; fi
	if [ "$pressure" = 1 ]; then
		"$lab" exec 0 --timeout 300 -- "$bin/xpmem-xpart-pressure" 48 || r=1
		frames_hold_canaries "$logs/$tag.exp" "$(ram_of 0)" || r=1
	fi
	# The survivors hold nothing but the quarantine (the exporter has exited).
	no_leaks 0 || r=1
	no_leaks 2 || r=1
	"$lab" restart 1 >"$logs/$tag.restart" 2>&1 || { cat "$logs/$tag.restart"; return 1; }
	keep_killed_console 1 "$tag"
	xctl 1 inject delay_invalidate_ms 0 >/dev/null
	wait_state 0 1 UP 60000 >/dev/null || return 1
	e1=$(field "$(view 0)" 1 3)
	echo "epoch of 1: $e0 -> $e1"
	[ "$e1" -gt "$e0" ] || r=1
	wait_field 0 1 7 0 10000 || r=1
	wait_counter 0 pinned_pages 0 10000 || r=1
	return $r
}

# The exporter printed "pfn PAGE PFN canary VALUE" per page: each frame of
# the RAM file must still hold VALUE at words 0 and 511.  With "lost": the
# opposite, most frames must have lost it (the control run: pages freed
# normally are reused under pressure, so the check above can fail).
frames_hold_canaries() { # EXPORTER-OUTPUT RAM-FILE [lost]
	python3 - "$1" "$2" "${3:-kept}" <<'EOF'
import struct, sys
frames = [l.split() for l in open(sys.argv[1]) if l.startswith("pfn ")]
bad = 0
with open(sys.argv[2], "rb") as ram:
    for _, page, pfn, _, want in frames:
        ram.seek(int(pfn, 16) * 4096)
        b = ram.read(4096)
        w0, w511 = struct.unpack_from("<Q", b, 0)[0], struct.unpack_from("<Q", b, 4088)[0]
        if w0 != int(want, 16) or w511 != int(want, 16):
            bad += 1
            if bad <= 5 and sys.argv[3] == "kept":
                print(f"page {page} frame {pfn}: {w0:#x} {w511:#x}, canary {want}")
print(f"{len(frames)} frames read from the RAM file, {bad} lost their canary")
if not frames:
    sys.exit(1)
sys.exit(1 if (bad if sys.argv[3] == "kept" else bad * 2 < len(frames)) else 0)
EOF
}
