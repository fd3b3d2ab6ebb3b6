/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * member.h - the membership state machine (docs/transport.md, "Membership in
 * short"; docs/design.md, invariants I3 and I7).
 *
 * Pure logic over the partition table: no threads, no timers, no
 * allocation.  Its user drives it with xp_member_tick(now) (every few ms,
 * and whenever a doorbell arrives) and with the JOIN/JOIN_ACK messages it
 * receives; it acts through callbacks (send a message, fence a peer, fence
 * ourselves).  The kernel and the host tests drive it the same way, with
 * real or simulated time.  Not thread-safe: one caller at a time.
 *
 * Rules implemented here:
 *  - join: take epoch = table epoch + 1 with a compare-and-swap, state
 *    JOINING, JOIN to every live peer (resent every hb_ns until acked); UP
 *    only once every live peer acknowledged this epoch.  A peer acks a JOIN
 *    only after its fence callback dropped the joiner's old incarnation.
 *  - heartbeat: own counter incremented every hb_ns.
 *  - a peer whose counter did not move for dead_ns/2 is SUSPECT (local
 *    view), for dead_ns it is fenced: DEAD in the table with the reason,
 *    by a compare-and-swap on the epoch we saw.
 *  - self-fence: finding our own entry DEAD or under another epoch, or not
 *    having run for dead_ns, calls self_fence and rejoins under a new epoch.
 *  - messages whose epochs are not current are rejected (xp_member_check).
 */
#ifndef XP_MEMBER_H
#define XP_MEMBER_H

#include "xp_port.h"
#include "epoch.h"
#include "region.h"
#include "msg.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XP_HB_NS_DEFAULT	(100ull * 1000000)	/* 100 ms */
#define XP_DEAD_NS_DEFAULT	(1000ull * 1000000)	/* 1 s */

struct xp_member_cfg {
	u32 self;
	u64 hb_ns;		/* heartbeat period */
	u64 dead_ns;		/* silence after which a peer is fenced */
	u64 resend_ns;		/* JOIN resend period (0: hb_ns) */
	u64 window_pfn;		/* our published window description */
	u64 window_pages;
	u8 window_tag[XP_TAG_SIZE];
};

struct xp_member_ops {
	/* Post a sealed message to @peer (ring + doorbell). 0/-errno. */
	int (*send)(void *ctx, u32 peer, struct xp_msg *m);
	/*
	 * Incarnation @epoch of @peer is fenced: drop every mapping of it,
	 * fail requests waiting on it, quarantine pins it held.  Returns
	 * when done (a JOIN_ACK for its next epoch goes out after this).
	 */
	void (*fence)(void *ctx, u32 peer, u32 epoch, u32 reason);
	/*
	 * We were fenced (or stalled): zap every remote mapping, fail our
	 * outstanding requests and re-initialise our rings; the member
	 * rejoins under a new epoch when this returns.
	 */
	void (*self_fence)(void *ctx, u32 old_epoch, u32 reason);
	/*
	 * Optional: we saw incarnation @epoch of @peer for the first time (its
	 * JOIN or its table entry).  A partition drops every mapping of its
	 * older incarnations before it takes a new epoch, so what was
	 * quarantined for them may be released.
	 */
	void (*joined)(void *ctx, u32 peer, u32 epoch);
	/* Optional: a peer's state changed in our view. */
	void (*changed)(void *ctx, u32 peer, u32 old_state, u32 new_state);
};

struct xp_peer_view {
	u32 state;		/* enum xp_state, our view */
	u32 epoch;		/* incarnation we know */
	u32 reason;		/* last fence reason */
	u32 acked;		/* epoch of ours this incarnation acknowledged */
	u64 hb;			/* last heartbeat value read */
	u64 hb_seen_ns;		/* when it last moved */
	u64 join_sent_ns;	/* last JOIN we sent it (0: none) */
};

struct xp_member_stats {
	u64 joins;		/* join attempts (epochs taken) */
	u64 ups;		/* joins completed */
	u64 fences;		/* peers we fenced or saw fenced */
	u64 self_fences;
	u64 acks_sent;
	u64 stale_msgs;		/* messages dropped for epoch/liveness */
	u64 bad_entries;	/* table entries with impossible contents */
};

struct xp_member {
	struct xp_member_cfg cfg;
	const struct xp_member_ops *ops;
	void *ctx;
	const struct xp_region *r;
	u32 nparts;
	u32 state;		/* our own state: FREE before the first join */
	u32 epoch;
	u32 seq;		/* message counter within the epoch */
	u64 hb;
	u64 last_hb_ns;
	u64 last_tick_ns;
	struct xp_member_stats stats;
	struct xp_peer_view peers[XP_MAX_PARTS];
};

int xp_member_init(struct xp_member *m, const struct xp_region *r,
		   const struct xp_member_cfg *cfg,
		   const struct xp_member_ops *ops, void *ctx);
/* Take a new epoch and start joining. 0, -EBUSY (table contended). */
int xp_member_join(struct xp_member *m, u64 now);
void xp_member_tick(struct xp_member *m, u64 now);
/*
 * Validate a message copied out of the ring whose producer is @src against
 * what we know (xp_msg_check with the ring's ends and the current epochs;
 * then only JOIN may come from a partition we do not see live): XP_REJ_OK
 * or the reason, counted in @st.
 */
int xp_member_check(struct xp_member *m, u32 src, const struct xp_msg *msg,
		    struct xp_msg_stats *st);
/* Feed a checked JOIN/JOIN_ACK. 1 consumed, 0 not a membership message. */
int xp_member_input(struct xp_member *m, u64 now, const struct xp_msg *msg);
/*
 * Fence incarnation @epoch of @peer (request timeout, corrupt ring...):
 * 0, or -ESRCH when that incarnation is not the live one any more (the
 * peer rejoined since the request was posted: nothing to fence), -EINVAL.
 */
int xp_member_fence(struct xp_member *m, u32 peer, u32 epoch, u32 reason,
		    u64 now);
/*
 * We leave the fabric (our device is going): the table says DEAD (@reason)
 * for our epoch, so that every peer fences this incarnation at its next
 * tick instead of waiting dead_ns for our heartbeat.  No more ticks: the
 * next xp_member_init + xp_member_join comes back under a new epoch.
 */
void xp_member_leave(struct xp_member *m, u32 reason);
/* seq for our next message: epoch << 32 | counter. */
u64 xp_member_next_seq(struct xp_member *m);
bool xp_member_peer_live(const struct xp_member *m, u32 peer);

static inline u32 xp_member_peer_epoch(const struct xp_member *m, u32 peer)
{
	return m->peers[peer].epoch;
}

/* How long @peer's heartbeat has not moved, as of our last look (status). */
static inline u64 xp_member_hb_age_ns(const struct xp_member *m, u32 peer,
				      u64 now)
{
	u64 seen = m->peers[peer].hb_seen_ns;

	return now > seen ? now - seen : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* XP_MEMBER_H */
