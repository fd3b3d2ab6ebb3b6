// SPDX-License-Identifier: GPL-2.0-only
/*
 * partition.c - the partition layer: membership and the request channel.
 *
 * When the fabric's doorbell device is bound, this kernel is a partition.
 * The transport core (transport/: region layout, rings, messages,
 * membership state machine) does the protocol; this file gives it threads,
 * time, doorbells and a lock:
 *
 *   - one fabric mutex serialises every call into the core (it has none);
 *   - the rescan thread runs every rescan_ms: attaches the control region
 *     once fabricd has formatted it, joins, ticks the state machine (our
 *     heartbeat, peers' deadlines) and polls every channel, which recovers
 *     doorbells that were lost;
 *   - one thread per peer, woken by that peer's doorbell, polls its channel.
 *     A sender rings vector = its own id, so the interrupt says who rang;
 *     an interrupt on a vector that names no peer wakes them all.  It only
 *     dispatches (see partition.h): replies to their waiting requesters (by
 *     rid, transport/rpc.c), work to the peer's invalidation and
 *     fault-service threads through queues allocated at attach, as deep as
 *     a ring, so nothing allocates there.  A poll takes no more messages
 *     than the invalidation queue has room for; a full fault-service queue
 *     never holds it back (GET/FAULT dropped, UNPIN/RELEASE served here).
 *     A RELEASE is acknowledged (RELEASE_ACK) as soon as it is taken; the
 *     rescan re-posts our own RELEASEs until theirs arrive.
 *
 * A requester posts under the mutex and waits without it, for a reply
 * message (GET, FAULT, PING: partition_request.c) or the gap-free
 * completion word (INVALIDATE: shootdown.c), sleeping between looks on a
 * wait queue every doorbell or delivered reply wakes; the wait is bounded
 * by its deadline and ends early when the peer is fenced.  The segment
 * layer is reached only through its ops table (remote_ops.c).
 *
 * Windows: at load we allocate one page and write a random tag into it; we
 * publish the tag and that page's frame number (window_pfn) and the end of
 * our RAM in frames (window_pages, holes included).  A peer's window here
 * shows its RAM file: its frames from 0, less the PCI hole when its RAM
 * reaches above 4 GiB (ram_layout.h).  Reading the tag at its translated
 * place through each plain window tells which window is whose, whatever
 * the slot order.
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/memblock.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "doorbell.h"
#include "fabric.h"
#include "partition.h"
#include "partition_state.h"
#include "ram_layout.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"
#include "chan.h"
#include "member.h"
#include "region.h"

unsigned int xpmem_hb_ms = 100;
module_param_named(hb_ms, xpmem_hb_ms, uint, 0644);
MODULE_PARM_DESC(hb_ms, "Heartbeat period in ms (default 100)");
unsigned int xpmem_dead_ms = 1000;
module_param_named(dead_ms, xpmem_dead_ms, uint, 0644);
MODULE_PARM_DESC(dead_ms, "Silence after which a peer is fenced, in ms (default 1000)");
unsigned int xpmem_fault_ms = 1000;
module_param_named(fault_ms, xpmem_fault_ms, uint, 0644);
MODULE_PARM_DESC(fault_ms, "Deadline of a request to a peer, in ms (default 1000)");
unsigned int xpmem_inval_ms = 1000;
module_param_named(inval_ms, xpmem_inval_ms, uint, 0644);
MODULE_PARM_DESC(inval_ms, "Deadline of a remote invalidation before the peer is fenced, in ms (default 1000)");

/*
 * Fault injection, off (0) unless armed through xpmemctl inject:
 *   stop_heartbeat  this partition stops ticking, as if hung: peers fence
 *                   it; disarmed, it finds itself fenced and rejoins.
 *   drop_doorbells  doorbells we would ring are dropped (counted): peers
 *                   must get our messages from their periodic rescan.
 *   delay_invalidate_ms  our invalidation threads sleep this long before
 *                   handling each INVALIDATE (a kill lands mid-invalidate).
 *   stall_fault_service_ms  our fault-service threads sleep this long
 *                   before serving each request.
 *   corrupt_next    this many next data messages we post get a payload byte
 *                   flipped after the checksum: the receiver drops them.
 */
unsigned int xpmem_inject_stop_heartbeat;
unsigned int xpmem_inject_drop_doorbells;
unsigned int xpmem_inject_delay_invalidate_ms;
unsigned int xpmem_inject_stall_fault_service_ms;
unsigned int xpmem_inject_corrupt_next;
static atomic64_t doorbells_dropped;

#define POLL_BUDGET 64		/* messages per channel per poll */

struct partition_state part;

/* ---- doorbells ------------------------------------------------------------ */

static int part_ring(void *ctx, u32 peer, u32 vector)
{
	if (READ_ONCE(xpmem_inject_drop_doorbells)) {
		atomic64_inc(&doorbells_dropped);
		return 0;
	}
	trace_xpmem_doorbell_sent(peer, 0);
	/* The receiver learns who rang from the vector. */
	return xpmem_doorbell_ring(peer, part.self);
}

