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
 *     an interrupt on a vector that names no peer wakes them all.
 *
 * A request's requester posts under the mutex and waits for the completion
 * word without it, sleeping between looks on a wait queue every doorbell
 * wakes; the wait is bounded by its deadline, and ends early when the peer
 * is fenced.
 *
 * Windows: at load we allocate one page and write a random tag into it; we
 * publish the tag and that page's frame number (window_pfn) and our RAM size
 * in frames (window_pages).  A peer's window here maps its frames from 0, so
 * its tag sits at window offset window_pfn << PAGE_SHIFT: reading it through
 * each plain window tells which window is whose, whatever the slot order.
 */
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

#include "fabric.h"
#include "netlink.h"
#include "partition.h"
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

/*
 * Fault injection, off (0) unless armed through xpmemctl inject:
 *   stop_heartbeat  this partition stops ticking, as if hung: peers fence
 *                   it; disarmed, it finds itself fenced and rejoins.
 *   drop_doorbells  doorbells we would ring are dropped (counted): peers
 *                   must get our messages from their periodic rescan.
 */
unsigned int xpmem_inject_stop_heartbeat;
unsigned int xpmem_inject_drop_doorbells;
static atomic64_t doorbells_dropped;

#define POLL_BUDGET 64		/* messages per channel per poll */

struct peer_thread {
	struct task_struct *task;
	wait_queue_head_t wq;
	atomic_t kicked;
	u32 id;
};

static struct {
	struct mutex lock;		/* the fabric mutex: every core call */
	struct xp_region region;
	bool attached;
	bool joined;
	struct xp_member *member;
	struct xp_chan *chans;		/* [region.l.max_parts] */
	struct peer_thread *peers;	/* [region.l.max_parts] */
	u32 nparts;
	u32 self;
	struct xp_doorbell db;
	struct task_struct *rescan;
	wait_queue_head_t completion_wq;
	struct page *tag_page;
	u8 tag[XP_TAG_SIZE];
	int window_of[XPMEM_FABRIC_MAX_PARTITIONS];	/* peer -> window */
	u64 fence_time_ns[XPMEM_FABRIC_MAX_PARTITIONS];	/* boottime */
} part;

static u64 ms_to_ns(unsigned int ms)
{
	return (u64)max(ms, 1u) * NSEC_PER_MSEC;
}

/* ---- doorbells ------------------------------------------------------------ */

