#!/usr/bin/env bash
# tests/mpi/run-suite.sh - the mpi suite: Debian's UCX rebuilt with xpmem
# (tools/mpi/build-ucx), Debian's Open MPI and MPICH on top of it, in the lab.
# One verdict line per check ("PASS mpi: ..." / "FAIL mpi: ...") for
# tests/run; exits non-zero if any check failed.
#
# Boots two partitions with a network link (up -n 2 --net, 2 vCPUs each) and
#  - in partition 0: ucx_info -d lists the xpmem transport; ucx_perftest
#    put_bw and am_lat over -x xpmem; put_bw over cma and posix for
#    comparison; mpi-pingpong (every byte checked, 8 B .. 64 MiB) under Open
#    MPI (pml ucx) and MPICH (ch4:ucx) with UCX_TLS over xpmem, cma, posix.
#    A run counts as xpmem only if UCX's own report (its info log's ep_cfg
#    lines) names the transport and the module's counters moved (live
#    segments and attachments while the job ran, pages mapped); the cma and
#    posix runs must leave the counters still;
#  - across partitions: ucx_perftest -x xpmem with the server in partition
#    0 and the client in partition 1 (UCX patched by tools/mpi/ucx-patches:
#    the client's stores land in the server's pages through the module's
#    cross-partition segments: its remote_faults counter must move);
#  - every kernel log clean, rmmod in each partition.
# XPMEM_MPI_REPS (default 1) repetitions per size; logs in
# build/lab/logs/mpi/ (XPMEM_MPI_LOGS).  Prints "PLAN 26" first.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab/common.sh
. "$repo/tools/lab/common.sh"
# shellcheck source=../../tools/mpi/common.sh
. "$repo/tools/mpi/common.sh"
# shellcheck source=lib.sh
. "$repo/tests/mpi/lib.sh"
lab=$repo/tools/xpmem-lab
logs=${XPMEM_MPI_LOGS:-${XPMEM_PARTITION_LOGS:-$LAB_DIR/logs/mpi}}
reps=${XPMEM_MPI_REPS:-1}
failed=0
rm -rf "$logs"
mkdir -p "$logs"

pass() { echo "PASS mpi: $*"; }
fail() { echo "FAIL mpi: $*"; failed=1; }
show() { sed 's/^/    | /' "$1" | tail -n "${2:-25}"; }

finish() {
	"$lab" down >"$logs/down.log" 2>&1
	[ $failed = 0 ]
}

echo "PLAN 26" # tests/harness/plan-check.py: every check below prints one verdict
t0=$(date +%s)
if "$repo/tools/mpi/build-ucx" >"$logs/build-ucx.log" 2>&1; then
	pass "UCX rebuilt with xpmem ($(sed -n 's/.*UCT modules //p' "$logs/build-ucx.log" | cut -d';' -f1); $(($(date +%s) - t0)) s)"
else
	fail "tools/mpi/build-ucx (log: ${logs#"$repo"/}/build-ucx.log)"
	show "$logs/build-ucx.log"
	exit 1
fi
if "$repo/tests/mpi/build-programs" >"$logs/build-programs.log" 2>&1; then
	pass "mpi-pingpong built for ${MPI_LIBS[*]}"
else
	fail "tests/mpi/build-programs"
	show "$logs/build-programs.log"
	exit 1
fi

trap 'finish; exit $?' EXIT
"$lab" down >/dev/null 2>&1
t0=$(date +%s)
if ! XPMEM_LAB_CPUS=2 "$lab" up -n 2 --net >"$logs/up.log" 2>&1; then
	fail "up -n 2 --net (log: ${logs#"$repo"/}/up.log)"
	show "$logs/up.log" 40
	exit 1
fi
pass "up -n 2 --net in $(($(date +%s) - t0)) s"
if relax_deadlines 0 >>"$logs/prepare.log" 2>&1 && relax_deadlines 1 >>"$logs/prepare.log" 2>&1; then
	pass "dead_ms, inval_ms, fault_ms 10 s in both partitions"
else
	fail "xpmemctl set dead_ms/inval_ms/fault_ms (log: ${logs#"$repo"/}/prepare.log)"
	show "$logs/prepare.log"
