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
 * address space.  Only after we return may the kernel free or reuse the old
 * pages, so no attacher can reach them afterwards.
 *
 * The zap runs outside seg->lock: zapping an attacher's PTEs raises that
 * attacher's own notifiers, which may be another segment's callback (every
 * MPI process exports its whole address space, attachments included).
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/spinlock.h>

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
static DEFINE_SPINLOCK(zappers_lock);

static bool zapping_now(void)
{
	struct zapper *z;
	bool found = false;

	spin_lock(&zappers_lock);
	list_for_each_entry(z, &zappers, link)
		if (z->task == current) {
			found = true;
			break;
		}
	spin_unlock(&zappers_lock);
	return found;
}

void xpmem_zap_attachers(struct xpmem_segment *seg, unsigned long start,
			 unsigned long end)
{
	struct zapper self = { .task = current };
	u64 t0 = xpmem_hist_now(), ns;

	trace_xpmem_invalidate_start(seg->segid, start, end);
	spin_lock(&zappers_lock);
	list_add(&self.link, &zappers);
	spin_unlock(&zappers_lock);
	unmap_mapping_pages(seg->inode->i_mapping, src_pgoff(start),
			    src_pgoff(end - start), false);
	spin_lock(&zappers_lock);
	list_del(&self.link);
	spin_unlock(&zappers_lock);
	ns = xpmem_hist_elapsed(t0);
	xpmem_hist_record(XPMEM_HIST_LOCAL_SHOOTDOWN, ns);
	trace_xpmem_invalidate_end(seg->segid, start, end, ns);
}

/* zap_vma_ptes() of an attachment range, marked like xpmem_zap_attachers(). */
void xpmem_zap_vma(struct vm_area_struct *vma, unsigned long start,
		   unsigned long end)
{
	struct zapper self = { .task = current };

	spin_lock(&zappers_lock);
	list_add(&self.link, &zappers);
	spin_unlock(&zappers_lock);
	zap_vma_ptes(vma, start, end - start);
	spin_lock(&zappers_lock);
	list_del(&self.link);
	spin_unlock(&zappers_lock);
}

static bool segment_invalidate(struct mmu_interval_notifier *sub,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct xpmem_segment *seg =
		container_of(sub, struct xpmem_segment, notifier);
	unsigned long start = max(range->start, seg->start);
	unsigned long end = min(range->end, seg->end);
	if (start >= end || zapping_now())
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

	if (mapping_mapped(seg->inode->i_mapping)) {
		xpmem_zap_attachers(seg, start, end);
		xpmem_count(invalidations, 1);
	}
	/* Then other partitions' mappings: returns once they are gone (I1). */
	return xpmem_export_invalidate(seg, start, end, true);
}

const struct mmu_interval_notifier_ops xpmem_invalidate_ops = {
	.invalidate = segment_invalidate,
};
