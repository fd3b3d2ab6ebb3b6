/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * partition.h - this kernel as one partition of a fabric: membership with
 * its peers over the transport, and the messages the cross-partition
 * segment code (export.c, import.c) exchanges through it.  Without a
 * fabric, every function here reports "no fabric".
 *
 * Threads, per peer P (docs/design.md, invariant I6):
 *   xpmem-peer/P   woken by P's doorbell: polls P's ring under the fabric
 *                  mutex and dispatches: replies to the waiting requester
 *                  (by rid), INVALIDATE (new ones, by the gap tracker) and
 *                  PING to the invalidation thread, GET, FAULT, UNPIN,
 *                  RELEASE to the fault-service thread.  It takes no more
 *                  than the invalidation queue has room for, never less
 *                  because the fault service is slow: with its queue full,
 *                  GET and FAULT are dropped (counted; their requester
 *                  re-posts), UNPIN and RELEASE served by the poller.
 *   xpmem-inval/P  P's invalidations of our attachments, in ring order; it
 *                  takes attacher-side locks only and never waits for a peer.
 *   xpmem-fsvc/P   P's requests on our segments; takes our exporters' mmap
 *                  locks.
 * Nothing allocates memory under the fabric mutex that may enter reclaim
 * (I8): reclaim may enter an exporter's invalidation, which takes it to
 * post INVALIDATE.
 */
#ifndef XPMEM_PARTITION_H
#define XPMEM_PARTITION_H

#include <linux/list.h>
#include <linux/time64.h>
#include <linux/types.h>

#include "msg.h"
#include "rpc.h"

struct xpmem_partition_ops;

struct xpmem_partition_info {
	u32 id;
	u32 state;		/* enum xp_state: FREE, JOINING, UP, SUSPECT, DEAD */
	u32 epoch;
	u32 reason;		/* last fence reason (enum xp_reason) */
	u64 hb_age_ns;
	u64 fence_time_ns;	/* CLOCK_BOOTTIME of its last fence; 0: never */
	int window;		/* index of its peer window here, -1 if unknown */
	u32 inflight;		/* our requests awaiting its reply */
	u64 quarantined;	/* pages we hold back for it */
};

/* Deadlines (module parameters, tunables) and fault-injection points. */
extern unsigned int xpmem_hb_ms, xpmem_dead_ms, xpmem_fault_ms, xpmem_inval_ms;
extern unsigned int xpmem_inject_stop_heartbeat, xpmem_inject_drop_doorbells;
extern unsigned int xpmem_inject_delay_invalidate_ms;
extern unsigned int xpmem_inject_stall_fault_service_ms;
extern unsigned int xpmem_inject_corrupt_next;

/* A deadline in ms as ns; 0 counts as 1 ms (a tunable set to 0 never means "no wait"). */
static inline u64 xpmem_ms_to_ns(unsigned int ms)
{
	return (u64)(ms ? ms : 1) * NSEC_PER_MSEC;
}

int xpmem_partition_init(const struct xpmem_partition_ops *ops);
void xpmem_partition_exit(void);

/* Number of partition slots of the fabric (0: no fabric). */
u32 xpmem_partition_count(void);
/* Our own id, or -ENODEV without a fabric. */
int xpmem_partition_self(void);
/* Our current epoch (0: not joined). */
u32 xpmem_partition_self_epoch(void);
int xpmem_partition_info(u32 id, struct xpmem_partition_info *out);
const char *xpmem_partition_state_name(u32 state);
const char *xpmem_partition_reason_name(u32 reason);
/* PING @peer and wait for its PONG, bounded by fault_ms. */
int xpmem_partition_ping(u32 peer, u64 *rtt_ns);
u64 xpmem_partition_doorbells_dropped(void);
int xpmem_partition_sysfs_init(void);
void xpmem_partition_sysfs_exit(void);

/* @peer's current epoch if we see it live (JOINING, UP, SUSPECT), else 0. */
u32 xpmem_partition_live_epoch(u32 peer);
/*
 * Seal @msg (payload filled in) as @type to @peer and post it; a full ring
 * is retried until @deadline_ns.  0, -ESRCH (peer not live), -ETIMEDOUT,
 * -ENODEV (no fabric).  Replies echo their request's rid (msg.h).
 */
int xpmem_partition_post(u32 peer, struct xp_msg *msg, u32 type,
			 u64 deadline_ns);
/*
 * The same without ringing @peer's doorbell: for all but the last message
 * of a batch, whose xpmem_partition_post rings once for all.
 */
int xpmem_partition_post_more(u32 peer, struct xp_msg *msg, u32 type,
			      u64 deadline_ns);
