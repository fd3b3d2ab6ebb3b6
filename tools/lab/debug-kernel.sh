# shellcheck shell=bash
# debug-kernel.sh - the lab's second kernel: Debian's linux-source-6.1 of the
# same version as the stock image, built once with KASAN, lockdep, DEBUG_LIST,
# DEBUG_OBJECTS, DEBUG_ATOMIC_SLEEP, kmemleak and KFENCE (debug-kernel.config),
# and the module built against it.  Sourced by tools/xpmem-lab after
# common.sh and setup.sh.
#
# Everything lives under build/debug-kernel/ (it survives `xpmem-lab clean`
# of build/lab and is reused by every later run):
#   src/linux-source-6.1/   the unpacked source
#   obj/                    the O= build: .config, vmlinux, Module.symvers,
#                           the generated headers: the tree the module is
#                           built against (make -C obj M=...)
#   root/                   laid out as the stock image package is unpacked:
#                           boot/vmlinuz-VER, lib/modules/VER/modules.*
#   kmod/xpmem.ko           the module, built against obj/
#   build.log, build.time   the last kernel build and how long it took
# A rebuild happens only when the config fragment or the source version
# changes (root/config.stamp records both).

DK_DIR=$LAB_BUILD/debug-kernel
DK_OBJ=$DK_DIR/obj
DK_ROOT=$DK_DIR/root
DK_MODULE=$DK_DIR/kmod/xpmem.ko
DK_FRAGMENT=$LAB_REPO/tools/lab/debug-kernel.config
DK_PACKAGES=(flex bison libelf-dev libssl-dev bc xz-utils)

# The stock image's upstream version, e.g. 6.1.192-3: the source package
# must be the same Debian version as the headers the stock lab builds against.
dk_debian_version() {
	local ver
	ver=$(lab_kernel_version) || return 1
	dpkg-query -W -f='${Version}' "linux-headers-$ver" 2>/dev/null
}

dk_release() { # the kernel release of the configured tree
	make -s -C "$DK_OBJ" kernelrelease 2>/dev/null
}

dk_stamp() { # what the built kernel was made from
	printf '%s %s\n' "$(dk_debian_version)" "$(md5sum <"$DK_FRAGMENT" | cut -d' ' -f1)"
}

dk_built() {
	[ -f "$DK_ROOT/config.stamp" ] && [ "$(cat "$DK_ROOT/config.stamp")" = "$(dk_stamp)" ] &&
		[ -f "$DK_OBJ/Module.symvers" ]
}

dk_setup_source() {
	local pkgver src
	pkgver=$(dk_debian_version) || lab_die "cannot tell the stock kernel's Debian version"
	local missing=() p
	lab_installed linux-source-6.1 && [ "$(dpkg-query -W -f='${Version}' linux-source-6.1)" = "$pkgver" ] ||
		missing+=("linux-source-6.1=$pkgver")
	for p in "${DK_PACKAGES[@]}"; do lab_installed "$p" || missing+=("$p"); done
	if [ ${#missing[@]} -gt 0 ]; then
		lab_say "installing ${missing[*]}"
		lab_apt update >/dev/null 2>&1
		lab_apt install --no-install-recommends "${missing[@]}" >/dev/null ||
			lab_die "apt-get install ${missing[*]} failed"
	fi
	src=$DK_DIR/src/linux-source-6.1
	if [ ! -f "$src/.unpacked-$pkgver" ]; then
		lab_say "unpacking linux-source-6.1 ($pkgver)"
		rm -rf "$DK_DIR/src"
		mkdir -p "$DK_DIR/src"
		tar -C "$DK_DIR/src" -xf /usr/src/linux-source-6.1.tar.xz || lab_die "cannot unpack the kernel source"
		touch "$src/.unpacked-$pkgver"
	fi
}

# The option lines of the fragment the final .config must match: a Kconfig
# dependency that silently drops one would leave a detector out.
dk_check_config() {
	local line name want got bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) name=${line%%=*} want=$line ;;
		"# CONFIG_"*" is not set") name=${line#\# } name=${name%% *} want="" ;;
		*) continue ;;
		esac
		got=$(grep -E "^$name=" "$DK_OBJ/.config" || true)
		if [ "$got" != "$want" ]; then
			lab_say "debug kernel config: wanted '${want:-$name off}', got '${got:-$name off}'"
			bad=1
		fi
	done <"$DK_FRAGMENT"
	[ $bad = 0 ] || lab_die "the debug kernel's config does not match tools/lab/debug-kernel.config"
}

