// SPDX-License-Identifier: GPL-2.0-only
/*
 * export.c - our segments as other partitions use them (the owner's side).
 *
 * A peer's GET makes an export: a random token naming (peer incarnation,
 * segment, access).  Its FAULTs are served here, in the peer's fault-service
 * thread: the pages are faulted in and pinned in the exporter's mm, the pins
 * recorded in the export (one per page, by page index in the segment), and
 * the frame numbers sent back.  The pins are what makes a remote mapping
 * safe (I1): a pinned page is never freed or reused.
 *
 * Our interval notifier sees every change of the segment's pages.  When a
 * change covers pages some peer has pinned, xpmem_export_invalidate() posts
 * INVALIDATE to every such peer first, then waits for all their completion
 * words (re-posting every inval_ms/4: a message or doorbell may be lost),
 * and unpins what they acknowledged.  A peer still silent at inval_ms is
 * fenced; fencing quarantines every export of that incarnation: the pins
 * stay, the pages are never reused, until the peer rejoins under a new
 * epoch (it dropped every old mapping before joining) or an operator
 * releases them.
 *
 * Races with the fault service follow the interval-notifier pattern: the
 * service reads the notifier sequence before pinning and records the pins
 * under xpmem_export_lock only if no invalidation began meanwhile; an
 * invalidation publishes its sequence before it looks for pins under the
 * same lock.  Nothing under xpmem_export_lock allocates memory that could enter
 * reclaim (which may call the notifier, which takes xpmem_export_lock).
 */
#include <linux/delay.h>
#include <linux/hashtable.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "epoch.h"
#include "export_internal.h"
#include "fabric.h"
#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

DEFINE_MUTEX(xpmem_export_lock);
static DEFINE_HASHTABLE(exports, 8);

static void export_free(struct kref *ref)
{
	struct xpmem_export *e = container_of(ref, struct xpmem_export, ref);

	xa_destroy(&e->pins);
	xpmem_segment_put(e->seg);
	kfree(e);
}

void xpmem_export_put(struct xpmem_export *e)
{
	kref_put(&e->ref, export_free);
}

static struct xpmem_export *export_find(u64 token)
{
	struct xpmem_export *e;

	lockdep_assert_held(&xpmem_export_lock);
	hash_for_each_possible(exports, e, token_link, token)
		if (e->token == token)
			return e;
	return NULL;
}

/* Unpins the pages of @e in [lo, hi) (page indexes); returns how many. */
unsigned long xpmem_export_unpin(struct xpmem_export *e, unsigned long lo,
				 unsigned long hi)
{
	struct page *page;
	unsigned long idx, n = 0;

	lockdep_assert_held(&xpmem_export_lock);
	if (hi <= lo)
		return 0;
	xa_for_each_range(&e->pins, idx, page, lo, hi - 1) {
		xa_erase(&e->pins, idx);
		unpin_user_page(page);
		n++;
	}
	e->npins -= n;
	xpmem_count(pinned_pages, -(s64)n);
	return n;
}

/* Takes @e out of the table and drops every pin: the table's ref goes. */
unsigned long xpmem_export_unlink(struct xpmem_export *e)
{
	unsigned long n;

	lockdep_assert_held(&xpmem_export_lock);
	hash_del(&e->token_link);
	list_del(&e->seg_link);
	e->unlinked = true;
	xpmem_count(exports, -1);
	n = xpmem_export_unpin(e, 0, ULONG_MAX);
	if (e->quarantine)
		trace_xpmem_quarantine_release(e->peer, n);
	return n;
}

/* ---- GET ------------------------------------------------------------------ */

/* The mode bits of MAKE against the caller's ids; no capability counts. */
static int remote_may_access(struct xpmem_segment *seg, u32 uid, u32 gid,
			     bool rdonly)
{
	umode_t want = rdonly ? 04 : 06, granted;

	if (from_kuid(&init_user_ns, seg->uid) == uid)
		granted = (seg->mode >> 6) & 07;
	else if (from_kgid(&init_user_ns, seg->gid) == gid)
		granted = (seg->mode >> 3) & 07;
	else
		granted = seg->mode & 07;
	return (granted & want) == want ? 0 : -EACCES;
}

