// SPDX-License-Identifier: GPL-2.0-only
/*
 * import.c - other partitions' segments used here (the attacher's side).
 *
 * GET of a segid whose partition bits name another partition asks that
 * partition; its answer (a token and the segment's size) becomes a proxy
 * segment: a struct xpmem_segment with ->remote set and no mm, which
 * permits and attachments use like any other.  Its attachments map the
 * owner's frames through the owner's peer window (VM_PFNMAP, write-back).
 *
 * Fault: FAULT(token, offset, pages) to the owner, whose fault service pins
 * the pages and answers with their frames; we install them unless an
 * INVALIDATE of that segment arrived meanwhile.  The check is a counter the
 * peer's poller bumps when it dispatches an INVALIDATE (in ring order, so
 * before any reply posted after it is delivered): the fault reads it before
 * asking and installs under seg->lock only if it did not move.  The
 * invalidation thread takes seg->lock once before zapping, so a fault that
 * passed the check has finished installing when the zap runs.
 *
 * The owner keeps our pages pinned until it invalidates them, or until we
 * tell it we stopped using them: UNPIN of the whole segment when its last
 * attachment goes, RELEASE of the token when the proxy goes.
 *
 * When the owner is fenced, its proxies die: every attachment is zapped and
 * faults answer SIGBUS (the owner's memory may belong to its next
 * incarnation by the time we touch it).
 */
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/pfn_t.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>

#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"

struct xpmem_import {
	struct hlist_node link;		/* in imports, by token */
	struct xpmem_segment *seg;	/* the proxy (not a reference) */
	u32 peer, epoch;		/* the owner's incarnation */
	u64 token;
	atomic_t gen;			/* INVALIDATEs dispatched */
	bool dead;			/* owner fenced: SIGBUS */
	struct mutex attach_lock;	/* attachments vs UNPIN */
	unsigned int attachments;
};

static DEFINE_MUTEX(import_lock);
static DEFINE_HASHTABLE(imports, 6);

static struct xpmem_import *import_find(u32 peer, u64 token)
{
	struct xpmem_import *imp;

	lockdep_assert_held(&import_lock);
	hash_for_each_possible(imports, imp, link, token)
		if (imp->token == token && imp->peer == peer)
			return imp;
	return NULL;
}

static struct xpmem_segment *proxy_new(u32 peer, u32 epoch, s64 segid,
				       const struct xp_get_reply *r)
{
	struct xpmem_segment *seg;
	struct xpmem_import *imp;

	seg = kzalloc(sizeof(*seg), GFP_KERNEL);
	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!seg || !imp)
		goto err;
	seg->inode = xpmem_attach_inode_alloc();
	if (IS_ERR(seg->inode))
		goto err;
	kref_init(&seg->ref);
	init_rwsem(&seg->life);
	mutex_init(&seg->lock);
	INIT_LIST_HEAD(&seg->exports);
	seg->exports_closed = true;
	seg->segid = segid;
	seg->start = 0;		/* offsets in the owner's segment */
	seg->end = r->size;
	seg->uid = current_euid();
	seg->gid = current_egid();
	seg->user_ns = get_user_ns(current_user_ns());
	seg->owner_pid = get_pid(task_tgid(current));

	imp->seg = seg;
	imp->peer = peer;
	imp->epoch = epoch;
	imp->token = r->token;
	mutex_init(&imp->attach_lock);
	seg->remote = imp;
	mutex_lock(&import_lock);
	hash_add(imports, &imp->link, imp->token);
	mutex_unlock(&import_lock);
	return seg;
err:
	if (seg && !IS_ERR_OR_NULL(seg->inode))
		iput(seg->inode);
	kfree(imp);
	kfree(seg);
	return NULL;
}

