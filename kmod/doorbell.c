// SPDX-License-Identifier: GPL-2.0-only
/*
 * doorbell.c - the doorbell transports behind one interface (doorbell.h).
 *
 * The mode is xpmem.ko's doorbell= parameter, fixed at load.  Received
 * doorbells of any transport reach the partition layer's handler the same
 * way: MSI-X from fabric.c's interrupt, RDMA from the provider's completion
 * handler (softirq); the handler only wakes threads.
 *
 * The RDMA provider lives in xpmem_rdma.ko so that this module needs no
 * ib_core: a delayed work looks it up with symbol_get (retrying every
 * second until it is loaded) and holds the reference until stop.  Rings go
 * to it under RCU, so stop can unbind it while rings are in flight.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "doorbell.h"
#include "fabric.h"
#include "partition.h"
#include "xpmem_internal.h"

static char *doorbell_mode = "msix";
module_param_named(doorbell, doorbell_mode, charp, 0444);
MODULE_PARM_DESC(doorbell, "Doorbell transport: msix (default), rdma (with xpmem_rdma.ko) or poll");
static unsigned int poll_ms;
module_param(poll_ms, uint, 0644);
MODULE_PARM_DESC(poll_ms, "Rescan period in ms, the wake-up when no doorbell rings (default 0: hb_ms/4; never longer)");

static struct {
	u32 mode;			/* enum xpmem_part_doorbell, fixed once started */
	bool started;
	spinlock_t handler_lock;	/* fn and data: taken in any context */
	xpmem_doorbell_handler fn;
	void *data;
	const struct xpmem_doorbell_provider __rcu *provider;
	struct xpmem_doorbell_host host;
	struct delayed_work bind;
	bool bind_waiting;		/* said once that we wait for the provider */
} db = {
	.handler_lock = __SPIN_LOCK_UNLOCKED(db.handler_lock),
};

static const char *const kind_names[] = {
	[XPMEM_DB_POLL] = "poll",
	[XPMEM_DB_MSIX] = "msix",
	[XPMEM_DB_RDMA] = "rdma",
};

const char *xpmem_doorbell_kind_name(u32 kind)
{
	return kind < ARRAY_SIZE(kind_names) ? kind_names[kind] : "unknown";
}

/* Any context: one doorbell from @from (XPMEM_DB_ANY_PEER: unknown). */
static void deliver(unsigned int from)
{
	unsigned long flags;

	spin_lock_irqsave(&db.handler_lock, flags);
	if (db.fn)
		db.fn(from, db.data);
	spin_unlock_irqrestore(&db.handler_lock, flags);
}

/* fabric.c's MSI-X interrupt: the vector is the ringer's id. */
static void msix_rang(unsigned int vector, void *data)
{
	deliver(vector);
}

static bool peer_live(u32 peer)
{
	return xpmem_partition_live_epoch(peer) != 0;
}

static void bind_provider(struct work_struct *work)
{
	const struct xpmem_doorbell_provider *p = symbol_get(xpmem_rdma_doorbell);
	int err;

	if (!p) {
		if (!db.bind_waiting)
			pr_info("xpmem: doorbell=rdma: xpmem_rdma.ko is not loaded yet; polling meanwhile\n");
		db.bind_waiting = true;
		schedule_delayed_work(&db.bind, HZ);
		return;
	}
	err = p->start(&db.host);
	if (err) {
		symbol_put(xpmem_rdma_doorbell);
		pr_warn("xpmem: doorbell=rdma: the provider did not start (%d); polling, retrying in 5 s\n",
			err);
		schedule_delayed_work(&db.bind, 5 * HZ);
		return;
	}
	rcu_assign_pointer(db.provider, p);
	pr_info("xpmem: doorbells: rdma (xpmem_rdma.ko bound); polled for a peer until connected\n");
}