/*
 * Exports and their pin records are made by our fault-service threads for
 * peers, but for the segment's owner, who decided to share: they are charged
 * to the owner's memory cgroup.  Begin/end around such allocations.
 */
static struct mem_cgroup *charge_owner_begin(struct xpmem_segment *seg,
					     struct mem_cgroup **old)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(seg->mm);

	*old = set_active_memcg(memcg);
	return memcg;
}

static void charge_owner_end(struct mem_cgroup *memcg, struct mem_cgroup *old)
{
	set_active_memcg(old);
	mem_cgroup_put(memcg);
}

static struct xpmem_export *export_new(struct xpmem_segment *seg, u32 peer,
				       u32 epoch, u64 get_rid, bool rdonly)
{
	struct mem_cgroup *memcg, *old;
	struct xpmem_export *e;

	memcg = charge_owner_begin(seg, &old);
	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	charge_owner_end(memcg, old);

	if (!e)
		return NULL;
	kref_init(&e->ref);
	xa_init(&e->pins);
	e->peer = peer;
	e->epoch = epoch;
	e->get_rid = get_rid;
	e->rdonly = rdonly;
	kref_get(&seg->ref);
	e->seg = seg;
	mutex_lock(&xpmem_export_lock);
	if (seg->exports_closed) {
		mutex_unlock(&xpmem_export_lock);
		xpmem_export_put(e);
		return NULL;
	}
	do {
		e->token = get_random_u64();
	} while (!e->token || export_find(e->token));
	hash_add(exports, &e->token_link, e->token);
	list_add_tail(&e->seg_link, &seg->exports);
	xpmem_count(exports, 1);
	mutex_unlock(&xpmem_export_lock);
	return e;
}

static void serve_get(u32 peer, const struct xp_msg *m)
{
	const struct xp_get *g = &m->u.get;
	bool rdonly = g->flags == XPMEM_IOC_RDONLY;
	struct xp_msg r = { };
	struct xpmem_segment *seg;
	struct xpmem_export *e = NULL;
	int status = -ENOENT;
	const char *why = "no such segment";

	seg = XPMEM_SEGID_PARTITION(g->segid) == (u64)xpmem_partition_self() ?
	      xpmem_segment_lookup(g->segid) : NULL;
	if (seg && !READ_ONCE(seg->dead) && !seg->remote &&
	    xpmem_segment_owner_alive(seg)) {
		status = remote_may_access(seg, g->uid, g->gid, rdonly);
		if (!status) {
			e = export_new(seg, peer, m->h.src_epoch, g->rid, rdonly);
			status = e ? 0 : -ENOENT;
			why = "no export (segment removed, or no memory)";
		}
	} else if (seg) {
		why = "segment removed, a proxy, or its owner exiting";
	}
	/* The asker's log says only ENOENT: which one it was, here. */
	if (status == -ENOENT)
		pr_info_ratelimited("xpmem: GET of segid %#llx from partition %u: %s, answered ENOENT\n",
				    g->segid, peer, why);
	r.u.get_reply.segid = g->segid;
	r.u.get_reply.status = status;
	r.u.get_reply.rid = g->rid;	/* matched by it, nothing else */
	if (e) {
		r.u.get_reply.token = e->token;
		r.u.get_reply.size = seg->end - seg->start;
	}
	if (seg)
		xpmem_segment_put(seg);
	xpmem_partition_post(peer, &r, XP_MSG_GET_REPLY,
			     ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)));
}

/* ---- FAULT ------------------------------------------------------------------ */

static void reply_error(u32 peer, const struct xp_fault *f, int err)
{
	struct xp_msg r = { };

	r.u.fault_reply.token = f->token;
	r.u.fault_reply.offset = f->offset;
	r.u.fault_reply.rid = f->rid;
	r.u.fault_reply.status = err;
	r.u.fault_reply.flags = XP_FAULTF_LAST;
	xpmem_partition_post(peer, &r, XP_MSG_FAULT_REPLY,
			     ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)));
}

