// SPDX-License-Identifier: GPL-2.0-only
/*
 * invalidate.c - the local TLB shootdown.
 *
 * Every segment has an interval notifier over its source range in the
 * owner's mm.  The core mm calls it before any page of that range changes,
 * whoever causes the change (the owner, another thread, a debugger,
 * khugepaged, reclaim, migration, exit).  We publish a new notifier sequence
 * under seg->lock, so that a fault that looked pages up before this point
 * sees the change and looks them up again, and then zap the range in every
 * attachment of the segment with one unmap_mapping_pages() on the segment's
 * address space.  Only after the zap is done do we return, and only then may
 * the kernel free or reuse the old pages, so no attacher can reach them
 * afterwards.
 *
 * The zap runs outside seg->lock: zapping an attacher's PTEs raises that
 * attacher's own notifiers, which may be another segment's callback (every
 * MPI process exports its whole address space, attachments included).  For
 * the same reason it does not run in the task of the callback at all, but in
 * a worker the callback waits for: see "Zaps apart" below.
 */
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "histogram.h"
#include "remote.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

static pgoff_t src_pgoff(unsigned long addr)
{
	return addr >> PAGE_SHIFT;
}

/*
 * Zapping attachers raises the notifiers of the attachers' mms, and an
 * attacher may export (a range covering) its attachments: every MPI process
 * exports its whole address space, and a process may even attach its own
 * segment over its source range.  Those nested callbacks concern attachment
 * VMAs only, whose PFNs no attachment can map (the fault path refuses to
 * look through VM_PFNMAP), so they have nothing to do.  Running them anyway
 * would recurse without end (an attachment covering its own source) and
 * take a mapping's i_mmap_rwsem for read inside itself, which deadlocks
 * against a queued writer.  So a task marks itself while it zaps, and the
 * callback returns at once for a task so marked.
 */
struct zapper {
	struct list_head link;
	struct task_struct *task;
};
static LIST_HEAD(zappers);
/* Tasks inside segment_invalidate()'s blockable path (Zaps apart, below). */
static LIST_HEAD(notifying);
static DEFINE_SPINLOCK(zappers_lock);

static void mark(struct zapper *self, struct list_head *list)
{
	self->task = current;
	spin_lock(&zappers_lock);
	list_add(&self->link, list);
	spin_unlock(&zappers_lock);
}

static void unmark(struct zapper *self)
{
	spin_lock(&zappers_lock);
	list_del(&self->link);
	spin_unlock(&zappers_lock);
}

static bool marked(struct list_head *list)
{
	struct zapper *z;
	bool found = false;

	spin_lock(&zappers_lock);
	list_for_each_entry(z, list, link)
		if (z->task == current) {
			found = true;
			break;
		}
	spin_unlock(&zappers_lock);
	return found;
}

static void zap_here(struct xpmem_segment *seg, unsigned long start,
		     unsigned long end)
{
	struct zapper self;

	mark(&self, &zappers);
	unmap_mapping_pages(seg->inode->i_mapping, src_pgoff(start),
			    src_pgoff(end - start), false);
	unmark(&self);
}

