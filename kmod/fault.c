// SPDX-License-Identifier: GPL-2.0-only
/*
 * fault.c - filling attachments of local segments on demand (proxies of
 * other partitions' segments have their own, in import.c; the window and
 * page-table helpers both use are in fault_map.c).
 *
 * A fault in an attachment maps a window of pages around the faulting one
 * (xpmem_fault_window pages, aligned, never crossing a PMD): the faulting
 * page is faulted in on the owner's side if needed (bss not instantiated yet,
 * swapped out, copy-on-write), its neighbours are mapped only if the owner
 * has them present already.  When the owner maps a whole aligned 2 MiB
 * region with one PMD (THP or hugetlb) and the attachment is aligned the
 * same way, the attacher gets one PMD too, on kernels with special PMDs
 * (fault_map.h).
 *
 * Correctness against concurrent invalidations follows the interval-notifier
 * pattern: read the notifier sequence, look the pages up with
 * hmm_range_fault(), then under seg->lock install PFNs only if the sequence
 * did not move (otherwise look up again).  The invalidate callback publishes
 * a new sequence under the same lock before zapping, so an installed PFN is
 * either current or zapped.  Nothing under seg->lock allocates: page tables
 * are allocated first, under att->pt_lock, which the callback never takes
 * (reclaim may call the callback from inside an allocation).
 *
 * Writability comes from the source: a page the owner may not write (the
 * shared zero page, a page shared copy-on-write after fork) is mapped
 * read-only, and a write to it comes back through pfn_mkwrite, which looks
 * the page up for writing (breaking the copy-on-write in the owner, whose
 * invalidation zaps the old frame) and upgrades the PTE in place.
 *
 * Lock order here: attacher mmap_lock (held by the caller) -> seg->life ->
 * owner mmap_lock -> att->pt_lock -> seg->lock.  The owner's mmap_lock is
 * only ever try-locked while the attacher's is held: two processes attaching
 * each other's memory would otherwise deadlock against queued writers.  On
 * contention we drop the attacher's lock, wait for the owner's, and let the
 * core retry the fault.
 */
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "fault_map.h"
#include "histogram.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

unsigned int xpmem_fault_window = PTRS_PER_PTE;

int xpmem_fault_window_set(unsigned int pages)
{
	if (!pages || pages > PTRS_PER_PTE || !is_power_of_2(pages))
		return -EINVAL;
	WRITE_ONCE(xpmem_fault_window, pages);
	return 0;
}

static int window_set(const char *val, const struct kernel_param *kp)
{
	unsigned int pages;
	int err = kstrtouint(val, 0, &pages);

	return err ? err : xpmem_fault_window_set(pages);
}

static const struct kernel_param_ops window_ops = {
	.set = window_set,
	.get = param_get_uint,
};
module_param_cb(fault_window, &window_ops, &xpmem_fault_window, 0644);
MODULE_PARM_DESC(fault_window,
		 "Pages mapped per attachment fault: a power of two, 1..512 (default 512)");

/*
 * Injection point for the tests: a first fault takes the owner-contended
 * path and sleeps this long after dropping the attacher's mmap_lock, which
 * makes the window in which everything else may go reproducible.
 */
static unsigned int inject_fault_wait_ms;
module_param(inject_fault_wait_ms, uint, 0644);
MODULE_PARM_DESC(inject_fault_wait_ms,
		 "Testing: a first local fault waits for the owner this long, unlocked (0: off)");

#define FAULT_TRIES 32	/* lookups before we let the core retry the fault */

/* A window of frames found present, installed under seg->lock. */
static vm_fault_t install_ptes(struct vm_fault *vmf, struct xpmem_window *w,
			       unsigned long *pfns)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret = VM_FAULT_NOPAGE, r;
	unsigned long i, mapped = 0;

	for (i = 0; i < w->npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID) || (pfns[i] & HMM_PFN_ERROR))
			continue;
		r = xpmem_map_pte(vma, w->start + (i << PAGE_SHIFT),
				  pfns[i] & ~HMM_PFN_FLAGS,
				  pfns[i] & HMM_PFN_WRITE);
		if (r == VM_FAULT_NOPAGE)
			mapped++;
		else if (i == w->target)
			ret = r;
	}
	xpmem_count(pages_mapped, mapped);
	trace_xpmem_fault_install(w->start, w->src, mapped, false);
	return ret;
}

