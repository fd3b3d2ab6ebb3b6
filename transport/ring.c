// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * ring.c - the SPSC ring.
 *
 * Ordering (the only two synchronising accesses are the index stores):
 *
 *  producer                              consumer
 *  --------                              --------
 *  t = load_acquire(tail)     (A1)       h = load_acquire(head)      (B1)
 *  write slot[head]                      copy slot[tail] out
 *  store_release(head, +1)    (A2)       store_release(tail, +1)     (B2)
 *
 *  A2 -> B1: the release of head orders the slot writes before it, the
 *  acquire of head orders the consumer's slot reads after it: the consumer
 *  never reads a slot before its contents are visible.
 *  B2 -> A1: the release of tail orders the consumer's reads of a slot
 *  before the tail moves; the acquire in the producer orders its rewrite of
 *  that slot after it: a slot is never overwritten while being copied out.
 *
 * Both sides cache the other's index and reload it only when the cached
 * value says full (producer) or empty (consumer), so in steady state each
 * cache line of control data crosses between CPUs once per batch, not once
 * per message.  Free-running u32 indexes: head - tail is the fill level
 * modulo 2^32, valid whenever it is <= nslots (nslots <= 65536).
 */
#include "ring.h"

#define XP_RING_TAIL_BATCH	16u

static void ring_geom(const struct xp_region *r, u32 src, u32 dst,
		      struct xp_ring_ctrl **ctrl, u8 **slots, u32 *n)
{
	*ctrl = xp_region_ring(r, src, dst);
	*slots = (u8 *)*ctrl + XP_RING_CTRL_SIZE;
	*n = r->l.ring_slots;
}

void xp_ring_prod_init(struct xp_ring_prod *p, const struct xp_region *r,
		       u32 src, u32 dst)
{
	u32 head, tail;

	ring_geom(r, src, dst, &p->ctrl, &p->slots, &p->nslots);
	p->mask = p->nslots - 1;
	head = xp_read_once(p->ctrl->head);
	tail = xp_load_acquire(&p->ctrl->tail);
	if (head - tail > p->nslots) {
		/* Garbage from a dead incarnation: restart empty. */
		head = tail;
		xp_store_release(&p->ctrl->head, head);
	}
	p->head = head;
	p->tail_cache = tail;
}

void xp_ring_cons_init(struct xp_ring_cons *c, const struct xp_region *r,
		       u32 src, u32 dst)
{
	u32 head;

	ring_geom(r, src, dst, &c->ctrl, &c->slots, &c->nslots);
	c->mask = c->nslots - 1;
	head = xp_load_acquire(&c->ctrl->head);
	c->tail = head;
	c->head_cache = head;
	/* Release: the producer may reuse every slot we skipped. */
	xp_store_release(&c->ctrl->tail, head);
}

/* Room for one more message? 0, -EAGAIN or -EPROTO. */
static int prod_room(struct xp_ring_prod *p, u32 extra)
{
	u32 used = p->head + extra - p->tail_cache;

	if (used < p->nslots)
		return 0;
	/* A1: pairs with the consumer's release of tail (B2). */
	p->tail_cache = xp_load_acquire(&p->ctrl->tail);
	used = p->head + extra - p->tail_cache;
	if (used > p->nslots)	/* tail ahead of head, or behind by > n */
		return -EPROTO;
	return used == p->nslots ? -EAGAIN : 0;
}

int xp_ring_push(struct xp_ring_prod *p, const struct xp_msg *m)
{
	u32 len = m->h.len;
	int err;

	if (len > XP_MSG_MAX_PAYLOAD)
		return -EINVAL;
	err = prod_room(p, 0);
	if (err)
		return err;
	xp_memcpy(p->slots + (u64)(p->head & p->mask) * XP_SLOT_SIZE, m,
		  XP_MSG_HDR_SIZE + len);
	p->head++;
	/* A2: slot contents before the new head (pairs with B1). */
	xp_store_release(&p->ctrl->head, p->head);
	return 0;
}

struct xp_msg *xp_ring_reserve(struct xp_ring_prod *p, u32 *pending, int *err)
{
	u32 idx;

	*err = prod_room(p, *pending);
	if (*err)
		return NULL;
	idx = (p->head + *pending) & p->mask;
	(*pending)++;
	return (struct xp_msg *)(p->slots + (u64)idx * XP_SLOT_SIZE);
}

void xp_ring_publish(struct xp_ring_prod *p, u32 pending)
{
	if (!pending)
		return;
	p->head += pending;
	/* A2 for the whole batch. */
	xp_store_release(&p->ctrl->head, p->head);
}

int xp_ring_pending(struct xp_ring_cons *c)
{
	u32 avail;

	/* B1: pairs with the producer's release of head (A2). */
	c->head_cache = xp_load_acquire(&c->ctrl->head);
	avail = c->head_cache - c->tail;
	if (avail > c->nslots)
		return -EPROTO;
	return (int)avail;
}

int xp_ring_pop(struct xp_ring_cons *c, struct xp_msg *m)
{
	const u8 *slot;
	u32 len;

	if (c->head_cache == c->tail) {
		int n = xp_ring_pending(c);

		if (n <= 0)
			return n;
	} else if (c->head_cache - c->tail > c->nslots) {
		return -EPROTO;
	}
	slot = c->slots + (u64)(c->tail & c->mask) * XP_SLOT_SIZE;
	xp_memcpy(&m->h, slot, XP_MSG_HDR_SIZE);
	/*
	 * The length came from the peer: clamp it to the slot, copy from the
	 * private header only (the slot may change under us; xp_msg_check
	 * then finds a bad length or checksum, never an overrun).
	 */
	len = m->h.len;
	if (len > XP_MSG_MAX_PAYLOAD)
		len = XP_MSG_MAX_PAYLOAD;
	xp_memcpy(m->u.raw, slot + XP_MSG_HDR_SIZE, len);
	if (len < XP_MSG_MAX_PAYLOAD)
		xp_memset(m->u.raw + len, 0, XP_MSG_MAX_PAYLOAD - len);
	c->tail++;
	/*
	 * B2: our reads of the slot before the producer may reuse it.
	 * Published every XP_RING_TAIL_BATCH messages and whenever we caught
	 * up with the head we know of, so an idle ring always shows its true
	 * tail and a busy one moves the tail's cache line 1/BATCH as often.
	 */
	if (c->tail == c->head_cache || !(c->tail & (XP_RING_TAIL_BATCH - 1)))
		xp_store_release(&c->ctrl->tail, c->tail);
	return 1;
}
