# shellcheck shell=bash
# parts.sh - the multi-partition lab: `up -n N`, `kill|stop|cont|restart P`,
# `status [--json]` and its `down`.  Sourced by tools/xpmem-lab after
# common.sh, vm.sh and fabric.sh.
#
# run/partitions holds N while such a lab exists.  Partition P's files are in
# lab_select's directory (run/ for 0, run/pP/ otherwise); its RAM file lives
# as long as the lab, since every peer maps it as its window onto P.
#
# Ids: fabricd hands out the id the lab names with `next P` just before it
# starts P's QEMU, and the lab starts one QEMU at a time, after the previous
# one connected.  So partition P always has fabric id P, across restarts.

lab_nparts() {
	cat "$LAB_RUN/partitions" 2>/dev/null
}

lab_check_part() { # P: is P a partition of the running lab?
	local n
	n=$(lab_nparts) || lab_die "no multi-partition lab is up (tools/xpmem-lab up -n N)"
	case $1 in '' | *[!0-9]*) lab_die "not a partition number: $1" ;; esac
	[ "$1" -lt "$n" ] || lab_die "no partition $1 (the lab has $n: 0..$((n - 1)))"
}

# Starts partition $LAB_P's QEMU with fabric id $LAB_P; returns once fabricd
# saw it connect (QEMU connects while it builds the device, before booting).
lab_part_start() { # NPARTS
	lab_fabric_wait "$LAB_P" 0 10 ||
		{ lab_say "partition $LAB_P: fabricd still sees id $LAB_P connected after 10 s"; return 1; }
	lab_fabric_ctl next "$LAB_P" >/dev/null ||
		{ lab_say "partition $LAB_P: fabricd refused 'next $LAB_P'"; return 1; }
	lab_vm_start "$1" || return 1
	lab_fabric_wait "$LAB_P" 1 20 && return 0
	lab_say "partition $LAB_P: QEMU did not connect to fabricd within 20 s; QEMU's log:"
	cat "$LAB_PRUN/qemu.log" >&2
	return 1
}

lab_parts_up() { # N [--no-module] [--net] [--doorbell msix|rdma|poll]
	local n=$1 no_module=0 net=0 p t0 t1 doorbell=${XPMEM_LAB_DOORBELL:-msix}
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--no-module) no_module=1 ;;
		--net) net=1 ;;
		--doorbell) [ $# -ge 2 ] || lab_die "up -n: --doorbell what?"; doorbell=$2; shift ;;
		--doorbell=*) doorbell=${1#--doorbell=} ;;
		*) lab_die "up -n: unknown option $1" ;;
		esac
		shift
	done
	lab_doorbell_check "$doorbell"
	[ "$doorbell" = rdma ] && net=1 # RDMA doorbells travel over the links
	case $n in '' | *[!0-9]*) lab_die "up -n: not a number: $n" ;; esac
	if [ "$n" -lt 2 ] || [ "$n" -gt 16 ]; then lab_die "up -n: 2..16 partitions"; fi
	[ $net = 1 ] && [ "$n" -gt $LAB_NET_MAX ] && lab_die "up -n: --net takes at most $LAB_NET_MAX partitions"
	lab_vm_lock
	if [ -f "$LAB_RUN/partitions" ]; then
		lab_say "already up ($(lab_nparts) partitions; tools/xpmem-lab status)"
		return 0
	fi
	lab_qemu_pid >/dev/null && lab_die "the one-VM lab is up: tools/xpmem-lab down first"
	LAB_MEM=$LAB_PART_MEM
	LAB_CPUS=$LAB_PART_CPUS
	t0=$(date +%s%3N)
	mkdir -p "$LAB_RUN"
	echo "$n" >"$LAB_RUN/partitions"
	echo "$LAB_MEM" >"$LAB_RUN/partition-mem"
	rm -rf "$LAB_RUN/net"
	[ $net = 1 ] && mkdir -p "$LAB_RUN/net"
	echo "$doorbell" >"$LAB_RUN/doorbell"
	lab_fabricd_start "$n" || { lab_parts_down; lab_die "fabricd did not start"; }
	# Every RAM file exists, full size, before any QEMU maps a peer's.
	for ((p = 0; p < n; p++)); do
		lab_select "$p"
		mkdir -p "$LAB_PRUN"
		truncate -s "$LAB_MEM" "$(lab_ram_file "$p")" ||
			{ lab_parts_down; lab_die "cannot create $(lab_ram_file "$p")"; }
	done
	for ((p = 0; p < n; p++)); do
		lab_select "$p"
		lab_part_start "$n" || { lab_parts_down; lab_die "partition $p did not start"; }
	done
	for ((p = 0; p < n; p++)); do
		lab_select "$p"
		lab_part_ready "$n" $no_module || { lab_parts_down; lab_die "partition $p did not come up"; }
	done
	t1=$(date +%s%3N)
	lab_say "$n partitions up in $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s"
}

