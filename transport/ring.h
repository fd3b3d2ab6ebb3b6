/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * ring.h - single-producer/single-consumer message ring in shared memory.
 *
 * The shared part is struct xp_ring_ctrl (head, tail: free-running u32
 * indexes, each in its own cache line) and the slots after it.  Each side
 * keeps its own index and a cached copy of the other's in local memory
 * (struct xp_ring_prod / xp_ring_cons): it never re-reads its own index from
 * shared memory, and it validates the other side's index before use, since
 * a rogue or corrupted peer can write anything there.
 *
 * Not thread-safe on either side: one producer and one consumer context
 * per ring (the callers serialise, e.g. a per-peer lock or thread).
 */
#ifndef XP_RING_H
#define XP_RING_H

#include "xp_port.h"
#include "region.h"
#include "msg.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xp_ring_prod {
	struct xp_ring_ctrl *ctrl;
	u8 *slots;
	u32 mask;		/* nslots - 1 */
	u32 nslots;
	u32 head;		/* next slot to fill (ours) */
	u32 tail_cache;		/* consumer's tail as last read */
};

struct xp_ring_cons {
	struct xp_ring_ctrl *ctrl;
	u8 *slots;
	u32 mask;
	u32 nslots;
	u32 tail;		/* next slot to read (ours) */
	u32 head_cache;		/* producer's head as last read */
};

/*
 * Attach to ring (src,dst) of a region.  The producer resumes from the
 * shared head (a corrupt head/tail pair is reset to empty); the consumer
 * discards whatever was pending (messages of an earlier incarnation) by
 * starting at the head.  Call on (re)join only.
 */
void xp_ring_prod_init(struct xp_ring_prod *p, const struct xp_region *r,
		       u32 src, u32 dst);
void xp_ring_cons_init(struct xp_ring_cons *c, const struct xp_region *r,
		       u32 src, u32 dst);

/*
 * Copy a sealed message (header + h.len payload bytes) into the next slot
 * and publish it.  0, -EAGAIN when full, -EPROTO when the consumer's tail
 * is impossible (the peer is misbehaving: fence it).
 */
int xp_ring_push(struct xp_ring_prod *p, const struct xp_msg *m);

/*
 * Batched form: xp_ring_reserve returns a slot to fill in place (NULL with
 * *err = -EAGAIN/-EPROTO), xp_ring_publish makes every reserved slot
 * visible at once with one release store.
 */
struct xp_msg *xp_ring_reserve(struct xp_ring_prod *p, u32 *pending, int *err);
void xp_ring_publish(struct xp_ring_prod *p, u32 pending);

/*
 * Copy the next message out into @m (a private copy: validate it with
 * xp_msg_check) and free the slot.  1 when a message was copied, 0 when
 * empty, -EPROTO when the producer's head is impossible.
 */
int xp_ring_pop(struct xp_ring_cons *c, struct xp_msg *m);

/* Messages visible to the consumer (refreshes head; -EPROTO as above). */
int xp_ring_pending(struct xp_ring_cons *c);

#ifdef __cplusplus
}
#endif

#endif /* XP_RING_H */
