#!/usr/bin/env bash
# tests/model/run.sh [--deep]
#
# Checks the Promela models of the partition protocol (docs/model.md) with
# Spin, exhaustively, within the bounds below, and prints one verdict line
# per property and per mutant:
#   PASS model: CONFIG: PROPERTY (states, memory, time)
#   PASS model: mutant NAME caught: PROPERTY violated (depth, time)
# A mutant is the model with one known defect (-DMUTANT_X); it must fail
# the property it breaks: a mutant that passes is a hole in the model.
# A failing property prints Spin's counterexample trail, filtered to the
# steps of the processes (all of it in build/model/CONFIG/trail.txt).
#
# --deep (or XPMEM_MODEL_DEEP=1) adds larger bounds (tens of minutes).
# XPMEM_MODEL_OUT: where pan is built (default build/model).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${XPMEM_MODEL_OUT:-$repo/build/model}
deep=${XPMEM_MODEL_DEEP:-0}
[ "${1:-}" = --deep ] && deep=1
limit=${XPMEM_MODEL_TIMEOUT:-1800}	# seconds per pan run
status=0

if ! command -v spin >/dev/null || ! command -v gcc >/dev/null; then
	echo "FAIL model: spin or gcc is not installed (tools/xpmem-lab setup installs spin)"
	exit 1
fi
mkdir -p "$out" || exit 1

# The counterexample, readably: one line per step of a process, the
# bookkeeping of loops and the clearing of local variables left out.
trail() { # DIR MODEL DEFINES
	# shellcheck disable=SC2086  # DEFINES is a list of -D words
	(cd "$1" && spin $3 -t -p "$2" 2>&1) >"$1/trail.txt"
	grep -E '^ *[0-9]+:[[:space:]]+proc|assertion violated|invalid end state|Error' "$1/trail.txt" |
		grep -vE '\[(k = |\(\(k<=|else\]|\.\(goto\)\]|break\]|\(1\)\]|[a-z]+ = 0\])' |
		sed -E 's/^ *([0-9]+):[[:space:]]+proc +[0-9]+ \(([A-Za-z_:]+):[0-9]+\) [^:]+:([0-9]+) \(state [0-9]+\)/  \1 \2 line \3:/' |
		tail -n 150 | sed 's/^/    | /'
}

# check NAME MODEL "DEFINES" EXPECT, EXPECT = pass:PROP,PROP... | fail:PROP
check() {
	local name=$1 model=$2 defs=$3 expect=$4 dir=$out/$1 res errs states mem secs depth what p opt=-O2
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$here/$model" "$dir/"
	# A mutant's counterexample is near: compiling fast beats searching fast.
	[ "${expect%%:*}" = fail ] && opt=-O0
	# shellcheck disable=SC2086  # DEFINES is a list of -D words
	if ! (cd "$dir" && spin $defs -a "$model" >spin.log 2>&1 &&
		gcc $opt -DSAFETY -w -o pan pan.c >gcc.log 2>&1); then
		echo "FAIL model: $name: the model does not build ($model $defs)"
		sed 's/^/    | /' "$dir/spin.log" "$dir/gcc.log" | tail -n 20
		status=1
		return
	fi
	(cd "$dir" && timeout "$limit" ./pan -m100000 -w24 -n >pan.out 2>&1)
	res=$dir/pan.out
	errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$res")
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$res")
	mem=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' "$res")
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$res")
	depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$res" | head -n 1)
	what=$(sed -n 's/.*assertion violated (\([A-Za-z0-9_]*\).*/\1/p' "$res" | head -n 1)
	grep -q 'invalid end state' "$res" && what=${what:-no_wait_forever}
	if [ -z "$errs" ]; then
		echo "FAIL model: $name: pan did not finish (time limit ${limit}s?)"
		tail -n 5 "$res" | sed 's/^/    | /'
		status=1
		return
	fi
	case $expect in
	pass:*)
		if [ "$errs" = 0 ] && ! grep -q 'max search depth too small' "$res"; then
			for p in ${expect#pass:}; do
				echo "PASS model: $name: $p ($states states, $mem MB, ${secs}s)"
			done
		else
			status=1
			if [ "$errs" = 0 ]; then
				echo "FAIL model: $name: the search was cut at its depth bound: nothing established"
				return
			fi
			for p in ${expect#pass:}; do
				if [ "$p" = "$what" ]; then
					echo "FAIL model: $name: $p violated (depth $depth; $model $defs)"
					trail "$dir" "$model" "$defs"
				else
					echo "FAIL model: $name: $p not established (the search stopped at a counterexample of $what)"
				fi
			done
			case " ${expect#pass:} " in *" $what "*) ;; *)
				echo "FAIL model: $name: $what violated (depth $depth; $model $defs)"
				trail "$dir" "$model" "$defs" ;;
			esac
		fi
		;;
	fail:*)
		if [ "$errs" != 0 ] && [ "$what" = "${expect#fail:}" ]; then
			echo "PASS model: mutant $name caught: $what violated (depth $depth, $states states, ${secs}s)"
			trail "$dir" "$model" "$defs" >/dev/null
		elif [ "$errs" != 0 ]; then
			echo "FAIL model: mutant $name: expected ${expect#fail:} to fail, got $what (depth $depth)"
			trail "$dir" "$model" "$defs"
			status=1
		else
			echo "FAIL model: mutant $name passed: a hole in the model ($states states)"
			status=1
		fi
		;;
	esac
}

