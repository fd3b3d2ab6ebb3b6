// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * api.c - the seven functions of xpmem.h.  Each one fills the ioctl
 * argument of docs/abi.md, issues exactly one command (plus at most one
 * retry after XPMEM_ERRNO_NOPROC, see device.c) and returns the kernel's
 * result.  Arguments are not checked here: the module is the authority and
 * reports EINVAL itself, so both sides cannot disagree.
 */
#include <stdint.h>
#include <stddef.h>

#include "xpmem.h"
#include "xpmem_ioctl.h"
#include "xpmem_internal.h"
#include "abi_layout.h"

XPMEM_EXPORT int xpmem_version(void)
{
	return xpmem_dev_ioctl(XPMEM_CMD_VERSION, NULL, NULL);
}

XPMEM_EXPORT xpmem_segid_t xpmem_make(void *vaddr, size_t size,
				      int permit_type, void *permit_value)
{
	struct xpmem_cmd_make cmd = {
		.vaddr = (uintptr_t)vaddr,
		.size = size,
		.permit_type = permit_type,
		.permit_value = (uintptr_t)permit_value,
	};

	if (xpmem_dev_ioctl(XPMEM_CMD_MAKE, &cmd, NULL) < 0)
		return -1;
	return cmd.segid;
}

XPMEM_EXPORT int xpmem_remove(xpmem_segid_t segid)
{
	struct xpmem_cmd_remove cmd = { .segid = segid };

	return xpmem_dev_ioctl(XPMEM_CMD_REMOVE, &cmd, NULL) < 0 ? -1 : 0;
}

/* The permit value is not sent: consumers pass 0666, 0600 or NULL for the
 * same meaning, our module ignores it, and the other XPMEM modules refuse
 * anything but NULL with EINVAL (their libraries always send NULL), so this
 * library works over any of them only by sending NULL too. */
XPMEM_EXPORT xpmem_apid_t xpmem_get(xpmem_segid_t segid, int flags,
				    int permit_type, void *permit_value)
{
	struct xpmem_cmd_get cmd = {
		.segid = segid,
		.flags = flags,
		.permit_type = permit_type,
		.permit_value = 0,
	};

	(void)permit_value;

	if (xpmem_dev_ioctl(XPMEM_CMD_GET, &cmd, NULL) < 0)
		return -1;
	return cmd.apid;
}

XPMEM_EXPORT int xpmem_release(xpmem_apid_t apid)
{
	struct xpmem_cmd_release cmd = { .apid = apid };

	return xpmem_dev_ioctl(XPMEM_CMD_RELEASE, &cmd, NULL) < 0 ? -1 : 0;
}

/* The kernel maps the attachment through the device file, so the argument
 * carries our descriptor (filled in by xpmem_dev_ioctl). */
XPMEM_EXPORT void *xpmem_attach(struct xpmem_addr addr, size_t size,
				void *vaddr)
{
	struct xpmem_cmd_attach cmd = {
		.apid = addr.apid,
		.offset = addr.offset,
		.size = size,
		.vaddr = (uintptr_t)vaddr,
		.flags = 0,
	};

	if (xpmem_dev_ioctl(XPMEM_CMD_ATTACH, &cmd, &cmd.fd) < 0)
		return (void *)-1;
	return (void *)(uintptr_t)cmd.vaddr;
}

XPMEM_EXPORT int xpmem_detach(void *vaddr)
{
	struct xpmem_cmd_detach cmd = { .vaddr = (uintptr_t)vaddr };

	return xpmem_dev_ioctl(XPMEM_CMD_DETACH, &cmd, NULL) < 0 ? -1 : 0;
}
