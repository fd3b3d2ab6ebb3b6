/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * abi_layout.h - compile-time proof that the ioctl header and the public
 * header agree with the byte layouts the existing modules and libraries use
 * (docs/abi.md).  A change that moves any field fails the build here.
 */
#ifndef XPMEM_ABI_LAYOUT_H
#define XPMEM_ABI_LAYOUT_H

#include <stddef.h>
#include <sys/types.h>

#include "xpmem.h"
#include "xpmem_ioctl.h"

#define XPMEM_ASSERT_AT(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), \
		       #type "." #field " must be at byte " #off)
#define XPMEM_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), \
		       #type " must be " #size " bytes")

_Static_assert(sizeof(void *) == 8 && sizeof(off_t) == 8,
	       "the XPMEM ABI is defined for 64-bit user space only");

XPMEM_ASSERT_SIZE(xpmem_addr, 16);
XPMEM_ASSERT_AT(xpmem_addr, apid, 0);
XPMEM_ASSERT_AT(xpmem_addr, offset, 8);

XPMEM_ASSERT_SIZE(xpmem_cmd_make, 40);
XPMEM_ASSERT_AT(xpmem_cmd_make, vaddr, 0);
XPMEM_ASSERT_AT(xpmem_cmd_make, size, 8);
XPMEM_ASSERT_AT(xpmem_cmd_make, permit_type, 16);
XPMEM_ASSERT_AT(xpmem_cmd_make, permit_value, 24);
XPMEM_ASSERT_AT(xpmem_cmd_make, segid, 32);

XPMEM_ASSERT_SIZE(xpmem_cmd_remove, 8);
XPMEM_ASSERT_SIZE(xpmem_cmd_release, 8);
XPMEM_ASSERT_SIZE(xpmem_cmd_detach, 8);

XPMEM_ASSERT_SIZE(xpmem_cmd_get, 32);
XPMEM_ASSERT_AT(xpmem_cmd_get, segid, 0);
XPMEM_ASSERT_AT(xpmem_cmd_get, flags, 8);
XPMEM_ASSERT_AT(xpmem_cmd_get, permit_type, 12);
XPMEM_ASSERT_AT(xpmem_cmd_get, permit_value, 16);
XPMEM_ASSERT_AT(xpmem_cmd_get, apid, 24);

XPMEM_ASSERT_SIZE(xpmem_cmd_attach, 40);
XPMEM_ASSERT_AT(xpmem_cmd_attach, apid, 0);
XPMEM_ASSERT_AT(xpmem_cmd_attach, offset, 8);
XPMEM_ASSERT_AT(xpmem_cmd_attach, size, 16);
XPMEM_ASSERT_AT(xpmem_cmd_attach, vaddr, 24);
XPMEM_ASSERT_AT(xpmem_cmd_attach, fd, 32);
XPMEM_ASSERT_AT(xpmem_cmd_attach, flags, 36);

/* The upstream command numbers never change. */
_Static_assert(XPMEM_CMD_VERSION == 0x7800 && XPMEM_CMD_MAKE == 0x7801 &&
	       XPMEM_CMD_REMOVE == 0x7802 && XPMEM_CMD_GET == 0x7803 &&
	       XPMEM_CMD_RELEASE == 0x7804 && XPMEM_CMD_ATTACH == 0x7805 &&
	       XPMEM_CMD_DETACH == 0x7806, "upstream ioctl numbers");

/* The public constants are passed to the kernel unchanged. */
_Static_assert(XPMEM_RDONLY == XPMEM_IOC_RDONLY &&
	       XPMEM_RDWR == XPMEM_IOC_RDWR &&
	       XPMEM_PERMIT_MODE == XPMEM_IOC_PERMIT_MODE,
	       "xpmem.h and xpmem_ioctl.h disagree");

#endif /* XPMEM_ABI_LAYOUT_H */
