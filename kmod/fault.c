// SPDX-License-Identifier: GPL-2.0-only
/*
 * fault.c - filling attachments on demand.
 *
 * A fault in an attachment maps a window of pages around the faulting one
 * (xpmem_fault_window pages, aligned, never crossing a PMD): the faulting
 * page is faulted in on the owner's side if needed (bss not instantiated yet,
 * swapped out, copy-on-write), its neighbours are mapped only if the owner
 * has them present already.  When the owner maps a whole aligned 2 MiB
 * region with one PMD (THP or hugetlb) and the attachment is aligned the
 * same way, the attacher gets one PMD too.
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
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pfn_t.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "histogram.h"
#include "remote.h"
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

struct fault_window {
	unsigned long start, end;	/* attacher addresses */
	unsigned long src;		/* source address of start */
	unsigned long npages;
	unsigned long target;		/* index of the faulting page */
};

static unsigned long src_of(struct vm_area_struct *vma, unsigned long addr)
{
	return (vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
}

static void window_compute(struct vm_fault *vmf, struct xpmem_segment *seg,
			   struct fault_window *w)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = (unsigned long)READ_ONCE(xpmem_fault_window) << PAGE_SHIFT;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long lo = max(ALIGN_DOWN(addr, size), vma->vm_start);
	unsigned long hi = min(ALIGN_DOWN(addr, size) + size, vma->vm_end);

	/* VMAs never outgrow their segment (VM_DONTEXPAND); be strict anyway. */
	if (src_of(vma, lo) < seg->start)
		lo += seg->start - src_of(vma, lo);
	if (src_of(vma, hi) > seg->end)
		hi -= src_of(vma, hi) - seg->end;

	w->start = lo;
	w->end = hi;
	w->src = src_of(vma, lo);
	w->npages = (hi - lo) >> PAGE_SHIFT;
	w->target = (addr - lo) >> PAGE_SHIFT;
}

/* Give the mmap lock back and let the core retry, when it allows that. */
static vm_fault_t fault_retry(struct vm_fault *vmf)
{
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return VM_FAULT_SIGBUS;
	if (!(vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		mmap_read_unlock(vmf->vma->vm_mm);
	return VM_FAULT_RETRY;
}

vm_fault_t xpmem_fault_errno(int err)
{
	switch (err) {
	case -ENOMEM:
		return VM_FAULT_OOM;
	case -EPERM:		/* write to a source the owner may not write */
		return VM_FAULT_SIGSEGV;
	default:		/* hole, PROT_NONE, I/O memory, gone */
		xpmem_count(sigbus, 1);
		return VM_FAULT_SIGBUS;
	}
}

static int no_pte_fn(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

static bool can_map_pmd(struct vm_fault *vmf, struct fault_window *w,
			unsigned long *pfns)
{
	unsigned long hpfn = pfns[0];

	if (w->npages != PTRS_PER_PMD || !IS_ALIGNED(w->start, PMD_SIZE) ||
	    !IS_ALIGNED(w->src, PMD_SIZE))
		return false;
	if (!(hpfn & HMM_PFN_VALID) || hmm_pfn_to_map_order(hpfn) < PMD_SHIFT - PAGE_SHIFT)
		return false;
	/* The owner maps it with one PMD: the frame is 2 MiB aligned. */
	return IS_ALIGNED(hpfn & ~HMM_PFN_FLAGS, PTRS_PER_PMD);
}

/*
 * vma->vm_page_prot is read-only here: having pfn_mkwrite makes the core
 * write-protect the VMA's default protection ("write notify").  So the
 * protection is computed from the VMA's flags, with write access only where
 * the source allows it.
 */
static pgprot_t pfn_prot(struct vm_area_struct *vma, unsigned long hpfn)
{
	if ((hpfn & HMM_PFN_WRITE) && (vma->vm_flags & VM_WRITE))
		return vm_get_page_prot(vma->vm_flags);
	return vm_get_page_prot(vma->vm_flags & ~VM_WRITE);
}

/* Under seg->lock, with the sequence checked. */
static vm_fault_t install_pmd(struct vm_fault *vmf, unsigned long hpfn)
{
	struct vm_area_struct *vma = vmf->vma;
	bool write = (hpfn & HMM_PFN_WRITE) && (vma->vm_flags & VM_WRITE);
	vm_fault_t ret;

	ret = vmf_insert_pfn_pmd_prot(vmf, pfn_to_pfn_t(hpfn & ~HMM_PFN_FLAGS),
				      pfn_prot(vma, hpfn), write);
	if (ret == VM_FAULT_NOPAGE)
		xpmem_count(pmds_mapped, 1);
	trace_xpmem_fault_install(vmf->address & PMD_MASK,
				  src_of(vma, vmf->address & PMD_MASK),
				  ret == VM_FAULT_NOPAGE ? PTRS_PER_PMD : 0, true);
	return ret;
}

/* Under seg->lock, with the sequence checked. */
static vm_fault_t install_ptes(struct vm_fault *vmf, struct fault_window *w,
			       unsigned long *pfns)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret = VM_FAULT_NOPAGE, r;
	unsigned long i, mapped = 0;

	for (i = 0; i < w->npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID) || (pfns[i] & HMM_PFN_ERROR))
			continue;
		r = vmf_insert_pfn_prot(vma, w->start + (i << PAGE_SHIFT),
					pfns[i] & ~HMM_PFN_FLAGS,
					pfn_prot(vma, pfns[i]));
		if (r == VM_FAULT_NOPAGE)
			mapped++;
		else if (i == w->target)
			ret = r;
	}
	xpmem_count(pages_mapped, mapped);
	trace_xpmem_fault_install(w->start, w->src, mapped, false);
	return ret;
}