/*
 * Zaps apart.
 *
 * The core mm runs every invalidate_range_start() callback, ours included,
 * inside one lockdep map (mmu_notifier_invalidate_range_start, not exported
 * to modules), and unmap_mapping_pages() opens another invalidation, on the
 * attacher's mm, inside that: a callback nested in a callback, which lockdep
 * reports as recursive locking ("possible recursive locking detected",
 * segment_invalidate -> xpmem_zap_attachers -> unmap_mapping_pages ->
 * zap_page_range_single), after which it checks nothing more.  And it is
 * a real hazard: the attacher mm's other subscribers (a hypervisor mapping an
 * attachment into a guest, a driver) would run nested in the owner's
 * invalidation, under whatever the owner's task holds.
 *
 * So a zap asked for by a task that is inside one of our callbacks (the
 * local shootdown itself, and a fence from the remote shootdown, which
 * zaps the fenced peer's proxies) runs in a worker of zap_wq, which starts
 * an invalidation of its own instead of a nested one, while the callback
 * waits for its completion.  Not flush_work(): its lockdep annotation would
 * tie the notifier map to the work item's map, which the worker holds while
 * it opens the attacher's invalidation: a cycle.  A completion is not seen
 * by lockdep, so the reasoning that there is no deadlock is here:
 *
 * - What the callback's task may hold: its mm's mmap_lock (munmap, mremap,
 *   mprotect, exit), a file's i_mmap_rwsem for read (truncate, the rmap walk
 *   of reclaim and migration) or for write (hugetlb), folio locks
 *   (migration, reclaim), an anon_vma lock, and, in direct reclaim, whatever
 *   the allocating task held; from the remote shootdown's fence also the
 *   fabric mutex and import_lock.  Never a page-table lock (a spinlock, not
 *   held across the sleeping callbacks).
 * - What the worker takes: the segment inode's i_mmap_rwsem for read, the
 *   attacher mms' page-table locks, and whatever the attacher mms' other
 *   subscribers take in their invalidate_range_start (ours return at once:
 *   the worker is marked as a zapper).  It allocates nothing that can
 *   reclaim (the TLB gather takes GFP_NOWAIT pages), so no callback runs in
 *   it by reclaim.  It takes no module lock.
 * - The segment inode's i_mmap_rwsem is held for write only by an attacher
 *   linking or unlinking an attachment VMA, which does not sleep on
 *   anything else meanwhile, and for read only by zappers (marked: our
 *   callbacks return at once for them, they never wait for one of ours).
 *   The segment's mapping has no pages, so no rmap walk, truncate or
 *   migration ever holds it: the callback's task never holds it.
 * - The attacher mms' other subscribers take only locks that no task inside
 *   an invalidation may hold: that is the kernel's own rule for every
 *   subscriber, which lockdep enforces with the one map of all mms'
 *   callbacks, taken also by every allocation that may reclaim (page_alloc.c),
 *   by mmu_interval_read_begin() and by mmu_interval_notifier_remove().  The
 *   waiting task is inside the owner's invalidation, so it holds none of
 *   them; at a fence outside any callback it holds only our own locks
 *   (part.lock, import_lock), which no subscriber but ours takes, and ours
 *   return at once in the worker.
 * - So the worker never needs what the waiting task holds.  Its work
 *   depends on no peer and no user, only on the attacher mms' subscribers
 *   returning, which reclaim needs of them anyway (it invalidates any mm):
 *   the wait is as bounded as every unmap_mapping_pages() is.
 * - Work items never wait for each other, and WQ_MEM_RECLAIM gives zap_wq
 *   a rescuer thread: a zap still runs when no new kworker can be made
 *   (notifiers run in reclaim, and in kworkers: mmput_async()).
 *
 * The OOM reaper's non-blockable callback zaps nothing (it refuses while
 * any attachment exists).  Zaps from outside any callback (REMOVE, a
 * context's teardown, a remote INVALIDATE in the invalidation thread) run
 * in their own task, as before.  A fenced peer's proxies are zapped apart
 * wherever the fence is seen (xpmem_zap_attachers_fenced, below).
 */
static struct workqueue_struct *zap_wq;

struct zap_work {
	struct work_struct work;
	struct completion done;
	struct xpmem_segment *seg;
	unsigned long start, end;
};

static void zap_worker(struct work_struct *work)
{
	struct zap_work *zw = container_of(work, struct zap_work, work);

	zap_here(zw->seg, zw->start, zw->end);
	/* The last touch of *zw: it lives on the waiter's stack. */
	complete(&zw->done);
}

static void zap_apart(struct xpmem_segment *seg, unsigned long start,
		      unsigned long end)
{
	struct zap_work zw = { .seg = seg, .start = start, .end = end };

	INIT_WORK_ONSTACK(&zw.work, zap_worker);
	init_completion(&zw.done);
	queue_work(zap_wq, &zw.work);
	/* Bounded as the zap itself is: see "Zaps apart" above. */
	wait_for_completion(&zw.done);
	destroy_work_on_stack(&zw.work);
}