/* The owner maps the window with one PMD: its frame is 2 MiB aligned. */
static bool owner_pmd(struct vm_fault *vmf, struct xpmem_window *w,
		      unsigned long *pfns)
{
	unsigned long hpfn = pfns[0];

	return (hpfn & HMM_PFN_VALID) &&
	       hmm_pfn_to_map_order(hpfn) >= PMD_SHIFT - PAGE_SHIFT &&
	       xpmem_window_pmd_ok(vmf, w, hpfn & ~HMM_PFN_FLAGS);
}

/*
 * One lookup-and-install round (@mkwrite: the upgrade of the one page of
 * @w).  Sets *again when the sequence moved and the round must be played
 * again; returns VM_FAULT_RETRY when the owner's mmap_lock is contended.
 */
static vm_fault_t fault_round(struct vm_fault *vmf, struct xpmem_segment *seg,
			      struct xpmem_window *w, unsigned long *pfns,
			      bool same_mm, bool mkwrite, bool *again)
{
	struct xpmem_attach *att = vmf->vma->vm_private_data;
	bool write = mkwrite || (vmf->flags & FAULT_FLAG_WRITE);
	struct hmm_range range = {
		.notifier = &seg->notifier,
		.start = w->src,
		.end = w->src + (w->npages << PAGE_SHIFT),
		.hmm_pfns = pfns,
		.default_flags = 0,
		.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};
	vm_fault_t ret;
	bool pmd;
	int err;

	memset(pfns, 0, w->npages * sizeof(*pfns));
	pfns[w->target] = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0);

	range.notifier_seq = mmu_interval_read_begin(&seg->notifier);
	if (!same_mm && READ_ONCE(inject_fault_wait_ms) &&
	    !(vmf->flags & FAULT_FLAG_TRIED))
		return VM_FAULT_RETRY;	/* injected contention */
	if (!same_mm && !mmap_read_trylock(seg->mm))
		return VM_FAULT_RETRY;	/* the caller waits, unlocked */
	err = hmm_range_fault(&range);
	if (!same_mm)
		mmap_read_unlock(seg->mm);
	if (err == -EBUSY) {
		*again = true;
		return 0;
	}
	if (err)
		return xpmem_fault_errno(err);

	if (mkwrite) {		/* the PTE table exists: it holds our PTE */
		mutex_lock(&seg->lock);
		*again = mmu_interval_read_retry(&seg->notifier, range.notifier_seq);
		if (*again)
			ret = 0;
		else if (!(pfns[w->target] & HMM_PFN_WRITE))
			ret = VM_FAULT_SIGSEGV;
		else
			ret = xpmem_upgrade_pte(vmf, pfns[w->target] & ~HMM_PFN_FLAGS);
		mutex_unlock(&seg->lock);
		return ret;
	}

	mutex_lock(&att->pt_lock);
	pmd = owner_pmd(vmf, w, pfns);
	if (!pmd && !xpmem_prepare_ptes(vmf, w->start, w->end)) {
		mutex_unlock(&att->pt_lock);
		return VM_FAULT_NOPAGE;		/* a PMD is there: retry access */
	}
	mutex_lock(&seg->lock);
	if (mmu_interval_read_retry(&seg->notifier, range.notifier_seq)) {
		ret = 0;
		*again = true;
	} else if (pmd) {
		ret = xpmem_map_pmd(vmf, pfns[0] & ~HMM_PFN_FLAGS,
				    pfns[0] & HMM_PFN_WRITE);
	} else {
		ret = install_ptes(vmf, w, pfns);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/* Owner's mmap_lock contended: wait for it without holding ours, then retry. */
static vm_fault_t wait_for_owner(struct vm_fault *vmf, struct mm_struct *owner)
{
	vm_fault_t ret = xpmem_fault_retry(vmf);
	unsigned int inject = READ_ONCE(inject_fault_wait_ms);

	if (ret == VM_FAULT_RETRY && !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT)) {
		if (inject)
			schedule_timeout_killable(msecs_to_jiffies(inject));
		if (!mmap_read_lock_killable(owner))
			mmap_read_unlock(owner);
	}
	return ret;
}