static const struct xp_doorbell_ops part_doorbell_ops = {
	.ring = part_ring,
};

static void kick(struct peer_thread *pt)
{
	atomic_set(&pt->kicked, 1);
	wake_up(&pt->wq);
}

/* Interrupt context. */
static void part_doorbell(unsigned int vector, void *data)
{
	u32 p;

	trace_xpmem_doorbell_received(vector, 0);
	xpmem_count(doorbells_received, 1);
	atomic64_inc(&part.doorbell_gen);
	wake_up(&part.completion_wq);
	if (!READ_ONCE(part.joined))
		return;
	if (vector < part.nparts && vector != part.self && part.peers[vector].task) {
		kick(&part.peers[vector]);
		return;
	}
	for (p = 0; p < part.nparts; p++)
		if (part.peers[p].task)
			kick(&part.peers[p]);
}

/* ---- the state machine's callbacks (under part.lock) ---------------------- */

static int member_send(void *ctx, u32 peer, struct xp_msg *msg)
{
	int err = xp_ring_push(&part.chans[peer].tx, msg);

	if (!err)
		xp_doorbell_ring(&part.db, peer, XP_VEC_MSG);
	return err;
}

/*
 * Incarnation @epoch of @peer is dead to us: its requests fail, our
 * mappings of its memory go (and its segments answer SIGBUS), and the pages
 * it may still map are quarantined until it comes back under a new epoch.
 */
static void member_fence(void *ctx, u32 peer, u32 epoch, u32 reason)
{
	pr_info("xpmem: partition %u (epoch %u) fenced: %s\n", peer, epoch,
		xp_reason_name(reason));
	part.fence_time_ns[peer] = ktime_get_boottime_ns();
	xpmem_requests_fail(peer);
	part.ops->fenced(peer, epoch, reason, part.fence_time_ns[peer]);
	trace_xpmem_fence(peer, epoch, reason);
	wake_up(&part.completion_wq);
}

/* A new incarnation of @peer dropped the old one's mappings: release. */
static void member_joined(void *ctx, u32 peer, u32 epoch)
{
	u64 pages = part.ops->joined(peer, epoch);

	if (pages)
		pr_info("xpmem: partition %u rejoined (epoch %u): %llu quarantined pages released\n",
			peer, epoch, pages);
}

static void member_self_fence(void *ctx, u32 old_epoch, u32 reason)
{
	u32 p;

	pr_warn("xpmem: fenced ourselves (epoch %u): %s; rejoining\n",
		old_epoch, xp_reason_name(reason));
	xpmem_requests_fail(U32_MAX);
	/* Peers may map our pages until they acked our next epoch. */
	part.ops->self_fenced(part.self, part.nparts);
	part.self_quarantine = true;
	/* New numbering and trackers for our next epoch (transport/rpc.h). */
	for (p = 0; p < part.nparts; p++)
		if (p != part.self) {
			xp_chan_init(&part.chans[p], part.member, p, &part.db);
			part.chans[p].ping_to_handler = true;
		}
	wake_up(&part.completion_wq);
}

static void member_changed(void *ctx, u32 peer, u32 old, u32 new)
{
	pr_info("xpmem: partition %u: %s -> %s\n", peer, xp_state_name(old),
		xp_state_name(new));
	part.ops->changed(peer, new, xp_member_peer_epoch(part.member, peer));
}

static const struct xp_member_ops part_member_ops = {
	.send = member_send,
	.fence = member_fence,
	.self_fence = member_self_fence,
	.joined = member_joined,
	.changed = member_changed,
};

/* ---- dispatch: queues, replies ---------------------------------------------- */

static u32 queue_room(struct msg_queue *q)
{
	return q->cap - (READ_ONCE(q->head) - READ_ONCE(q->tail));
}

static void queue_push(struct msg_queue *q, const struct xp_msg *m)
{
	spin_lock(&q->lock);
	q->slot[q->head & (q->cap - 1)] = *m;
	WRITE_ONCE(q->head, q->head + 1);
	spin_unlock(&q->lock);
	wake_up(&q->wq);
}

static bool queue_pop(struct msg_queue *q, struct xp_msg *m)
{
	bool got = false;

	spin_lock(&q->lock);
	if (q->head != q->tail) {
		*m = q->slot[q->tail & (q->cap - 1)];
		WRITE_ONCE(q->tail, q->tail + 1);
		got = true;
	}
	spin_unlock(&q->lock);
	return got;
}

/*
 * GET and FAULT leave room for UNPIN and RELEASE in the fault-service queue:
 * FSVC_RESERVE slots, or half of a smaller queue (the queue is as deep as a
 * ring, which may have as few as 2 slots: a reserve as deep as the queue
 * would drop every GET and FAULT).
 */
#define FSVC_RESERVE 16

static u32 fsvc_reserve(const struct msg_queue *q)
{
	return min_t(u32, FSVC_RESERVE, q->cap / 2);
}

