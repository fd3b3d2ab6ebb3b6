# shellcheck shell=bash disable=SC2034  # the variables are for the sourcing scripts
# common.sh - paths and small helpers shared by tools/xpmem-lab and tests/run.
# Sourced, never run.  Everything the lab creates lives under build/lab/.

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_BUILD=${XPMEM_BUILD_DIR:-$LAB_REPO/build}
LAB_DIR=$LAB_BUILD/lab
LAB_RUN=$LAB_DIR/run
LAB_KERNEL=$LAB_DIR/kernel
LAB_AGENT=$LAB_BUILD/tools/lab/lab-agent
LAB_MODULE=$LAB_BUILD/kmod/xpmem.ko

# VM shape; the multi-partition lab reuses the same knobs.
LAB_MEM=${XPMEM_LAB_MEM:-2G}
LAB_CPUS=${XPMEM_LAB_CPUS:-2}
LAB_BOOT_TIMEOUT=${XPMEM_LAB_BOOT_TIMEOUT:-120}

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

lab_qemu_pid() {
	local pid
	[ -f "$LAB_RUN/qemu.pid" ] || return 1
	pid=$(cat "$LAB_RUN/qemu.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# Not a recycled pid (it must still be our QEMU), and not a zombie.
	grep -qa -- "-name" "/proc/$pid/cmdline" 2>/dev/null || return 1
	grep -qa "xpmem-lab" "/proc/$pid/cmdline" 2>/dev/null || return 1
	case $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) in Z* | X* | "") return 1 ;; esac
	printf '%s\n' "$pid"
}