dk_configure() {
	local src=$DK_DIR/src/linux-source-6.1 log=$DK_DIR/build.log
	mkdir -p "$DK_OBJ"
	# allnoconfig with both fragments forced (merge_config.sh -n): what
	# neither names nor selects stays off.
	(cd "$src" && ./scripts/kconfig/merge_config.sh -n -O "$DK_OBJ" \
		kernel/configs/kvm_guest.config "$DK_FRAGMENT") >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; lab_die "configuring the debug kernel failed"; }
	dk_check_config
}

# bzImage and the (few) modules; the tree is then what the module builds
# against.  XPMEM_DK_JOBS: make's -j (default: the number of CPUs).
dk_make() {
	local src=$DK_DIR/src/linux-source-6.1 log=$DK_DIR/build.log
	# nice: the build runs for many minutes beside other work (labs, CI).
	nice -n 19 make -C "$src" O="$DK_OBJ" -j"${XPMEM_DK_JOBS:-$(nproc)}" bzImage modules >>"$log" 2>&1 ||
		{ tail -n 40 "$log" >&2; lab_die "the debug kernel build failed (log: ${log#"$LAB_REPO"/})"; }
}

# Lays the kernel out as the stock image package unpacks (root/boot,
# root/lib/modules/REL), so that the lab boots either the same way.
dk_install() {
	local src=$DK_DIR/src/linux-source-6.1 rel log=$DK_DIR/build.log
	rel=$(dk_release) || lab_die "cannot tell the debug kernel's release"
	rm -rf "$DK_ROOT"
	mkdir -p "$DK_ROOT/boot"
	cp "$DK_OBJ/arch/x86/boot/bzImage" "$DK_ROOT/boot/vmlinuz-$rel"
	cp "$DK_OBJ/.config" "$DK_ROOT/boot/config-$rel"
	make -C "$src" O="$DK_OBJ" INSTALL_MOD_PATH="$DK_ROOT" INSTALL_MOD_STRIP=1 \
		DEPMOD=/bin/true modules_install >>"$log" 2>&1 || lab_die "modules_install failed"
	busybox depmod -b "$DK_ROOT" "$rel" || lab_die "depmod failed"
	dk_stamp >"$DK_ROOT/config.stamp"
}

dk_build_kernel() {
	local start end
	start=$(date +%s)
	lab_say "building the debug kernel (~13 min on 2 idle cores, far longer on a busy machine; log: ${DK_DIR#"$LAB_REPO"/}/build.log)"
	dk_configure
	dk_make
	end=$(date +%s)
	dk_install
	printf '%s s, make -j%s, finished %s, load %s\n' $((end - start)) "${XPMEM_DK_JOBS:-$(nproc)}" \
		"$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$DK_DIR/build.time"
	lab_say "debug kernel $(dk_release) built in $(((end - start) / 60)) min $(((end - start) % 60)) s"
}

# The module against the debug tree, rebuilt when a source is newer.
dk_build_module() {
	local f newer=0
	if [ -f "$DK_MODULE" ]; then
		for f in "$LAB_REPO"/kmod/*.[ch] "$LAB_REPO"/kmod/uapi/*.h "$LAB_REPO"/kmod/Kbuild \
			"$LAB_REPO"/transport/*.[ch] "$DK_OBJ/Module.symvers"; do
			[ "$f" -nt "$DK_MODULE" ] && { newer=1; break; }
		done
		[ $newer = 0 ] && return 0
	fi
	mkdir -p "$DK_DIR/kmod"
	"$LAB_REPO/kmod/build-module.sh" "$DK_OBJ" "$LAB_REPO/kmod" "$DK_DIR/kmod" >"$DK_DIR/kmod/build.log" 2>&1 || {
		tail -n 40 "$DK_DIR/kmod/build.log" >&2
		lab_die "building xpmem.ko against the debug kernel failed"
	}
}

# One builder at a time: two makes in one O= tree delete each other's
# half-written objects (seen here: an interrupted setup's make went on
# beside a new one and both failed).  The lock is held for the whole
# build; whoever waited finds the kernel built.
lab_setup_debug_kernel() {
	local fd
	mkdir -p "$DK_DIR"
	exec {fd}>"$DK_DIR/build.lock"
	if ! flock -n "$fd"; then
		lab_say "another debug kernel build holds ${DK_DIR#"$LAB_REPO"/}/build.lock; waiting for it"
		flock -w 14400 "$fd" || lab_die "the other debug kernel build did not finish within 4 hours"
	fi
	if ! dk_built; then
		dk_setup_source
		dk_build_kernel
	fi
	dk_build_module
	exec {fd}>&-
}
