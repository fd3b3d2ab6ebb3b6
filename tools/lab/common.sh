# shellcheck shell=bash disable=SC2034  # the variables are for the sourcing scripts
# common.sh - paths and small helpers shared by tools/xpmem-lab and tests/run.
# Sourced, never run.  Everything the lab creates lives under build/lab/.

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_BUILD=${XPMEM_BUILD_DIR:-$LAB_REPO/build}
LAB_DIR=$LAB_BUILD/lab
LAB_RUN=$LAB_DIR/run
LAB_STOCK_KERNEL=$LAB_DIR/kernel	# the stock image, unpacked by setup.sh
LAB_KERNEL=$LAB_STOCK_KERNEL	# the kernel the lab boots (lab_use_kernel)
LAB_AGENT=$LAB_BUILD/tools/lab/lab-agent
LAB_MODULE=$LAB_BUILD/kmod/xpmem.ko
LAB_FABRICD=$LAB_BUILD/transport/fabricd/fabricd
LAB_FABRIC=$LAB_RUN/fabric	# fabricd's sockets, pid file, region, log

# The partition a command acts on: partition 0 is the one-VM lab's VM and
# keeps its files in the run dir itself; partition P > 0 uses run/pP/.
LAB_P=0
LAB_PRUN=$LAB_RUN
lab_select() { # P
	LAB_P=$1
	if [ "$1" = 0 ]; then LAB_PRUN=$LAB_RUN; else LAB_PRUN=$LAB_RUN/p$1; fi
}

# VM shape.  The multi-partition lab (up -n N) defaults to 1 GiB and one
# vCPU per partition: N TCG VMs share the host's cores.
LAB_MEM=${XPMEM_LAB_MEM:-2G}
LAB_CPUS=${XPMEM_LAB_CPUS:-2}
LAB_PART_MEM=${XPMEM_LAB_MEM:-1G}
LAB_PART_CPUS=${XPMEM_LAB_CPUS:-1}
# Doorbell vectors per partition; empty: one per partition, because xpmem.ko
# rings the vector equal to its own id so the receiver knows who rang.
LAB_VECTORS=${XPMEM_LAB_VECTORS:-}
LAB_BOOT_TIMEOUT=${XPMEM_LAB_BOOT_TIMEOUT:-120}
# Extra guest kernel parameters (e.g. init_on_free=1 to make a use after
# free of a freed object read zeroes).
LAB_APPEND=${XPMEM_LAB_APPEND:-}

# Which guest kernel: "stock" (Debian's image, build/lab/kernel/, the module
# of build/kmod/) or "debug" (built by debug-kernel.sh into
# build/debug-kernel/, with its own xpmem.ko).  XPMEM_LAB_KERNEL or
# `--kernel` selects it for `up`; a running lab records it in run/kernel, so
# that exec, restart and dmesg-check act on the kernel that is up.
LAB_KERNEL_KIND=stock
lab_use_kernel() { # stock | debug
	case $1 in
	stock)
		LAB_KERNEL=$LAB_STOCK_KERNEL
		LAB_MODULE=$LAB_BUILD/kmod/xpmem.ko
		;;
	debug)
		LAB_KERNEL=$LAB_BUILD/debug-kernel/root
		LAB_MODULE=$LAB_BUILD/debug-kernel/kmod/xpmem.ko
		# About 10 times the stock boot under TCG (kmemleak's early scan,
		# KASAN's shadow), more with several partitions booting at once.
		LAB_BOOT_TIMEOUT=${XPMEM_LAB_BOOT_TIMEOUT:-900}
		;;
	*) lab_die "unknown kernel '$1' (stock or debug)" ;;
	esac
	LAB_KERNEL_KIND=$1
}

lab_say() { printf 'xpmem-lab: %s\n' "$*" >&2; }
lab_die() { printf 'xpmem-lab: error: %s\n' "$*" >&2; exit 1; }

# Run as root, through sudo otherwise.
lab_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The kernel ABI name (e.g. 6.1.0-56-amd64) that linux-headers-amd64 points at:
# the guest runs exactly the kernel the module is built against.
lab_kernel_version() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) || return 1
	dep=${dep%%,*}
	dep=${dep%% *}
	[ -n "$dep" ] || return 1
	printf '%s\n' "${dep#linux-headers-}"
}

# The release the guest boots: the stock image is the headers' version; the
# debug kernel is whatever its build installed under root/boot.
lab_guest_version() {
	local img
	if [ "$LAB_KERNEL_KIND" = debug ]; then
		for img in "$LAB_KERNEL"/boot/vmlinuz-*; do
			[ -f "$img" ] && { printf '%s\n' "${img##*/vmlinuz-}"; return 0; }
		done
		return 1
	fi
	lab_kernel_version
}

# Host paths of the guest kernel's modules M... (paths under
# lib/modules/VER/, e.g. kernel/drivers/net/virtio_net.ko) with their
# dependencies, in load order, one a line; nothing for those the kernel
# builds in (the debug kernel builds in everything the lab loads).  Fails,
# printing nothing, when the kernel has one neither as a module nor built in.
lab_guest_modules() { # M...
	local ver mods m out=
	ver=$(lab_guest_version) || return 1
	mods=$LAB_KERNEL/lib/modules/$ver
	for m in "$@"; do
		grep -qxF "$m" "$mods/modules.builtin" 2>/dev/null && continue
		grep -q "^$m:" "$mods/modules.dep" 2>/dev/null ||
			{ lab_say "the guest kernel $ver has no $m"; return 1; }
		# modules.dep lists a module's dependencies nearest first: load them
		# last-to-first, then the module.
		out+=$(sed -n "s|^$m: *||p" "$mods/modules.dep" | tr ' ' '\n' | tac)$'\n'$m$'\n'
	done
	printf '%s' "$out" | awk 'NF && !seen[$0]++' | sed "s|^|$mods/|"
}

lab_qemu_pid() {
	local pid
	[ -f "$LAB_PRUN/qemu.pid" ] || return 1
	pid=$(cat "$LAB_PRUN/qemu.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# Not a recycled pid (it must still be our QEMU), and not a zombie.
	grep -qa -- "-name" "/proc/$pid/cmdline" 2>/dev/null || return 1
	grep -qa "xpmem-lab" "/proc/$pid/cmdline" 2>/dev/null || return 1
	case $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) in Z* | X* | "") return 1 ;; esac
	printf '%s\n' "$pid"
}

# The kernel chosen by the environment, else the one of the lab that is up.
if [ -n "${XPMEM_LAB_KERNEL:-}" ]; then
	lab_use_kernel "$XPMEM_LAB_KERNEL"
elif [ -f "$LAB_RUN/kernel" ]; then
	lab_use_kernel "$(cat "$LAB_RUN/kernel")"
fi
