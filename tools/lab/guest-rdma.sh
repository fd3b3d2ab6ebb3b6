#!/bin/sh
# guest-rdma.sh XPMEM_RDMA_KO MODULE... - run in a partition's guest by the
# lab (tools/lab/rdma.sh) after guest-net.sh: loads the modules given
# (dependencies first), adds a Soft-RoCE device on every lab NIC, then loads
# xpmem_rdma.ko.  Idempotent.
set -u
rko=$1
shift
for m in "$@"; do
	name=$(basename "$m" .ko | tr - _)
	grep -q "^$name " /proc/modules && continue
	busybox insmod "$m" || { echo "guest-rdma: insmod $m failed" >&2; exit 1; }
done
for dev in /sys/class/net/eth*; do
	nic=${dev##*/}
	case $(cat "$dev/address") in 52:54:00:77:*) ;; *) continue ;; esac
	rdma link show "rxe_$nic/1" >/dev/null 2>&1 && continue
	rdma link add "rxe_$nic" type rxe netdev "$nic" || { echo "guest-rdma: rdma link add rxe_$nic failed" >&2; exit 1; }
done
grep -q "^xpmem_rdma " /proc/modules || busybox insmod "$rko" addr_base=169.254.77.1 ||
	{ echo "guest-rdma: insmod $rko failed" >&2; exit 1; }
exit 0
