// SPDX-License-Identifier: GPL-2.0-only
/*
 * partition_request.c - talking to one peer: posting a message, requests
 * that wait for a reply message (GET, FAULT, PING), INVALIDATE's numbers
 * and completion checks, and every wait bounded.
 *
 * The protocol is transport/rpc.c's: a request gets its rid when it is
 * registered and keeps it when it is posted again (every quarter of its
 * deadline while unanswered: a message or a doorbell may be lost); a reply
 * reaches only the request with its rid, from the incarnation it was posted
 * to; a successful GET_REPLY nobody waits for is handed back with RELEASE,
 * which, like a proxy's RELEASE, the rescan re-posts until the owner's
 * RELEASE_ACK (xp_rpc_tick).
 * This file gives it the fabric mutex (every rpc call is under it), the
 * waits (without it, on a wait queue every delivered reply wakes) and the
 * window translation of the frames a FAULT_REPLY carries.  Fencing a peer
 * fails its requests at once.
 */
#include <linux/ktime.h>
#include <linux/sched/signal.h>

#include "partition.h"
#include "partition_state.h"
#include "ram_layout.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

/* Requests waiting on @peer (all peers: U32_MAX) end with -ECONNRESET. */
void xpmem_requests_fail(u32 peer)
{
	lockdep_assert_held(&part.lock);
	xp_rpc_fail(&part.rpc, peer == U32_MAX ? XP_RPC_ALL : peer, -ECONNRESET);
	wake_up(&part.reply_wq);
}

/* The frames of one FAULT_REPLY message, into the request it continues. */
static void take_frames(struct xpmem_request *rq, u32 peer,
			const struct xp_fault_reply *f)
{
	unsigned int i, k;

	for (i = 0; i < f->count && rq->got < rq->want; i++) {
		u64 first = xp_run_pfn(f->runs[i]);
		u32 n = xp_run_pages(f->runs[i]);

		for (k = 0; k < n && rq->got < rq->want; k++) {
			unsigned long pfn = xpmem_partition_window_pfn(peer, first + k);

			if (!pfn) {	/* a frame outside its window (I4) */
				rq->rpc.status = -EFAULT;
				WRITE_ONCE(rq->rpc.done, 1);
				return;
			}
			rq->pfns[rq->got++] = pfn;
		}
	}
	rq->writable = f->flags & XP_FAULTF_WRITE;
	if (rq->got == rq->want)
		WRITE_ONCE(rq->rpc.done, 1);
}

/*
 * A reply from @peer: to the request with its rid (which reads it under
 * part.lock once done), or an orphan (counted; a token handed back).
 */
void xpmem_requests_deliver(u32 peer, const struct xp_msg *m)
{
	struct xp_chan *ch = &part.chans[peer];
	u64 orphans = ch->rpc.stats.orphans_released + ch->rpc.stats.orphans_dropped;
	struct xpmem_request *rq;
	struct xp_req *r;

	lockdep_assert_held(&part.lock);
	r = xp_rpc_reply(&part.rpc, ch, m, ktime_get_ns());
	if (!r) {
		/* Late (its asker left) or duplicate. */
		xpmem_count(dropped[XPMEM_DROP_STALE_EPOCH],
			    ch->rpc.stats.orphans_released + ch->rpc.stats.orphans_dropped -
			    orphans);
		return;
	}
	rq = container_of(r, struct xpmem_request, rpc);
	rq->epoch = m->h.src_epoch;
	if (m->h.type == XP_MSG_GET_REPLY)
		rq->get = m->u.get_reply;
	else if (m->h.type == XP_MSG_FAULT_REPLY && !m->u.fault_reply.status)
		take_frames(rq, peer, &m->u.fault_reply);
	wake_up(&part.reply_wq);
}

u32 xpmem_partition_live_epoch(u32 peer)
{
	u32 epoch = 0;

	mutex_lock(&part.lock);
	if (part.joined && peer < part.nparts && peer != part.self &&
	    xp_member_peer_live(part.member, peer))
		epoch = xp_member_peer_epoch(part.member, peer);
	mutex_unlock(&part.lock);
	return epoch;
}