/*
 * A request for the fault service.  The poller never waits for it (I6):
 * with its queue (nearly) full a GET or FAULT is dropped, counted, and
 * re-posted by its requester.  A settle (RELEASE naming a GET) is dropped
 * too when the queue is full (re-posted until acknowledged): served here,
 * it could pass a copy of its GET still queued.  UNPIN and the RELEASE of
 * a token are served here, under the fabric mutex (they take export_lock
 * only).  Returns false when @m was dropped.
 */
static bool to_fault_service(struct peer_thread *pt, const struct xp_msg *m)
{
	bool request = m->h.type == XP_MSG_GET || m->h.type == XP_MSG_FAULT;
	bool settle = m->h.type == XP_MSG_RELEASE && m->u.release.get_rid;
	u32 room = queue_room(&pt->fsvc);

	if (room > (request ? fsvc_reserve(&pt->fsvc) : 0)) {
		queue_push(&pt->fsvc, m);
	} else if (request || settle) {
		pt->fsvc_dropped++;
		xpmem_count(dropped[XPMEM_DROP_QUEUE_FULL], 1);
		return false;
	} else {
		pt->fsvc_inline++;
		part.ops->serve(pt->id, m);
	}
	return true;
}

/* Under part.lock, from xp_chan_poll: route one checked message. */
static void chan_handler(void *ctx, struct xp_chan *ch, const struct xp_msg *m)
{
	struct peer_thread *pt = &part.peers[ch->peer];

	lockdep_assert_held(&part.lock);
	switch (m->h.type) {
	case XP_MSG_INVALIDATE:
		/* Duplicates re-ring; beyond the window: the sender re-posts. */
		switch (xp_rpc_inval_rx(ch, m)) {
		case XP_INV_NEW:
			/* Before any later reply is delivered: faults recheck. */
			part.ops->noted(ch->peer, m->u.inval.token);
			queue_push(&pt->inval, m);
			break;
		case XP_INV_BEYOND:
			xpmem_count(dropped[XPMEM_DROP_QUEUE_FULL], 1);
			break;
		}
		break;
	case XP_MSG_PING:
		/* Answered by the invalidation thread: it is alive. */
		queue_push(&pt->inval, m);
		break;
	case XP_MSG_GET:
	case XP_MSG_FAULT:
	case XP_MSG_UNPIN:
		to_fault_service(pt, m);
		break;
	case XP_MSG_RELEASE:
		/*
		 * Taken (queued in our memory, or served): acknowledged now, so
		 * the peer stops re-posting it (transport/rpc.h).
		 */
		if (to_fault_service(pt, m))
			xp_rpc_release_rx(ch, m, ktime_get_ns());
		break;
	case XP_MSG_RELEASE_ACK:
		xp_rpc_release_acked(ch, m);
		break;
	case XP_MSG_GET_REPLY:
	case XP_MSG_FAULT_REPLY:
	case XP_MSG_PONG:
		xpmem_requests_deliver(ch->peer, m);
		break;
	default:		/* INVALIDATE_DONE: not used by this module */
		xpmem_count(dropped[XPMEM_DROP_MALFORMED], 1);
	}
}

/* Rejections the channel counted, as the module's drop counters. */
static void count_drops(const struct xp_msg_stats *before,
			const struct xp_msg_stats *after)
{
	u64 stale = 0, bad = 0;
	unsigned int r;

	for (r = XP_REJ_TYPE; r < XP_REJ_NR; r++) {
		u64 d = after->rejected[r] - before->rejected[r];

		if (r == XP_REJ_SRC_EPOCH || r == XP_REJ_DST_EPOCH || r == XP_REJ_SEQ)
			stale += d;
		else
			bad += d;
	}
	xpmem_count(dropped[XPMEM_DROP_STALE_EPOCH], stale);
	xpmem_count(dropped[XPMEM_DROP_MALFORMED], bad);
}

/* ---- attach, join, poll ---------------------------------------------------- */

/* Which plain window shows @peer's RAM: the one with its tag at its pfn. */
static void identify_window(u32 peer)
{
	struct xpmem_fabric_window w;
	struct xp_window pub;
	u8 tag[XP_TAG_SIZE];
	unsigned int i;
	u64 off;

	lockdep_assert_held(&part.lock);
	if (peer >= XPMEM_FABRIC_MAX_PARTITIONS || part.window_of[peer] >= 0)
		return;
	if (xp_region_window(&part.region, peer, &pub) || !pub.pages)
		return;
	/*
	 * Through the windows' probe-time mappings: no memremap here.  The
	 * tag's frame is translated to its place in the RAM file as every
	 * frame of this peer will be (ram_layout.h): finding the tag checks
	 * the translation.
	 */
	for (i = 0; i < XPMEM_FABRIC_MAX_PARTITIONS; i++) {
		/* Every index: one may be missing (its device unbound). */
		if (xpmem_fabric_window(i, &w) ||
		    !xpmem_ram_file_pfn(pub.pfn, pub.pages, w.size >> PAGE_SHIFT, &off) ||
		    xpmem_fabric_window_read(i, off << PAGE_SHIFT, tag, XP_TAG_SIZE))
			continue;
		if (!memcmp(tag, pub.tag, XP_TAG_SIZE)) {
			WRITE_ONCE(part.ram_end[peer], pub.pages);
			smp_wmb();	/* ram_end before the window is used */
			WRITE_ONCE(part.window_of[peer], i);
			pr_info("xpmem: partition %u is peer window %u (RAM to frame %#llx, window of %#llx)\n",
				peer, i, pub.pages, (u64)(w.size >> PAGE_SHIFT));
			return;
		}
	}
}

