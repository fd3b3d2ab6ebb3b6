# shellcheck shell=bash
# remote-lib.sh - what tests/partition/remote.sh and soak.sh share: views of
# the partition table, counters, running the xpmem-xpart-* programs in the
# lab's partitions, and the confirmed kills (tests/partition/kmi.py).  Sourced after
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

# Partition P's live exports (tokens peers hold on its segments), and a
# wait until they are COUNT.
exports() { "$lab" exec "$1" --timeout 30 -- cat /sys/kernel/xpmem/exports; }
wait_exports() { # P COUNT LIMIT_MS
	local t0 v
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$3" ]; do
		v=$(exports "$1" 2>/dev/null)
		[ "$v" = "$2" ] && return 0
		sleep 0.2
	done
	echo "partition $1: $v exports, not $2, after $3 ms" >&2
	return 1
}

# Nothing left behind in partition P by programs that have exited: no
# context, segment (proxies included), permit, attachment or export of a
# segment of P (a token a peer holds) and no page
# pinned beyond what P quarantines (the sum of its view's column 7).  Run
# before a partition is restarted, so a leak is seen while its cause is
# still there, not only by the final rmmod of a rebooted partition.
no_leaks() { # P
	local json q e
	json=$(xctl "$1" --json stats) || return 1
	q=$(view "$1" | awk '{ s += $7 } END { print s + 0 }')
	e=$(exports "$1") || return 1
	python3 - "$1" "$q" "$json" "$e" <<'PY'
import json, sys
p, quarantined, exports = sys.argv[1], int(sys.argv[2]), int(sys.argv[4])
c = json.loads(sys.argv[3])["counters"]
bad = [f"{k} {c[k]}" for k in ("contexts", "segments", "permits", "attachments") if c[k]]
if c["pinned_pages"] != quarantined:
    bad.append(f"pinned_pages {c['pinned_pages']} but {quarantined} quarantined")
# Exports are tokens peers hold on our segments: none without a segment,
# except those a quarantine keeps (with their pinned pages).
if exports and not quarantined:
    bad.append(f"exports {exports} with nothing quarantined")
print(f"partition {p}: " + ("; ".join(bad) + " left behind" if bad else "nothing left behind"))
sys.exit(1 if bad else 0)
PY
}

# The console logs of killed boots, kept by the kills (kmi.py) as
# $logs/TAG.console-killed.log: at least MIN-COUNT, none with errors.
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

# The kills that must land in the middle of something, confirmed by the
# victim's kernel (the lab library's one implementation, through
# tests/partition/kmi.py, which says what it checks): partition 1 killed
# while it holds 0's INVALIDATE ("kmi_munmap_ms N" for the caller's
# statistics; PRESSURE=1 also checks that the quarantined frames keep 1's
# canaries under memory pressure), and 0 killed while a FAULT of 1 is in
# flight.  Each restarts the partition it killed and keeps its console log
# as $logs/TAG.console-killed.log.
kmi_py() { # invalidate|fault TAG [--pressure]
	XPMEM_BUILD_DIR=$LAB_BUILD XPMEM_PARTITION_LOGS=$logs \
		timeout 900 python3 "$LAB_REPO/tests/partition/kmi.py" "$@"
}
kill_mid_invalidate() { # TAG PRESSURE
	if [ "$2" = 1 ]; then kmi_py invalidate "kmi-$1" --pressure; else kmi_py invalidate "kmi-$1"; fi
}
kill_owner_mid_fault() { # TAG
	kmi_py fault "kof-$1"
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