/* The frames of @pages as runs, XP_FAULT_REPLY_RUNS per message. */
static int reply_frames(u32 peer, const struct xp_fault *f,
			struct page **pages, unsigned long n, bool writable)
{
	u64 deadline = ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	struct xp_msg r;
	struct xp_fault_reply *fr = &r.u.fault_reply;
	unsigned long i = 0;
	int err;

	while (i < n) {
		memset(&r, 0, sizeof(r));
		fr->token = f->token;
		fr->rid = f->rid;
		fr->offset = f->offset + ((u64)i << PAGE_SHIFT);
		while (i < n && fr->count < XP_FAULT_REPLY_RUNS) {
			unsigned long pfn = page_to_pfn(pages[i]);
			u32 len = 1;

			while (i + len < n && len < XP_RUN_MAX_PAGES &&
			       page_to_pfn(pages[i + len]) == pfn + len)
				len++;
			fr->runs[fr->count++] = xp_run(pfn, len);
			i += len;
		}
		fr->flags = (writable ? XP_FAULTF_WRITE : 0) |
			    (i == n ? XP_FAULTF_LAST : 0);
		/* One doorbell for the whole reply, with its last message. */
		err = i == n ? xpmem_partition_post(peer, &r, XP_MSG_FAULT_REPLY, deadline) :
			       xpmem_partition_post_more(peer, &r, XP_MSG_FAULT_REPLY, deadline);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The fault service's own waits (I2, I6).  One thread serves every request
 * of a peer, so a page that cannot come in (a FUSE file whose daemon never
 * answers, slow I/O) must not hold it for longer than the requester waits
 * between re-posts.  Pages are pinned with FOLL_NOWAIT:
 * a page under I/O is not waited for (its I/O is started and goes on), and
 * we look again, holding no lock, until @deadline: -ETIMEDOUT then.  The
 * exporter's mmap_lock is held only while pinning, never across such a
 * wait; taking it waits only for a writer, which holds it for bounded work
 * (its own shootdown waits at most inval_ms).
 */
static long pin_until(struct mm_struct *mm, unsigned long addr,
		      unsigned long npages, unsigned int gup, struct page **pages,
		      u64 deadline)
{
	unsigned int nap_us = 500;
	long n;

	for (;;) {
		mmap_read_lock(mm);
		n = pin_user_pages_remote(mm, addr, npages, gup | FOLL_NOWAIT,
					  pages, NULL, NULL);
		mmap_read_unlock(mm);
		if (n)
			return n;	/* pages, or an error */
		/* The first page is under I/O: wait for it without any lock. */
		if (ktime_get_ns() >= deadline)
			return -ETIMEDOUT;
		usleep_range(nap_us, 2 * nap_us);
		nap_us = min(2 * nap_us, 16000u);
	}
}

/*
 * Pins up to @npages pages from @offset for @e and records them; returns how
 * many (the first one at least, or -errno), with the pages in @pages.
 * Bounded by a quarter of fault_ms, the requester's re-post period:
 * -ETIMEDOUT, and its next post looks again.
 */
static long pin_and_record(struct xpmem_export *e, u64 offset,
			   unsigned long npages, bool write, struct page **pages)
{
	u64 deadline = ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)) / 4;
	struct xpmem_segment *seg = e->seg;
	unsigned long first = offset >> PAGE_SHIFT, i;
	/* Held for as long as a peer maps the pages: a long-term pin. */
	unsigned int gup = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	unsigned long seq;
	long n;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		/* Waits only for an invalidation in progress: bounded (I2). */
		seq = mmu_interval_read_begin(&seg->notifier);
		n = pin_until(seg->mm, seg->start + offset, npages, gup, pages,
			      deadline);
		if (n <= 0)
			return n ? n : -EFAULT;