static int peer_thread(void *data);
static int inval_thread(void *data);
static int fsvc_thread(void *data);

static int queue_start(struct msg_queue *q, u32 cap, int (*fn)(void *),
		       void *data, const char *what, u32 p)
{
	struct task_struct *task;

	if (q->task)
		return 0;	/* started by an earlier attempt */
	q->cap = cap;
	q->slot = kvcalloc(q->cap, sizeof(*q->slot), GFP_KERNEL);
	if (!q->slot)
		return -ENOMEM;
	task = kthread_run(fn, data, "xpmem-%s/%u", what, p);
	if (IS_ERR(task)) {
		kvfree(q->slot);
		q->slot = NULL;
		return PTR_ERR(task);
	}
	q->task = task;
	return 0;
}

static void queue_stop(struct msg_queue *q)
{
	if (q->task)
		kthread_stop(q->task);
	q->task = NULL;
	kvfree(q->slot);
	q->slot = NULL;
	/* What was queued for the old epoch is dropped with the slots. */
	q->head = 0;
	q->tail = 0;
}

/*
 * Per peer slot of the region: the poller woken by that peer's doorbell and
 * its invalidation and fault-service threads, their queues as deep as a
 * ring (@slots).  Started once, by the rescan thread before it takes the
 * fabric mutex: queues and threads are allocated with GFP_KERNEL, which
 * may enter reclaim (I8).
 */
static int start_peer_threads(u32 nparts, u32 slots)
{
	struct task_struct *task;
	int err;
	u32 p;

	lockdep_assert_not_held(&part.lock);
	for (p = 0; p < nparts; p++) {
		struct peer_thread *pt = &part.peers[p];

		if (p == part.self || pt->task)
			continue;
		err = queue_start(&pt->inval, slots, inval_thread, pt, "inval", p);
		if (!err)
			err = queue_start(&pt->fsvc, slots, fsvc_thread, pt, "fsvc", p);
		if (err)
			return err;
		task = kthread_run(peer_thread, pt, "xpmem-peer/%u", p);
		if (IS_ERR(task))
			return PTR_ERR(task);
		pt->task = task;
	}
	return 0;
}

/* The region as it is now, into @r: 0, -EAGAIN (not formatted yet), -errno. */
static int region_attach(struct xp_region *r, bool quiet)
{
	size_t size;
	void *mem = xpmem_fabric_control_region(&size);
	int err = xp_region_attach(r, mem, size);

	if (err == XP_ATTACH_BAD_MAGIC)
		return -EAGAIN;		/* fabricd has not formatted it yet */
	if (err) {
		if (!quiet)
			pr_err("xpmem: control region refused: %s\n", xp_attach_strerror(err));
		return -EINVAL;
	}
	/*
	 * One number sizes everything: the region's slot count, validated
	 * here.  The membership core walks all of the region's slots, so a
	 * region with more than our tables hold is refused, never clamped.
	 */
	if (r->l.max_parts > XPMEM_FABRIC_MAX_PARTITIONS) {
		if (!quiet)
			pr_err_once("xpmem: control region refused: %u partition slots, this module handles %u\n",
				    r->l.max_parts, XPMEM_FABRIC_MAX_PARTITIONS);
		return -ERANGE;
	}
	return 0;
}

/*
 * Before attaching, without the fabric mutex: the peer threads and queues
 * the region as formatted now needs.  part_attach checks they are there
 * (and says why a region is refused).
 */
static int prepare_attach(void)
{
	struct xp_region r;
	int err = region_attach(&r, true);

	return err ? err : start_peer_threads(r.l.max_parts, r.l.ring_slots);
}

static int part_attach(void)
{
	struct xp_member_cfg cfg = { };
	int err;
	u32 p;

	lockdep_assert_held(&part.lock);
	err = region_attach(&part.region, false);
	if (err)
		return err;
	part.nparts = part.region.l.max_parts;
	if (part.self >= part.nparts) {
		pr_err("xpmem: partition id %u beyond the region's %u slots\n",
		       part.self, part.nparts);
		return -ERANGE;
	}
	/* Reformatted since prepare_attach with more slots: prepare again. */
	for (p = 0; p < part.nparts; p++)
		if (p != part.self && !part.peers[p].task)
			return -EAGAIN;

	cfg.self = part.self;
	cfg.hb_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_hb_ms));
	cfg.dead_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_dead_ms));
	cfg.window_pfn = page_to_pfn(part.tag_page);
	cfg.window_pages = PHYS_PFN(__pa(high_memory));	/* RAM end, holes included */
	memcpy(cfg.window_tag, part.tag, XP_TAG_SIZE);
	err = xp_member_init(part.member, &part.region, &cfg, &part_member_ops, NULL);
	if (err)
		return err;
	for (p = 0; p < part.nparts; p++)
		if (p != part.self) {
			xp_chan_init(&part.chans[p], part.member, p, &part.db);
			part.chans[p].ping_to_handler = true;
		}
	part.attached = true;
	pr_info("xpmem: partition %u attached to a %u-partition control region\n",
		part.self, part.nparts);
	return 0;
}

