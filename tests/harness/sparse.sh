#!/usr/bin/env bash
# sparse.sh KDIR OUTDIR - sparse (`make C=2`) over every file of kmod/ and
# the transport core it compiles in, against the kernel tree KDIR.  Prints
# one verdict line and, on failure, the warnings; exits 1 on any warning or
# error, 0 when there is none.  Sparse checks what the compiler does not:
# address spaces (__user, __iomem), endianness (__le32...), lock context
# annotations, and the restricted types such as vm_fault_t.
set -uo pipefail
kdir=$1 out=$2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v sparse >/dev/null || { echo "FAIL sparse: the sparse checker is not installed"; exit 1; }
work=$out/xpmem-src
rm -rf "$work"
mkdir -p "$work/uapi" "$work/transport"
cp "$repo"/kmod/Kbuild "$repo"/kmod/*.c "$repo"/kmod/*.h "$work/"
cp "$repo"/kmod/uapi/*.h "$work/uapi/"
cp "$repo"/transport/*.c "$repo"/transport/*.h "$work/transport/"
log=$out/sparse.log
# C=2: check every source file, also those already compiled.
make -C "$kdir" M="$work" C=2 CHECK=sparse modules >"$log" 2>&1
rc=$?
warnings=$(grep -E ': (warning|error): ' "$log" | sed "s|$work/||")
if [ $rc -ne 0 ]; then
	echo "FAIL sparse: make C=2 exited $rc (log: $log)"
	tail -n 20 "$log" | sed 's/^/    | /'
	exit 1
fi
if [ -n "$warnings" ]; then
	echo "FAIL sparse: $(grep -c . <<<"$warnings") warning(s) in kmod/ (make C=2)"
	sed 's/^/    | /' <<<"$warnings"
	exit 1
fi
echo "PASS sparse: kmod/ and transport/ (make C=2) without a warning"
