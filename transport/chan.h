/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * chan.h - the channel to one peer: our ring to it, its ring to us, the
 * completion words both ways, and the per-channel request state of rpc.h
 * (request counters, INVALIDATE numbering and gap tracker).
 *
 * Requests and their answers (rid, matching, the completion word, which
 * acknowledges INVALIDATE only) are rpc.h's; this file moves messages:
 * seal and post, receive and check, hand membership messages to the
 * member and answer PING with PONG (unless ping_to_handler).
 */
#ifndef XP_CHAN_H
#define XP_CHAN_H

#include "xp_port.h"
#include "region.h"
#include "msg.h"
#include "ring.h"
#include "member.h"
#include "doorbell.h"
#include "rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xp_chan {
	struct xp_member *m;
	const struct xp_doorbell *db;
	u32 peer;
	struct xp_ring_prod tx;		/* us -> peer */
	struct xp_ring_cons rx;		/* peer -> us */
	struct xp_comp *comp_out;	/* we acknowledge the peer's INVALIDATEs */
	struct xp_comp *comp_in;	/* the peer acknowledges ours */
	struct xp_rpc_chan rpc;		/* numbering, gap tracker (rpc.h) */
	struct xp_msg_stats stats;	/* what we received */
	u64 ring_errors;		/* corrupt indexes seen (peer fenced) */
	/*
	 * PING goes to the handler instead of being answered at once: a user
	 * that answers it from its invalidation thread shows that thread is
	 * alive, after the INVALIDATEs queued before it.
	 */
	bool ping_to_handler;
	/* Fault injection: flip a payload byte of this many next sends. */
	u32 corrupt_next;
	/*
	 * Set by a sender posting a batch: xp_chan_send does not ring; the
	 * sender rings once for the batch (xp_chan_ring) after its last one.
	 */
	bool hold_doorbell;
};

/* Handler for messages the channel does not handle itself. */
typedef void (*xp_chan_handler)(void *ctx, struct xp_chan *ch,
				const struct xp_msg *m);

/* (Re)initialise both rings to @peer: at our join, in self_fence. */
void xp_chan_init(struct xp_chan *ch, struct xp_member *m, u32 peer,
		  const struct xp_doorbell *db);
/*
 * Seal @msg as @type with our current epochs and the next seq, post it,
 * ring the peer.  Returns 0 (seq in msg->h.seq), -EAGAIN (ring full),
 * -ESRCH (peer not live), -EPROTO (peer corrupted the ring: fenced).
 */
int xp_chan_send(struct xp_chan *ch, struct xp_msg *msg, u32 type, u64 now);
/*
 * Receive up to @budget messages: each is copied out, checked
 * (xp_member_check; rejects counted in ch->stats), then JOIN/JOIN_ACK go
 * to the member, PING is answered with PONG (unless ping_to_handler), a
 * PONG's rid is noted in rpc.last_pong, and everything else but JOIN/ACK
 * goes to @h.  Returns how many were received (accepted or not), or -EPROTO
 * (peer fenced).
 */
int xp_chan_poll(struct xp_chan *ch, u64 now, u32 budget, xp_chan_handler h,
		 void *ctx);
/* Ring the peer's doorbell (after a batch posted with hold_doorbell). */
void xp_chan_ring(struct xp_chan *ch);
/* Answer the PING @m with a PONG echoing its rid and clock. */
int xp_chan_pong(struct xp_chan *ch, const struct xp_msg *m, u64 now);

/*
 * PING round trip for users without a request table (tests, benchmarks):
 * send a PING with a fresh rid, then until its PONG is noted (rpc.last_pong)
 * call @idle(ctx) when given (poll our own rings, sleep on the doorbell,
 * tick the member...), otherwise spin.  0, -ETIMEDOUT at @deadline_ns, or
 * -ECONNRESET when the peer was fenced meanwhile.
 */
int xp_chan_ping(struct xp_chan *ch, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* XP_CHAN_H */