int xpmem_import_get(s64 segid, bool rdonly, struct xpmem_segment **out)
{
	u32 peer = XPMEM_SEGID_PARTITION(segid);
	u32 epoch = xpmem_partition_live_epoch(peer);
	u64 fault_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	/* Its answer is matched by the rid the call assigns (rpc.h). */
	struct xpmem_request rq = { .peer = peer };
	struct xp_msg m = { };
	int err;

	if (!epoch)
		return -ENOENT;		/* no such partition, or not live */
	m.u.get.segid = segid;
	m.u.get.flags = rdonly ? XPMEM_IOC_RDONLY : XPMEM_IOC_RDWR;
	m.u.get.uid = from_kuid(&init_user_ns, current_euid());
	m.u.get.gid = from_kgid(&init_user_ns, current_egid());
	err = xpmem_partition_call(&rq, &m, XP_MSG_GET, fault_ns / 4,
				   ktime_get_ns() + fault_ns);
	if (err)
		return err == -EINTR || err == -ETIMEDOUT ? err : -ENOENT;
	if (rq.status)
		return rq.status;
	/*
	 * The token names the incarnation that answered, which may be newer
	 * than the one we saw live when we asked: its INVALIDATEs must match.
	 */
	*out = proxy_new(peer, rq.epoch, segid, &rq.get);
	return *out ? 0 : -ENOMEM;
}

/* ---- attachments ------------------------------------------------------------ */

void xpmem_import_attached(struct xpmem_segment *seg)
{
	struct xpmem_import *imp = seg->remote;

	mutex_lock(&imp->attach_lock);
	imp->attachments++;
	mutex_unlock(&imp->attach_lock);
}

/*
 * The last attachment's mappings are gone: the owner may unpin everything.
 * Posted under attach_lock so that a new attachment's FAULT goes after it.
 */
void xpmem_import_detached(struct xpmem_segment *seg)
{
	struct xpmem_import *imp = seg->remote;
	struct xp_msg m = { };

	mutex_lock(&imp->attach_lock);
	if (!--imp->attachments && !READ_ONCE(imp->dead) &&
	    xpmem_partition_live_epoch(imp->peer) == imp->epoch) {
		m.u.inval.token = imp->token;
		m.u.inval.offset = 0;
		m.u.inval.len = seg->end - seg->start;
		xpmem_partition_post(imp->peer, &m, XP_MSG_UNPIN,
				     ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)));
	}
	mutex_unlock(&imp->attach_lock);
}

/* The proxy's last reference went (segment_free): RELEASE the token. */
void xpmem_import_free(struct xpmem_segment *seg)
{
	struct xpmem_import *imp = seg->remote;
	struct xp_msg m = { };

	mutex_lock(&import_lock);
	hash_del(&imp->link);
	mutex_unlock(&import_lock);
	if (!imp->dead && xpmem_partition_live_epoch(imp->peer) == imp->epoch) {
		m.u.release.token = imp->token;
		xpmem_partition_post(imp->peer, &m, XP_MSG_RELEASE,
				     ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)));
	}
	kfree(imp);
}

bool xpmem_import_alive(struct xpmem_segment *seg)
{
	return !READ_ONCE(seg->remote->dead);
}

/* ---- fault -------------------------------------------------------------------- */

/*
 * A fault asks for the aligned fault_window block around the page, within
 * the attachment and the segment, like a local one: a whole 2 MiB block
 * can then come back as one run and be mapped with one PMD.
 */
struct window {
	unsigned long start, end;	/* attacher addresses */
	u64 offset;			/* segment offset of start */
};

static u64 offset_of(struct vm_area_struct *vma, struct xpmem_segment *seg,
		     unsigned long addr)
{
	return (vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start) - seg->start;
}