static void poll_peer(u32 p, u64 now)
{
	struct peer_thread *pt = &part.peers[p];
	struct xp_msg_stats before;
	u32 budget;

	lockdep_assert_held(&part.lock);
	if (p == part.self || p >= part.nparts)
		return;
	/*
	 * No more than the invalidation queue can take: the rest waits in the
	 * ring.  The fault service's queue does not limit us (I6).
	 */
	budget = min((u32)POLL_BUDGET, queue_room(&pt->inval));
	before = part.chans[p].stats;
	if (budget && xp_chan_poll(&part.chans[p], now, budget, chan_handler, NULL) == budget)
		kick(pt);	/* more may be waiting */
	count_drops(&before, &part.chans[p].stats);
	if (xp_member_peer_live(part.member, p))
		identify_window(p);
}

/*
 * We are UP again after fencing ourselves: every live peer acknowledged our
 * new epoch, so none maps pages through our old one any more.
 */
static void release_self_quarantine(void)
{
	static u32 live[XPMEM_FABRIC_MAX_PARTITIONS];	/* under part.lock */
	u32 p;

	lockdep_assert_held(&part.lock);
	for (p = 0; p < part.nparts; p++)
		live[p] = p != part.self && xp_member_peer_live(part.member, p) ?
			  xp_member_peer_epoch(part.member, p) : 0;
	part.ops->release_self(live, part.nparts);
	part.self_quarantine = false;
}

/* One rescan: attach/join when possible, tick, poll every channel. */
static void rescan_once(void)
{
	u64 now;
	u32 p;

	/*
	 * Queues and threads first: nothing under the fabric mutex allocates
	 * (I8).  A region refused is logged by part_attach.
	 */
	if (!part.attached && prepare_attach() == -EAGAIN)
		return;
	mutex_lock(&part.lock);
	/*
	 * The clock is read under the lock that orders the ticks: read before
	 * it, a time older than a peer thread's tick meanwhile would make the
	 * member see a stall of 2^64 ns and fence us (self-stalled), seen under
	 * memory pressure, where this thread is often preempted right there.
	 */
	now = ktime_get_ns();
	if (part.leaving || (!part.attached && part_attach())) {
		mutex_unlock(&part.lock);
		return;
	}
	if (READ_ONCE(xpmem_inject_stop_heartbeat)) {
		mutex_unlock(&part.lock);
		return;
	}
	part.member->cfg.hb_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_hb_ms));
	part.member->cfg.dead_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_dead_ms));
	if (!part.joined) {
		if (xp_member_join(part.member, now)) {
			mutex_unlock(&part.lock);
			return;
		}
		WRITE_ONCE(part.joined, true);
	}
	xp_member_tick(part.member, now);
	for (p = 0; p < part.nparts; p++)
		poll_peer(p, now);
	/* RELEASEs not acknowledged yet go again (transport/rpc.h). */
	for (p = 0; p < part.nparts; p++)
		if (p != part.self) {
			part.chans[p].rpc.rel_resend_ns =
				xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)) / 4;
			xp_rpc_tick(&part.chans[p], now);
		}
	if (part.self_quarantine && part.member->state == XP_UP)
		release_self_quarantine();
	mutex_unlock(&part.lock);
}

static int rescan_thread(void *data)
{
	while (!kthread_should_stop()) {
		rescan_once();
		schedule_timeout_interruptible(xpmem_doorbell_poll_jiffies(READ_ONCE(xpmem_hb_ms)));
	}
	return 0;
}

static int peer_thread(void *data)
{
	struct peer_thread *pt = data;

	while (!kthread_should_stop()) {
		wait_event_interruptible_timeout(pt->wq,
			atomic_read(&pt->kicked) || kthread_should_stop(), HZ);
		if (!atomic_xchg(&pt->kicked, 0))
			continue;
		mutex_lock(&part.lock);
		if (part.joined && !READ_ONCE(xpmem_inject_stop_heartbeat)) {
			xp_member_tick(part.member, ktime_get_ns());
			poll_peer(pt->id, ktime_get_ns());
		}
		mutex_unlock(&part.lock);
	}
	return 0;
}

/* An injected delay: bounded, and cut short when the module unloads. */
static void inject_sleep(unsigned int ms)
{
	unsigned long until = jiffies + msecs_to_jiffies(ms);

	while (ms && time_before(jiffies, until) && !kthread_should_stop())
		schedule_timeout_interruptible(min_t(long, until - jiffies, HZ / 10) ?: 1);
}