		mutex_lock(&xpmem_export_lock);
		/*
		 * A removal closes the segment's exports under this lock before
		 * its last shootdown looks for pins: a pin recorded after that
		 * would never be asked back, and would be dropped by the unlink
		 * under a live remote mapping.
		 */
		if (e->unlinked || e->quarantine || seg->exports_closed ||
		    READ_ONCE(seg->dead)) {
			mutex_unlock(&xpmem_export_lock);
			unpin_user_pages(pages, n);
			return -ENOENT;
		}
		if (mmu_interval_read_retry(&seg->notifier, seq)) {
			mutex_unlock(&xpmem_export_lock);
			unpin_user_pages(pages, n);
			continue;
		}
		for (i = 0; i < n; i++) {
			/* No reclaim under xpmem_export_lock: GFP_NOWAIT (I8). */
			struct page *old = xa_store(&e->pins, first + i, pages[i],
						    GFP_NOWAIT | __GFP_ACCOUNT);

			if (xa_is_err(old)) {
				unpin_user_pages(pages + i, n - i);
				n = i;
				break;
			}
			if (old) {
				/* Pinned already (a resent FAULT): one pin is enough. */
				unpin_user_page(old);
			} else {
				e->npins++;
				xpmem_count(pinned_pages, 1);
			}
		}
		mutex_unlock(&xpmem_export_lock);
		return n ? n : -ENOMEM;
	}
	return -EAGAIN;
}

static void serve_fault(u32 peer, const struct xp_msg *m)
{
	const struct xp_fault *f = &m->u.fault;
	bool write = f->flags & XP_FAULTF_WRITE;
	struct mem_cgroup *memcg, *old;
	struct xpmem_export *e;
	struct page **pages = NULL;
	unsigned long npages, size;
	long n;
	int err = 0;

	mutex_lock(&xpmem_export_lock);
	e = export_find(f->token);
	if (!e || e->peer != peer || e->epoch != m->h.src_epoch || e->quarantine)
		err = -ENOENT;
	else if (write && e->rdonly)
		err = -EPERM;
	else
		kref_get(&e->ref);
	mutex_unlock(&xpmem_export_lock);
	if (err)
		goto out_reply;

	size = e->seg->end - e->seg->start;
	if (f->offset >= size || READ_ONCE(e->seg->dead)) {
		err = f->offset >= size ? -EFAULT : -ENOENT;
		goto out_put;
	}
	npages = min_t(unsigned long, f->npages, (size - f->offset) >> PAGE_SHIFT);
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		err = -ENOMEM;
		goto out_put;
	}
	if (!mmget_not_zero(e->seg->mm)) {
		err = -ENOENT;
		goto out_put;
	}
	memcg = charge_owner_begin(e->seg, &old);
	n = pin_and_record(e, f->offset, npages, write, pages);
	charge_owner_end(memcg, old);
	mmput(e->seg->mm);
	if (n == -ETIMEDOUT) {
		/*
		 * No answer yet: the requester re-posts, and we look again.
		 * Not a timeout: nothing missed its deadline (the requester's
		 * own is counted in its `timeouts` if it comes).
		 */
		xpmem_count(faults_deferred, 1);
	} else if (n < 0) {
		err = n;
	} else {
		err = reply_frames(peer, f, pages, n, write);
	}
	/* A reply we could not post: the peer re-sends, the pins stay recorded. */
	if (err == -ETIMEDOUT || err == -ESRCH)
		err = 0;
out_put:
	kvfree(pages);
	xpmem_export_put(e);
out_reply:
	if (err)
		reply_error(peer, f, err);
}

/* ---- UNPIN, RELEASE -------------------------------------------------------- */

static struct xpmem_export *find_for(u32 peer, const struct xp_msg *m, u64 token)
{
	struct xpmem_export *e = export_find(token);

	if (!e || e->peer != peer || e->epoch != m->h.src_epoch)
		return NULL;
	return e;
}

