# shellcheck shell=bash
# lib.sh - running UCX and MPI programs in the lab, for tests/mpi/run-suite.sh
# and tools/mpi/mpi-bench.  Sourced after tools/lab/common.sh and
# tools/mpi/common.sh; $lab is tools/xpmem-lab, $logs the log directory.

MPI_LIBS=(openmpi mpich)
MPI_TLS=(xpmem cma posix) # xpmem first: the others are the comparison
PERFTEST_PORT=${PERFTEST_PORT:-13337}

# The environment a guest command needs to use the rebuilt UCX first.
guest_env() {
	printf '%s\n' --env "LD_LIBRARY_PATH=$(ucx_library_path)" \
		--env "PATH=$UCX_PREFIX/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

gexec() { # P TIMEOUT CMD... : a command in partition P with the rebuilt UCX
	local p=$1 t=$2 envs
	shift 2
	mapfile -t envs < <(guest_env)
	"$lab" exec "$p" --timeout "$t" "${envs[@]}" -- "$@"
}

# A guest ready for MPI: loopback up (TCP handshakes of ucx_perftest and the
# launchers), and a host name (the lab's guests have none; Open MPI refuses
# "(none)").
guest_prepare() { # P
	gexec "$1" 60 sh -c "ip link set lo up && hostname xpmem-lab-p$1"
}

# The partition layer's deadlines raised to 10 s in partition P: this suite
# and mpi-bench test UCX and MPI over the module, not fencing.  With the
# defaults (1 s) partition 0, its 2 vCPUs busy with ucx_perftest on a
# 2-core host at load 13, fenced itself as self-stalled three times in the
# cross-partition checks (its segments torn down: xpmem_get ENOENT, SIGBUS
# in uct_mm_ep_t_new).
relax_deadlines() { # P
	local k
	for k in dead_ms inval_ms fault_ms; do
		"$lab" exec "$1" --timeout 30 -- "$LAB_BUILD/tools/xpmemctl/xpmemctl" set "$k" 10000 || return 1
	done
}

# The module's monotonic counters and live objects, as "key=value ..." from
# xpmemctl's JSON (faults, pages_mapped, segments, attachments).
xpmem_counters() { # P
	gexec "$1" 30 "$LAB_BUILD/tools/xpmemctl/xpmemctl" --json stats 2>/dev/null |
		python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]
print(" ".join("%s=%s" % (k, c[k]) for k in ("faults", "pages_mapped", "segments", "attachments", "remote_faults")))'
}
counter_of() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" <<<"$1"; } # "k=v ..." KEY

# The TLS list of a UCP run over transport T.  cma moves only rendezvous data
# (get/put zcopy, no active messages), so it needs a transport for the
# eager protocol and wire-up: posix, whose own bulk path copies twice.
ucx_tls_of() {
	case $1 in
	cma) echo "self,cma,posix" ;;
	*) echo "self,$1" ;;
	esac
}

# mpi-pingpong over MPI library M and UCX transport T in partition P; output
# (stdout and stderr, with UCX's info log) into FILE.  Returns its status.
run_pingpong() { # P M T REPS MAX FILE
	local p=$1 m=$2 t=$3 reps=$4 max=$5 out=$6 tls prog=$MPI_BIN/mpi-pingpong.$2
	tls=$(ucx_tls_of "$t")
	case $m in
	openmpi)
		# Without an InfiniBand device pml ucx declines unless told any
		# transport and device will do.
		gexec "$p" 900 env UCX_TLS="$tls" UCX_LOG_LEVEL=info OMPI_MCA_plm_rsh_agent=false \
			mpirun.openmpi --allow-run-as-root -n 2 --bind-to none \
			--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any \
			--mca btl self --mca osc ucx \
			-x UCX_TLS -x UCX_LOG_LEVEL -x LD_LIBRARY_PATH \
			"$prog" --reps "$reps" --max "$max" >"$out" 2>&1
		;;
	mpich)
		gexec "$p" 900 env UCX_TLS="$tls" UCX_LOG_LEVEL=info \
			mpiexec.mpich -n 2 -launcher fork "$prog" --reps "$reps" --max "$max" >"$out" 2>&1
		;;
	esac
}

# The transports UCX's own report says the tag lanes used: the ep_cfg lines
# UCX logs at info level ("ep_cfg[1]: tag(self/memory xpmem/memory) ...").
ucx_used_tls() { # FILE
	grep -o 'ep_cfg\[[0-9]*\]: .*' "$1" | grep -o '[a-z_0-9]*/[a-z_0-9:]*' | cut -d/ -f1 | sort -u | tr '\n' ' '
}

# A server in partition SP and its client in CP, which reaches it at ADDR
# (in one partition both run in one guest command, tests/mpi/pair.sh, and
# the client uses 127.0.0.1).  The client's output in FILE, the server's in
# FILE.server (or after "--- server" in FILE); returns the client's status,
# else the server's.
run_pair() { # SP CP ADDR FILE N SERVER-ARGV(N) CLIENT-ARGV-BEFORE-ADDR(N)... -- CLIENT-ARGS-AFTER
	local sp=$1 cp=$2 addr=$3 out=$4 n=$5 rc=0 src=0 server=() client=()
	shift 5
	server=("${@:1:n}")
	shift "$n"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do client+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	if [ "$sp" = "$cp" ]; then
		gexec "$sp" 600 sh "$LAB_REPO/tests/mpi/pair.sh" "$n" "${server[@]}" \
			"${client[@]}" 127.0.0.1 "$@" >"$out" 2>&1
		return
	fi
	gexec "$sp" 600 timeout 500 "${server[@]}" >"$out.server" 2>&1 &
	local spid=$! try
	# The server's start in the other guest takes seconds to a minute on a
	# loaded host; ucx_perftest's client does not retry a refused connect.
	for try in $(seq 20); do
		sleep 3
		rc=0
		gexec "$cp" 600 timeout 480 "${client[@]}" "$addr" "$@" >"$out" 2>&1 || rc=$?
		[ $rc = 0 ] || ! grep -q 'Connection refused' "$out" && break
	done
	wait "$spid" || src=$?
	[ $rc = 0 ] && rc=$src
	return $rc
}

# ucx_perftest: the same arguments on both sides, the server's address last.
run_perftest() { # SP CP ADDR FILE PERFTEST-ARGS...
	local sp=$1 cp=$2 addr=$3 out=$4 n
	shift 4
	PERFTEST_PORT=$((PERFTEST_PORT + 1))
	n=$(($# + 3))
	run_pair "$sp" "$cp" "$addr" "$out" "$n" "$UCX_PREFIX/bin/ucx_perftest" -p "$PERFTEST_PORT" "$@" \
		"$UCX_PREFIX/bin/ucx_perftest" -p "$PERFTEST_PORT" "$@" --
}

# uct-xpmem-check (put, get, active messages; every byte checked).
run_uct_check() { # SP CP ADDR FILE MAX
	local prog=$MPI_BIN/uct-xpmem-check
	PERFTEST_PORT=$((PERFTEST_PORT + 1))
	run_pair "$1" "$2" "$3" "$4" 6 "$prog" server --port "$PERFTEST_PORT" --max "$5" \
		"$prog" client -- --port "$PERFTEST_PORT" --max "$5"
}

# The bandwidth (MB/s) or latency (usec) of a perftest run: the "Final:" line.
perftest_final() { # FILE
	grep -m1 '^Final:' "$1"
}
