# shellcheck shell=bash
# vm.sh - `xpmem-lab up | down | status | exec`: one lab VM.
# Sourced by tools/xpmem-lab after common.sh.  The run dir (build/lab/run/)
# holds everything of a running VM: qemu.pid, agent.sock (the agent's
# virtio-serial port), qmp.sock, agent.lock, ram (guest RAM, shared file),
# console.log (serial console), qemu.log (QEMU's own messages).

lab_agent_client() { # MODE [ARGS...]: the host client, wired to the running VM
	local mode=$1 pid
	shift
	pid=$(lab_qemu_pid) || { lab_say "the lab VM is not up (tools/xpmem-lab up)"; return 255; }
	"$LAB_AGENT" "$mode" --socket "$LAB_PRUN/agent.sock" --pid "$pid" \
		--lock "$LAB_PRUN/agent.lock" "$@"
}

# Serialise up/down of one run dir between concurrent callers.
lab_vm_lock() {
	[ -n "${LAB_LOCK_FD:-}" ] && return 0 # this process holds it already
	mkdir -p "$LAB_DIR"
	exec {LAB_LOCK_FD}>"$LAB_DIR/vm.lock"
	flock -w 300 "$LAB_LOCK_FD" || lab_die "another xpmem-lab holds $LAB_DIR/vm.lock"
}

# Remove what a dead VM leaves behind; keep the console log for post-mortems.
# In a multi-partition lab the RAM file stays: peers map it as their window
# onto this partition, and a restart boots on it again (down removes it).
lab_clean_run() {
	rm -f "$LAB_PRUN/qemu.pid" "$LAB_PRUN/agent.sock" "$LAB_PRUN/qmp.sock" \
		"$LAB_PRUN/agent.lock" "$LAB_PRUN/started" "$LAB_PRUN/ping.err"
	[ -f "$LAB_RUN/partitions" ] || rm -f "$LAB_PRUN/ram"
}

lab_initramfs() { # prints the path of an up-to-date initramfs for kernel $1
	local ver=$1 img=$LAB_DIR/initramfs-$1.cpio.gz here
	here=$LAB_REPO/tools/lab
	if [ ! -f "$img" ] || [ "$here/initramfs-init" -nt "$img" ] || [ "$here/mkinitramfs.sh" -nt "$img" ] ||
		[ "$LAB_KERNEL/lib/modules/$ver/modules.dep" -nt "$img" ]; then
		"$here/mkinitramfs.sh" "$LAB_KERNEL" "$ver" "$img" || lab_die "cannot build the initramfs"
	fi
	printf '%s\n' "$img"
}