/* The peer detached everything of a range: no invalidation is needed. */
static void serve_unpin(u32 peer, const struct xp_msg *m)
{
	const struct xp_inval *u = &m->u.inval;
	struct xpmem_export *e;

	mutex_lock(&xpmem_export_lock);
	e = find_for(peer, m, u->token);
	if (e && !e->quarantine)
		xpmem_export_unpin(e, u->offset >> PAGE_SHIFT,
			    (u->offset + u->len) >> PAGE_SHIFT);
	mutex_unlock(&xpmem_export_lock);
}

/* What a settle drops: made for its GET by that incarnation, but the kept one. */
struct settle {
	u32 peer, epoch;
	u64 get_rid, keep;
};

static bool drop_settled(const struct xpmem_export *e, const void *arg)
{
	const struct settle *st = arg;

	return e->peer == st->peer && e->epoch == st->epoch && !e->quarantine &&
	       e->get_rid == st->get_rid && e->token != st->keep;
}

static u64 release_where(bool (*drop)(const struct xpmem_export *, const void *),
			 const void *arg);

/*
 * RELEASE of a token (its proxy went, or an orphan answer), or a settle of
 * a GET (get_rid): every export made for it but the one its asker kept.
 */
static void serve_release(u32 peer, const struct xp_msg *m)
{
	const struct xp_release *r = &m->u.release;
	struct settle st = { .peer = peer, .epoch = m->h.src_epoch,
			     .get_rid = r->get_rid, .keep = r->token };
	struct xpmem_export *e;

	if (r->get_rid) {
		release_where(drop_settled, &st);
		return;
	}
	mutex_lock(&xpmem_export_lock);
	e = find_for(peer, m, r->token);
	if (e && !e->quarantine)
		xpmem_export_unlink(e);
	else
		e = NULL;
	mutex_unlock(&xpmem_export_lock);
	if (e)
		xpmem_export_put(e);
}

void xpmem_export_serve(u32 peer, const struct xp_msg *m)
{
	switch (m->h.type) {
	case XP_MSG_GET:
		serve_get(peer, m);
		break;
	case XP_MSG_FAULT:
		serve_fault(peer, m);
		break;
	case XP_MSG_UNPIN:
		serve_unpin(peer, m);
		break;
	case XP_MSG_RELEASE:
		serve_release(peer, m);
		break;
	}
}

/* ---- quarantine ------------------------------------------------------------ */

void xpmem_export_peer_fenced(u32 peer, u32 epoch)
{
	struct xpmem_export *e;
	int bkt;

	mutex_lock(&xpmem_export_lock);
	hash_for_each(exports, bkt, e, token_link)
		if (e->peer == peer && !xp_epoch_after(e->epoch, epoch) &&
		    !(e->quarantine & QUAR_PEER)) {
			e->quarantine |= QUAR_PEER;
			trace_xpmem_quarantine_add(peer, e->npins);
		}
	mutex_unlock(&xpmem_export_lock);
}

void xpmem_export_self_fenced(void)
{
	struct xpmem_export *e;
	int bkt;

	mutex_lock(&xpmem_export_lock);
	hash_for_each(exports, bkt, e, token_link)
		if (!e->quarantine) {
			e->quarantine |= QUAR_SELF;
			trace_xpmem_quarantine_add(e->peer, e->npins);
		}
	mutex_unlock(&xpmem_export_lock);
}

/*
 * Drops the table's reference of each export on @gone: unlinked under
 * xpmem_export_lock and collected by their seg_link (unlink took them off
 * their segment's list).  Called after that lock is released, as every
 * put of an export is: a last put frees the export and puts its segment
 * (iput, mmdrop).
 */
static void put_unlinked(struct list_head *gone)
{
	struct xpmem_export *e, *next;

	lockdep_assert_not_held(&xpmem_export_lock);
	list_for_each_entry_safe(e, next, gone, seg_link) {
		list_del(&e->seg_link);
		xpmem_export_put(e);
	}
}

