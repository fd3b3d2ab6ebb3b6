# shellcheck shell=bash
# setup.sh - `xpmem-lab setup`: host packages, the guest kernel, the build.
# Sourced by tools/xpmem-lab after common.sh.  Idempotent and silent when
# everything is in place: a fresh CI clone and a developer's tree run the same.

LAB_PACKAGES=(qemu-system-x86 meson ninja-build gcc g++ make busybox-static cpio sparse
	libgtest-dev libgmock-dev pkg-config libmnl-dev libnuma-dev linux-headers-amd64
	iproute2 rdma-core ibverbs-providers libibverbs-dev librdmacm-dev spin clang libfuse3-dev)
# The last line: RDMA doorbells in the lab (tools/lab/rdma.sh): `rdma link`,
# the rxe provider, and the verbs/rdma_cm reference tool in tools/bench;
# spin checks the protocol's model (tests/model/, docs/model.md); clang builds
# the transport's libFuzzer target (tests/fuzz-transport, the fuzz suite);
# libfuse3 is the FUSE daemon of remote.py's stuck-fault check
# (xpmem-xpart-fuse).

lab_apt() {
	lab_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

lab_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

lab_setup_packages() {
	local missing=() p
	for p in "${LAB_PACKAGES[@]}"; do
		lab_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	lab_say "installing ${missing[*]}"
	lab_apt update >/dev/null || lab_die "apt-get update failed"
	lab_apt install --no-install-recommends "${missing[@]}" >/dev/null ||
		lab_die "apt-get install ${missing[*]} failed"
}

# Download the stock kernel image package matching the installed headers and
# unpack it under build/lab/kernel/ (never installed on the host: the host
# kernel is not the one we test).
lab_setup_kernel() {
	local ver
	ver=$(lab_kernel_version) || lab_die "cannot tell the kernel version from linux-headers-amd64"
	if [ -f "$LAB_STOCK_KERNEL/boot/vmlinuz-$ver" ] && [ -f "$LAB_STOCK_KERNEL/lib/modules/$ver/modules.dep" ]; then
		return 0
	fi
	lab_fetch_image "$ver" && return 0
	# The archive keeps only the current kernel: installed headers of an older
	# ABI have no image left to fetch.  Move the headers to the current one.
	lab_say "no image for $ver in the archive; updating linux-headers-amd64"
	lab_apt update >/dev/null 2>&1
	lab_apt install --no-install-recommends linux-headers-amd64 >/dev/null ||
		lab_die "cannot update linux-headers-amd64"
	ver=$(lab_kernel_version) || lab_die "cannot tell the kernel version"
	lab_fetch_image "$ver" || lab_die "cannot download linux-image-$ver"
}

lab_fetch_image() { # VERSION
	local ver=$1 pkgver tmp deb
	[ -d "/usr/src/linux-headers-$ver" ] || lab_die "/usr/src/linux-headers-$ver is missing"
	pkgver=$(dpkg-query -W -f='${Version}' "linux-headers-$ver")
	lab_say "fetching linux-image-$ver ($pkgver) into ${LAB_STOCK_KERNEL#"$LAB_REPO"/}"
	mkdir -p "$LAB_DIR"
	tmp=$(mktemp -d "$LAB_DIR/download.XXXXXX")
	chmod 755 "$tmp" # apt's download sandbox user must be able to write there
	if ! (cd "$tmp" && lab_fetch_deb "linux-image-$ver=$pkgver"); then
		lab_say "linux-image-$ver=$pkgver is not in the archive; trying the newest linux-image-$ver"
		(cd "$tmp" && lab_fetch_deb "linux-image-$ver") || { rm -rf "$tmp"; return 1; }
	fi
	deb=$(ls "$tmp"/*.deb)
	if [ "$(dpkg-deb -f "$deb" Version)" != "$pkgver" ]; then
		lab_say "warning: image $(dpkg-deb -f "$deb" Version) != headers $pkgver: the module may not load"
	fi
	rm -rf "$LAB_STOCK_KERNEL.new"
	dpkg-deb -x "$deb" "$LAB_STOCK_KERNEL.new" || lab_die "cannot unpack $deb"
	# The package ships no modules.dep (depmod runs at install time): make it.
	busybox depmod -b "$LAB_STOCK_KERNEL.new" "$ver" || lab_die "depmod failed"
	rm -rf "$tmp" "$LAB_STOCK_KERNEL"
	mv "$LAB_STOCK_KERNEL.new" "$LAB_STOCK_KERNEL"
}

lab_fetch_deb() {
	# The first try may fail only because the package lists are old.
	apt-get download -q "$1" 2>/dev/null >/dev/null && return 0
	lab_apt update >/dev/null 2>&1
	apt-get download -q "$1" >/dev/null 2>&1
}

lab_setup_build() {
	local ver kdir cur
	ver=$(lab_kernel_version) || lab_die "cannot tell the kernel version"
	kdir=/usr/src/linux-headers-$ver
	if [ ! -f "$LAB_BUILD/build.ninja" ]; then
		lab_say "configuring ${LAB_BUILD#"$LAB_REPO"/} (kernel_dir=$kdir)"
		meson setup "$LAB_BUILD" "$LAB_REPO" -Dkernel_dir="$kdir" >"$LAB_BUILD.setup.log" 2>&1 || {
			tail -n 40 "$LAB_BUILD.setup.log" >&2
			lab_die "meson setup failed (log: $LAB_BUILD.setup.log)"
		}
		rm -f "$LAB_BUILD.setup.log"
	else
		cur=$(meson introspect --buildoptions "$LAB_BUILD" 2>/dev/null |
			python3 -c 'import json,sys; print(next((o["value"] for o in json.load(sys.stdin) if o["name"]=="kernel_dir"), ""))' 2>/dev/null)
		if [ "$cur" != "$kdir" ]; then
			lab_say "setting kernel_dir=$kdir (was '${cur}')"
			meson configure "$LAB_BUILD" -Dkernel_dir="$kdir" >/dev/null || lab_die "meson configure failed"
		fi
	fi
	lab_ninja
}

# Build quietly: one summary line when something was rebuilt, the tail of the
# log when the build fails.
lab_ninja() {
	local log=$LAB_DIR/ninja.log rc=0
	mkdir -p "$LAB_DIR"
	ninja -C "$LAB_BUILD" >"$log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 60 "$log" >&2
		lab_die "build failed (full log: ${log#"$LAB_REPO"/})"
	fi
	grep -q '^ninja: no work to do' "$log" || lab_say "built: $(grep -c '^\[' "$log") steps"
}

# The kernel before the build: fetching it may move the headers to another
# version, and the build must use the one the guest runs.
lab_setup() {
	lab_setup_packages
	lab_setup_kernel
	lab_setup_build
}
