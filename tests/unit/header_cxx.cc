// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * header_cxx.cc - xpmem.h compiles on its own as C++11 and declares the
 * functions with C linkage: taking their addresses links against libxpmem
 * only if the names are not mangled.
 */
#include "xpmem.h"	/* first: nothing may come in ahead of it */

#ifdef XPMEM_IOCTL_H
#error "xpmem.h must not include the ioctl ABI header"
#endif
#if defined(_LINUX_TYPES_H) || defined(_LINUX_IOCTL_H)
#error "xpmem.h must not include kernel headers"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <type_traits>

static_assert(sizeof(xpmem_addr) == 16, "struct xpmem_addr is 16 bytes");
static_assert(offsetof(xpmem_addr, apid) == 0, "apid at 0");
static_assert(offsetof(xpmem_addr, offset) == 8, "offset at 8");
static_assert(std::is_same<xpmem_segid_t, std::int64_t>::value, "segid is s64");
static_assert(std::is_same<xpmem_apid_t, std::int64_t>::value, "apid is s64");
static_assert(std::is_standard_layout<xpmem_addr>::value, "plain struct");
static_assert(XPMEM_MAXADDR_SIZE == SIZE_MAX, "whole address space");
static_assert(XPMEM_RDONLY == 0x1 && XPMEM_RDWR == 0x2, "access flags");
static_assert(XPMEM_PERMIT_MODE == 0x1, "permit type");
static_assert(XPMEM_ERRNO_NOPROC == 2004, "no-context errno");

static_assert(std::is_same<decltype(&xpmem_make),
			   xpmem_segid_t (*)(void *, std::size_t, int, void *)>::value,
	      "xpmem_make prototype");
static_assert(std::is_same<decltype(&xpmem_get),
			   xpmem_apid_t (*)(xpmem_segid_t, int, int, void *)>::value,
	      "xpmem_get prototype");
static_assert(std::is_same<decltype(&xpmem_attach),
			   void *(*)(xpmem_addr, std::size_t, void *)>::value,
	      "xpmem_attach prototype");

int main()
{
	/* volatile: keep the references, so the link proves C linkage. */
	void *volatile fns[] = {
		reinterpret_cast<void *>(&xpmem_version),
		reinterpret_cast<void *>(&xpmem_make),
		reinterpret_cast<void *>(&xpmem_remove),
		reinterpret_cast<void *>(&xpmem_get),
		reinterpret_cast<void *>(&xpmem_release),
		reinterpret_cast<void *>(&xpmem_attach),
		reinterpret_cast<void *>(&xpmem_detach),
	};
	int failures = 0;
	for (void *fn : fns) {
		if (!fn)
			failures++;
	}
	const xpmem_addr a = {5, 4096};
	if (a.apid != 5 || a.offset != 4096)
		failures++;
	if (failures)
		std::fprintf(stderr, "FAIL: %d header checks\n", failures);
	return failures ? 1 : 0;
}