static void window_compute(struct vm_fault *vmf, struct xpmem_segment *seg,
			   struct window *w)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = (unsigned long)READ_ONCE(xpmem_fault_window) << PAGE_SHIFT;
	unsigned long addr = vmf->address & PAGE_MASK;
	u64 span = seg->end - seg->start, off;

	w->start = max(ALIGN_DOWN(addr, size), vma->vm_start);
	w->end = min(ALIGN_DOWN(addr, size) + size, vma->vm_end);
	/* VMAs never outgrow their segment (VM_DONTEXPAND); be strict anyway. */
	off = offset_of(vma, seg, w->start);
	if (off >= span) {		/* below the segment: wrapped */
		w->start = addr;
		off = offset_of(vma, seg, addr);
	}
	if (off + (w->end - w->start) > span)
		w->end = w->start + (span - off);
	w->offset = off;
}

static unsigned long target_index(struct vm_fault *vmf, const struct window *w)
{
	return ((vmf->address & PAGE_MASK) - w->start) >> PAGE_SHIFT;
}

/*
 * The owner pins from the window's start and stops at the first hole: when
 * that is before our page, ask again from our page (once: false when the
 * window starts there already).
 */
static bool window_from_target(struct vm_fault *vmf, struct xpmem_segment *seg,
			       struct window *w, struct xpmem_request *rq)
{
	unsigned long addr = vmf->address & PAGE_MASK;

	if (w->start == addr)
		return false;
	w->start = addr;
	w->offset = offset_of(vmf->vma, seg, addr);
	rq->offset = w->offset;
	rq->want = (w->end - w->start) >> PAGE_SHIFT;
	return true;
}

/* The reply is one aligned 2 MiB run and the attachment is aligned too. */
static bool can_map_pmd(struct vm_fault *vmf, const struct window *w,
			const struct xpmem_request *rq)
{
	unsigned int i;

	if (rq->got != PTRS_PER_PMD || !IS_ALIGNED(w->start, PMD_SIZE) ||
	    !IS_ALIGNED(rq->pfns[0], PTRS_PER_PMD) ||
	    !pmd_none(READ_ONCE(*vmf->pmd)))
		return false;
	for (i = 1; i < PTRS_PER_PMD; i++)
		if (rq->pfns[i] != rq->pfns[0] + i)
			return false;
	return true;
}

static pgprot_t frame_prot(struct vm_area_struct *vma, bool writable)
{
	if (writable && (vma->vm_flags & VM_WRITE))
		return vm_get_page_prot(vma->vm_flags);
	return vm_get_page_prot(vma->vm_flags & ~VM_WRITE);
}

/* Under seg->lock, with the generation checked. */
static vm_fault_t install_ptes(struct vm_fault *vmf, const struct window *w,
			       const struct xpmem_request *rq, pgprot_t prot)
{
	unsigned long target = target_index(vmf, w);
	vm_fault_t ret = VM_FAULT_NOPAGE, r;
	unsigned long i, mapped = 0;

	for (i = 0; i < rq->got; i++) {
		r = vmf_insert_pfn_prot(vmf->vma, w->start + (i << PAGE_SHIFT),
					rq->pfns[i], prot);
		if (r == VM_FAULT_NOPAGE)
			mapped++;
		else if (i == target)
			ret = r;
	}
	if (target >= rq->got)
		ret = VM_FAULT_SIGBUS;	/* the owner stopped before our page */
	xpmem_count(pages_mapped, mapped);
	return ret;
}

