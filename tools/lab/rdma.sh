# shellcheck shell=bash
# rdma.sh - `up -n N --doorbell rdma|msix|poll`: which doorbell xpmem.ko uses,
# and for rdma the Soft-RoCE set-up under it.  Sourced by tools/xpmem-lab
# after net.sh and vm.sh.
#
# run/doorbell holds the lab's doorbell (msix when absent) so that restart
# loads the module the same way.  XPMEM_LAB_DOORBELL is the default of `up`
# (tests/run --doorbell sets it).
#
# rdma needs the links of --net (implied).  In each guest (guest-rdma.sh):
# the stock kernel's rdma_rxe, rdma_cm and rdma_ucm with their dependencies,
# one rxe device per NIC (`rdma link add rxe_ethN type rxe netdev ethN`),
# then build/kmod/xpmem_rdma.ko (addr_base=169.254.77.1: partition P at
# 169.254.77.<P+1>), and only then xpmem.ko doorbell=rdma.
#
# `net cut P` / `net restore P` take partition P's NICs down and up through
# QEMU's monitor (set_link): frames to and from P are lost, as when a cable
# is pulled, while P and the shared memory go on.

lab_doorbell() {
	cat "$LAB_RUN/doorbell" 2>/dev/null || echo "${XPMEM_LAB_DOORBELL:-msix}"
}

lab_doorbell_check() { # KIND
	case $1 in msix | rdma | poll) ;; *) lab_die "--doorbell: msix, rdma or poll, not '$1'" ;; esac
}

# The guest kernel's modules for Soft-RoCE and the RDMA CM, dependencies
# first; none when built in (the debug kernel).
lab_rdma_modules() {
	# crc32: rxe's ICRC asks the crypto API for it, and the guest cannot modprobe.
	lab_guest_modules kernel/crypto/crc32_generic.ko kernel/drivers/infiniband/sw/rxe/rdma_rxe.ko \
		kernel/drivers/infiniband/core/rdma_ucm.ko
}

# Partition $LAB_P: Soft-RoCE on its NICs and xpmem_rdma.ko (built beside
# the xpmem.ko the lab loads) loaded.
lab_rdma_up() {
	local mods list rko
	rko=$(dirname "$LAB_MODULE")/xpmem_rdma.ko
	[ -f "$rko" ] || { lab_say "${rko#"$LAB_REPO"/} does not exist (a kernel without rdma_cm?)"; return 1; }
	list=$(lab_rdma_modules) || { lab_say "partition $LAB_P: the guest kernel lacks Soft-RoCE or rdma_cm"; return 1; }
	mapfile -t mods < <(printf '%s' "$list" | sed '/^$/d')
	lab_agent_client exec --timeout 120 -- sh "$LAB_REPO/tools/lab/guest-rdma.sh" "$rko" "${mods[@]}" ||
		{ lab_say "partition $LAB_P: Soft-RoCE set-up failed"; return 1; }
	lab_say "partition $LAB_P: Soft-RoCE up, xpmem_rdma.ko loaded"
}

# xpmem.ko's insmod arguments for the lab's doorbell.
lab_doorbell_module_args() {
	case $(lab_doorbell) in
	rdma) echo doorbell=rdma ;;
	poll) echo doorbell=poll ;;
	esac
}

# net cut P / net restore P: partition P's NICs down / up (QEMU set_link).
lab_net_link() { # cut|restore P
	local how=$1 p=$2 n q on
	lab_check_part "$p"
	lab_net_enabled || lab_die "the lab has no links (up -n N --net)"
	n=$(lab_nparts)
	[ "$how" = cut ] && on=off || on=on
	lab_select "$p"
	for ((q = 0; q < n; q++)); do
		[ "$q" = "$p" ] && continue
		lab_qmp "{\"execute\": \"set_link\", \"arguments\": {\"name\": \"net$q\", \"up\": $([ $on = on ] && echo true || echo false)}}" ||
			lab_die "partition $p: set_link net$q $on failed"
	done
	lab_say "partition $p: links $([ $on = on ] && echo restored || echo cut)"
}

# One QMP command to partition $LAB_P's QEMU; fails on an error reply.
lab_qmp() { # JSON
	python3 - "$LAB_PRUN/qmp.sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
json.loads(f.readline())                      # the greeting
f.write('{"execute": "qmp_capabilities"}\n'); f.flush(); reply()
f.write(sys.argv[2] + "\n"); f.flush()
m = reply()
if "error" in m:
    sys.exit("qmp: %s" % m["error"].get("desc"))
PY
}
