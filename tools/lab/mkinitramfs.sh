#!/bin/bash
# mkinitramfs.sh KERNEL-ROOT VERSION OUTPUT
# Builds the lab's initramfs: busybox-static, initramfs-init as /init, and the
# modules needed to reach the host's file tree (virtio PCI, virtio console,
# 9p over virtio) with their dependencies, taken from the unpacked kernel
# package's modules.dep and listed in load order in /modules.list (those in
# modules.builtin are left out: the debug kernel builds them in).
set -euo pipefail

root=$1 ver=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
mods=$root/lib/modules/$ver
wanted=(kernel/drivers/virtio/virtio_pci.ko kernel/drivers/char/virtio_console.ko
	kernel/net/9p/9pnet_virtio.ko kernel/fs/9p/9p.ko)

declare -A deps=() seen=()
while IFS=: read -r mod rest; do
	deps[$mod]=$rest
done <"$mods/modules.dep"
# A kernel that builds them in (the debug kernel) needs nothing loaded.
if [ -f "$mods/modules.builtin" ]; then
	while IFS= read -r mod; do
		seen[$mod]=1
	done <"$mods/modules.builtin"
fi

order=()
add() { # depth-first: dependencies before the module itself
	local m=$1 d
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	[ -n "${deps[$m]+x}" ] || { echo "mkinitramfs: $m not in modules.dep" >&2; exit 1; }
	for d in ${deps[$m]}; do add "$d"; done
	order+=("$m")
}
for m in "${wanted[@]}"; do add "$m"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$tmp/bin/busybox"
for a in sh mount mkdir insmod switch_root poweroff sleep cat echo tr; do
	ln -s busybox "$tmp/bin/$a"
done
install -m 755 "$here/initramfs-init" "$tmp/init"
: >"$tmp/modules.list"
for m in "${order[@]}"; do
	case $m in
	*.ko) cp "$mods/$m" "$tmp/lib/modules/" ;;
	*) echo "mkinitramfs: compressed module $m is not supported" >&2; exit 1 ;;
	esac
	basename "$m" >>"$tmp/modules.list"
done
(cd "$tmp" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