fi

# ---- in partition 0 ---------------------------------------------------------
if gexec 0 120 "$UCX_PREFIX/bin/ucx_info" -d >"$logs/ucx_info.log" 2>&1 &&
	grep -q 'Transport: xpmem' "$logs/ucx_info.log"; then
	pass "ucx_info -d lists the xpmem transport"
else
	fail "ucx_info -d does not list the xpmem transport"
	show "$logs/ucx_info.log"
fi

# A perftest: its Final line, and whether the module's counters moved.
perftest_check() { # NAME SP CP ADDR WANT(moved|still) PERFTEST-ARGS...
	local name=$1 sp=$2 cp=$3 addr=$4 want=$5 before after moved final file
	shift 5
	file=$logs/perftest-$name
	before=$(xpmem_counters "$cp")
	if ! run_perftest "$sp" "$cp" "$addr" "$file.log" "$@"; then
		fail "ucx_perftest $name: failed (log: ${file#"$repo"/}.log)"
		show "$file.log"
		[ -f "$file.log.server" ] && show "$file.log.server" 10
		return
	fi
	after=$(xpmem_counters "$cp")
	final=$(perftest_final "$file.log")
	[ -n "$final" ] || { fail "ucx_perftest $name: no Final line"; show "$file.log"; return; }
	moved=still
	[ "$(counter_of "$after" pages_mapped)" -gt "$(counter_of "$before" pages_mapped)" ] && moved=moved
	echo "$name: before $before; after $after" >>"$logs/counters.log"
	if [ "$moved" = "$want" ]; then
		pass "ucx_perftest $name: ${final#Final:} (xpmem pages mapped: $moved)"
	else
		fail "ucx_perftest $name: xpmem pages_mapped $moved, expected $want ($before -> $after)"
	fi
}

guest_prepare 0 >>"$logs/prepare.log" 2>&1
perftest_check put_bw-xpmem 0 0 - moved -d memory -x xpmem -t put_bw -D bcopy -s 1048576 -n 200
perftest_check am_lat-xpmem 0 0 - moved -d memory -x xpmem -t am_lat -s 8 -n 2000
perftest_check put_bw-cma 0 0 - still -d memory -x cma -t put_bw -D zcopy -s 1048576 -n 200
perftest_check put_bw-posix 0 0 - still -d memory -x posix -t put_bw -D bcopy -s 1048576 -n 200

# uct-xpmem-check: every byte of put, get and active messages checked.
uct_check() { # NAME SP CP ADDR
	local name=$1 file=$logs/uct-check-$1.log before after
	before=$(xpmem_counters "$3")
	if run_uct_check "$2" "$3" "$4" "$file" 64M && grep -q '^uct-xpmem-check: PASS' "$file"; then
		after=$(xpmem_counters "$3")
		echo "uct-check $name: before $before; after $after" >>"$logs/counters.log"
		pass "uct-xpmem-check $name: put, get, active messages, 8 B .. 64 MiB, every byte checked ($(awk '$1 == 67108864 { print "put " $2 " MB/s at 64 MiB" }' "$file"))"
	else
		fail "uct-xpmem-check $name (log: ${file#"$repo"/})"
		show "$file"
		[ -f "$file.server" ] && show "$file.server" 10
	fi
}
uct_check xpmem 0 0 -