static int part_ring(void *ctx, u32 peer, u32 vector)
{
	if (READ_ONCE(xpmem_inject_drop_doorbells)) {
		atomic64_inc(&doorbells_dropped);
		return 0;
	}
	trace_xpmem_doorbell_sent(peer, 0);
	/* The receiver learns who rang from the vector. */
	return xpmem_fabric_ring(peer, part.self);
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

static void member_fence(void *ctx, u32 peer, u32 epoch, u32 reason)
{
	/* No remote mappings or pins exist yet: nothing else to retire. */
	pr_info("xpmem: partition %u (epoch %u) fenced: %s\n", peer, epoch,
		xp_reason_name(reason));
	part.fence_time_ns[peer] = ktime_get_boottime_ns();
	trace_xpmem_fence(peer, epoch, reason);
	xpmem_netlink_event_fence(peer, epoch, xpmem_netlink_fence_reason(reason),
				  part.fence_time_ns[peer], 0);
	wake_up(&part.completion_wq);
}

static void member_self_fence(void *ctx, u32 old_epoch, u32 reason)
{
	u32 p;

	pr_warn("xpmem: fenced ourselves (epoch %u): %s; rejoining\n",
		old_epoch, xp_reason_name(reason));
	for (p = 0; p < part.nparts; p++)
		if (p != part.self)
			xp_chan_init(&part.chans[p], part.member, p, &part.db);
	wake_up(&part.completion_wq);
}

static void member_changed(void *ctx, u32 peer, u32 old, u32 new)
{
	pr_info("xpmem: partition %u: %s -> %s\n", peer, xp_state_name(old),
		xp_state_name(new));
	/* enum xp_state and the uapi's enum xpmem_part_state share values. */
	xpmem_netlink_event_partition(peer, new,
				      xp_member_peer_epoch(part.member, peer));
}

static const struct xp_member_ops part_member_ops = {
	.send = member_send,
	.fence = member_fence,
	.self_fence = member_self_fence,
	.changed = member_changed,
};

/* Messages the channel does not handle itself: none are served yet. */
static void chan_handler(void *ctx, struct xp_chan *ch, const struct xp_msg *m)
{
	pr_debug("xpmem: partition %u sent unhandled message type %u\n",
		 ch->peer, m->h.type);
}

/* ---- attach, join, poll ---------------------------------------------------- */

/* Which plain window shows @peer's RAM: the one with its tag at its pfn. */
static void identify_window(u32 peer)
{
	struct xpmem_fabric_window w;
	struct xp_window pub;
	unsigned int i;
	void *tag;

	if (peer >= XPMEM_FABRIC_MAX_PARTITIONS || part.window_of[peer] >= 0)
		return;
	if (xp_region_window(&part.region, peer, &pub) || !pub.pages)
		return;
	for (i = 0; xpmem_fabric_window(i, &w) == 0; i++) {
		if (pub.pfn >= w.size >> PAGE_SHIFT)
			continue;
		tag = memremap(w.phys + (pub.pfn << PAGE_SHIFT), XP_TAG_SIZE,
			       MEMREMAP_WB);
		if (!tag)
			continue;
		if (!memcmp(tag, pub.tag, XP_TAG_SIZE)) {
			part.window_of[peer] = i;
			pr_info("xpmem: partition %u is peer window %u\n", peer, i);
		}
		memunmap(tag);
		if (part.window_of[peer] >= 0)
			return;
	}
}

static int peer_thread(void *data);

/* One thread per peer slot of the region, each woken by that peer's doorbell. */
static int start_peer_threads(void)
{
	struct task_struct *task;
	u32 p;

	for (p = 0; p < part.nparts; p++) {
		struct peer_thread *pt = &part.peers[p];

		if (p == part.self || pt->task)
			continue;
		task = kthread_run(peer_thread, pt, "xpmem-peer/%u", p);
		if (IS_ERR(task))
			return PTR_ERR(task);
		pt->task = task;
	}
	return 0;
}

static int part_attach(void)
{
	struct xp_member_cfg cfg = { };
	size_t size;
	void *mem = xpmem_fabric_control_region(&size);
	int err;
	u32 p;

	lockdep_assert_held(&part.lock);
	err = xp_region_attach(&part.region, mem, size);
	if (err == XP_ATTACH_BAD_MAGIC)
		return -EAGAIN;		/* fabricd has not formatted it yet */
	if (err) {
		pr_err("xpmem: control region refused: %s\n", xp_attach_strerror(err));
		return -EINVAL;
	}
	part.nparts = min_t(u32, part.region.l.max_parts, XPMEM_FABRIC_MAX_PARTITIONS);
	if (part.self >= part.nparts) {
		pr_err("xpmem: partition id %u beyond the region's %u slots\n",
		       part.self, part.nparts);
		return -ERANGE;
	}

	cfg.self = part.self;
	cfg.hb_ns = ms_to_ns(READ_ONCE(xpmem_hb_ms));
	cfg.dead_ns = ms_to_ns(READ_ONCE(xpmem_dead_ms));
	cfg.window_pfn = page_to_pfn(part.tag_page);
	cfg.window_pages = PHYS_PFN(__pa(high_memory));	/* frames from 0 */
	memcpy(cfg.window_tag, part.tag, XP_TAG_SIZE);
	err = xp_member_init(part.member, &part.region, &cfg, &part_member_ops, NULL);
	if (err)
		return err;
	for (p = 0; p < part.nparts; p++)
		if (p != part.self)
			xp_chan_init(&part.chans[p], part.member, p, &part.db);
	err = start_peer_threads();
	if (err)
		return err;
	part.attached = true;
	pr_info("xpmem: partition %u attached to a %u-partition control region\n",
		part.self, part.nparts);
	return 0;
}

static void poll_peer(u32 p, u64 now)
{
	lockdep_assert_held(&part.lock);
	if (p == part.self || p >= part.nparts)
		return;
	xp_chan_poll(&part.chans[p], now, POLL_BUDGET, chan_handler, NULL);
	if (xp_member_peer_live(part.member, p))
		identify_window(p);
}

/* One rescan: attach/join when possible, tick, poll every channel. */
static void rescan_once(void)
{
	u64 now = ktime_get_ns();
	u32 p;

	mutex_lock(&part.lock);
	if (!part.attached && part_attach()) {
		mutex_unlock(&part.lock);
		return;
	}
	if (READ_ONCE(xpmem_inject_stop_heartbeat)) {
		mutex_unlock(&part.lock);
		return;
	}
	part.member->cfg.hb_ns = ms_to_ns(READ_ONCE(xpmem_hb_ms));
	part.member->cfg.dead_ns = ms_to_ns(READ_ONCE(xpmem_dead_ms));
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
	mutex_unlock(&part.lock);
}

static int rescan_thread(void *data)
{
	while (!kthread_should_stop()) {
		rescan_once();
		schedule_timeout_interruptible(msecs_to_jiffies(max(READ_ONCE(xpmem_hb_ms) / 4, 1u)));
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

/* ---- what the rest of the module asks ------------------------------------- */

u32 xpmem_partition_count(void)
{
	return READ_ONCE(part.joined) ? part.nparts : 0;
}

int xpmem_partition_self(void)
{
	return READ_ONCE(part.joined) ? (int)part.self : -ENODEV;
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

static void wait_idle(void *ctx)
{
	wait_event_interruptible_timeout(part.completion_wq, false,
					 msecs_to_jiffies(1));
}

int xpmem_partition_ping(u32 peer, u64 *rtt_ns)
{
	struct xp_msg msg = { };
	u64 t0 = ktime_get_ns(), seq;
	int err;

	mutex_lock(&part.lock);
	if (!part.joined || peer >= part.nparts || peer == part.self) {
		mutex_unlock(&part.lock);
		return part.joined ? -EINVAL : -ENODEV;
	}
	err = xp_chan_send(&part.chans[peer], &msg, XP_MSG_PING, t0);
	seq = msg.h.seq;
	mutex_unlock(&part.lock);
	if (err)
		return err;

	err = xp_chan_wait(&part.chans[peer], seq,
			   t0 + ms_to_ns(READ_ONCE(xpmem_fault_ms)), wait_idle, NULL);
	if (!err)
		*rtt_ns = ktime_get_ns() - t0;
	else if (err == -ETIMEDOUT)
		trace_xpmem_timeout(peer, XP_MSG_PING, ktime_get_ns() - t0);
	return err;
}

/* ---- /sys/kernel/xpmem: the lab's and the tests' view ---------------------- */

static struct kobject *part_kobj;
static DEFINE_MUTEX(ping_lock);		/* the last ping's result */
static char ping_result[64] = "none\n";

/* One line per partition slot in use: id state epoch hb_age_ms reason window. */
static ssize_t partitions_show(struct kobject *k, struct kobj_attribute *a,
			       char *buf)
{
	struct xpmem_partition_info info;
	ssize_t n = 0;
	u32 p;

	for (p = 0; p < xpmem_partition_count(); p++) {
		if (xpmem_partition_info(p, &info) || !info.epoch)
			continue;
		n += sysfs_emit_at(buf, n, "%u %s %u %llu %s %d\n", info.id,
				   xp_state_name(info.state), info.epoch,
				   info.hb_age_ns / NSEC_PER_MSEC,
				   xp_reason_name(info.reason), info.window);
	}
	return n;
}
static struct kobj_attribute partitions_attr = __ATTR_RO(partitions);

static ssize_t ping_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	ssize_t n;

	mutex_lock(&ping_lock);
	n = sysfs_emit(buf, "%s", ping_result);
	mutex_unlock(&ping_lock);
	return n;
}

/* Writing a peer id PINGs it; the write fails with the round trip's error. */
static ssize_t ping_store(struct kobject *k, struct kobj_attribute *a,
			  const char *buf, size_t count)
{
	u64 rtt = 0;
	u32 peer;
	int err;

	if (kstrtou32(buf, 0, &peer))
		return -EINVAL;
	err = xpmem_partition_ping(peer, &rtt);
	mutex_lock(&ping_lock);
	if (err)
		snprintf(ping_result, sizeof(ping_result), "peer %u error %d\n", peer, err);
	else
		snprintf(ping_result, sizeof(ping_result), "peer %u rtt_ns %llu\n", peer, rtt);
	mutex_unlock(&ping_lock);
	return err ? err : count;
}
static struct kobj_attribute ping_attr = __ATTR(ping, 0600, ping_show, ping_store);

static ssize_t doorbells_dropped_show(struct kobject *k,
				      struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&doorbells_dropped));
}
static struct kobj_attribute doorbells_dropped_attr = __ATTR_RO(doorbells_dropped);

static struct attribute *part_attrs[] = {
	&partitions_attr.attr,
	&ping_attr.attr,
	&doorbells_dropped_attr.attr,
	NULL,
};
static const struct attribute_group part_attr_group = { .attrs = part_attrs };

/* ---- start and stop --------------------------------------------------------- */

static void stop_threads(void)
{
	u32 p;

	/* The rescan thread starts peer threads: stop it first. */
	if (part.rescan)
		kthread_stop(part.rescan);
	part.rescan = NULL;
	for (p = 0; part.peers && p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		if (part.peers[p].task)
			kthread_stop(part.peers[p].task);
}

int xpmem_partition_init(void)
{
	u32 p;
	int err = -ENOMEM;

	mutex_init(&part.lock);
	init_waitqueue_head(&part.completion_wq);
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

	for (p = 0; p < XPMEM_FABRIC_MAX_PARTITIONS; p++) {
		part.peers[p].id = p;
		init_waitqueue_head(&part.peers[p].wq);
	}
	part_kobj = kobject_create_and_add("xpmem", kernel_kobj);
	if (!part_kobj)
		goto err_free;
	err = sysfs_create_group(part_kobj, &part_attr_group);
	if (err)
		goto err_put_kobj;
	xpmem_fabric_set_doorbell_handler(part_doorbell, NULL);
	part.rescan = kthread_run(rescan_thread, NULL, "xpmem-rescan");
	if (IS_ERR(part.rescan)) {
		err = PTR_ERR(part.rescan);
		part.rescan = NULL;
		goto err_handler;
	}
	return 0;

err_handler:
	xpmem_fabric_set_doorbell_handler(NULL, NULL);
	sysfs_remove_group(part_kobj, &part_attr_group);
err_put_kobj:
	kobject_put(part_kobj);
err_free:
	kfree(part.peers);
	kvfree(part.chans);
	kvfree(part.member);
	__free_page(part.tag_page);
err:
	return err;
}

void xpmem_partition_exit(void)
{
	if (!part.tag_page)
		return;
	sysfs_remove_group(part_kobj, &part_attr_group);
	kobject_put(part_kobj);
	xpmem_fabric_set_doorbell_handler(NULL, NULL);
	stop_threads();
	kfree(part.peers);
	kvfree(part.chans);
	kvfree(part.member);
	__free_page(part.tag_page);
	part.tag_page = NULL;
}