/*
 * The invalidation thread finished @m: an INVALIDATE is marked handled
 * (its completion word moves when no earlier number is missing), a PING
 * gets its PONG, for the incarnation of its sender that asked.
 */
static void answer(u32 peer, const struct xp_msg *m)
{
	struct xp_chan *ch = &part.chans[peer];

	mutex_lock(&part.lock);
	if (part.joined && xp_member_peer_epoch(part.member, peer) == m->h.src_epoch) {
		if (m->h.type == XP_MSG_INVALIDATE)
			xp_rpc_inval_handled(ch, m);
		else
			xp_chan_pong(ch, m, ktime_get_ns());
	}
	mutex_unlock(&part.lock);
}

/* A service thread's loop: take messages from @q, @serve each in order. */
static void serve_queue(struct peer_thread *pt, struct msg_queue *q,
			void (*serve)(struct peer_thread *, const struct xp_msg *))
{
	struct xp_msg m;

	while (!kthread_should_stop()) {
		wait_event_interruptible_timeout(q->wq, READ_ONCE(q->head) != READ_ONCE(q->tail) ||
						 kthread_should_stop(), HZ);
		while (!kthread_should_stop() && queue_pop(q, &m)) {
			serve(pt, &m);
			kick(pt);	/* room again: the poller may take more */
		}
	}
}

/*
 * Queued for an incarnation of ours that has fenced itself since: its
 * mappings are gone, its exports quarantined, and its peers no longer talk
 * to it.  Dropped.
 */
static bool addressed_to_old_self(const struct xp_msg *m)
{
	return m->h.dst_epoch != READ_ONCE(part.member->epoch);
}

static void serve_invalidation(struct peer_thread *pt, const struct xp_msg *m)
{
	if (addressed_to_old_self(m))
		return;
	if (m->h.type == XP_MSG_INVALIDATE) {
		xpmem_count(invalidates_in_service, 1);
		inject_sleep(READ_ONCE(xpmem_inject_delay_invalidate_ms));
		part.ops->invalidate(pt->id, m);
		xpmem_count(invalidates_in_service, -1);
	}
	answer(pt->id, m);
}

static void serve_fault(struct peer_thread *pt, const struct xp_msg *m)
{
	inject_sleep(READ_ONCE(xpmem_inject_stall_fault_service_ms));
	if (!addressed_to_old_self(m))
		part.ops->serve(pt->id, m);
}

static int inval_thread(void *data)
{
	serve_queue(data, &((struct peer_thread *)data)->inval, serve_invalidation);
	return 0;
}

static int fsvc_thread(void *data)
{
	serve_queue(data, &((struct peer_thread *)data)->fsvc, serve_fault);
	return 0;
}

/* ---- what the rest of the module asks ------------------------------------- */

u32 xpmem_partition_count(void)
{
	return READ_ONCE(part.joined) ? part.nparts : 0;
}

int xpmem_partition_self(void)
{
	return READ_ONCE(part.joined) ? (int)part.self : -ENODEV;
}

u32 xpmem_partition_self_epoch(void)
{
	u32 epoch;

	mutex_lock(&part.lock);
	epoch = part.joined ? part.member->epoch : 0;
	mutex_unlock(&part.lock);
	return epoch;
}

u64 xpmem_partition_doorbells_dropped(void)
{
	return atomic64_read(&doorbells_dropped);
}

int xpmem_partition_info(u32 id, struct xpmem_partition_info *out)
{
	u64 now = ktime_get_ns();

	mutex_lock(&part.lock);
	if (!part.joined || id >= part.nparts) {
		mutex_unlock(&part.lock);
		return part.joined ? -ENOENT : -ENODEV;
	}
	out->id = id;
	if (id == part.self) {
		out->state = part.member->state;
		out->epoch = part.member->epoch;
		out->reason = 0;
		out->hb_age_ns = now - min(now, part.member->last_hb_ns);
		out->fence_time_ns = 0;
		out->window = -1;
	} else {
		out->state = part.member->peers[id].state;
		out->epoch = part.member->peers[id].epoch;
		out->reason = part.member->peers[id].reason;
		out->hb_age_ns = xp_member_hb_age_ns(part.member, id, now);
		out->fence_time_ns = part.fence_time_ns[id];
		out->window = part.window_of[id];
	}
	out->inflight = part.rpc.inflight[id];
	out->quarantined = part.ops->quarantined(id);
	mutex_unlock(&part.lock);
	return 0;
}

const char *xpmem_partition_state_name(u32 state)
{
	return xp_state_name(state);
}

const char *xpmem_partition_reason_name(u32 reason)
{
	return xp_reason_name(reason);
}

/* ---- start and stop --------------------------------------------------------- */