/*
 * A fault, or with @mkwrite the write to a page mapped read-only: look the
 * page up for writing and upgrade its PTE (only that page: breaking the
 * owner's copy-on-write of its neighbours is for their own writes).
 */
static vm_fault_t local_fault(struct vm_fault *vmf, bool mkwrite)
{
	struct xpmem_attach *att = vmf->vma->vm_private_data;
	struct xpmem_segment *seg = att->seg;
	struct xpmem_window w;
	struct mm_struct *mm;
	unsigned long *pfns;
	bool same_mm, again = true, contended = false;
	vm_fault_t ret = 0;
	int tries;

	xpmem_count(faults, 1);
	if (mkwrite)
		xpmem_window_one(vmf, &w);
	else
		xpmem_window_compute(vmf, seg, &w);
	pfns = kmalloc_array(w.npages, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return VM_FAULT_OOM;

	down_read(&seg->life);
	if (seg->dead || !mmget_not_zero(seg->mm)) {
		up_read(&seg->life);
		kfree(pfns);
		xpmem_count(sigbus, 1);
		return VM_FAULT_SIGBUS;
	}
	mm = seg->mm;	/* ours (mmget) until mmput, whatever becomes of seg */
	same_mm = mm == vmf->vma->vm_mm;

	for (tries = 0; again; tries++) {
		if (tries >= FAULT_TRIES || fatal_signal_pending(current)) {
			ret = VM_FAULT_RETRY;	/* let the core retry */
			break;
		}
		again = false;
		if (tries)
			xpmem_count(fault_retries, 1);
		ret = fault_round(vmf, seg, &w, pfns, same_mm, mkwrite, &again);
		if (ret == VM_FAULT_RETRY) {
			contended = true;	/* the owner's mmap_lock */
			break;
		}
	}
	up_read(&seg->life);
	kfree(pfns);
	/*
	 * Once the attacher's mmap_lock is dropped, nothing holds the
	 * attachment or its segment: another thread may unmap it and the
	 * segment be freed.  Only mm, which our mmget keeps, is used then.
	 */
	if (ret == VM_FAULT_RETRY)
		ret = contended ? wait_for_owner(vmf, mm) : xpmem_fault_retry(vmf);
	mmput_async(mm);
	return mkwrite ? xpmem_mkwrite_ret(ret) : ret;
}

/* Every fault's service time goes to the histogram and the trace. */
static vm_fault_t attach_fault_timed(struct vm_fault *vmf)
{
	unsigned long addr = vmf->address, src = xpmem_src_of(vmf->vma, addr);
	u64 t0 = xpmem_hist_now();
	vm_fault_t ret = local_fault(vmf, false);
	u64 ns = xpmem_hist_elapsed(t0);

	xpmem_hist_record(XPMEM_HIST_FAULT, ns);
	/* vm_fault_t is a sparse-restricted type; the event records its bits. */
	trace_xpmem_fault(addr, src, (__force unsigned int)ret, ns);
	return ret;
}

/* A write to a page mapped read-only because the source was read-only. */
static vm_fault_t attach_pfn_mkwrite(struct vm_fault *vmf)
{
	return local_fault(vmf, true);
}

const struct vm_operations_struct xpmem_vm_ops = {
	.fault = attach_fault_timed,
	.pfn_mkwrite = attach_pfn_mkwrite,
};
