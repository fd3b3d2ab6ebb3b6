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
	"$LAB_AGENT" "$mode" --socket "$LAB_RUN/agent.sock" --pid "$pid" \
		--lock "$LAB_RUN/agent.lock" "$@"
}

# Serialise up/down of one run dir between concurrent callers.
lab_vm_lock() {
	[ -n "${LAB_LOCK_FD:-}" ] && return 0 # this process holds it already
	mkdir -p "$LAB_DIR"
	exec {LAB_LOCK_FD}>"$LAB_DIR/vm.lock"
	flock -w 300 "$LAB_LOCK_FD" || lab_die "another xpmem-lab holds $LAB_DIR/vm.lock"
}

# Remove what a dead VM leaves behind; keep the console log for post-mortems.
lab_clean_run() {
	rm -f "$LAB_RUN/qemu.pid" "$LAB_RUN/agent.sock" "$LAB_RUN/qmp.sock" \
		"$LAB_RUN/agent.lock" "$LAB_RUN/ram" "$LAB_RUN/started"
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

lab_qemu_args() { # VERSION INITRAMFS
	local ver=$1 initrd=$2 keep
	keep=$(lab_kept_paths)
	# shellcheck disable=SC2054  # commas belong to QEMU option values
	LAB_QEMU_ARGS=(
		-name xpmem-lab -nodefaults -no-user-config -display none
		-machine pc,memory-backend=ram0 -accel tcg -cpu max
		-smp "$LAB_CPUS" -m "$LAB_MEM"
		-object "memory-backend-file,id=ram0,size=$LAB_MEM,mem-path=$LAB_RUN/ram,share=on"
		-kernel "$LAB_KERNEL/boot/vmlinuz-$ver" -initrd "$initrd"
		-append "console=ttyS0 loglevel=5 panic_on_warn=1 panic=-1 oops=panic xpmemlab.agent=$LAB_AGENT xpmemlab.root=hostroot${keep:+ xpmemlab.keep=$keep}"
		-no-reboot
		-serial "file:$LAB_RUN/console.log"
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
		-device virtio-serial-pci,id=vser0
		-chardev "socket,id=agent,path=$LAB_RUN/agent.sock,server=on,wait=off"
		-device virtserialport,bus=vser0.0,chardev=agent,name=org.xpmem.lab.agent
		-qmp "unix:$LAB_RUN/qmp.sock,server=on,wait=off"
		-pidfile "$LAB_RUN/qemu.pid"
	)
}

lab_up() {
	local no_module=0 pid ver initrd t0 t1 guest
	[ "${1:-}" = --no-module ] && no_module=1
	lab_vm_lock
	if pid=$(lab_qemu_pid); then
		lab_say "already up (pid $pid)"
		return 0
	fi
	[ -x "$LAB_AGENT" ] || lab_die "$LAB_AGENT is missing (run tools/xpmem-lab setup)"
	ver=$(lab_kernel_version) || lab_die "cannot tell the kernel version"
	[ -f "$LAB_KERNEL/boot/vmlinuz-$ver" ] || lab_die "no guest kernel (run tools/xpmem-lab setup)"
	initrd=$(lab_initramfs "$ver")
	lab_clean_run
	mkdir -p "$LAB_RUN"
	[ -f "$LAB_RUN/console.log" ] && mv -f "$LAB_RUN/console.log" "$LAB_RUN/console.prev.log"
	lab_qemu_args "$ver" "$initrd"

	t0=$(date +%s%3N)
	# QEMU must not inherit the lock: it would hold it for its whole life.
	setsid qemu-system-x86_64 "${LAB_QEMU_ARGS[@]}" </dev/null >"$LAB_RUN/qemu.log" 2>&1 {LAB_LOCK_FD}>&- &
	local starter=$!
	disown "$starter" # not our job to report: the pid file and the agent tell how it goes
	for _ in $(seq 100); do
		pid=$(lab_qemu_pid) && break
		kill -0 "$starter" 2>/dev/null || break
		sleep 0.1
	done
	if ! pid=$(lab_qemu_pid); then
		cat "$LAB_RUN/qemu.log" >&2
		lab_clean_run
		lab_die "QEMU did not start"
	fi
	date +%s >"$LAB_RUN/started"

	if ! guest=$("$LAB_AGENT" ping --socket "$LAB_RUN/agent.sock" --pid "$pid" \
		--lock "$LAB_RUN/agent.lock" --timeout "$LAB_BOOT_TIMEOUT"); then
		lab_say "the guest agent did not answer; last console lines:"
		tail -n 30 "$LAB_RUN/console.log" >&2
		lab_stop_qemu "$pid"
		lab_die "boot failed (console log: ${LAB_RUN#"$LAB_REPO"/}/console.log)"
	fi
	t1=$(date +%s%3N)
	lab_say "up in $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s (pid $pid; $guest)"

	if [ $no_module = 1 ]; then
		lab_say "--no-module: xpmem.ko not loaded"
	elif [ ! -f "$LAB_MODULE" ]; then
		lab_say "note: ${LAB_MODULE#"$LAB_REPO"/} does not exist; booted without the module"
	else
		lab_load_module || return 1
	fi
}

lab_load_module() {
	lab_agent_client exec --timeout 60 -- busybox insmod "$LAB_MODULE" ||
		{ lab_say "insmod ${LAB_MODULE#"$LAB_REPO"/} failed (VM left up: see tools/xpmem-lab exec -- dmesg)"; return 1; }
	# devtmpfs creates the node as the device registers; allow it a moment.
	# shellcheck disable=SC2016  # expanded by the guest's shell
	lab_agent_client exec --timeout 30 -- sh -c \
		'for i in $(seq 50); do [ -c /dev/xpmem ] && exit 0; sleep 0.1; done; exit 1' ||
		{ lab_say "xpmem.ko loaded but /dev/xpmem did not appear"; return 1; }
	lab_say "xpmem.ko loaded, /dev/xpmem present"
}

# Ask politely, then insist: poweroff via the agent, SIGTERM, SIGKILL.
lab_stop_qemu() {
	local pid=$1
	"$LAB_AGENT" poweroff --socket "$LAB_RUN/agent.sock" --pid "$pid" --timeout 10 >/dev/null 2>&1 || true
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
	if ! pid=$(lab_qemu_pid); then
		lab_clean_run
		lab_say "not running"
		return 0
	fi
	lab_stop_qemu "$pid"
	lab_say "down"
}

lab_status() {
	local pid started guest
	if ! pid=$(lab_qemu_pid); then
		echo "down"
		return 1
	fi
	started=$(cat "$LAB_RUN/started" 2>/dev/null || echo 0)
	guest=$(lab_agent_client ping --timeout 5 2>/dev/null) || guest="agent not answering"
	echo "up: pid $pid, uptime $(($(date +%s) - started)) s, $guest"
}

lab_exec() {
	local args=() timeout=600
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