static void zap_attachers(struct xpmem_segment *seg, unsigned long start,
			  unsigned long end, bool apart)
{
	u64 t0 = xpmem_hist_now(), ns;

	trace_xpmem_invalidate_start(seg->segid, start, end);
	if (apart)
		zap_apart(seg, start, end);
	else
		zap_here(seg, start, end);
	ns = xpmem_hist_elapsed(t0);
	xpmem_hist_record(XPMEM_HIST_LOCAL_SHOOTDOWN, ns);
	trace_xpmem_invalidate_end(seg->segid, start, end, ns);
}

void xpmem_zap_attachers(struct xpmem_segment *seg, unsigned long start,
			 unsigned long end)
{
	zap_attachers(seg, start, end, marked(&notifying));
}

/*
 * A fenced peer's proxies: the partition layer calls its fence handlers
 * under part.lock (xpmem_import_peer_dead also holds import_lock), from the
 * rescan and peer threads, our own self-fence, or a callback's deadline.
 * Our callbacks take part.lock (post_invalidate), and lockdep counts every
 * callback as taken inside the i_mmap_rwsem of any zap, so a zap under
 * part.lock closes i_mmap_rwsem -> notifier -> part.lock -> i_mmap_rwsem
 * (the debug kernel reported it at a self-fence in remote.sh).  It runs
 * apart, as from a callback: the worker needs none of the waiter's locks
 * (Zaps apart, above).
 */
void xpmem_zap_attachers_fenced(struct xpmem_segment *seg, unsigned long start,
				unsigned long end)
{
	zap_attachers(seg, start, end, true);
}

/* zap_vma_ptes() of an attachment range, marked like xpmem_zap_attachers(). */
void xpmem_zap_vma(struct vm_area_struct *vma, unsigned long start,
		   unsigned long end)
{
	struct zapper self;

	mark(&self, &zappers);
	zap_vma_ptes(vma, start, end - start);
	unmark(&self);
}

static bool segment_invalidate(struct mmu_interval_notifier *sub,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct xpmem_segment *seg =
		container_of(sub, struct xpmem_segment, notifier);
	unsigned long start = max(range->start, seg->start);
	unsigned long end = min(range->end, seg->end);
	struct zapper self;
	bool done;

	if (start >= end || marked(&zappers))
		return true;

	if (!mmu_notifier_range_blockable(range)) {
		/* The OOM reaper: may not sleep, may be refused. */
		if (!mutex_trylock(&seg->lock)) {
			xpmem_count(invalidations_refused, 1);
			return false;
		}
		mmu_interval_set_seq(sub, cur_seq);
		mutex_unlock(&seg->lock);
		/*
		 * Whether an attachment maps this very range would take the
		 * i_mmap lock; any attachment of the segment is reason enough
		 * to refuse, and the reaper comes back later.
		 */
		if (mapping_mapped(seg->inode->i_mapping) ||
		    !xpmem_export_invalidate(seg, start, end, false)) {
			xpmem_count(invalidations_refused, 1);
			return false;
		}
		return true;
	}

	mutex_lock(&seg->lock);
	mmu_interval_set_seq(sub, cur_seq);
	mutex_unlock(&seg->lock);

	/* Every zap from here on runs apart (Zaps apart, above). */
	mark(&self, &notifying);
	if (mapping_mapped(seg->inode->i_mapping)) {
		xpmem_zap_attachers(seg, start, end);
		xpmem_count(invalidations, 1);
	}
	/*
	 * Then other partitions' mappings: returns once they are gone (I1).
	 * A peer fenced on the way has its proxies zapped here too.
	 */
	done = xpmem_export_invalidate(seg, start, end, true);
	unmark(&self);
	return done;
}

const struct mmu_interval_notifier_ops xpmem_invalidate_ops = {
	.invalidate = segment_invalidate,
};

int xpmem_invalidate_init(void)
{
	/* WQ_MEM_RECLAIM: the waiting callback may be reclaim's own. */
	zap_wq = alloc_workqueue("xpmem_zap", WQ_MEM_RECLAIM, 0);
	return zap_wq ? 0 : -ENOMEM;
}

/* After every segment is gone: no callback of ours can run any more. */
void xpmem_invalidate_exit(void)
{
	destroy_workqueue(zap_wq);
}
