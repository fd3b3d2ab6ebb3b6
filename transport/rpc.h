/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * rpc.h - requests and their answers between partitions: request ids,
 * the re-post schedule, reply matching, orphan hand-back, and the
 * numbering and gap tracking of INVALIDATE with its completion word.
 *
 * Request ids (rid).  Every message that expects an answer carries a u64
 * rid in its payload: GET, FAULT, PING, INVALIDATE.  rid = requester's
 * epoch << 32 | n, n != 0.  A reply echoes it (GET_REPLY, FAULT_REPLY,
 * PONG).  A request keeps its rid across re-posts.
 *
 *  - GET, FAULT, PING: n comes from the channel's request counter.  A reply
 *    reaches only the waiting request with the same peer, reply type and
 *    rid, posted to the incarnation the reply comes from, and (FAULT_REPLY)
 *    continuing at the offset the request expects next.  Anything else is an
 *    orphan: a successful GET_REPLY orphan is handed back with RELEASE(token)
 *    (its export would otherwise stay pinned on the owner), others are
 *    dropped; both are counted.  Two requesters of one key therefore never
 *    get each other's answer, and a duplicate FAULT_REPLY is dropped.
 *
 *  - RELEASE hands exports back: an orphan's token, a proxy's when it
 *    goes, and what a GET made beyond the answer it kept (a GET re-posted
 *    may be served twice and the second answer lost; a GET given up may
 *    have been served with its answer lost: xp_rpc_get_settle names the
 *    GET's rid).  n from the request counter.  Nobody waits for it, but it
 *    is kept in the channel's release table and re-posted with its rid
 *    (xp_rpc_tick) until the owner's RELEASE_ACK echoes it, or the
 *    incarnation it was posted to is gone (its exports died with it), or
 *    after XP_REL_MAX_POSTS posts (the owner is alive but never answers:
 *    its own loss).  A lost RELEASE or a lost GET_REPLY therefore never
 *    leaves an export behind.  The owner acknowledges every RELEASE it has
 *    taken (queued for its fault service, or served), whether or not it
 *    still names an export (a re-post): what was asked is done either way.
 *    A RELEASE naming a GET rid goes behind that GET's copies (one ring,
 *    one queue, in order), so it also drops what they make.
 *
 *  - INVALIDATE: n comes from the channel's own INVALIDATE counter, 1, 2,
 *    3... without gaps, restarted at 1 for every (our epoch, peer epoch)
 *    pair.  The receiver tracks per channel the highest n such that every
 *    n' <= n was handled ("done"), and a window of XP_INV_WINDOW numbers
 *    above it.  Handling n marks it and advances done over the contiguous
 *    marks; the completion word (receiver -> sender) then carries
 *    (sender epoch << 32 | done, receiver epoch).  A lost INVALIDATE leaves
 *    a hole no later one acknowledges past; the sender's re-post of the same
 *    rid fills it.  INVALIDATE is the only request the word acknowledges.
 *
 * Nothing here allocates, sleeps or locks: the caller serialises every
 * call for one node (the kernel's fabric mutex) and owns the storage of
 * its requests (struct xp_req, on the requester's stack in the kernel).
 */
#ifndef XP_RPC_H
#define XP_RPC_H

#include "xp_port.h"
#include "region.h"
#include "msg.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xp_chan;

#define XP_INV_WINDOW	256u	/* INVALIDATE numbers tracked above done */
#define XP_REL_SLOTS	16u	/* RELEASEs awaiting their ack, per channel */
#define XP_REL_MAX_POSTS 64u	/* posts of one RELEASE before giving up */
#define XP_REL_RESEND_NS 250000000ull	/* re-post period unless set */
#define XP_RPC_ALL	0xffffffffu	/* xp_rpc_fail: every peer */

static inline u64 xp_rid(u32 epoch, u32 n)
{
	return (u64)epoch << 32 | n;
}

static inline u32 xp_rid_epoch(u64 rid)
{
	return (u32)(rid >> 32);
}

static inline u32 xp_rid_n(u64 rid)
{
	return (u32)rid;
}

struct xp_rpc_stats {
	u64 replies;		/* delivered to their request */
	u64 orphans_released;	/* successful GET_REPLY handed back */
	u64 orphans_dropped;	/* other replies nobody waits for */
	u64 inv_new;		/* INVALIDATE handed to the handler */
	u64 inv_dup;		/* already handled: word re-published */
	u64 inv_busy;		/* already handed over, not handled yet */
	u64 inv_beyond;		/* beyond the window: dropped (re-posted) */
	u64 rel_posted;		/* RELEASE handed back and tracked */
	u64 rel_reposts;	/* ... posted again: no ack yet */
	u64 rel_acked;		/* ... acknowledged by the owner */
	u64 rel_moot;		/* ... the owner's incarnation ended first */
	u64 rel_abandoned;	/* ... XP_REL_MAX_POSTS posts, never acked */
	u64 rel_untracked;	/* table full: posted once, not tracked */
	u64 rel_acks_sent;	/* owner side: RELEASE acknowledged */
};

/* A RELEASE awaiting its RELEASE_ACK; free while rid is 0. */
struct xp_rel {
	u64 token;
	u64 rid;
	u64 get_rid;		/* 0, or the GET whose other exports go */
	u64 next_post_ns;
	u32 peer_epoch;		/* the owner's incarnation that made it */
	u32 posts;
};

/* Per channel, in private memory: part of struct xp_chan. */
struct xp_rpc_chan {
	u32 req_n;		/* last n of GET/FAULT/PING */
	/* INVALIDATE we send: numbered for (tx_self, tx_peer) */
	u32 tx_self, tx_peer, tx_n;
	/* INVALIDATE we receive: tracked for (rx_self, rx_src) */
	u32 rx_self, rx_src, rx_done;
	u64 rx_queued[XP_INV_WINDOW / 64];
	u64 rx_handled[XP_INV_WINDOW / 64];
	u64 last_pong;		/* rid of the last PONG (xp_chan_ping) */
	u64 rel_resend_ns;	/* RELEASE re-post period; 0: XP_REL_RESEND_NS */
	struct xp_rel rel[XP_REL_SLOTS];
	struct xp_rpc_stats stats;
};

/* A request waiting for its reply message. */
struct xp_req {
	struct xp_req *prev, *next;	/* in the table while registered */
	u32 peer;
	u32 type;		/* GET, FAULT, PING */
	u32 reply_type;		/* GET_REPLY, FAULT_REPLY, PONG */
	u32 peer_epoch;		/* the incarnation it was posted to */
	u64 rid;
	u64 offset, end;	/* FAULT: next reply continues at offset */
	u64 resend_ns;		/* re-post period */
	u64 deadline_ns;	/* the requester gives up then */
	u64 next_post_ns;	/* when it is posted again */
	u32 posts;
	int done;		/* read by the waiter with xp_read_once */
	int status;		/* once done: 0, the peer's -errno, or ours */
};

/* The requests of one node. */
struct xp_rpc {
	struct xp_req *head;
	u32 inflight[XP_MAX_PARTS];
};

void xp_rpc_init(struct xp_rpc *t);

/* Where the rid of a message of @type lives in @m; NULL: it has none. */
u64 *xp_msg_rid(struct xp_msg *m, u32 type);

/*
 * Register @rq (peer = @ch's) for the request @msg of @type (GET, FAULT,
 * PING; payload filled in), with a fresh rid written into @msg.  A FAULT
 * expects its replies from msg's offset for its npages.  Returns 0,
 * -EINVAL (type), -ESRCH (peer not live).  Re-post period @resend_ns,
 * deadline @deadline_ns.
 */
int xp_rpc_begin(struct xp_rpc *t, struct xp_req *rq, struct xp_chan *ch,
		 struct xp_msg *msg, u32 type, u64 resend_ns, u64 deadline_ns);
/*
 * Post @msg (as registered by xp_rpc_begin, same rid) now and schedule the
 * next post.  xp_chan_send's result: 0, -EAGAIN (ring full: try again
 * soon), -ESRCH, -EPROTO.  A post to a new incarnation of the peer moves
 * the request to it (replies of the old one no longer match).
 */
int xp_rpc_post(struct xp_req *rq, struct xp_chan *ch, struct xp_msg *msg,
		u64 now);
/* 1 when @rq, not done, should be posted again at @now. */
int xp_rpc_due(const struct xp_req *rq, u64 now);
/* When the waiter should look again: the next post or the deadline. */
u64 xp_rpc_next_event(const struct xp_req *rq);
/* Unregister @rq (done or given up); late replies become orphans. */
void xp_rpc_end(struct xp_rpc *t, struct xp_req *rq);
/*
 * A checked reply message (GET_REPLY, FAULT_REPLY, PONG) from @ch's peer.
 * Returns the request it answers, its fields updated (status; FAULT_REPLY:
 * offset advanced past its pages; done when complete), for the caller to
 * take the payload from; or NULL: an orphan, handed back or dropped.
 */
struct xp_req *xp_rpc_reply(struct xp_rpc *t, struct xp_chan *ch,
			    const struct xp_msg *m, u64 now);
/* Requests waiting on @peer (XP_RPC_ALL: any) end with @err; how many. */
u32 xp_rpc_fail(struct xp_rpc *t, u32 peer, int err);

/*
 * Hand @token back to @ch's peer, incarnation @peer_epoch (the one that
 * made it): RELEASE now, then re-posted by xp_rpc_tick until acknowledged
 * (rpc.h, top).  0; -ESRCH: that incarnation is not live any more (the
 * export went with it: nothing to do); -ENOSPC: the table is full, posted
 * once untracked.  A full ring is not an error: the tick posts it.
 */
int xp_rpc_release(struct xp_chan *ch, u64 token, u32 peer_epoch, u64 now);
/*
 * @rq, a GET, ended (answered, failed or given up; before xp_rpc_end).  If
 * it was posted more than once, or never answered, the owner may hold
 * exports nobody will use: RELEASE (get_rid = its rid) every export made
 * for it but @keep, the token of the answer it took (ignored unless it was
 * answered), re-posted until acknowledged.  Returns as xp_rpc_release; 0
 * when there is nothing to hand back.
 */
int xp_rpc_get_settle(struct xp_chan *ch, const struct xp_req *rq, u64 keep,
		      u64 now);
/* Re-posts what is due in @ch's release table, drops what is moot. */
void xp_rpc_tick(struct xp_chan *ch, u64 now);
/* RELEASEs of @ch awaiting their ack. */
u32 xp_rpc_releases_pending(const struct xp_chan *ch);
/* Owner side: a checked RELEASE from @ch's peer: send its RELEASE_ACK. */
int xp_rpc_release_rx(struct xp_chan *ch, const struct xp_msg *m, u64 now);
/* Requester side: a checked RELEASE_ACK: its RELEASE is done.  1 if it matched. */
int xp_rpc_release_acked(struct xp_chan *ch, const struct xp_msg *m);

/*
 * Sender side of INVALIDATE.  The rid for a new INVALIDATE to @ch's peer,
 * numbered for its incarnation @peer_epoch; 0 when that is not the peer's
 * current live incarnation (nothing to ask: it was fenced).
 */
u64 xp_rpc_inval_rid(struct xp_chan *ch, u32 peer_epoch);
/*
 * 1 when @rid is numbered for the current pair (our epoch, @peer_epoch):
 * after a rejoin of ours a re-post needs a new number (the peer refuses a
 * rid of our old epoch, and its tracker restarted).
 */
int xp_rpc_inval_current(const struct xp_chan *ch, u64 rid, u32 peer_epoch);
/*
 * 1 when the peer, still incarnation @peer_epoch, handled every INVALIDATE
 * up to @rid (its completion word); 0 otherwise.
 */
int xp_rpc_inval_done(const struct xp_chan *ch, u64 rid, u32 peer_epoch);

/* Receiver side: what to do with a checked INVALIDATE. */
enum xp_inv_verdict {
	XP_INV_NEW,		/* hand to the invalidation handler */
	XP_INV_DUP,		/* handled already: word re-published */
	XP_INV_BUSY,		/* handed over already: nothing to do */
	XP_INV_BEYOND,		/* too far ahead: dropped, the sender re-posts */
};
int xp_rpc_inval_rx(struct xp_chan *ch, const struct xp_msg *m);
/*
 * The handler finished INVALIDATE @m (zapped): mark it, advance done,
 * publish the word and ring the sender.  Ignored when the tracker was
 * restarted since (the sender or we have a new epoch).
 */
void xp_rpc_inval_handled(struct xp_chan *ch, const struct xp_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* XP_RPC_H */
