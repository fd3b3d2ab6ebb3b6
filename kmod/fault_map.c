// SPDX-License-Identifier: GPL-2.0-only
/*
 * fault_map.c - the fault window and page-table helpers that local faults
 * (fault.c) and remote faults (import.c) share; see fault_map.h.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/moduleparam.h>
#include <linux/pfn_t.h>

#include "fault_map.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

#ifdef XPMEM_HAVE_PMD_SPECIAL
bool xpmem_map_pmds __read_mostly = true;
#else
bool xpmem_map_pmds __read_mostly;
#endif
/* Read-only: tells the tests which mapping a THP source gets. */
module_param_named(map_pmds, xpmem_map_pmds, bool, 0444);
MODULE_PARM_DESC(map_pmds,
		 "Whether attachments get PMD mappings (the kernel has special PMDs, which GUP-fast refuses)");

void xpmem_window_compute(struct vm_fault *vmf, const struct xpmem_segment *seg,
			  struct xpmem_window *w)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = (unsigned long)READ_ONCE(xpmem_fault_window) << PAGE_SHIFT;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long lo = max(ALIGN_DOWN(addr, size), vma->vm_start);
	unsigned long hi = min(ALIGN_DOWN(addr, size) + size, vma->vm_end);

	/* VMAs never outgrow their segment (VM_DONTEXPAND); be strict anyway. */
	if (xpmem_src_of(vma, lo) < seg->start)
		lo += seg->start - xpmem_src_of(vma, lo);
	if (xpmem_src_of(vma, hi) > seg->end)
		hi -= xpmem_src_of(vma, hi) - seg->end;
	if (lo > addr || hi <= addr) {	/* cannot be; the page alone then */
		lo = addr;
		hi = addr + PAGE_SIZE;
	}
	w->start = lo;
	w->end = hi;
	w->src = xpmem_src_of(vma, lo);
	w->npages = (hi - lo) >> PAGE_SHIFT;
	w->target = (addr - lo) >> PAGE_SHIFT;
}

void xpmem_window_one(struct vm_fault *vmf, struct xpmem_window *w)
{
	w->start = vmf->address & PAGE_MASK;
	w->end = w->start + PAGE_SIZE;
	w->src = xpmem_src_of(vmf->vma, w->start);
	w->npages = 1;
	w->target = 0;
}

vm_fault_t xpmem_fault_retry(struct vm_fault *vmf)
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

pgprot_t xpmem_frame_prot(struct vm_area_struct *vma, bool writable)
{
	if (writable && (vma->vm_flags & VM_WRITE))
		return vm_get_page_prot(vma->vm_flags);
	return vm_get_page_prot(vma->vm_flags & ~VM_WRITE);
}

static int no_pte_fn(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

bool xpmem_prepare_ptes(struct vm_fault *vmf, unsigned long start,
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

bool xpmem_window_pmd_ok(struct vm_fault *vmf, const struct xpmem_window *w,
			 unsigned long pfn)
{
	return xpmem_map_pmds && w->npages == PTRS_PER_PMD &&
	       IS_ALIGNED(w->start, PMD_SIZE) && IS_ALIGNED(w->src, PMD_SIZE) &&
	       IS_ALIGNED(pfn, PTRS_PER_PMD) && pmd_none(READ_ONCE(*vmf->pmd));
}

vm_fault_t xpmem_map_pmd(struct vm_fault *vmf, unsigned long pfn, bool writable)
{
	struct vm_area_struct *vma = vmf->vma;
	bool write = writable && (vma->vm_flags & VM_WRITE);
	unsigned long addr = vmf->address & PMD_MASK;
	vm_fault_t ret;

	ret = vmf_insert_pfn_pmd_prot(vmf, pfn_to_pfn_t(pfn),
				      xpmem_frame_prot(vma, writable), write);
	if (ret == VM_FAULT_NOPAGE)
		xpmem_count(pmds_mapped, 1);
	trace_xpmem_fault_install(addr, xpmem_src_of(vma, addr),
				  ret == VM_FAULT_NOPAGE ? PTRS_PER_PMD : 0, true);
	return ret;
}

vm_fault_t xpmem_map_pte(struct vm_area_struct *vma, unsigned long addr,
			 unsigned long pfn, bool writable)
{
	return vmf_insert_pfn_prot(vma, addr, pfn, xpmem_frame_prot(vma, writable));
}

vm_fault_t xpmem_upgrade_pte(struct vm_fault *vmf, unsigned long pfn)
{
	struct vm_area_struct *vma = vmf->vma;

	if (!(vma->vm_flags & VM_WRITE))
		return VM_FAULT_SIGSEGV;
	if (pfn == pte_pfn(vmf->orig_pte))
		return 0;
	/* A PTE a racing fault put there meanwhile stays: the access retries. */
	xpmem_map_pte(vma, vmf->address & PAGE_MASK, pfn, true);
	xpmem_count(pages_mapped, 1);
	return VM_FAULT_NOPAGE;
}