# Powers every partition off (in parallel: each may take 30 s), then fabricd.
lab_parts_down() {
	local n p pids=()
	n=$(lab_nparts) || n=0
	for ((p = 0; p < n; p++)); do
		(
			lab_select "$p"
			if pid=$(lab_qemu_pid); then
				kill -CONT "$pid" 2>/dev/null # a stopped QEMU cannot power off
				lab_stop_qemu "$pid"
			else
				lab_clean_run
			fi
		) &
		pids+=($!)
	done
	[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
	lab_fabricd_stop
	for ((p = 0; p < n; p++)); do
		rm -f "$(lab_ram_file "$p")"
	done
	rm -f "$LAB_RUN/partitions" "$LAB_RUN/partition-mem" "$LAB_RUN/kernel" "$LAB_RUN/doorbell"
	rm -rf "$LAB_RUN/net"
	lab_say "down ($n partitions and fabricd)"
}

lab_part_signal() { # SIG P: kill / stop / cont one partition's QEMU
	local sig=$1 want pid
	lab_check_part "$2"
	lab_select "$2"
	pid=$(lab_qemu_pid) || lab_die "partition $2 is not running"
	kill -s "$sig" "$pid" || lab_die "kill -$sig $pid failed"
	# Signals to a many-threaded QEMU take effect a moment later: wait for it.
	case $sig in KILL) want=dead ;; STOP) want=stopped ;; *) want=running ;; esac
	for _ in $(seq 50); do
		if [ "$(lab_part_state)" = "$want" ]; then
			lab_say "partition $2 (pid $pid): SIG$sig, now $want"
			return 0
		fi
		sleep 0.1
	done
	lab_die "partition $2 (pid $pid): not $want 5 s after SIG$sig"
}

lab_part_restart() { # P [--no-module]
	local p=$1 no_module=0 n pid
	[ "${2:-}" = --no-module ] && no_module=1
	lab_check_part "$p"
	lab_vm_lock
	n=$(lab_nparts)
	LAB_MEM=$(cat "$LAB_RUN/partition-mem" 2>/dev/null || echo "$LAB_PART_MEM")
	LAB_CPUS=$LAB_PART_CPUS
	lab_fabricd_pid >/dev/null || lab_die "fabricd is not running (see ${LAB_FABRIC#"$LAB_REPO"/}/fabricd.log)"
	lab_select "$p"
	if pid=$(lab_qemu_pid); then
		kill -CONT "$pid" 2>/dev/null
		lab_stop_qemu "$pid"
	fi
	lab_part_start "$n" || lab_die "partition $p did not start again"
	lab_part_ready "$n" $no_module || lab_die "partition $p did not come up again"
}

