/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * doorbell.h - how the transport interrupts a peer, supplied by its user.
 *
 * A doorbell is only a hint (docs/design.md, "Membership"): the receiver
 * rescans its rings when woken, and a periodic rescan recovers lost
 * doorbells, so ring() may drop.  Implementations:
 *   kernel   ivshmem-doorbell BAR0: writel(peer << 16 | vector, bar0 + 12);
 *            wait = the per-peer thread's waitqueue (done by the module).
 *   host     eventfds (transport/host/doorbell_eventfd.c) or futexes on a
 *            word in shared memory (tests, benchmarks, fabricd).
 */
#ifndef XP_DOORBELL_H
#define XP_DOORBELL_H

#include "xp_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Vectors the transport uses (ivshmem: MSI-X vector numbers). */
enum xp_vector {
	XP_VEC_MSG = 0,		/* a message or completion is waiting */
	XP_VEC_NR
};

struct xp_doorbell_ops {
	/* Interrupt partition @peer on @vector. Must not sleep. 0/-errno. */
	int (*ring)(void *ctx, u32 peer, u32 vector);
	/*
	 * Optional: sleep until our own doorbell rang or @deadline_ns
	 * (xp_clock_ns time) passed.  0 when woken, -ETIMEDOUT, -EINTR.
	 * NULL: callers spin/poll instead.
	 */
	int (*wait)(void *ctx, u64 deadline_ns);
};

struct xp_doorbell {
	const struct xp_doorbell_ops *ops;
	void *ctx;
};

static inline int xp_doorbell_ring(const struct xp_doorbell *d, u32 peer,
				   u32 vector)
{
	return (d && d->ops && d->ops->ring) ? d->ops->ring(d->ctx, peer, vector)
					     : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* XP_DOORBELL_H */
