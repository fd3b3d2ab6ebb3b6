/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doorbell_host.h - user-space doorbells for partitions simulated by host
 * processes (tests, benchmarks) and for fabricd's clients.
 *
 * Both kinds are counters: ring() adds one, wait() returns as soon as the
 * counter moved since the previous wait (or the deadline passed), so a ring
 * that lands between a caller's last check and its wait is never lost.
 *   eventfd  one eventfd per partition (created before fork, or passed over
 *            a UNIX socket as fabricd does); wait = poll + read.
 *   futex    one u32 per partition in shared memory; wait = FUTEX_WAIT.
 */
#ifndef XP_DOORBELL_HOST_H
#define XP_DOORBELL_HOST_H

#include "../doorbell.h"
#include "../region.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xp_efd_doorbell {
	u32 self;
	u32 nparts;
	int fds[XP_MAX_PARTS];	/* fds[p]: partition p's eventfd (-1: none) */
};

struct xp_futex_doorbell {
	u32 self;
	u32 nparts;
	u32 *words;		/* nparts words in shared memory */
	u32 seen;		/* our word's value at the last wait */
};

extern const struct xp_doorbell_ops xp_efd_doorbell_ops;
extern const struct xp_doorbell_ops xp_futex_doorbell_ops;

/* Creates nparts eventfds (non-blocking, close-on-exec). 0 or -errno. */
int xp_efd_doorbell_create(struct xp_efd_doorbell *d, u32 nparts);
void xp_efd_doorbell_close(struct xp_efd_doorbell *d);

#ifdef __cplusplus
}
#endif

#endif /* XP_DOORBELL_HOST_H */
