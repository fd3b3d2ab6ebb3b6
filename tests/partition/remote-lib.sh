# shellcheck shell=bash
# remote-lib.sh - what tests/partition/doorbell.sh, the last bash partition
# suite, uses: views of the partition table, counters, running the
# xpmem-xpart-* programs in the lab's partitions.  The Python suites
# (remote.py, soak.py, highmem.py...) do the same through the lab library
# (tools/lab/xpmemlab).  Sourced after tools/lab/common.sh; the caller sets
# $logs (a directory for the programs' output).
: "${logs:?remote-lib.sh needs \$logs}"
#
# A program runs through `tools/xpmem-lab exec P --timeout S`: the agent
# kills it at S seconds and the client returns within S + 30 s even if the
# partition hangs, so every `wait` on one of them is bounded.

lab=$LAB_REPO/tools/xpmem-lab
bin=$LAB_BUILD/tests/partition/xpart
xpmemctl=$LAB_BUILD/tools/xpmemctl/xpmemctl
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
xctl() { # P ARGS...: xpmemctl in partition P
	local p=$1
	shift
	"$lab" exec "$p" --timeout 30 -- "$xpmemctl" "$@"
}
counter() { # P NAME: a counter of `xpmemctl --json stats` (pinned_pages, dropped_malformed...)
	xctl "$1" --json stats | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$2"
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