int xpmem_doorbell_start(u32 self, xpmem_doorbell_handler fn, void *data)
{
	if (sysfs_streq(doorbell_mode, "msix")) {
		db.mode = XPMEM_DB_MSIX;
	} else if (sysfs_streq(doorbell_mode, "rdma")) {
		db.mode = XPMEM_DB_RDMA;
	} else if (sysfs_streq(doorbell_mode, "poll")) {
		db.mode = XPMEM_DB_POLL;
	} else {
		pr_err("xpmem: doorbell=%s: not msix, rdma or poll\n", doorbell_mode);
		return -EINVAL;
	}
	spin_lock_irq(&db.handler_lock);
	db.fn = fn;
	db.data = data;
	spin_unlock_irq(&db.handler_lock);
	/* MSI-X doorbells are taken in every mode: a peer may ring them. */
	xpmem_fabric_set_doorbell_handler(msix_rang, NULL);
	db.host.self = self;
	db.host.rang = deliver;
	db.host.peer_live = peer_live;
	INIT_DELAYED_WORK(&db.bind, bind_provider);
	db.bind_waiting = false;
	db.started = true;
	if (db.mode == XPMEM_DB_RDMA)
		schedule_delayed_work(&db.bind, 0);
	else
		pr_info("xpmem: doorbells: %s\n", xpmem_doorbell_kind_name(db.mode));
	return 0;
}

void xpmem_doorbell_stop(void)
{
	const struct xpmem_doorbell_provider *p;

	if (!db.started)
		return;
	cancel_delayed_work_sync(&db.bind);
	p = rcu_dereference_protected(db.provider, true);
	RCU_INIT_POINTER(db.provider, NULL);
	synchronize_rcu();		/* no ring() inside the provider any more */
	if (p) {
		p->stop();		/* every queue pair gone, no more rang() */
		symbol_put(xpmem_rdma_doorbell);
	}
	xpmem_fabric_set_doorbell_handler(NULL, NULL);
	spin_lock_irq(&db.handler_lock);
	db.fn = NULL;
	db.data = NULL;
	spin_unlock_irq(&db.handler_lock);
	db.started = false;
}

int xpmem_doorbell_ring(u32 peer, u32 self)
{
	const struct xpmem_doorbell_provider *p;
	int err;

	switch (db.mode) {
	case XPMEM_DB_MSIX:
		err = xpmem_fabric_ring(peer, self);
		if (!err)
			xpmem_count(doorbells_sent, 1);
		return err;
	case XPMEM_DB_RDMA:
		/*
		 * Not carried (no connection yet or any more, send queue
		 * full): the provider counts it, and the peer's rescan finds
		 * the message within its poll period.  Not an error.
		 */
		rcu_read_lock();
		p = rcu_dereference(db.provider);
		if (p) {
			p->ring(peer);
			xpmem_count(doorbells_sent, 1);
		}
		rcu_read_unlock();
		break;
	}
	return 0;
}

u32 xpmem_doorbell_kind(u32 peer)
{
	const struct xpmem_doorbell_provider *p;
	u32 kind = XPMEM_DB_POLL;

	switch (db.mode) {
	case XPMEM_DB_MSIX:
		return xpmem_fabric_present() ? XPMEM_DB_MSIX : XPMEM_DB_POLL;
	case XPMEM_DB_RDMA:
		rcu_read_lock();
		p = rcu_dereference(db.provider);
		if (p && (peer == db.host.self || p->connected(peer)))
			kind = XPMEM_DB_RDMA;
		rcu_read_unlock();
		break;
	}
	return kind;
}

unsigned long xpmem_doorbell_poll_jiffies(unsigned int hb_ms)
{
	unsigned int ms = max(hb_ms / 4, 1u), want = READ_ONCE(poll_ms);

	/* The rescan also sends our heartbeat: never slower than hb_ms/4. */
	if (want && want < ms)
		ms = want;
	return msecs_to_jiffies(ms);
}
