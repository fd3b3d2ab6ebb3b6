#!/bin/sh
# build-module.sh KDIR SRCDIR OUTDIR [rdma|no-rdma]: builds xpmem.ko out of
# the source tree and, where the kernel has rdma_cm, xpmem_rdma.ko
# (Kbuild writes next to its sources, so they are copied first), with W=1
# and warnings as errors.  "rdma": the caller (meson, which installs it)
# expects xpmem_rdma.ko, and its absence is an error.
set -eu
kdir=$1 src=$2 out=$3 want_rdma=${4:-}
work="$out/xpmem-src"
mkdir -p "$work/uapi"
cp "$src"/Kbuild "$src"/*.c "$src"/*.h "$work/"
cp "$src"/uapi/*.h "$work/uapi/"
# The transport core is compiled into the module unchanged.
mkdir -p "$work/transport"
cp "$src"/../transport/*.c "$src"/../transport/*.h "$work/transport/"
make -s -C "$kdir" M="$work" W=1 KCFLAGS=-Werror modules
cp "$work/xpmem.ko" "$out/xpmem.ko"
# xpmem_rdma.ko only where the kernel has rdma_cm (Kbuild decides).
if [ -f "$work/xpmem_rdma.ko" ]; then
	cp "$work/xpmem_rdma.ko" "$out/xpmem_rdma.ko"
elif [ "$want_rdma" = rdma ]; then
	echo "build-module.sh: Kbuild built no xpmem_rdma.ko, although $kdir has CONFIG_INFINIBAND_ADDR_TRANS" >&2
	exit 1
else
	rm -f "$out/xpmem_rdma.ko"
fi