unsigned long xpmem_partition_window_pfn(u32 peer, u64 owner_pfn)
{
	struct xpmem_fabric_window w;
	int win;
	u64 off;

	/* Ordered with a window's removal (part_window_gone). */
	lockdep_assert_held(&part.lock);
	if (peer >= XPMEM_FABRIC_MAX_PARTITIONS)
		return 0;
	win = READ_ONCE(part.window_of[peer]);
	if (win < 0 || xpmem_fabric_window(win, &w))
		return 0;
	smp_rmb();	/* identify_window: ram_end, then the window */
	if (!xpmem_ram_file_pfn(owner_pfn, READ_ONCE(part.ram_end[peer]),
				w.size >> PAGE_SHIFT, &off))
		return 0;	/* in the PCI hole, or past its RAM */
	return PHYS_PFN(w.phys) + off;
}

u64 xpmem_partition_gen(void)
{
	return atomic64_read(&part.doorbell_gen);
}

void xpmem_partition_nap(u64 gen, u64 ns)
{
	/* Uninterruptible: a pending signal must not turn a wait into a spin. */
	wait_event_hrtimeout(part.completion_wq,
			     atomic64_read(&part.doorbell_gen) != gen,
			     ns_to_ktime(ns));
}

/* Fault injection (xpmemctl inject corrupt_next), under part.lock. */
static void arm_corruption(struct xp_chan *ch)
{
	lockdep_assert_held(&part.lock);
	if (READ_ONCE(xpmem_inject_corrupt_next)) {
		WRITE_ONCE(xpmem_inject_corrupt_next, xpmem_inject_corrupt_next - 1);
		ch->corrupt_next = 1;
	}
}

static int post(u32 peer, struct xp_msg *msg, u32 type, u64 deadline_ns,
		bool more)
{
	struct xp_chan *ch;
	u64 gen;
	int err;

	for (;;) {
		gen = xpmem_partition_gen();
		mutex_lock(&part.lock);
		if (!part.joined) {
			err = -ENODEV;
		} else if (peer >= part.nparts || peer == part.self) {
			err = -EINVAL;
		} else {
			ch = &part.chans[peer];
			arm_corruption(ch);
			ch->hold_doorbell = more;
			err = xp_chan_send(ch, msg, type, ktime_get_ns());
			/* A full ring must be drained: ring for what is in it. */
			if (more && err)
				xp_chan_ring(ch);
			ch->hold_doorbell = false;
			ch->corrupt_next = 0;
		}
		mutex_unlock(&part.lock);
		if (err != -EAGAIN)
			return err;
		/* Ring full: the peer is draining it; its doorbell wakes us. */
		if (ktime_get_ns() >= deadline_ns)
			return -ETIMEDOUT;
		xpmem_partition_nap(gen, 200 * NSEC_PER_USEC);
	}
}

int xpmem_partition_post(u32 peer, struct xp_msg *msg, u32 type,
			 u64 deadline_ns)
{
	return post(peer, msg, type, deadline_ns, false);
}

int xpmem_partition_post_more(u32 peer, struct xp_msg *msg, u32 type,
			      u64 deadline_ns)
{
	return post(peer, msg, type, deadline_ns, true);
}

static bool valid_peer(u32 peer)
{
	lockdep_assert_held(&part.lock);
	return part.joined && peer < part.nparts && peer != part.self;
}

u64 xpmem_partition_inval_rid(u32 peer, u32 epoch, u64 rid)
{
	mutex_lock(&part.lock);
	if (!valid_peer(peer))
		rid = 0;
	else if (!xp_rpc_inval_current(&part.chans[peer], rid, epoch))
		rid = xp_rpc_inval_rid(&part.chans[peer], epoch);
	mutex_unlock(&part.lock);
	return rid;
}

bool xpmem_partition_inval_done(u32 peer, u64 rid, u32 epoch)
{
	bool done = false;

	mutex_lock(&part.lock);
	if (valid_peer(peer))
		done = xp_rpc_inval_done(&part.chans[peer], rid, epoch);
	mutex_unlock(&part.lock);
	return done;
}