# Partition $LAB_P booted: its agent, its links, with RDMA doorbells Soft-RoCE
# and xpmem_rdma.ko, and then (unless NO_MODULE) xpmem.ko.
lab_part_ready() { # NPARTS NO_MODULE
	local n=$1 no_module=$2
	if [ "$(lab_doorbell)" != rdma ]; then
		lab_vm_ready "$no_module" || return 1
		if lab_net_enabled; then
			lab_net_up "$n" || { lab_say "partition $LAB_P: no network"; return 1; }
		fi
		return 0
	fi
	lab_vm_ready 1 >/dev/null || return 1
	lab_net_up "$n" || { lab_say "partition $LAB_P: no network"; return 1; }
	lab_rdma_up || return 1
	[ "$no_module" = 1 ] || lab_load_module
}

# A partition's QEMU as the host sees it: running, stopped or dead.
lab_part_state() {
	local pid st
	pid=$(lab_qemu_pid) || { echo dead; return; }
	st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)
	case $st in T* | t*) echo stopped ;; *) echo running ;; esac
}

# xpmemctl's {"partitions": [...]} as status --json's array (states in
# capitals, fenced and down as DEAD; the last fence reason, "" for none);
# fails on anything else or on an empty list (a module that sees no fabric).
lab_kernel_view() {
	python3 -c '
import json, sys
rows = json.load(sys.stdin)["partitions"]
assert rows
dead = {"fenced": "DEAD", "down": "DEAD"}
out = [{"id": r["id"], "state": dead.get(r["state"], str(r["state"]).upper()), "epoch": r["epoch"],
        "hb_age_ms": r["hb_age_ms"],
        "reason": "" if r.get("last_fence_reason") in (None, "none") else r["last_fence_reason"]}
       for r in rows]
print(json.dumps(out))' 2>/dev/null
}

lab_parts_status() { # [--json]
	local n p json=0 stats pid state conn out ctl=$LAB_BUILD/tools/xpmemctl/xpmemctl
	[ "${1:-}" = --json ] && json=1
	if ! n=$(lab_nparts); then
		[ $json = 1 ] && { echo "[]"; return 1; }
		echo "down"
		return 1
	fi
	stats=$(lab_fabric_ctl stats 2>/dev/null) || stats=
	if [ $json = 1 ]; then
		# The kernel's view from partition 0, when it can give one.
		lab_select 0
		if [ -x "$ctl" ] && [ "$(lab_part_state)" = running ] &&
			out=$(lab_agent_client exec --timeout 20 -- "$ctl" --json partitions 2>/dev/null) &&
			out=$(lab_kernel_view <<<"$out"); then
			printf '%s\n' "$out"
			return 0
		fi
		# Otherwise the host's view: QEMU and fabricd.
		local sep="" st
		printf '['
		for ((p = 0; p < n; p++)); do
			lab_select "$p"
			case $(lab_part_state) in
			dead) st=DEAD ;;
			stopped) st=SUSPECT ;;
			*) if grep -q "^id $p connected 1 " <<<"$stats"; then st=UP; else st=JOINING; fi ;;
			esac
			printf '%s{"id": %d, "state": "%s", "epoch": 0, "hb_age_ms": null, "reason": ""}' \
				"$sep" "$p" "$st"
			sep=", "
		done
		printf ']\n'
		return 0
	fi
	if pid=$(lab_fabricd_pid); then
		echo "fabricd: running, pid $pid"
	else
		echo "fabricd: dead (log: ${LAB_FABRIC#"$LAB_REPO"/}/fabricd.log)"
	fi
	for ((p = 0; p < n; p++)); do
		lab_select "$p"
		state=$(lab_part_state)
		pid=$(cat "$LAB_PRUN/qemu.pid" 2>/dev/null) || pid=-
		if grep -q "^id $p connected 1 " <<<"$stats"; then conn="connected, id $p"
		else conn="not connected"; fi
		printf 'partition %d: %s, pid %s, fabric: %s\n' "$p" "$state" "$pid" "$conn"
	done
}