/* Installs the frames unless an invalidation came meanwhile (*again). */
static vm_fault_t install(struct vm_fault *vmf, struct xpmem_segment *seg,
			  const struct window *w, struct xpmem_request *rq,
			  int gen, bool *again)
{
	struct xpmem_attach *att = vmf->vma->vm_private_data;
	struct xpmem_import *imp = seg->remote;
	bool write = rq->writable && (vmf->vma->vm_flags & VM_WRITE);
	pgprot_t prot = frame_prot(vmf->vma, rq->writable);
	vm_fault_t ret;
	bool pmd;

	mutex_lock(&att->pt_lock);
	pmd = can_map_pmd(vmf, w, rq);
	if (!pmd && !xpmem_fault_prepare_ptes(vmf, w->start, w->end)) {
		mutex_unlock(&att->pt_lock);
		return VM_FAULT_NOPAGE;		/* a PMD is there: retry access */
	}
	mutex_lock(&seg->lock);
	if (READ_ONCE(imp->dead)) {
		ret = VM_FAULT_SIGBUS;
	} else if (atomic_read(&imp->gen) != gen) {
		ret = 0;
		*again = true;
	} else if (pmd) {
		ret = vmf_insert_pfn_pmd_prot(vmf, pfn_to_pfn_t(rq->pfns[0]), prot, write);
		if (ret == VM_FAULT_NOPAGE)
			xpmem_count(pmds_mapped, 1);
	} else {
		ret = install_ptes(vmf, w, rq, prot);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/*
 * A write to a page we mapped read-only (pfn_mkwrite): the owner pinned the
 * window for writing.  The rest of the window is mapped again writable; our
 * page is made writable in place by the core (return 0) when its frame did
 * not change, else replaced.  The page is never left unmapped: an atomic
 * read-modify-write that finds it missing may fault again as a read (QEMU
 * TCG does), which would map it read-only again, for ever.
 */
static vm_fault_t upgrade(struct vm_fault *vmf, struct xpmem_segment *seg,
			  const struct window *w, struct xpmem_request *rq,
			  int gen, bool *again)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xpmem_attach *att = vma->vm_private_data;
	struct xpmem_import *imp = seg->remote;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long target = target_index(vmf, w), i;
	unsigned long end = w->start + ((unsigned long)rq->got << PAGE_SHIFT);
	pgprot_t prot = frame_prot(vma, true);
	vm_fault_t ret = 0;

	if (!rq->writable || !(vma->vm_flags & VM_WRITE))
		return VM_FAULT_SIGSEGV;
	mutex_lock(&att->pt_lock);
	mutex_lock(&seg->lock);
	if (READ_ONCE(imp->dead)) {
		ret = VM_FAULT_SIGBUS;
	} else if (atomic_read(&imp->gen) != gen) {
		*again = true;
	} else {
		if (addr > w->start)
			xpmem_zap_vma(vma, w->start, addr);
		if (addr + PAGE_SIZE < end)
			xpmem_zap_vma(vma, addr + PAGE_SIZE, end);
		for (i = 0; i < rq->got; i++)
			if (i != target)
				vmf_insert_pfn_prot(vma, w->start + (i << PAGE_SHIFT),
						    rq->pfns[i], prot);
		if (rq->pfns[target] != pte_pfn(vmf->orig_pte)) {
			xpmem_zap_vma(vma, addr, addr + PAGE_SIZE);
			vmf_insert_pfn_prot(vma, addr, rq->pfns[target], prot);
			ret = VM_FAULT_NOPAGE;
		}
		xpmem_count(pages_mapped, rq->got);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/* One remote fault: ask the owner for the window, then map (or upgrade). */
static vm_fault_t remote_fault(struct vm_fault *vmf, bool write, bool mkwrite)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xpmem_attach *att = vma->vm_private_data;
	struct xpmem_segment *seg = att->seg;
	struct xpmem_import *imp = seg->remote;
	u64 fault_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	/* Answered only by replies echoing the rid of this call (rpc.h). */
	struct xpmem_request rq = { .peer = imp->peer };
	struct xp_msg m = { };
	struct window w;
	vm_fault_t ret = VM_FAULT_NOPAGE;	/* invalidated every time: again */
	bool again;
	int tries, gen, err;

	window_compute(vmf, seg, &w);
	if (READ_ONCE(imp->dead) || w.end <= w.start) {
		xpmem_count(sigbus, 1);
		return VM_FAULT_SIGBUS;
	}
	rq.offset = w.offset;
	rq.want = (w.end - w.start) >> PAGE_SHIFT;
	rq.pfns = kmalloc_array(rq.want, sizeof(*rq.pfns), GFP_KERNEL);
	if (!rq.pfns)
		return VM_FAULT_OOM;
	xpmem_count(faults, 1);

	for (tries = 0; tries < 8; tries++) {
		if (tries)
			xpmem_count(fault_retries, 1);
		gen = atomic_read(&imp->gen);
		m.u.fault.token = imp->token;
		m.u.fault.offset = w.offset;
		m.u.fault.npages = rq.want;
		m.u.fault.flags = write ? XP_FAULTF_WRITE : 0;
		xpmem_count(remote_faults, 1);
		err = xpmem_partition_call(&rq, &m, XP_MSG_FAULT, fault_ns / 4,
					   ktime_get_ns() + fault_ns);
		if (err == -EINTR)
			break;		/* dying: NOPAGE, the signal is delivered */
		if (!err && (rq.status == -EFAULT || rq.got <= target_index(vmf, &w)) &&
		    window_from_target(vmf, seg, &w, &rq)) {
			tries--;	/* not a race: a hole before our page */
			continue;
		}
		if (!err && !rq.status && !rq.got)
			err = -EFAULT;
		if (err || rq.status) {
			ret = xpmem_fault_errno(err ? -EFAULT : rq.status);
			break;
		}
		again = false;
		ret = mkwrite ? upgrade(vmf, seg, &w, &rq, gen, &again) :
				install(vmf, seg, &w, &rq, gen, &again);
		if (!again)
			break;
		ret = VM_FAULT_NOPAGE;
	}
	kfree(rq.pfns);
	return ret;
}

vm_fault_t xpmem_import_fault(struct vm_fault *vmf)
{
	return remote_fault(vmf, vmf->flags & FAULT_FLAG_WRITE, false);
}

vm_fault_t xpmem_import_mkwrite(struct vm_fault *vmf)
{
	return remote_fault(vmf, true, true);
}

/* ---- INVALIDATE and fences -------------------------------------------------- */

/* Dispatcher, under the fabric mutex: faults in flight must check again. */
void xpmem_import_noted(u32 peer, u64 token)
{
	struct xpmem_import *imp;

	mutex_lock(&import_lock);
	imp = import_find(peer, token);
	if (imp)
		atomic_inc(&imp->gen);
	mutex_unlock(&import_lock);
}

/* Invalidation thread: zap the range in every attachment of the proxy. */
void xpmem_import_invalidate(u32 peer, const struct xp_msg *m)
{
	const struct xp_inval *iv = &m->u.inval;
	struct xpmem_segment *seg = NULL;
	struct xpmem_import *imp;
	u64 size, end;

	mutex_lock(&import_lock);
	imp = import_find(peer, iv->token);
	if (imp && imp->epoch == m->h.src_epoch &&
	    kref_get_unless_zero(&imp->seg->ref))
		seg = imp->seg;
	mutex_unlock(&import_lock);
	if (!seg)
		return;		/* nothing of it is mapped here */

	size = seg->end - seg->start;
	if (iv->offset < size) {
		end = min(iv->offset + iv->len, size);
		/* A fault that passed its check finishes installing first. */
		mutex_lock(&seg->lock);
		mutex_unlock(&seg->lock);
		xpmem_zap_attachers(seg, seg->start + iv->offset, seg->start + end);
	}
	xpmem_segment_put(seg);
}

/* @peer was fenced: its proxies answer SIGBUS, their mappings go. */
void xpmem_import_peer_dead(u32 peer)
{
	struct xpmem_import *imp;
	int bkt;

	mutex_lock(&import_lock);
	hash_for_each(imports, bkt, imp, link) {
		if (imp->peer != peer || imp->dead)
			continue;
		WRITE_ONCE(imp->dead, true);
		mutex_lock(&imp->seg->lock);
		mutex_unlock(&imp->seg->lock);
		xpmem_zap_attachers(imp->seg, imp->seg->start, imp->seg->end);
	}
	mutex_unlock(&import_lock);
}