# An MPI job: passed, UCX's report names the transport, the counters agree.
pingpong_check() { # MPI TRANSPORT
	local m=$1 t=$2 file=$logs/pingpong-$1-$2.log before after used start end ok=1 why=
	before=$(xpmem_counters 0)
	if ! run_pingpong 0 "$m" "$t" "$reps" 64M "$file" || ! grep -q '^mpi-pingpong: PASS' "$file"; then
		fail "$m over $t: mpi-pingpong failed (log: ${file#"$repo"/})"
		show "$file"
		return
	fi
	after=$(xpmem_counters 0)
	echo "$m-$t: before $before; after $after" >>"$logs/counters.log"
	used=$(ucx_used_tls "$file")
	# The counters rank 0 read before MPI_Finalize: UCX's live objects.
	end=$(grep -m1 '^xpmem-stats when=end' "$file")
	case " $used " in *" $t "*) ;; *) ok=0; why="UCX's report names '${used}', not $t" ;; esac
	if [ "$t" = xpmem ]; then
		if [ "$(counter_of "$end" segments)" -lt 2 ] || [ "$(counter_of "$end" attachments)" -lt 1 ] ||
			[ "$(counter_of "$after" pages_mapped)" -le "$(counter_of "$before" pages_mapped)" ]; then
			ok=0 why+=" xpmem counters did not move (${end#xpmem-stats }; pages_mapped $before -> $after)"
		fi
	else
		case " $used " in *" xpmem "*) ok=0; why+=" xpmem in the report" ;; esac
		if [ "$(counter_of "$end" attachments)" != 0 ] ||
			[ "$(counter_of "$after" pages_mapped)" != "$(counter_of "$before" pages_mapped)" ]; then
			ok=0 why+=" xpmem counters moved (${end#xpmem-stats }; $before -> $after)"
		fi
	fi
	start=$(awk '$1 == 67108864 { print $4 " MB/s at 64 MiB" }' "$file")
	if [ $ok = 1 ]; then
		pass "$m over $t: 8 B .. 64 MiB checked; UCX used: $used; $start; ${end#xpmem-stats when=end }"
	else
		fail "$m over $t:$why"
		grep 'ep_cfg' "$file" | head -n 4 | sed 's/^/    | /'
	fi
}

for m in "${MPI_LIBS[@]}"; do
	for t in "${MPI_TLS[@]}"; do
		pingpong_check "$m" "$t"
	done
done

# ---- across partitions -------------------------------------------------------
guest_prepare 1 >>"$logs/prepare.log" 2>&1
cross_check() { # NAME PERFTEST-ARGS...: server in 0, client in 1
	local name=$1 before after
	shift
	before=$(xpmem_counters 1)
	perftest_check "$name" 0 1 "$(lab_net_addr 0)" moved "$@"
	after=$(xpmem_counters 1)
	if [ "$(counter_of "$after" remote_faults)" -gt "$(counter_of "$before" remote_faults)" ]; then
		pass "$name: partition 1 faulted partition 0's pages in through the fabric (remote_faults $(counter_of "$before" remote_faults) -> $(counter_of "$after" remote_faults))"
	else
		fail "$name: partition 1's remote_faults did not move ($before -> $after)"
	fi
}
# shellcheck source=../../tools/lab/net.sh
. "$repo/tools/lab/net.sh"
before=$(xpmem_counters 1)
uct_check xpmem-cross 0 1 "$(lab_net_addr 0)"
after=$(xpmem_counters 1)
if [ "$(counter_of "$after" remote_faults)" -gt "$(counter_of "$before" remote_faults)" ]; then
	pass "uct-xpmem-check xpmem-cross: partition 1 reached partition 0's pages through the fabric (remote_faults $(counter_of "$before" remote_faults) -> $(counter_of "$after" remote_faults))"
else
	fail "uct-xpmem-check xpmem-cross: partition 1's remote_faults did not move ($before -> $after)"
fi
cross_check put_bw-xpmem-cross -d memory -x xpmem -t put_bw -D bcopy -s 1048576 -n 200
cross_check am_lat-xpmem-cross -d memory -x xpmem -t am_lat -s 8 -n 2000

# ---- clean ---------------------------------------------------------------------
for p in 0 1; do
	if "$lab" exec "$p" --timeout 60 -- sh -c \
		'! dmesg | grep -E "BUG:|WARNING:|Oops|Call Trace|general protection|Kernel panic|blocked for more than"' \
		>"$logs/dmesg-$p.log" 2>&1; then
		pass "partition $p: kernel log clean"
	else
		fail "partition $p: kernel log shows errors"
		show "$logs/dmesg-$p.log" 40
	fi
	if "$lab" exec "$p" --timeout 60 -- busybox rmmod xpmem >"$logs/rmmod-$p.log" 2>&1; then
		pass "partition $p: rmmod xpmem"
	else
		fail "partition $p: rmmod xpmem"
		show "$logs/rmmod-$p.log"
	fi
done