/*
 * INVALIDATE (transport/rpc.h): the rid to post to incarnation @epoch of
 * @peer: @rid (0 the first time) while it is numbered for the current pair
 * of incarnations, else a new number (a rejoin of ours restarted them); 0
 * when @epoch is not @peer's live incarnation (it was fenced).  And
 * whether @peer, still @epoch, handled every INVALIDATE up to @rid (its
 * completion word, gap-free).
 */
u64 xpmem_partition_inval_rid(u32 peer, u32 epoch, u64 rid);
bool xpmem_partition_inval_done(u32 peer, u64 rid, u32 epoch);
/*
 * Doorbells counted so far, and a sleep until the count moves past @gen or
 * @ns pass: read the count, check what you wait for, then nap.
 */
u64 xpmem_partition_gen(void);
void xpmem_partition_nap(u64 gen, u64 ns);
/*
 * Hand @token back to incarnation @epoch of @peer: RELEASE, re-posted by
 * the rescan until @peer acknowledges it or that incarnation is gone.
 * Never waits.  0, -ESRCH (not live: the export went with it), -ENOSPC
 * (posted once, untracked), -ENODEV.
 */
int xpmem_partition_release(u32 peer, u32 epoch, u64 token);
/*
 * Fence incarnation @epoch of @peer (reason enum xp_reason); a no-op when
 * @peer has rejoined since (a timeout of the old one says nothing about
 * the new one).
 */
void xpmem_partition_fence(u32 peer, u32 epoch, u32 reason);
/*
 * Local frame number through which @owner_pfn of @peer's RAM is reached
 * (its peer window), or 0 when we have no window showing that frame.
 * Under the fabric mutex (a window's removal is ordered by it).
 */
unsigned long xpmem_partition_window_pfn(u32 peer, u64 owner_pfn);

/*
 * A request with a reply message (GET, FAULT, PING).  Its rid and the
 * matching of its reply are transport/rpc.h's: a reply reaches only the
 * request whose rid it echoes, from the incarnation it was posted to.
 */
struct xpmem_request {
	struct xp_req rpc;	/* rid, re-post schedule, done */
	u32 peer;
	/* FAULT: the caller's window (offset asked), pages got, their frames */
	u64 offset;
	u32 want, got;
	unsigned long *pfns;
	bool writable;
	/* result */
	int status;		/* the peer's answer: 0 or -errno */
	u32 epoch;		/* the incarnation that answered */
	struct xp_get_reply get;
};
/*
 * Post @msg (payload filled in; its rid is assigned here) as @type for
 * @rq, re-post it with the same rid every @resend_ns while no reply came,
 * wait for the reply until @deadline_ns.  0 (rq->status holds the peer's
 * answer), -ETIMEDOUT, -ECONNRESET (peer fenced), -EINTR (fatal signal),
 * -ESRCH, -ENODEV.
 */
int xpmem_partition_call(struct xpmem_request *rq, struct xp_msg *msg,
			 u32 type, u64 resend_ns, u64 deadline_ns);

/*
 * The segment layer's handlers (remote_ops.c), given at init: the
 * partition layer reaches import, export and netlink only through these.
 */
struct xpmem_partition_ops {
	/* Poller, under the fabric mutex: an INVALIDATE of @token arrived. */
	void (*noted)(u32 peer, u64 token);
	/* Invalidation thread: zap what INVALIDATE @m names. */
	void (*invalidate)(u32 peer, const struct xp_msg *m);
	/*
	 * Fault-service thread: GET, FAULT, UNPIN, RELEASE.  UNPIN and
	 * RELEASE are never lost: with the queue full the poller serves them
	 * itself, under the fabric mutex.
	 */
	void (*serve)(u32 peer, const struct xp_msg *m);
	/* Under the fabric mutex, from the membership state machine. */
	void (*fenced)(u32 peer, u32 epoch, u32 reason, u64 fence_time_ns);
	void (*self_fenced)(u32 self, u32 nparts);
	u64 (*joined)(u32 peer, u32 epoch);	/* quarantined pages released */
	void (*changed)(u32 peer, u32 state, u32 epoch);
	/* After our rejoin; @live_epoch[p]: peer p's epoch if live, else 0. */
	void (*release_self)(const u32 *live_epoch, u32 nparts);
	u64 (*quarantined)(u32 peer);
	/*
	 * @peer's window is gone (its device unbound): no frame of @peer is
	 * translated any more; drop every mapping of its frames, and make
	 * faults whose answers were translated before ask again.  Not under
	 * the fabric mutex.
	 */
	void (*window_lost)(u32 peer);
	/*
	 * Module unload, after we left, no thread serving peers any more:
	 * exports go, their pins stay pinned for ever (nobody acknowledged).
	 */
	void (*exit)(void);
};
extern const struct xpmem_partition_ops xpmem_remote_partition_ops;

#endif /* XPMEM_PARTITION_H */
