/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xpmem.h - the XPMEM user API: export a range of this process's address
 * space and attach ranges exported by other processes, so that both access
 * the same physical pages with plain loads and stores.
 *
 * Typical use: the exporter calls xpmem_make() once and hands the segment id
 * to its peers by any means; a peer calls xpmem_get() once, then
 * xpmem_attach() on demand and xpmem_detach() when done.
 *
 * Every function returns -1 (xpmem_attach: (void *)-1) and sets errno on
 * failure.  The header is self-contained (no kernel headers) and usable from
 * C and C++.  64-bit Linux only.  See xpmem(7) and docs/library.md.
 */
#ifndef XPMEM_H
#define XPMEM_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Segment and access-permit ids; valid ids are > 0. */
typedef int64_t xpmem_segid_t;
typedef int64_t xpmem_apid_t;

/* What to attach: an access permit and an offset into its segment.  For a
 * segment made with vaddr 0 the offset is the exporter's virtual address.
 * Field order is fixed: consumers initialise it positionally. */
struct xpmem_addr {
	xpmem_apid_t apid;
	off_t offset;
};

/* Size meaning "the whole address space" for xpmem_make(); the kernel clamps
 * the segment to the top of user space. */
#define XPMEM_MAXADDR_SIZE ((size_t)-1)

/* Access flags of xpmem_get(). */
#define XPMEM_RDONLY 0x1
#define XPMEM_RDWR   0x2

/* The only permit type: the permit value is an octal mode cast to a
 * pointer, e.g. (void *)0600. */
#define XPMEM_PERMIT_MODE 0x1

/* errno when the calling process has no XPMEM context, e.g. a forked child
 * still using its parent's descriptor.  The library handles it itself by
 * reopening the device once; callers see it only if that did not help. */
#define XPMEM_ERRNO_NOPROC 2004

/* Version of the kernel interface, 0x00MMmmmm (major in bits 16-27, minor
 * in bits 0-15); always >= 0 on success. */
int xpmem_version(void);

/* Export [vaddr, vaddr + size) of the calling process (page aligned) under
 * the given permit.  Returns a new segment id; each call makes exactly one
 * segment. */
xpmem_segid_t xpmem_make(void *vaddr, size_t size, int permit_type,
			 void *permit_value);

/* Remove a segment made by the calling process.  Existing attachments stay
 * mapped and raise SIGBUS when touched. */
int xpmem_remove(xpmem_segid_t segid);

/* Obtain an access permit (XPMEM_RDONLY or XPMEM_RDWR) to a segment.  The
 * permit value is passed on but not checked against anything: callers pass
 * (void *)0666, (void *)0600 or NULL alike. */
xpmem_apid_t xpmem_get(xpmem_segid_t segid, int flags, int permit_type,
		       void *permit_value);

/* Give back an access permit obtained with xpmem_get(). */
int xpmem_release(xpmem_apid_t apid);

/* Map size bytes of the segment behind addr.apid, starting at addr.offset
 * (page aligned), into the calling process.  vaddr is a placement hint or
 * NULL.  Returns the address of the mapping. */
void *xpmem_attach(struct xpmem_addr addr, size_t size, void *vaddr);

/* Unmap the attachment that contains vaddr.  An address with no mapping at
 * all is not an error. */
int xpmem_detach(void *vaddr);

#ifdef __cplusplus
}
#endif

#endif /* XPMEM_H */
