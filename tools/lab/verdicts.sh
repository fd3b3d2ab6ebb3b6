# shellcheck shell=bash disable=SC2034  # `failed` is for the sourcing script
# verdicts.sh - the verdict lines of the bash script suites
# (tests/partition/run-suite.sh); the Python suites have
# tools/lab/xpmemlab/suite.py.  Sourced after common.sh.
#
# A script suite prints "PLAN N" first and then exactly N verdict lines
# ("PASS AREA: NAME", "FAIL AREA: NAME (log: FILE)"); tests/run fails a run
# that printed fewer or more (tests/harness/plan-check.py).
#
#   verdicts_init AREA LOG DOWN_LOG
#       AREA: what every verdict starts with ("partition", "soak"...); LOG:
#       where each check's output goes; DOWN_LOG: the lab's power-off.
#       Installs the EXIT trap: the lab is powered off, and the script exits
#       non-zero if a check failed or it was aborted (set -u, a helper's
#       exit: its status is kept, never turned into 0).
#   plan N          the "PLAN N" line
#   pass NAME       a PASS line
#   fail NAME       a FAIL line; the script will exit 1
#   check NAME CMD...
#       one verdict from CMD's status; CMD's output goes to LOG, under a
#       "==== NAME" line

verdicts_area=
verdicts_log=/dev/null
verdicts_down_log=/dev/null
failed=0

verdicts_init() { # AREA LOG DOWN_LOG
	verdicts_area=$1
	verdicts_log=$2
	verdicts_down_log=$3
	failed=0
	trap 'verdicts_exit $?' EXIT
}

verdicts_exit() { # STATUS
	local rc=$1
	trap - EXIT
	"$LAB_REPO/tools/xpmem-lab" down >"$verdicts_down_log" 2>&1
	[ "$rc" = 0 ] && rc=$failed
	exit "$rc"
}

plan() { echo "PLAN $1"; }
pass() { echo "PASS $verdicts_area: $*"; }
fail() { echo "FAIL $verdicts_area: $*"; failed=1; }

check() { # NAME CMD...
	local name=$1
	shift
	echo "==== $name" >>"$verdicts_log"
	if "$@" >>"$verdicts_log" 2>&1; then
		pass "$name"
	else
		fail "$name (log: ${verdicts_log#"$LAB_REPO"/})"
	fi
}
