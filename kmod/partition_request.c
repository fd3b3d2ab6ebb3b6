// SPDX-License-Identifier: GPL-2.0-only
/*
 * partition_request.c - talking to one peer: posting a message, requests
 * that wait for a reply message (GET, FAULT) or a completion word
 * (INVALIDATE, PING), and every wait bounded.
 *
 * A requester posts under the fabric mutex and waits without it.  Replies
 * are matched to the oldest request they answer by the peer's poller
 * (xpmem_requests_deliver, under the mutex); a reply nobody waits for is
 * dropped and counted.  Fencing a peer fails its requests at once.  Waits
 * for completion words nap on a counter every doorbell bumps, bounded by an
 * hrtimer.  A request unanswered for a quarter of its deadline is posted
 * again: a message or a doorbell may be lost, and peers tolerate
 * duplicates.
 */
#include <linux/ktime.h>
#include <linux/sched/signal.h>

#include "partition.h"
#include "partition_state.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

/* Requests waiting on @peer (all peers: U32_MAX) end with -ECONNRESET. */
void xpmem_requests_fail(u32 peer)
{
	struct xpmem_request *rq;

	lockdep_assert_held(&part.lock);
	list_for_each_entry(rq, &part.requests, link)
		if (!rq->done && (peer == U32_MAX || rq->peer == peer)) {
			rq->status = -ECONNRESET;
			WRITE_ONCE(rq->done, true);
		}
	wake_up(&part.reply_wq);
}

/* The frames of one FAULT_REPLY message, into the request it continues. */
static void deliver_fault_reply(struct xpmem_request *rq, u32 peer,
				const struct xp_fault_reply *f)
{
	unsigned int i, k;

	if (f->status) {
		rq->status = f->status;
		WRITE_ONCE(rq->done, true);
		return;
	}
	for (i = 0; i < f->count && rq->got < rq->want; i++) {
		u64 first = xp_run_pfn(f->runs[i]);
		u32 n = xp_run_pages(f->runs[i]);

		for (k = 0; k < n && rq->got < rq->want; k++) {
			unsigned long pfn = xpmem_partition_window_pfn(peer, first + k);

			if (!pfn) {	/* a frame outside its window (I4) */
				rq->status = -EFAULT;
				WRITE_ONCE(rq->done, true);
				return;
			}
			rq->pfns[rq->got++] = pfn;
		}
	}
	rq->writable = f->flags & XP_FAULTF_WRITE;
	if ((f->flags & XP_FAULTF_LAST) || rq->got == rq->want)
		WRITE_ONCE(rq->done, true);
}

/*
 * A GET answered twice (it was posted again, or its asker gave up) made an
 * export nobody uses: hand its token back at once.  Under part.lock, so
 * without waiting: with the ring full it stays until our next epoch.
 */
static void release_orphan(u32 peer, u64 token)
{
	struct xp_msg r = { };

	lockdep_assert_held(&part.lock);
	r.u.release.token = token;
	xp_chan_send(&part.chans[peer], &r, XP_MSG_RELEASE, ktime_get_ns());
}

