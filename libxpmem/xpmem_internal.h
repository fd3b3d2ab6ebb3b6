/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xpmem_internal.h - what the library's files share and nobody else sees.
 *
 * The library is built with -fvisibility=hidden: only definitions marked
 * XPMEM_EXPORT reach the dynamic symbol table, and libxpmem.map then gives
 * each of them its version node.
 */
#ifndef XPMEM_INTERNAL_H
#define XPMEM_INTERNAL_H

#include <stdint.h>

#define XPMEM_EXPORT __attribute__((visibility("default")))

/*
 * Issue one ioctl on the device, opening it on first use.  If the kernel
 * answers XPMEM_ERRNO_NOPROC (the process has no context: a forked child on
 * its parent's descriptor), reopen the device once and issue it once more.
 * fd_field, if not NULL, receives the descriptor used, before each attempt
 * (ATTACH carries it in its argument).  Returns the ioctl's value, or -1
 * with errno set.
 */
int xpmem_dev_ioctl(unsigned int cmd, void *arg, int32_t *fd_field);

/* Open the device if it is not open yet: 0, or -1 with errno set. */
int xpmem_dev_open(void);

/* Exported for compatibility, not declared in xpmem.h. */
XPMEM_EXPORT int xpmem_init(void);
XPMEM_EXPORT int xpmem_ioctl(int cmd, void *arg);

#endif /* XPMEM_INTERNAL_H */
