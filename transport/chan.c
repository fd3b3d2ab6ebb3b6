// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * chan.c - per-peer channel: posting, receiving, PING/PONG.
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
		if (msg.h.type == XP_MSG_PING && !ch->ping_to_handler) {
			xp_chan_pong(ch, &msg, now);
			continue;
		}
		if (msg.h.type == XP_MSG_PONG)
			xp_write_once(ch->rpc.last_pong, msg.u.ping.rid);
		if (h)
			h(ctx, ch, &msg);
	}
	return (int)n;
}

int xp_chan_pong(struct xp_chan *ch, const struct xp_msg *m, u64 now)
{
	struct xp_msg r;

	xp_memset(&r, 0, sizeof(r));
	r.u.ping = m->u.ping;
	return xp_chan_send(ch, &r, XP_MSG_PONG, now);
}

int xp_chan_ping(struct xp_chan *ch, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx)
{
	struct xp_msg msg;
	u64 rid;
	int err;

	xp_memset(&msg, 0, sizeof(msg));
	if (!++ch->rpc.req_n)
		ch->rpc.req_n = 1;	/* n = 0 is never used */
	rid = xp_rid(ch->m->epoch, ch->rpc.req_n);
	msg.u.ping.rid = rid;
	msg.u.ping.t_ns = xp_clock_ns();
	err = xp_chan_send(ch, &msg, XP_MSG_PING, 0);
	if (err)
		return err;
	/* Bounded by the deadline whatever the peer does (I2). */
	for (;;) {
		if (xp_read_once(ch->rpc.last_pong) == rid)
			return 0;
		if (!xp_member_peer_live(ch->m, ch->peer))
			return -ECONNRESET;
		if (xp_clock_ns() >= deadline_ns)
			return xp_read_once(ch->rpc.last_pong) == rid ? 0 : -ETIMEDOUT;
		if (idle)
			idle(ctx);
		else
			xp_cpu_relax();
	}
}
