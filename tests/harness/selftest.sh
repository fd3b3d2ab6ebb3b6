#!/usr/bin/env bash
# selftest.sh - the test harness's own verdicts must be able to fail:
#  - the kernel-log check (tools/xpmem-lab log-check) passes a clean log and
#    fails a sample of each report a debug kernel prints (KASAN, lockdep,
#    DEBUG_LIST, kmemleak, hung task, sleeping in atomic context, RCU stall);
#  - plan-check.py fails a script suite that printed fewer or more verdicts
#    than its PLAN, none, or exited non-zero without a FAIL line;
#  - meson-results.py fails when no meson test log exists or it is empty;
#  - the lab library's verdicts (tools/lab/xpmemlab/suite.py) fail a check
#    that raises, and a SIGTERM mid-check leaves a PLAN shortfall; its
#    closing checks (closing.py) fail a dirty log, missing consoles and a
#    refused rmmod without a heal (suite-selftest.py);
#  - the bash suites' verdicts (tools/lab/verdicts.sh) exit non-zero after a
#    failed check or an abort, and power the lab off.
# Runs on the host in the unit suite; exits non-zero at the first surprise.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
lab=$repo/tools/xpmem-lab
bad=0
expect() { # WANT(0|1) WHAT CMD...
	local want=$1 what=$2 rc=0
	shift 2
	"$@" >/dev/null 2>&1 || rc=$?
	if { [ "$want" = 0 ] && [ $rc = 0 ]; } || { [ "$want" = 1 ] && [ $rc != 0 ]; }; then
		echo "ok: $what"
	else
		echo "WRONG: $what (status $rc)"
		bad=1
	fi
}

expect 0 "log-check passes a clean log" "$lab" log-check "$here/samples/clean.log"
for f in "$here"/samples/*.log; do
	[ "${f##*/}" = clean.log ] && continue
	expect 1 "log-check fails ${f##*/}" "$lab" log-check "$f"
done
expect 1 "log-check fails a missing file" "$lab" log-check "$here/samples/none.log"

plan() { # WANT STATUS TEXT
	expect "$1" "plan-check: status $2, $(printf '%s' "$3" | tr '\n' ' ')" \
		sh -c 'printf "%s\n" "$1" | python3 "$0" s name "$2"' "$here/plan-check.py" "$3" "$2"
}
plan 0 0 $'PLAN 2\nPASS a\nPASS b'
plan 0 1 $'PLAN 2\nPASS a\nFAIL b'
plan 1 0 $'PLAN 3\nPASS a\nPASS b'
plan 1 0 $'PLAN 1\nPASS a\nPASS b'
plan 1 0 $'PASS a\nPASS b'
plan 1 1 $'PLAN 2\nPASS a\nPASS b'
plan 1 124 $'PLAN 1\nPASS a'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect 1 "meson-results fails without a log" python3 "$here/meson-results.py" "$tmp/none.json" "$tmp/none.xml"
: >"$tmp/empty.json"
expect 1 "meson-results fails on an empty log" python3 "$here/meson-results.py" "$tmp/empty.json" "$tmp/none.xml"
expect 0 "suite.py: checks that raise fail, selection skips, SIGTERM is a PLAN shortfall; closing.py fails" \
	python3 "$here/suite-selftest.py"

# tools/lab/verdicts.sh (the bash suites' verdicts) against a stub lab: a
# failed check or an abort exits non-zero, and the lab is powered off.
mkdir -p "$tmp/repo/tools"
printf '#!/bin/sh\necho "$@" >>"%s"\n' "$tmp/lab-calls" >"$tmp/repo/tools/xpmem-lab"
chmod +x "$tmp/repo/tools/xpmem-lab"
suite() { # WANT WHAT BODY
	rm -f "$tmp/lab-calls"
	expect "$1" "verdicts.sh: $2" bash -c 'set -u; LAB_REPO=$1; . "$2"
		verdicts_init t "$3/log" /dev/null; plan 2; '"$3" x "$tmp/repo" "$repo/tools/lab/verdicts.sh" "$tmp"
	expect 0 "verdicts.sh: $2: the lab powered off" grep -qx down "$tmp/lab-calls"
}
suite 0 "two checks pass" 'check a true; check b true'
suite 1 "a failed check exits 1" 'check a false; check b true'
suite 1 "an abort (set -u) keeps a non-zero status" 'check a true; echo "$nothing"; check b true'
exit $bad