/* A reply goes to the oldest request it answers; nobody waits: dropped. */
void xpmem_requests_deliver(u32 peer, const struct xp_msg *m)
{
	struct xpmem_request *rq;

	lockdep_assert_held(&part.lock);
	list_for_each_entry(rq, &part.requests, link) {
		if (rq->done || rq->peer != peer || rq->reply_type != m->h.type)
			continue;
		if (m->h.type == XP_MSG_GET_REPLY) {
			if (rq->key != (u64)m->u.get_reply.segid)
				continue;
			rq->get = m->u.get_reply;
			rq->status = m->u.get_reply.status;
			rq->epoch = m->h.src_epoch;
			WRITE_ONCE(rq->done, true);
		} else {
			const struct xp_fault_reply *f = &m->u.fault_reply;

			if (rq->key != f->token ||
			    f->offset != rq->offset + ((u64)rq->got << PAGE_SHIFT))
				continue;
			deliver_fault_reply(rq, peer, f);
		}
		wake_up(&part.reply_wq);
		return;
	}
	xpmem_count(dropped[XPMEM_DROP_STALE_EPOCH], 1);	/* late: its asker left */
	if (m->h.type == XP_MSG_GET_REPLY && !m->u.get_reply.status)
		release_orphan(peer, m->u.get_reply.token);
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

	if (peer >= XPMEM_FABRIC_MAX_PARTITIONS)
		return 0;
	win = READ_ONCE(part.window_of[peer]);
	if (win < 0 || xpmem_fabric_window(win, &w))
		return 0;
	if (owner_pfn >= w.size >> PAGE_SHIFT)
		return 0;
	return PHYS_PFN(w.phys) + owner_pfn;
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
			if (READ_ONCE(xpmem_inject_corrupt_next)) {
				WRITE_ONCE(xpmem_inject_corrupt_next,
					   xpmem_inject_corrupt_next - 1);
				ch->corrupt_next = 1;
			}
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

bool xpmem_partition_done(u32 peer, u64 seq)
{
	bool done = false;

	mutex_lock(&part.lock);
	if (part.joined && peer < part.nparts && peer != part.self)
		done = xp_chan_done(&part.chans[peer], seq);
	mutex_unlock(&part.lock);
	return done;
}

void xpmem_partition_fence(u32 peer, u32 epoch, u32 reason)
{
	mutex_lock(&part.lock);
	if (part.joined && peer < part.nparts && peer != part.self)
		xp_member_fence(part.member, peer, epoch, reason, ktime_get_ns());
	mutex_unlock(&part.lock);
}

int xpmem_partition_call(struct xpmem_request *rq, struct xp_msg *msg,
			 u32 type, u64 resend_ns, u64 deadline_ns)
{
	u64 now, until;
	int err;

	rq->done = false;
	rq->status = 0;
	rq->got = 0;
	mutex_lock(&part.lock);
	if (!part.joined || rq->peer >= part.nparts) {
		mutex_unlock(&part.lock);
		return part.joined ? -EINVAL : -ENODEV;
	}
	list_add_tail(&rq->link, &part.requests);
	part.inflight[rq->peer]++;
	mutex_unlock(&part.lock);

	for (;;) {
		err = xpmem_partition_post(rq->peer, msg, type, deadline_ns);
		if (err)
			break;
		now = ktime_get_ns();
		until = min(now + resend_ns, deadline_ns);
		if (until > now)
			wait_event_killable_timeout(part.reply_wq, READ_ONCE(rq->done),
						    nsecs_to_jiffies(until - now) + 1);
		if (READ_ONCE(rq->done))
			break;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (ktime_get_ns() >= deadline_ns) {
			err = -ETIMEDOUT;
			break;
		}
		/* No reply yet: the request or its doorbell may be lost. */
	}

	mutex_lock(&part.lock);
	list_del(&rq->link);
	part.inflight[rq->peer]--;
	if (rq->done && rq->status == -ECONNRESET)
		err = -ECONNRESET;	/* fenced meanwhile (fail_requests) */
	else if (rq->done)
		err = 0;
	mutex_unlock(&part.lock);
	if (err == -ETIMEDOUT) {
		trace_xpmem_timeout(rq->peer, type, 0);
		xpmem_count(timeouts, 1);
	}
	return err;
}

int xpmem_partition_ping(u32 peer, u64 *rtt_ns)
{
	struct xp_msg msg = { };
	u64 t0 = ktime_get_ns(), deadline, gen;
	int err;

	deadline = t0 + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	mutex_lock(&part.lock);
	if (!part.joined || peer >= part.nparts || peer == part.self) {
		mutex_unlock(&part.lock);
		return part.joined ? -EINVAL : -ENODEV;
	}
	err = xp_chan_send(&part.chans[peer], &msg, XP_MSG_PING, t0);
	mutex_unlock(&part.lock);
	if (err)
		return err;

	for (;;) {
		gen = xpmem_partition_gen();
		if (xpmem_partition_done(peer, msg.h.seq)) {
			*rtt_ns = ktime_get_ns() - t0;
			return 0;
		}
		if (!xpmem_partition_live_epoch(peer))
			return -ECONNRESET;
		if (ktime_get_ns() >= deadline) {
			trace_xpmem_timeout(peer, XP_MSG_PING, ktime_get_ns() - t0);
			return -ETIMEDOUT;
		}
		xpmem_partition_nap(gen, NSEC_PER_MSEC);
	}
}