static void stop_threads(void)
{
	u32 p;

	/* The rescan thread starts peer threads: stop it first. */
	if (part.rescan)
		kthread_stop(part.rescan);
	part.rescan = NULL;
	for (p = 0; part.peers && p < XPMEM_FABRIC_MAX_PARTITIONS; p++) {
		if (part.peers[p].task)
			kthread_stop(part.peers[p].task);
		part.peers[p].task = NULL;
		queue_stop(&part.peers[p].inval);
		queue_stop(&part.peers[p].fsvc);
	}
}

static void peer_init(struct peer_thread *pt, u32 p)
{
	pt->id = p;
	init_waitqueue_head(&pt->wq);
	spin_lock_init(&pt->inval.lock);
	init_waitqueue_head(&pt->inval.wq);
	spin_lock_init(&pt->fsvc.lock);
	init_waitqueue_head(&pt->fsvc.wq);
}

/* ---- the device goes, and comes back ------------------------------------- */

/*
 * Under part.lock: we leave.  Our table word says DEAD (peers fence this
 * incarnation at their next tick and drop their mappings of our memory),
 * our requests fail, our mappings of peers' memory go (our attachers get
 * SIGBUS) and what peers may still map of ours is quarantined until every
 * live peer acknowledged our next epoch (release_self_quarantine); at unload
 * they stay pinned for ever.  No core call after this: the region may go.
 */
static void leave(u32 reason)
{
	u32 p;

	lockdep_assert_held(&part.lock);
	part.leaving = true;
	if (part.joined) {
		xp_member_leave(part.member, reason);
		pr_info("xpmem: partition %u (epoch %u) leaves the fabric: %s\n",
			part.self, part.member->epoch, xp_reason_name(reason));
		xpmem_requests_fail(U32_MAX);
		part.ops->self_fenced(part.self, part.nparts);
		part.self_quarantine = true;
		WRITE_ONCE(part.joined, false);
	}
	part.attached = false;
	memset(&part.region, 0, sizeof(part.region));
	/* Found again after the rejoin: a peer may restart meanwhile. */
	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		WRITE_ONCE(part.window_of[p], -1);
	wake_up(&part.completion_wq);
}

/*
 * fabric.c: the doorbell device is being unbound (PCI unbind, hot-unplug);
 * its control region and registers are unmapped when this returns.  First
 * leave under the fabric mutex, which every reader of the region holds and
 * then finds part.leaving or !part.joined; then stop the doorbells and
 * every thread (each stop waits for one pass of a loop whose waits are all
 * bounded).  Nothing of ours touches the region or rings after.
 */
static void part_unbinding(void)
{
	mutex_lock(&part.life);
	if (part.tag_page && !part.detached) {
		mutex_lock(&part.lock);
		leave(XP_R_DISCONNECT);
		mutex_unlock(&part.lock);
		xpmem_doorbell_stop();
		stop_threads();
		part.detached = true;
	}
	mutex_unlock(&part.life);
}

/*
 * fabric.c: a doorbell device is bound again.  The rescan thread attaches
 * to its region and joins under a new epoch (the table still holds our
 * DEAD word, xp_member_join takes the next); our quarantine is released
 * once every live peer acknowledged it.
 */
static void part_bound(void)
{
	struct task_struct *task;

	mutex_lock(&part.life);
	if (!part.tag_page || !part.detached)
		goto out;
	if (xpmem_fabric_self_id() != part.self) {
		/* Our quarantine and peers' views are keyed by the old id. */
		pr_err("xpmem: the doorbell device came back as partition %d, was %u: staying out\n",
		       xpmem_fabric_self_id(), part.self);
		goto out;
	}
	mutex_lock(&part.lock);
	part.leaving = false;
	mutex_unlock(&part.lock);
	if (xpmem_doorbell_start(part.self, part_doorbell, NULL))
		goto out;
	task = kthread_run(rescan_thread, NULL, "xpmem-rescan");
	if (IS_ERR(task)) {
		xpmem_doorbell_stop();
		goto out;
	}
	part.rescan = task;
	part.detached = false;
	pr_info("xpmem: partition %u: doorbell device bound again, rejoining\n", part.self);
out:
	mutex_unlock(&part.life);
}

/*
 * fabric.c: the device of peer window @index is being unbound; its BAR,
 * which our attachers may map, is released when this returns (the fabric
 * already refuses the window to new lookups).  Under the fabric mutex,
 * which every translation of a peer's frame holds (xpmem_requests_deliver),
 * the peer it showed loses its window: no frame is translated through it
 * after this section, a FAULT answered later fails (SIGBUS).  Then the
 * segment layer drops every mapping of that peer's frames and makes the
 * faults whose answers were translated before recheck.  Not a fence: the
 * peer stays UP, and the window is found again when a device showing it is
 * bound (identify_window, at the next rescan).
 */
static void part_window_gone(unsigned int index)
{
	DECLARE_BITMAP(lost, XPMEM_FABRIC_MAX_PARTITIONS);
	u32 p;

	bitmap_zero(lost, XPMEM_FABRIC_MAX_PARTITIONS);
	mutex_lock(&part.life);
	if (!part.tag_page)
		goto out;
	mutex_lock(&part.lock);
	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		if (part.window_of[p] == (int)index) {
			WRITE_ONCE(part.window_of[p], -1);
			__set_bit(p, lost);
		}
	mutex_unlock(&part.lock);
	for_each_set_bit(p, lost, XPMEM_FABRIC_MAX_PARTITIONS) {
		pr_info("xpmem: partition %u: peer window %u unbound, its mappings dropped\n",
			p, index);
		part.ops->window_lost(p);
	}
out:
	mutex_unlock(&part.life);
}

