// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * chan.c - per-peer channel and request/completion round trip.
 *
 * Completion word ordering: the completer stores its epoch, then the seq
 * with release; the waiter loads the seq with acquire, then the epoch.  A
 * waiter that sees the new seq therefore sees the epoch stored with it (or
 * a later one, which then fails the incarnation check: safe side).
 */
#include "chan.h"

void xp_chan_init(struct xp_chan *ch, struct xp_member *m, u32 peer,
		  const struct xp_doorbell *db)
{
	const struct xp_region *r = m->r;

	xp_memset(ch, 0, sizeof(*ch));
	ch->m = m;
	ch->db = db;
	ch->peer = peer;
	xp_ring_prod_init(&ch->tx, r, m->cfg.self, peer);
	xp_ring_cons_init(&ch->rx, r, peer, m->cfg.self);
	ch->comp_out = xp_region_comp(r, m->cfg.self, peer);
	ch->comp_in = xp_region_comp(r, peer, m->cfg.self);
}

static void ring_error(struct xp_chan *ch, u64 now)
{
	ch->ring_errors++;
	ch->stats.rejected[XP_REJ_RING]++;
	xp_member_fence(ch->m, ch->peer, xp_member_peer_epoch(ch->m, ch->peer),
			XP_R_PROTOCOL, now);
}

int xp_chan_send(struct xp_chan *ch, struct xp_msg *msg, u32 type, u64 now)
{
	struct xp_member *m = ch->m;
	int err;

	/* JOIN goes out through the member's send callback, never here. */
	if (!xp_member_peer_live(m, ch->peer))
		return -ESRCH;
	err = xp_msg_seal(msg, type, m->cfg.self, ch->peer, m->epoch,
			  xp_member_peer_epoch(m, ch->peer),
			  xp_member_next_seq(m));
	if (err)
		return err;
	if (ch->corrupt_next && msg->h.len) {
		/* A copy, after the checksum: the receiver must drop it. */
		struct xp_msg bad = *msg;

		ch->corrupt_next--;
		bad.u.raw[0] ^= 0x5a;
		err = xp_ring_push(&ch->tx, &bad);
	} else {
		err = xp_ring_push(&ch->tx, msg);
	}
	if (err == -EPROTO)
		ring_error(ch, now);
	if (err)
		return err;
	if (!ch->hold_doorbell)
		xp_chan_ring(ch);
	return 0;
}

void xp_chan_ring(struct xp_chan *ch)
{
	xp_doorbell_ring(ch->db, ch->peer, XP_VEC_MSG);
}

void xp_chan_complete(struct xp_chan *ch, u64 seq)
{
	/* Cumulative word: never move it backwards. */
	if (seq > ch->completed || (seq >> 32) != (ch->completed >> 32)) {
		ch->completed = seq;
		xp_write_once(ch->comp_out->epoch, ch->m->epoch);
		/* Release: the epoch (and the work done) before the seq. */
		xp_store_release(&ch->comp_out->seq, seq);
	}
	xp_doorbell_ring(ch->db, ch->peer, XP_VEC_MSG);
}

int xp_chan_done(struct xp_chan *ch, u64 seq)
{
	u64 got = xp_load_acquire(&ch->comp_in->seq);
	u32 ep = xp_read_once(ch->comp_in->epoch);

	if ((got >> 32) != (seq >> 32) || got < seq)
		return 0;
	/* A completion from an incarnation we no longer talk to: ignored. */
	return ep == xp_member_peer_epoch(ch->m, ch->peer) &&
	       xp_member_peer_live(ch->m, ch->peer);
}

int xp_chan_poll(struct xp_chan *ch, u64 now, u32 budget, xp_chan_handler h,
		 void *ctx)
{
	struct xp_msg msg;
	u32 n;

	for (n = 0; n < budget; n++) {
		int r = xp_ring_pop(&ch->rx, &msg);

		if (r < 0) {
			ring_error(ch, now);
			return r;
		}
		if (!r)
			break;
		/* Checked against the ring's producer, not what it claims. */
		if (xp_member_check(ch->m, ch->peer, &msg, &ch->stats) != XP_REJ_OK)
			continue;
		if (xp_member_input(ch->m, now, &msg))
			continue;
		if (msg.h.type == XP_MSG_PING && !ch->ping_to_handler)
			xp_chan_complete(ch, msg.h.seq);
		else if (h)
			h(ctx, ch, &msg);
	}
	return (int)n;
}

int xp_chan_wait(struct xp_chan *ch, u64 seq, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx)
{
	/* Bounded by the deadline whatever the peer does (I2). */
	for (;;) {
		if (xp_chan_done(ch, seq))
			return 0;
		if (!xp_member_peer_live(ch->m, ch->peer))
			return -ECONNRESET;
		if (xp_clock_ns() >= deadline_ns)
			return xp_chan_done(ch, seq) ? 0 : -ETIMEDOUT;
		if (idle)
			idle(ctx);
		else
			xp_cpu_relax();
	}
}

int xp_chan_ping(struct xp_chan *ch, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx)
{
	struct xp_msg msg;
	int err;

	xp_memset(&msg, 0, sizeof(msg));
	msg.u.ping.t_ns = xp_clock_ns();
	err = xp_chan_send(ch, &msg, XP_MSG_PING, 0);
	if (err)
		return err;
	return xp_chan_wait(ch, msg.h.seq, deadline_ns, idle, ctx);
}