# Host paths the guest must see although they lie under a directory it
# mounts a tmpfs over (a clone in /tmp, as CI may make): the guest's init
# moves them over its tmpfs.  Comma-separated for the kernel command line.
lab_kept_paths() {
	local p keep=
	for p in "$LAB_REPO" "$LAB_BUILD"; do
		case $p/ in
		/tmp/*|/var/tmp/*|/run/*) keep=${keep:+$keep,}$p ;;
		esac
	done
	printf '%s\n' "$keep"
}

# The fabric's devices for partition $LAB_P of $1 (docs/lab.md): the doorbell
# device on fabricd at slot 08, then one ivshmem-plain window per peer Q over
# Q's RAM file at slot 10+Q (own slot left empty).  Slots are fixed so that
# the devices are easy to find; which window is whose must still be read
# from what each owner publishes.
lab_fabric_args() { # NPARTS
	local n=$1 q
	# shellcheck disable=SC2054  # commas belong to QEMU option values
	LAB_QEMU_ARGS+=(
		-chardev "socket,id=fabric,path=$LAB_FABRIC/fabricd.sock"
		-device "ivshmem-doorbell,chardev=fabric,vectors=${LAB_VECTORS:-$n},addr=08.0"
	)
	for ((q = 0; q < n; q++)); do
		[ "$q" = "$LAB_P" ] && continue
		LAB_QEMU_ARGS+=(
			-object "memory-backend-file,id=peer$q,size=$LAB_MEM,mem-path=$(lab_ram_file "$q"),share=on"
			-device "ivshmem-plain,memdev=peer$q,addr=$(printf '%02x' $((16 + q))).0"
		)
	done
}

lab_ram_file() { # P
	if [ "$1" = 0 ]; then echo "$LAB_RUN/ram"; else echo "$LAB_RUN/p$1/ram"; fi
}

lab_qemu_args() { # VERSION INITRAMFS
	local ver=$1 initrd=$2 keep
	keep=$(lab_kept_paths)
	# shellcheck disable=SC2054  # commas belong to QEMU option values
	LAB_QEMU_ARGS=(
		-name "xpmem-lab-p$LAB_P" -nodefaults -no-user-config -display none
		-machine pc,memory-backend=ram0 -accel tcg -cpu max
		-smp "$LAB_CPUS" -m "$LAB_MEM"
		-object "memory-backend-file,id=ram0,size=$LAB_MEM,mem-path=$LAB_PRUN/ram,share=on"
		-kernel "$LAB_KERNEL/boot/vmlinuz-$ver" -initrd "$initrd"
		# no_timer_check: under TCG on a loaded host the IO-APIC timer
		# check can miss its ticks and panic the boot ("IO-APIC + timer
		# doesn't work"); the lab's timer is QEMU's and needs no check.
		-append "console=ttyS0 loglevel=5 no_timer_check panic_on_warn=1 panic=-1 oops=panic xpmemlab.agent=$LAB_AGENT xpmemlab.root=hostroot${keep:+ xpmemlab.keep=$keep}${LAB_APPEND:+ $LAB_APPEND}"
		-no-reboot
		-serial "file:$LAB_PRUN/console.log"
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
		-device virtio-serial-pci,id=vser0
		-chardev "socket,id=agent,path=$LAB_PRUN/agent.sock,server=on,wait=off"
		-device virtserialport,bus=vser0.0,chardev=agent,name=org.xpmem.lab.agent
		-qmp "unix:$LAB_PRUN/qmp.sock,server=on,wait=off"
		-pidfile "$LAB_PRUN/qemu.pid"
	)
}

lab_up() {
	local no_module=0 pid
	[ "${1:-}" = --no-module ] && no_module=1
	lab_vm_lock
	[ -f "$LAB_RUN/partitions" ] && lab_die "a multi-partition lab is up (tools/xpmem-lab status; down first)"
	if pid=$(lab_qemu_pid); then
		lab_say "already up (pid $pid)"
		return 0
	fi
	lab_vm_start 0 || return 1
	lab_vm_ready $no_module
}

# Starts QEMU for partition $LAB_P (of NPARTS; 0 = no fabric) and returns
# once its pid file names a live QEMU.  Leaves the boot to lab_vm_ready.
lab_vm_start() { # NPARTS
	local nparts=$1 pid ver initrd
	[ -x "$LAB_AGENT" ] || lab_die "$LAB_AGENT is missing (run tools/xpmem-lab setup)"
	ver=$(lab_guest_version) || lab_die "cannot tell the guest kernel's version (run tools/xpmem-lab setup${LAB_KERNEL_KIND/stock/})"
	[ -f "$LAB_KERNEL/boot/vmlinuz-$ver" ] || lab_die "no guest kernel (run tools/xpmem-lab setup)"
	mkdir -p "$LAB_RUN"
	echo "$LAB_KERNEL_KIND" >"$LAB_RUN/kernel"
	initrd=$(lab_initramfs "$ver")
	lab_clean_run
	mkdir -p "$LAB_PRUN"
	[ -f "$LAB_PRUN/console.log" ] && mv -f "$LAB_PRUN/console.log" "$LAB_PRUN/console.prev.log"
	lab_qemu_args "$ver" "$initrd"
	[ "$nparts" -gt 0 ] && lab_fabric_args "$nparts"
	[ "$nparts" -gt 0 ] && lab_net_enabled && lab_net_args "$nparts"

	LAB_T0=$(date +%s%3N)
	# QEMU must not inherit the lock: it would hold it for its whole life.
	setsid qemu-system-x86_64 "${LAB_QEMU_ARGS[@]}" </dev/null >"$LAB_PRUN/qemu.log" 2>&1 {LAB_LOCK_FD}>&- &
	local starter=$!
	disown "$starter" # not our job to report: the pid file and the agent tell how it goes
	for _ in $(seq 100); do
		pid=$(lab_qemu_pid) && break
		kill -0 "$starter" 2>/dev/null || break
		sleep 0.1
	done
	if ! pid=$(lab_qemu_pid); then
		cat "$LAB_PRUN/qemu.log" >&2
		lab_clean_run
		lab_say "partition $LAB_P: QEMU did not start within 10 s"
		return 1
	fi
	date +%s >"$LAB_PRUN/started"
}

# Pings partition $LAB_P's agent (QEMU pid PID) until it answers (its answer
# on stdout: status 0), for at most LAB_BOOT_TIMEOUT s (status 124), and gives
# up at once on an RCU stall report on the console (status 2): a boot has
# been seen to hang before /init with one vCPU idle whose timer never fired
# again (its timer-softirq count frozen for 15 minutes of reports every 26 s,
# docs/testing.md), and a stall report fails the kernel-log check of every
# suite anyway, so such a boot can only be thrown away: better at once than
# at the debug kernel's 900 s.  Any other status: the agent's (QEMU gone).
lab_wait_agent() { # PID
	local pid=$1 end left rc
	end=$(($(date +%s) + LAB_BOOT_TIMEOUT))
	while :; do
		left=$((end - $(date +%s)))
		[ $left -gt 0 ] || return 124
		[ $left -gt 15 ] && left=15
		rc=0
		"$LAB_AGENT" ping --socket "$LAB_PRUN/agent.sock" --pid "$pid" \
			--lock "$LAB_PRUN/agent.lock" --timeout "$left" 2>"$LAB_PRUN/ping.err" || rc=$?
		[ $rc = 124 ] || { cat "$LAB_PRUN/ping.err" >&2; return $rc; }
		grep -aq 'detected stall' "$LAB_PRUN/console.log" 2>/dev/null && return 2
	done
}

# Waits for partition $LAB_P's agent, then loads the module (unless told not to).
lab_vm_ready() { # NO_MODULE
	local no_module=$1 pid guest t1 rc=0
	pid=$(lab_qemu_pid) || { lab_say "partition $LAB_P: QEMU is gone"; return 1; }
	guest=$(lab_wait_agent "$pid") || rc=$?
	if [ $rc != 0 ]; then
		case $rc in
		124) lab_say "partition $LAB_P: the guest agent did not answer within $LAB_BOOT_TIMEOUT s; last console lines:" ;;
		2) lab_say "partition $LAB_P: RCU stall reported before the guest agent answered ($(($(date +%s) - LAB_T0 / 1000)) s): boot abandoned; last console lines:" ;;
		*) lab_say "partition $LAB_P: the guest agent was lost while booting; last console lines:" ;;
		esac
		tail -n 30 "$LAB_PRUN/console.log" >&2
		lab_stop_qemu "$pid"
		lab_say "partition $LAB_P: boot failed (console log: ${LAB_PRUN#"$LAB_REPO"/}/console.log)"
		return 1
	fi
	t1=$(date +%s%3N)
	lab_say "$(lab_tag)up in $(((t1 - LAB_T0) / 1000)).$(((t1 - LAB_T0) % 1000 / 100)) s (pid $pid; $guest)"

	# What kmemleak suspects of the boot itself is not ours to judge.
	[ "$LAB_KERNEL_KIND" = debug ] && lab_kmemleak_clear
	if [ "$no_module" = 1 ]; then
		lab_say "--no-module: xpmem.ko not loaded"
	elif [ ! -f "$LAB_MODULE" ]; then
		lab_say "note: ${LAB_MODULE#"$LAB_REPO"/} does not exist; booted without the module"
	else
		lab_load_module || return $?
	fi
}

# "partition P: " in a multi-partition lab, nothing in the one-VM lab.
lab_tag() {
	[ -f "$LAB_RUN/partitions" ] && printf 'partition %s: ' "$LAB_P"
	return 0
}

# Status 3 when insmod itself fails: the VM booted, the module is refused.
# Callers that retry a lost boot must not retry that (tests/run vm_fresh).
lab_load_module() {
	# shellcheck disable=SC2046  # no argument or doorbell=KIND (rdma.sh)
	lab_agent_client exec --timeout 60 -- busybox insmod "$LAB_MODULE" $(lab_doorbell_module_args) ||
		{ lab_say "$(lab_tag)insmod ${LAB_MODULE#"$LAB_REPO"/} failed (VM left up: see tools/xpmem-lab exec $LAB_P -- dmesg)"; return 3; }
	# devtmpfs creates the node as the device registers; allow it a moment.
	# shellcheck disable=SC2016  # expanded by the guest's shell
	lab_agent_client exec --timeout 30 -- sh -c \
		'for i in $(seq 50); do [ -c /dev/xpmem ] && exit 0; sleep 0.1; done; exit 1' ||
		{ lab_say "$(lab_tag)xpmem.ko loaded but /dev/xpmem did not appear"; return 1; }
	lab_say "$(lab_tag)xpmem.ko loaded, /dev/xpmem present"
}

# Ask politely, then insist: poweroff via the agent, SIGTERM, SIGKILL.
lab_stop_qemu() {
	local pid=$1
	"$LAB_AGENT" poweroff --socket "$LAB_PRUN/agent.sock" --pid "$pid" --timeout 10 >/dev/null 2>&1 || true
	for sig in NONE TERM KILL; do
		[ $sig != NONE ] && { kill -s $sig "$pid" 2>/dev/null || true; }
		for _ in $(seq 100); do
			lab_qemu_pid >/dev/null || break 2
			sleep 0.1
		done
	done
	lab_qemu_pid >/dev/null && lab_say "warning: QEMU pid $pid survived SIGKILL"
	lab_clean_run
}

lab_down() {
	local pid
	lab_vm_lock
	if [ -f "$LAB_RUN/partitions" ]; then
		lab_parts_down
		return
	fi
	if ! pid=$(lab_qemu_pid); then
		lab_clean_run
		rm -f "$LAB_RUN/kernel"
		lab_say "not running"
		return 0
	fi
	lab_stop_qemu "$pid"
	rm -f "$LAB_RUN/kernel"
	lab_say "down"
}

lab_status() {
	local pid started guest
	if [ -f "$LAB_RUN/partitions" ] || [ "${1:-}" = --json ]; then
		lab_parts_status "$@"
		return
	fi
	if ! pid=$(lab_qemu_pid); then
		echo "down"
		return 1
	fi
	started=$(cat "$LAB_PRUN/started" 2>/dev/null || echo 0)
	guest=$(lab_agent_client ping --timeout 5 2>/dev/null) || guest="agent not answering"
	echo "up: pid $pid, uptime $(($(date +%s) - started)) s, $guest"
}

lab_exec() { # [P] [OPTIONS] -- CMD...
	local args=() timeout=600
	case ${1:-} in
	[0-9] | [0-9][0-9]) lab_select "$1"; shift ;;
	esac
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) timeout=$2; shift 2 ;;
		--timeout=*) timeout=${1#*=}; shift ;;
		--env | -e) args+=(--env "$2"); shift 2 ;;
		--cwd) args+=(--cwd "$2"); shift 2 ;;
		--) shift; break ;;
		-*) lab_say "exec: unknown option $1"; return 2 ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || { lab_say "exec: no command"; return 2; }
	lab_agent_client exec --timeout "$timeout" "${args[@]}" -- "$@"
}
