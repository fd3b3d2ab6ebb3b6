# shellcheck shell=bash
# common.sh - paths shared by tools/mpi/build-ucx and tests/mpi/: where the
# rebuilt UCX lives and how a program is pointed at it.  Sourced after
# tools/lab/common.sh (LAB_BUILD, lab_root, lab_say...).

UCX_DIR=$LAB_BUILD/ucx             # everything build-ucx makes
UCX_PREFIX=$UCX_DIR/install        # make install goes here, never over /usr
UCX_XPMEM_ROOT=$UCX_DIR/xpmem-root # the project, installed with --destdir
MPI_BIN=$LAB_BUILD/mpi             # the suite's MPI programs (mpicc per MPI)

# What the rebuild and the MPI suite need from Debian.
UCX_BUILD_PACKAGES=(dpkg-dev autoconf automake libtool pkg-config make gcc g++
	libibverbs-dev librdmacm-dev libnuma-dev libfuse3-dev)
MPI_PACKAGES=(openmpi-bin libopenmpi-dev mpich libmpich-dev iproute2)

# The libraries a process needs to use the rebuilt UCX (and the project's
# libxpmem it links): Open MPI and MPICH load libucp.so.0 from here first.
# UCX finds its transport modules beside libucs (lib/ucx/).
ucx_library_path() {
	local xlib
	xlib=$(dirname "$(find "$UCX_XPMEM_ROOT" -name 'libxpmem.so.0' -print -quit 2>/dev/null)")
	printf '%s:%s\n' "$UCX_PREFIX/lib" "$xlib"
}

mpi_install_packages() { # PACKAGE...
	local missing=() p
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	lab_say "installing ${missing[*]}"
	lab_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 update >/dev/null ||
		lab_die "apt-get update failed"
	lab_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 \
		install --no-install-recommends "${missing[@]}" >/dev/null ||
		lab_die "apt-get install ${missing[*]} failed"
}