/*
 * Makes sure the PTE table of the window exists, outside seg->lock.  Returns
 * false when another fault mapped the region with a PMD meanwhile.
 */
bool xpmem_fault_prepare_ptes(struct vm_fault *vmf, unsigned long start,
			      unsigned long end)
{
	pmd_t pmd = READ_ONCE(*vmf->pmd);

	if (pmd_trans_huge(pmd) || pmd_devmap(pmd))
		return false;
	if (pmd_none(pmd))
		apply_to_page_range(vmf->vma->vm_mm, start, end - start,
				    no_pte_fn, NULL);
	pmd = READ_ONCE(*vmf->pmd);
	return pmd_present(pmd) && !pmd_trans_huge(pmd) && !pmd_devmap(pmd);
}

/*
 * pfn_mkwrite, under seg->lock with the sequence checked: @hpfn was looked up
 * for writing.  Its PTE is made writable in place, never dropped: a
 * read-modify-write instruction retried after a not-present fault may be
 * reported as a read (QEMU TCG does), which would map the page read-only
 * again, for ever.  Same frame: the core upgrades the PTE (return 0) if it
 * did not change meanwhile.  Another frame (the write broke the owner's
 * copy-on-write, whose invalidation zapped the old PTE): map it writable.
 */
static vm_fault_t upgrade_pte(struct vm_fault *vmf, unsigned long hpfn)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long pfn = hpfn & ~HMM_PFN_FLAGS;

	if (!(hpfn & HMM_PFN_WRITE) || !(vma->vm_flags & VM_WRITE))
		return VM_FAULT_SIGSEGV;
	if (pfn == pte_pfn(vmf->orig_pte))
		return 0;
	/* Nothing there to replace: a racing fault's PTE just retries. */
	vmf_insert_pfn_prot(vma, vmf->address & PAGE_MASK, pfn, pfn_prot(vma, hpfn));
	xpmem_count(pages_mapped, 1);
	return VM_FAULT_NOPAGE;
}

/*
 * One lookup-and-install round (@mkwrite: the upgrade of the one page of
 * @w).  Sets *again when the sequence moved and the round must be played
 * again; returns VM_FAULT_RETRY when the owner's mmap_lock is contended.
 */