/* Unlinks the exports @drop selects; returns the pages released. */
static u64 release_where(bool (*drop)(const struct xpmem_export *, const void *),
			 const void *arg)
{
	struct xpmem_export *e;
	struct hlist_node *tmp;
	LIST_HEAD(gone);
	u64 pages = 0;
	int bkt;

	mutex_lock(&xpmem_export_lock);
	hash_for_each_safe(exports, bkt, tmp, e, token_link) {
		if (!drop(e, arg))
			continue;
		pages += xpmem_export_unlink(e);
		list_add(&e->seg_link, &gone);
	}
	mutex_unlock(&xpmem_export_lock);
	put_unlinked(&gone);
	return pages;
}

/* Which exports a release drops: of @peer, quarantined or older than @epoch. */
struct peer_release {
	u32 peer, epoch;
};

static bool drop_for_peer(const struct xpmem_export *e, const void *arg)
{
	const struct peer_release *r = arg;

	return e->peer == r->peer &&
	       (e->quarantine || xp_epoch_before(e->epoch, r->epoch));
}

u64 xpmem_export_release_quarantine(u32 peer, u32 below_epoch)
{
	struct peer_release r = { .peer = peer, .epoch = below_epoch };

	return release_where(drop_for_peer, &r);
}

/* After our rejoin: the peers' epochs that acknowledged it (0: not live). */
struct self_release {
	const u32 *live_epoch;
	u32 nparts;
};

/* Held only because we fenced ourselves, and the peer acked our rejoin. */
static bool drop_self(const struct xpmem_export *e, const void *arg)
{
	const struct self_release *r = arg;

	return e->quarantine == QUAR_SELF && e->peer < r->nparts &&
	       r->live_epoch[e->peer] == e->epoch;
}

void xpmem_export_release_self(const u32 *live_epoch, u32 nparts)
{
	struct self_release r = { .live_epoch = live_epoch, .nparts = nparts };

	release_where(drop_self, &r);
}

u64 xpmem_export_quarantined(u32 peer)
{
	struct xpmem_export *e;
	u64 pages = 0;
	int bkt;

	mutex_lock(&xpmem_export_lock);
	hash_for_each(exports, bkt, e, token_link)
		if (e->peer == peer && e->quarantine)
			pages += e->npins;
	mutex_unlock(&xpmem_export_lock);
	return pages;
}

/*
 * Module unload, after we left the fabric (partition.c, leave_for_unload):
 * no peer is served any more.  The exports go; their pins are what peers
 * may still map, since nothing acknowledged them in time (an unloadable
 * module has no segment left, so every export left is quarantined): a page
 * returned to the allocator could be reused under a peer's mapping (I1).
 * Those pages stay pinned for ever, on purpose, and are logged.
 */
void xpmem_export_exit(void)
{
	static u64 kept[XPMEM_FABRIC_MAX_PARTITIONS];	/* by peer; exit runs once */
	struct xpmem_export *e;
	struct hlist_node *tmp;
	LIST_HEAD(gone);
	u64 total = 0;
	int bkt;
	u32 p;

	mutex_lock(&xpmem_export_lock);
	hash_for_each_safe(exports, bkt, tmp, e, token_link) {
		if (e->npins) {
			/* Forgotten, not unpinned: the pins are never dropped. */
			if (e->peer < XPMEM_FABRIC_MAX_PARTITIONS)
				kept[e->peer] += e->npins;
			total += e->npins;
			xpmem_count(pinned_pages, -(s64)e->npins);
			xa_destroy(&e->pins);
			e->npins = 0;
		}
		xpmem_export_unlink(e);
		list_add(&e->seg_link, &gone);
	}
	mutex_unlock(&xpmem_export_lock);
	put_unlinked(&gone);
	for (p = 0; total && p < XPMEM_FABRIC_MAX_PARTITIONS; p++)
		if (kept[p])
			pr_warn("xpmem: unloading: partition %u may still map %llu pages of ours: they stay pinned for ever\n",
				p, kept[p]);
}
