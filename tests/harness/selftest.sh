#!/usr/bin/env bash
# selftest.sh - the test harness's own verdicts must be able to fail:
#  - the kernel-log check (tools/xpmem-lab log-check) passes a clean log and
#    fails a sample of each report a debug kernel prints (KASAN, lockdep,
#    DEBUG_LIST, kmemleak, hung task, sleeping in atomic context, RCU stall);
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

exit $bad