SD_PROPS="I1_no_reuse_while_mapped I2_within_deadline I3_fenced_never_acts I7_own_deadline I7_fence_names_incarnation"

# ---- shootdown.pml: the correct protocol, at several bounds ----
# two proxies of one page, warm (both mapped), one message lost or duplicated
check sd-two-proxies shootdown.pml "-DWARM -DNEXP=2 -DNFAULT=1 -DNCHAOS=1 -DMAXEP=1 -DNCRASH=0 -DNREPOST=0" \
	"pass:$SD_PROPS"
# the fault path from cold: two faults, one re-post, one message lost or duplicated
check sd-faults shootdown.pml "-DNEXP=1 -DNFAULT=2 -DNCHAOS=1 -DMAXEP=1 -DNCRASH=0 -DNREPOST=1" \
	"pass:$SD_PROPS"
# fences, a crash, rejoin under epoch 2, quarantine and its release (a
# late duplicate of A's JOIN of epoch 1 is in flight)
check sd-rejoin shootdown.pml "-DWARM -DNEXP=1 -DNFAULT=1 -DNCHAOS=0 -DMAXEP=2 -DNCRASH=1 -DNREPOST=0" \
	"pass:$SD_PROPS Q_release_only_newer_epoch"

# ---- mutants ----
check gap-ack shootdown.pml "-DWARM -DNEXP=2 -DNFAULT=0 -DNCHAOS=1 -DMAXEP=1 -DNCRASH=0 -DMUTANT_GAP" \
	fail:I1_no_reuse_while_mapped
check single-deadline shootdown.pml "-DWARM -DNEXP=2 -DNFAULT=0 -DNCHAOS=0 -DMAXEP=1 -DNCRASH=0 -DMUTANT_SINGLE_DEADLINE" \
	fail:I7_own_deadline
check batch-wait shootdown.pml "-DWARM -DNEXP=2 -DNFAULT=0 -DNCHAOS=0 -DMAXEP=1 -DNCRASH=0 -DMUTANT_BATCH_WAIT" \
	fail:I2_within_deadline
check quarantine-any-join shootdown.pml "-DWARM -DNEXP=1 -DNFAULT=0 -DNCHAOS=0 -DMAXEP=2 -DNCRASH=0 -DMUTANT_JOIN_RELEASE" \
	fail:Q_release_only_newer_epoch
check fence-without-epoch shootdown.pml "-DWARM -DNEXP=1 -DNFAULT=0 -DNCHAOS=1 -DMAXEP=2 -DNCRASH=1 -DMUTANT_FENCE_NO_EPOCH" \
	fail:I7_fence_names_incarnation
check install-without-recheck shootdown.pml "-DNEXP=1 -DNFAULT=1 -DNCHAOS=0 -DMAXEP=1 -DNCRASH=0 -DMUTANT_NO_GEN" \
	fail:I1_no_reuse_while_mapped

# ---- rpc.pml: requests and replies with ids, exports handed back ----
check rpc rpc.pml "-DNCHAOS=1 -DNREPOST=1 -DNRESTART=1" "pass:R1_reply_to_own_request no_export_leaked"
check reply-without-rid rpc.pml "-DNCHAOS=1 -DNREPOST=1 -DNRESTART=1 -DMUTANT_NO_RID" fail:R1_reply_to_own_request
check release-once rpc.pml "-DNCHAOS=1 -DNREPOST=1 -DNRESTART=1 -DMUTANT_RELEASE_ONCE" fail:no_export_leaked
check get-without-settle rpc.pml "-DNCHAOS=1 -DNREPOST=1 -DNRESTART=1 -DMUTANT_NO_SETTLE" fail:no_export_leaked

# ---- waits.pml: I6 ----
check waits waits.pml "" pass:I6_no_wait_cycle
check invalidation-on-fault-service waits.pml -DMUTANT_INVAL_ON_FSVC fail:I6_no_wait_cycle
check poller-stops-on-full-queue waits.pml -DMUTANT_POLL_MIN_ROOM fail:I6_no_wait_cycle

if [ "$deep" = 1 ]; then
	check deep-sd-two-proxies shootdown.pml "-DWARM -DNEXP=2 -DNFAULT=2 -DNCHAOS=2 -DMAXEP=1 -DNCRASH=0 -DNREPOST=1" \
		"pass:$SD_PROPS"
	check deep-rpc rpc.pml "-DNCHAOS=2 -DNREPOST=1 -DNRESTART=1" "pass:R1_reply_to_own_request no_export_leaked"
	check deep-sd-rejoin shootdown.pml "-DWARM -DNEXP=1 -DNFAULT=2 -DNCHAOS=1 -DMAXEP=2 -DNCRASH=1 -DNREPOST=0" \
		"pass:$SD_PROPS Q_release_only_newer_epoch"
fi
exit $status