static vm_fault_t fault_round(struct vm_fault *vmf, struct xpmem_segment *seg,
			      struct fault_window *w, unsigned long *pfns,
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
		ret = *again ? 0 : upgrade_pte(vmf, pfns[w->target]);
		mutex_unlock(&seg->lock);
		return ret;
	}
	mutex_lock(&att->pt_lock);
	pmd = can_map_pmd(vmf, w, pfns) && pmd_none(READ_ONCE(*vmf->pmd));
	if (!pmd && !xpmem_fault_prepare_ptes(vmf, w->start, w->end)) {
		mutex_unlock(&att->pt_lock);
		return VM_FAULT_NOPAGE;		/* a PMD is there: retry access */
	}
	mutex_lock(&seg->lock);
	if (mmu_interval_read_retry(&seg->notifier, range.notifier_seq)) {
		ret = 0;
		*again = true;
	} else if (pmd) {
		ret = install_pmd(vmf, pfns[0]);
	} else {
		ret = install_ptes(vmf, w, pfns);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/*
 * pfn_mkwrite's answer: the core makes the PTE writable only after a 0;
 * a retry (our mmap_lock is gone) must not get there, so it goes with
 * NOPAGE, which returns it as it is.
 */
static vm_fault_t mkwrite_ret(vm_fault_t ret)
{
	return ret & VM_FAULT_RETRY ? ret | VM_FAULT_NOPAGE : ret;
}

static struct xpmem_segment *att_seg(struct vm_fault *vmf)
{
	return ((struct xpmem_attach *)vmf->vma->vm_private_data)->seg;
}

/* Owner's mmap_lock contended: wait for it without holding ours, then retry. */
static vm_fault_t wait_for_owner(struct vm_fault *vmf, struct mm_struct *owner)
{
	vm_fault_t ret = fault_retry(vmf);
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
	struct fault_window w;
	struct mm_struct *mm;
	unsigned long *pfns;
	bool same_mm, again = true, contended = false;
	vm_fault_t ret = 0;
	int tries;

	xpmem_count(faults, 1);
	window_compute(vmf, seg, &w);
	if (mkwrite) {
		w.start = vmf->address & PAGE_MASK;
		w.end = w.start + PAGE_SIZE;
		w.src = src_of(vmf->vma, w.start);
		w.npages = 1;
		w.target = 0;
	}
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
		ret = contended ? wait_for_owner(vmf, mm) : fault_retry(vmf);
	mmput_async(mm);
	return mkwrite ? mkwrite_ret(ret) : ret;
}

static vm_fault_t attach_fault(struct vm_fault *vmf)
{
	if (att_seg(vmf)->remote)
		return xpmem_import_fault(vmf);	/* another partition's */
	return local_fault(vmf, false);
}

/* A write to a page mapped read-only because the source was read-only. */
static vm_fault_t attach_pfn_mkwrite(struct vm_fault *vmf)
{
	if (att_seg(vmf)->remote)
		return xpmem_import_mkwrite(vmf);	/* asks the owner */
	return local_fault(vmf, true);
}

/* Every fault's service time goes to the histogram and the trace. */
static vm_fault_t attach_fault_timed(struct vm_fault *vmf)
{
	unsigned long addr = vmf->address, src = src_of(vmf->vma, addr);
	u64 t0 = xpmem_hist_now();
	vm_fault_t ret = attach_fault(vmf);
	u64 ns = xpmem_hist_elapsed(t0);

	xpmem_hist_record(XPMEM_HIST_FAULT, ns);
	/* vm_fault_t is a sparse-restricted type; the event records its bits. */
	trace_xpmem_fault(addr, src, (__force unsigned int)ret, ns);
	return ret;
}

const struct vm_operations_struct xpmem_vm_ops = {
	.fault = attach_fault_timed,
	.pfn_mkwrite = attach_pfn_mkwrite,
};
