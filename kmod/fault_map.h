/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fault_map.h - what local faults (fault.c) and remote faults (import.c)
 * share: the fault window, and putting frames into an attachment's page
 * tables.
 *
 * Both paths map a window of pages around the faulting one, aligned, never
 * crossing a PMD, within the attachment and its segment.  Frames are
 * installed under seg->lock once the caller has checked that no
 * invalidation came since it looked them up; the PTE table is made first,
 * under att->pt_lock, because nothing under seg->lock may allocate (reclaim
 * can enter the invalidation, which takes seg->lock).
 *
 * PMD mappings: vmf_insert_pfn_pmd() makes a PMD that GUP-fast takes unless
 * the kernel marks it special (pmd_mkspecial, probed in Kbuild): without
 * that, GUP-fast (futex, O_DIRECT, vmsplice) would take references to the
 * pages of a local attachment behind the notifier's back, and dereference
 * the nonexistent memmap of a remote one's peer-window frames.  So PMDs are
 * mapped only on kernels that have special PMDs; otherwise PTEs, which
 * vmf_insert_pfn() always marks special.
 */
#ifndef XPMEM_FAULT_MAP_H
#define XPMEM_FAULT_MAP_H

#include <linux/mm.h>
#include <linux/types.h>

struct xpmem_segment;

struct xpmem_window {
	unsigned long start, end;	/* attacher addresses */
	unsigned long src;		/* source address (proxy: offset) of start */
	unsigned long npages;
	unsigned long target;		/* index of the faulting page */
};

/* Whether this build maps whole PMDs (the kernel has special PMDs). */
extern bool xpmem_map_pmds;

/* The source address an attachment address maps (a proxy's: its offset). */
static inline unsigned long xpmem_src_of(struct vm_area_struct *vma,
					 unsigned long addr)
{
	return (vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
}

void xpmem_window_compute(struct vm_fault *vmf, const struct xpmem_segment *seg,
			  struct xpmem_window *w);
/* The window of the faulting page alone. */
void xpmem_window_one(struct vm_fault *vmf, struct xpmem_window *w);

/* Give the mmap lock back and let the core retry, when it allows that. */
vm_fault_t xpmem_fault_retry(struct vm_fault *vmf);
vm_fault_t xpmem_fault_errno(int err);
/*
 * pfn_mkwrite's answer: the core makes the PTE writable only after a 0; a
 * retry (the mmap_lock is gone) must not get there, so it goes with NOPAGE.
 */
static inline vm_fault_t xpmem_mkwrite_ret(vm_fault_t ret)
{
	return ret & VM_FAULT_RETRY ? ret | VM_FAULT_NOPAGE : ret;
}

/*
 * The protection of a frame: the VMA's, write access only where the source
 * allows it (vm_page_prot itself is write-protected: pfn_mkwrite makes the
 * core "write notify").
 */
pgprot_t xpmem_frame_prot(struct vm_area_struct *vma, bool writable);

/*
 * Under att->pt_lock, before seg->lock: makes sure the PTE table of
 * [start, end) exists.  False when a PMD maps the region (retry the access).
 */
bool xpmem_prepare_ptes(struct vm_fault *vmf, unsigned long start,
			unsigned long end);
/*
 * Whether the window may be mapped with one PMD from frame @pfn (a 2 MiB
 * aligned run): the build maps PMDs, the window is a whole aligned PMD of
 * the attachment and of the source, and nothing is mapped there yet.
 */
bool xpmem_window_pmd_ok(struct vm_fault *vmf, const struct xpmem_window *w,
			 unsigned long pfn);

/* Under seg->lock, the caller's check passed: install. */
vm_fault_t xpmem_map_pmd(struct vm_fault *vmf, unsigned long pfn, bool writable);
vm_fault_t xpmem_map_pte(struct vm_area_struct *vma, unsigned long addr,
			 unsigned long pfn, bool writable);
/*
 * pfn_mkwrite, under seg->lock, the check passed: @pfn was looked up for
 * writing.  The PTE is made writable in place, never dropped: an instruction
 * retried after a not-present fault may be reported as a read (QEMU TCG
 * does for a read-modify-write), which would map the page read-only again,
 * for ever.  Same frame: 0 (the core upgrades the PTE if it did not change
 * meanwhile).  Another frame: the old one was invalidated (zapped), and the
 * new one is mapped writable: NOPAGE.
 */
vm_fault_t xpmem_upgrade_pte(struct vm_fault *vmf, unsigned long pfn);

#endif /* XPMEM_FAULT_MAP_H */
