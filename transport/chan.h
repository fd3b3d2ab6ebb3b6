/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * chan.h - the channel to one peer: our ring to it, its ring to us, the
 * completion words both ways, and the request/completion round trip.
 *
 * A request (PING today; INVALIDATE later) goes out on the ring with a seq
 * (our epoch << 32 | counter).  The peer handles it and writes the
 * completion word (peer -> us) with that seq and its epoch, then rings our
 * doorbell.  The requester waits until the word reaches its seq, with a
 * deadline: xp_chan_wait.  A completion from another incarnation of either
 * side (late, after a rejoin) never matches: the seq carries our epoch and
 * the word carries the peer's.
 *
 * Completion words are cumulative (everything up to seq is complete), so
 * they suit requests completed in ring order (PING, INVALIDATE handled by
 * the per-peer thread).  Replies carrying data (GET_REPLY, FAULT_REPLY)
 * travel as messages on the reverse ring instead.
 */
#ifndef XP_CHAN_H
#define XP_CHAN_H

#include "xp_port.h"
#include "region.h"
#include "msg.h"
#include "ring.h"
#include "member.h"
#include "doorbell.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xp_chan {
	struct xp_member *m;
	const struct xp_doorbell *db;
	u32 peer;
	struct xp_ring_prod tx;		/* us -> peer */
	struct xp_ring_cons rx;		/* peer -> us */
	struct xp_comp *comp_out;	/* we complete the peer's requests */
	struct xp_comp *comp_in;	/* the peer completes ours */
	u64 completed;			/* last seq written to comp_out */
	struct xp_msg_stats stats;	/* what we received */
	u64 ring_errors;		/* corrupt indexes seen (peer fenced) */
	/*
	 * PING goes to the handler instead of being completed at once: a user
	 * that completes other requests later (from a queue) completes PINGs
	 * in the same order, since the completion word is cumulative.
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
 * to the member, PING is completed (unless ping_to_handler), anything else
 * goes to @h.  Returns how
 * many were received (accepted or not), or -EPROTO (peer fenced).
 */
int xp_chan_poll(struct xp_chan *ch, u64 now, u32 budget, xp_chan_handler h,
		 void *ctx);
/* Ring the peer's doorbell (after a batch posted with hold_doorbell). */
void xp_chan_ring(struct xp_chan *ch);
/* Complete the peer's request @seq: word then doorbell. */
void xp_chan_complete(struct xp_chan *ch, u64 seq);
/* 1 when our request @seq is complete (current incarnations only). */
int xp_chan_done(struct xp_chan *ch, u64 seq);

/*
 * Wait for @seq with a deadline.  Between checks calls @idle(ctx) when
 * given (poll our own rings, sleep on the doorbell, tick the member...),
 * otherwise spins.  0, -ETIMEDOUT, or -ECONNRESET when the peer was fenced
 * meanwhile.
 */
int xp_chan_wait(struct xp_chan *ch, u64 seq, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx);
/* PING round trip: send then wait. */
int xp_chan_ping(struct xp_chan *ch, u64 deadline_ns,
		 void (*idle)(void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* XP_CHAN_H */