int xpmem_partition_release(u32 peer, u32 epoch, u64 token)
{
	struct xp_chan *ch;
	int err = -ENODEV;

	mutex_lock(&part.lock);
	if (valid_peer(peer)) {
		ch = &part.chans[peer];
		arm_corruption(ch);
		err = xp_rpc_release(ch, token, epoch, ktime_get_ns());
		ch->corrupt_next = 0;
	}
	mutex_unlock(&part.lock);
	return err;
}

void xpmem_partition_fence(u32 peer, u32 epoch, u32 reason)
{
	mutex_lock(&part.lock);
	if (valid_peer(peer))
		xp_member_fence(part.member, peer, epoch, reason, ktime_get_ns());
	mutex_unlock(&part.lock);
}

/* Post @rq when it is due.  0, -EAGAIN (ring full: soon again), -errno. */
static int post_due(struct xpmem_request *rq, struct xp_msg *msg)
{
	u64 now = ktime_get_ns();
	struct xp_chan *ch;
	int err = 0;

	mutex_lock(&part.lock);
	if (!READ_ONCE(rq->rpc.done) && xp_rpc_due(&rq->rpc, now)) {
		ch = &part.chans[rq->peer];
		arm_corruption(ch);
		err = xp_rpc_post(&rq->rpc, ch, msg, now);
		ch->corrupt_next = 0;
	}
	mutex_unlock(&part.lock);
	return err;
}

int xpmem_partition_call(struct xpmem_request *rq, struct xp_msg *msg,
			 u32 type, u64 resend_ns, u64 deadline_ns)
{
	u64 now, until;
	int err;

	rq->status = 0;
	rq->got = 0;
	rq->epoch = 0;
	mutex_lock(&part.lock);
	if (!valid_peer(rq->peer)) {
		mutex_unlock(&part.lock);
		return part.joined ? -EINVAL : -ENODEV;
	}
	err = xp_rpc_begin(&part.rpc, &rq->rpc, &part.chans[rq->peer], msg, type,
			   resend_ns, deadline_ns);
	mutex_unlock(&part.lock);
	if (err)
		return err;

	for (;;) {
		err = post_due(rq, msg);
		if (err && err != -EAGAIN)
			break;
		now = ktime_get_ns();
		/* Ring full: look again soon (the peer is draining it). */
		until = err ? now + 200 * NSEC_PER_USEC : xp_rpc_next_event(&rq->rpc);
		until = min(until, deadline_ns);
		err = 0;
		if (until > now)
			wait_event_killable_timeout(part.reply_wq, READ_ONCE(rq->rpc.done),
						    nsecs_to_jiffies(until - now) + 1);
		if (READ_ONCE(rq->rpc.done))
			break;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (ktime_get_ns() >= deadline_ns) {
			err = -ETIMEDOUT;
			break;
		}
	}

	/* Under part.lock: the deliverer wrote the answer under it too. */
	mutex_lock(&part.lock);
	/* A GET re-posted or given up: what the owner made beyond the answer goes. */
	if (type == XP_MSG_GET && valid_peer(rq->peer))
		xp_rpc_get_settle(&part.chans[rq->peer], &rq->rpc, rq->get.token,
				  ktime_get_ns());
	xp_rpc_end(&part.rpc, &rq->rpc);
	if (rq->rpc.done && rq->rpc.status == -ECONNRESET && !rq->epoch)
		err = -ECONNRESET;	/* fenced meanwhile (xpmem_requests_fail) */
	else if (rq->rpc.done)
		err = 0;
	rq->status = rq->rpc.status;
	mutex_unlock(&part.lock);
	if (err == -ETIMEDOUT) {
		trace_xpmem_timeout(rq->peer, type, 0);
		xpmem_count(timeouts, 1);
	}
	return err;
}

int xpmem_partition_ping(u32 peer, u64 *rtt_ns)
{
	u64 t0 = ktime_get_ns(), fault_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	struct xpmem_request rq = { .peer = peer };
	struct xp_msg msg = { };
	int err;

	msg.u.ping.t_ns = t0;
	err = xpmem_partition_call(&rq, &msg, XP_MSG_PING, fault_ns / 4, t0 + fault_ns);
	if (!err)
		*rtt_ns = ktime_get_ns() - t0;
	else if (err == -ETIMEDOUT)
		trace_xpmem_timeout(peer, XP_MSG_PING, ktime_get_ns() - t0);
	return err;
}
