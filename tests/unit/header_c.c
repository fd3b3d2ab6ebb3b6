// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * header_c.c - xpmem.h compiles on its own as strict C99 (built with
 * -pedantic-errors), pulls in no kernel header, has the layout and values
 * consumers compile against, and its prototypes link against libxpmem.
 * Layout errors fail the build; value errors fail the run.
 */
#include "xpmem.h"	/* first: nothing may come in ahead of it */

#ifdef XPMEM_IOCTL_H
#error "xpmem.h must not include the ioctl ABI header"
#endif
#if defined(_LINUX_TYPES_H) || defined(_LINUX_IOCTL_H)
#error "xpmem.h must not include kernel headers"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* C99 has no _Static_assert: a negative array size fails instead. */
#define CHECK(name, cond) typedef char check_##name[(cond) ? 1 : -1]

CHECK(addr_size, sizeof(struct xpmem_addr) == 16);
CHECK(addr_apid, offsetof(struct xpmem_addr, apid) == 0);
CHECK(addr_offset, offsetof(struct xpmem_addr, offset) == 8);
CHECK(segid_size, sizeof(xpmem_segid_t) == 8);
CHECK(apid_size, sizeof(xpmem_apid_t) == 8);
CHECK(segid_signed, (xpmem_segid_t)-1 < 0);
CHECK(apid_signed, (xpmem_apid_t)-1 < 0);

/* Each prototype, with the exact type consumers take its address as. */
static int (*const p_version)(void) = xpmem_version;
static xpmem_segid_t (*const p_make)(void *, size_t, int, void *) = xpmem_make;
static int (*const p_remove)(xpmem_segid_t) = xpmem_remove;
static xpmem_apid_t (*const p_get)(xpmem_segid_t, int, int, void *) = xpmem_get;
static int (*const p_release)(xpmem_apid_t) = xpmem_release;
static void *(*const p_attach)(struct xpmem_addr, size_t, void *) = xpmem_attach;
static int (*const p_detach)(void *) = xpmem_detach;

static int failures;

static void expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", what);
		failures++;
	}
}

int main(void)
{
	/* Positional initialisation, as consumers write it. */
	struct xpmem_addr a = { 5, 4096 };

	expect(a.apid == 5 && a.offset == 4096, "xpmem_addr field order");
	expect(XPMEM_MAXADDR_SIZE == SIZE_MAX, "XPMEM_MAXADDR_SIZE");
	expect(XPMEM_RDONLY == 0x1, "XPMEM_RDONLY");
	expect(XPMEM_RDWR == 0x2, "XPMEM_RDWR");
	expect(XPMEM_PERMIT_MODE == 0x1, "XPMEM_PERMIT_MODE");
	expect(XPMEM_ERRNO_NOPROC == 2004, "XPMEM_ERRNO_NOPROC");
	expect(p_version && p_make && p_remove && p_get && p_release &&
	       p_attach && p_detach, "function addresses");
	return failures ? 1 : 0;
}
