# shellcheck shell=bash
# fabric.sh - fabricd in the multi-partition lab: start, ask, stop.
# Sourced by tools/xpmem-lab after common.sh.  Its files are in run/fabric/:
# fabricd.sock (QEMU's ivshmem-doorbell chardevs connect here), fabricd.ctl
# (the control socket), fabricd.pid, region (the control region), fabricd.log.

lab_fabricd_pid() {
	local pid
	pid=$(cat "$LAB_FABRIC/fabricd.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	grep -qa "fabricd" "/proc/$pid/cmdline" 2>/dev/null || return 1
	printf '%s\n' "$pid"
}

# One control command; its reply on stdout; non-zero with the reason on failure.
lab_fabric_ctl() { # CMD [ARG]...
	"$LAB_FABRICD" --ctl "$LAB_FABRIC/fabricd.ctl" --timeout 5000 "$@"
}

lab_fabricd_start() { # NPARTS
	local n=$1 pid
	[ -x "$LAB_FABRICD" ] || { lab_say "${LAB_FABRICD#"$LAB_REPO"/} is not built"; return 1; }
	mkdir -p "$LAB_FABRIC"
	rm -f "$LAB_FABRIC/fabricd.pid"
	[ -f "$LAB_FABRIC/fabricd.log" ] && mv -f "$LAB_FABRIC/fabricd.log" "$LAB_FABRIC/fabricd.prev.log"
	setsid "$LAB_FABRICD" --socket "$LAB_FABRIC/fabricd.sock" --control "$LAB_FABRIC/fabricd.ctl" \
		--shm "$LAB_FABRIC/region" --shm-size "${XPMEM_LAB_SHM_SIZE:-4M}" \
		--parts "$n" --vectors "${LAB_VECTORS:-$n}" --ring-slots "${XPMEM_LAB_RING_SLOTS:-256}" --pidfile "$LAB_FABRIC/fabricd.pid" \
		</dev/null >>"$LAB_FABRIC/fabricd.log" 2>&1 {LAB_LOCK_FD}>&- &
	local starter=$!
	disown "$starter"
	# The pid file appears once both sockets listen.
	for _ in $(seq 50); do
		pid=$(lab_fabricd_pid) && return 0
		kill -0 "$starter" 2>/dev/null || break
		sleep 0.1
	done
	lab_say "fabricd did not start within 5 s; its log:"
	cat "$LAB_FABRIC/fabricd.log" >&2
	return 1
}

# Is id P connected to fabricd?  (Its stats line says "connected 1".)
lab_fabric_connected() { # P
	lab_fabric_ctl stats 2>/dev/null | grep -q "^id $1 connected 1 "
}

lab_fabric_wait() { # P 1|0 SECONDS: wait until P is (1) or is not (0) connected
	local p=$1 want=$2 i
	for ((i = 0; i < $3 * 10; i++)); do
		if lab_fabric_connected "$p"; then [ "$want" = 1 ] && return 0
		else [ "$want" = 0 ] && return 0; fi
		sleep 0.1
	done
	return 1
}

lab_fabricd_stop() {
	local pid
	pid=$(lab_fabricd_pid) || { rm -f "$LAB_FABRIC/fabricd.pid" "$LAB_FABRIC/fabricd.sock" \
		"$LAB_FABRIC/fabricd.ctl" "$LAB_FABRIC/region"; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		lab_fabricd_pid >/dev/null || break
		sleep 0.1
	done
	if lab_fabricd_pid >/dev/null; then
		lab_say "fabricd (pid $pid) ignored SIGTERM for 5 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		sleep 0.2
	fi
	# fabricd removes these itself on a clean exit; not after SIGKILL.
	rm -f "$LAB_FABRIC/fabricd.pid" "$LAB_FABRIC/fabricd.sock" "$LAB_FABRIC/fabricd.ctl" \
		"$LAB_FABRIC/region"
}