static const struct xpmem_fabric_hooks part_fabric_hooks = {
	.unbinding = part_unbinding,
	.bound = part_bound,
	.window_gone = part_window_gone,
};

int xpmem_partition_init(const struct xpmem_partition_ops *ops)
{
	u32 p;
	int err = -ENOMEM;

	mutex_init(&part.lock);
	mutex_init(&part.life);
	init_waitqueue_head(&part.completion_wq);
	init_waitqueue_head(&part.reply_wq);
	xp_rpc_init(&part.rpc);
	part.ops = ops;
	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		part.window_of[p] = -1;
	if (!xpmem_fabric_present())
		return 0;	/* one kernel, no partitions */
	part.self = xpmem_fabric_self_id();

	part.tag_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!part.tag_page)
		goto err;
	get_random_bytes(part.tag, sizeof(part.tag));
	memcpy(page_address(part.tag_page), part.tag, sizeof(part.tag));

	part.member = kvzalloc(sizeof(*part.member), GFP_KERNEL);
	part.chans = kvcalloc(XPMEM_FABRIC_MAX_PARTITIONS, sizeof(*part.chans), GFP_KERNEL);
	part.peers = kcalloc(XPMEM_FABRIC_MAX_PARTITIONS, sizeof(*part.peers), GFP_KERNEL);
	if (!part.member || !part.chans || !part.peers)
		goto err_free;
	part.db.ops = &part_doorbell_ops;

	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		peer_init(&part.peers[p], p);
	err = xpmem_partition_sysfs_init();
	if (err)
		goto err_free;
	err = xpmem_doorbell_start(part.self, part_doorbell, NULL);
	if (err)
		goto err_sysfs;
	part.rescan = kthread_run(rescan_thread, NULL, "xpmem-rescan");
	if (IS_ERR(part.rescan)) {
		err = PTR_ERR(part.rescan);
		part.rescan = NULL;
		goto err_handler;
	}
	xpmem_fabric_set_hooks(&part_fabric_hooks);
	return 0;

err_handler:
	xpmem_doorbell_stop();
err_sysfs:
	xpmem_partition_sysfs_exit();
err_free:
	kfree(part.peers);
	kvfree(part.chans);
	kvfree(part.member);
	__free_page(part.tag_page);
err:
	return err;
}

/* Pages quarantined for any peer: pins a peer may still map. */
static u64 quarantined_pages(void)
{
	u64 pages = 0;
	u32 p;

	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		pages += part.ops->quarantined(p);
	return pages;
}

/*
 * Unload with the fabric still ours.  What peers may still map of ours is
 * quarantined (an unloadable module has no segment left, so no live
 * export): each quarantine ends as at run time, when the fenced peer comes
 * back under a new epoch or, for our own fence, once we are UP again and
 * every live peer acknowledged it; the rescan thread still runs, so those
 * get a bounded time (dead_ms + fault_ms) to end.  Then we leave: our word
 * says DEAD (disconnect) and every peer fences us at its next tick instead
 * of after dead_ms.  What is still pinned after that is kept pinned for ever
 * by the export layer's exit (I1): nothing acknowledged it.
 */
static void leave_for_unload(void)
{
	u64 deadline = ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_dead_ms)) +
		       xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	u64 pages = quarantined_pages();

	lockdep_assert_held(&part.life);
	if (pages)
		pr_info("xpmem: unloading: waiting up to %u ms for %llu quarantined pages to be released\n",
			READ_ONCE(xpmem_dead_ms) + READ_ONCE(xpmem_fault_ms), pages);
	while (pages && ktime_get_ns() < deadline) {
		msleep(20);
		pages = quarantined_pages();
	}
	mutex_lock(&part.lock);
	leave(XP_R_DISCONNECT);
	mutex_unlock(&part.lock);
}

void xpmem_partition_exit(void)
{
	if (!part.tag_page)
		return;
	xpmem_fabric_set_hooks(NULL);
	/*
	 * An unbind that read the hooks before waits here, then finds no
	 * tag page: nothing to do.
	 */
	mutex_lock(&part.life);
	if (!part.detached)
		leave_for_unload();
	xpmem_partition_sysfs_exit();
	xpmem_doorbell_stop();		/* both idempotent: done if unbound */
	stop_threads();
	/*
	 * No thread serves peers any more, and we left: what no peer can map
	 * goes now, the rest stays pinned (export.c).
	 */
	part.ops->exit();
	kfree(part.peers);
	kvfree(part.chans);
	kvfree(part.member);
	__free_page(part.tag_page);
	part.tag_page = NULL;
	mutex_unlock(&part.life);
}
