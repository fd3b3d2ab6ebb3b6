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
 * attachment goes, RELEASE of the token when the proxy goes (re-posted
 * until the owner acknowledges it).
 *
 * When the owner is fenced, its proxies die: every attachment is zapped and
 * faults answer SIGBUS (the owner's memory may belong to its next
 * incarnation by the time we touch it).
 */
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>

#include "fault_map.h"
#include "histogram.h"
#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

struct xpmem_import {
	struct hlist_node link;		/* in imports, by token */
	struct xpmem_segment *seg;	/* the proxy (not a reference) */
	u32 peer, epoch;		/* the owner's incarnation */
	u64 token;
	atomic_t gen;			/* INVALIDATEs dispatched, UNPINs posted */
	bool dead;			/* owner fenced: SIGBUS */
	struct mutex attach_lock;	/* attachments vs UNPIN */
	unsigned int attachments;
	spinlock_t answers_lock;
	struct list_head answers;	/* struct answer, for retried faults */
};

static DEFINE_MUTEX(import_lock);
static DEFINE_HASHTABLE(imports, 6);

static void answers_drop(struct list_head *list);

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

	/* A proxy lives as long as its user's permits: charged to that user. */
	seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	imp = kzalloc(sizeof(*imp), GFP_KERNEL_ACCOUNT);
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
	spin_lock_init(&imp->answers_lock);
	INIT_LIST_HEAD(&imp->answers);
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

/*
 * A GET that failed is ENOENT to the user, whatever stopped it (docs/design.md,
 * Errors: the segment cannot be reached); what did goes to the kernel log, so
 * that a test or an administrator can tell a peer not live from a request the
 * table refused, a fence meanwhile or the owner's own ENOENT.
 */
static int get_failed(s64 segid, u32 peer, const char *why, int err)
{
	pr_info_ratelimited("xpmem: GET of segid %#llx from partition %u failed: %s (errno %d), returning ENOENT\n",
			    segid, peer, why, -err);
	return -ENOENT;
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

	if (!epoch)	/* no such partition, or not live */
		return get_failed(segid, peer, "partition not live", -ENOENT);
	m.u.get.segid = segid;
	m.u.get.flags = rdonly ? XPMEM_IOC_RDONLY : XPMEM_IOC_RDWR;
	m.u.get.uid = from_kuid(&init_user_ns, current_euid());
	m.u.get.gid = from_kgid(&init_user_ns, current_egid());
	err = xpmem_partition_call(&rq, &m, XP_MSG_GET, fault_ns / 4,
				   ktime_get_ns() + fault_ns);
	if (err == -EINTR || err == -ETIMEDOUT)
		return err;
	if (err)
		return get_failed(segid, peer, "request not completed", err);
	if (rq.status == -ENOENT)
		return get_failed(segid, peer, "the owner answered ENOENT", rq.status);
	if (rq.status)
		return rq.status;
	/*
	 * The token names the incarnation that answered, which may be newer
	 * than the one we saw live when we asked: its INVALIDATEs must match.
	 */
	*out = proxy_new(peer, rq.epoch, segid, &rq.get);
	if (!*out) {
		/* Nobody will use it: the owner must not keep it. */
		xpmem_partition_release(peer, rq.epoch, rq.get.token);
		return -ENOMEM;
	}
	return 0;
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
		atomic_inc(&imp->gen);	/* answers fetched before are stale */
		xpmem_partition_post(imp->peer, &m, XP_MSG_UNPIN,
				     ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms)));
	}
	mutex_unlock(&imp->attach_lock);
}

/* The proxy's last reference went (segment_free): RELEASE the token. */
void xpmem_import_free(struct xpmem_segment *seg)
{
	struct xpmem_import *imp = seg->remote;

	mutex_lock(&import_lock);
	hash_del(&imp->link);
	mutex_unlock(&import_lock);
	/* Re-posted until acknowledged: a lost one leaks no export. */
	if (!imp->dead)
		xpmem_partition_release(imp->peer, imp->epoch, imp->token);
	answers_drop(&imp->answers);
	kfree(imp);
}

bool xpmem_import_alive(struct xpmem_segment *seg)
{
	return !READ_ONCE(seg->remote->dead);
}

/* ---- fault -------------------------------------------------------------------- */

/*
 * A fault asks for the aligned fault_window block around the page, within
 * the attachment and the segment, like a local one (fault_map.c; a proxy's
 * source addresses are offsets in the owner's segment): a whole 2 MiB block
 * can then come back as one run and be mapped with one PMD.
 *
 * The round trip runs without the attacher's mmap_lock: the fault takes a
 * reference on the proxy, notes the invalidation generation, drops the lock
 * and asks; the answer is kept for the task that asked, and the fault
 * returns VM_FAULT_RETRY.  The core retries, and the retried fault installs
 * the answer, under seg->lock, only if the generation did not move since
 * it was noted (no INVALIDATE dispatched, no UNPIN posted meanwhile);
 * otherwise it asks again.  An answer nobody comes back for is dropped
 * after twice fault_ms.
 */
struct answer {
	struct list_head link;		/* in imp->answers */
	struct task_struct *task;	/* who asked: compared, never used */
	u64 asked_ns;
	int gen;			/* imp->gen when asked */
	vm_fault_t err;			/* non-zero: the fault's result */
	u64 target;			/* offset of the page asked for */
	bool writable;
	u64 offset;			/* of pfns[0] */
	u32 got;
	unsigned long pfns[];		/* local frames */
};

static void answers_drop(struct list_head *list)
{
	struct answer *a, *n;

	list_for_each_entry_safe(a, n, list, link) {
		list_del(&a->link);
		kfree(a);
	}
}

/* This task's answer, if it left one (taken off the list); old ones go. */
static struct answer *answer_take(struct xpmem_import *imp)
{
	u64 old = ktime_get_ns() - 2 * xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	struct answer *a, *n, *mine = NULL;
	LIST_HEAD(stale);

	spin_lock(&imp->answers_lock);
	list_for_each_entry_safe(a, n, &imp->answers, link) {
		if (a->task == current && !mine)
			list_del(&(mine = a)->link);
		else if ((s64)(a->asked_ns - old) < 0)
			list_move(&a->link, &stale);
	}
	spin_unlock(&imp->answers_lock);
	answers_drop(&stale);
	return mine;
}

static void answer_keep(struct xpmem_import *imp, struct answer *a)
{
	struct answer *prev;

	prev = answer_take(imp);	/* one per task */
	kfree(prev);
	spin_lock(&imp->answers_lock);
	list_add_tail(&a->link, &imp->answers);
	spin_unlock(&imp->answers_lock);
}

/* The attacher address of segment offset @off in @vma. */
static unsigned long addr_of(struct vm_area_struct *vma, u64 off)
{
	return vma->vm_start + (off - (vma->vm_pgoff << PAGE_SHIFT));
}

/*
 * Asks the owner for @npages from @offset (@target: the offset of the
 * faulting page).  The owner pins from the start and stops at the first
 * hole: when that is before our page, ask again from our page.  NULL when
 * there is no answer to give (a fatal signal, no memory).
 */
static struct answer *ask(struct xpmem_segment *seg, u64 offset, u32 npages,
			  u64 target, bool write)
{
	struct xpmem_import *imp = seg->remote;
	u64 fault_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_fault_ms));
	/* Answered only by replies echoing the rid of this call (rpc.h). */
	struct xpmem_request rq = { .peer = imp->peer };
	struct xp_msg m = { };
	struct answer *a;
	int err;

	a = kzalloc(struct_size(a, pfns, npages), GFP_KERNEL);
	if (!a)
		return NULL;
	a->task = current;
	a->target = target;
	a->gen = atomic_read(&imp->gen);
	rq.pfns = a->pfns;
	for (;;) {
		rq.offset = offset;
		rq.want = npages;
		m.u.fault.token = imp->token;
		m.u.fault.offset = offset;
		m.u.fault.npages = npages;
		m.u.fault.flags = write ? XP_FAULTF_WRITE : 0;
		xpmem_count(remote_faults, 1);
		err = xpmem_partition_call(&rq, &m, XP_MSG_FAULT, fault_ns / 4,
					   ktime_get_ns() + fault_ns);
		if (err == -EINTR) {
			kfree(a);	/* dying: the signal is delivered */
			return NULL;
		}
		if (!err && offset < target &&
		    (rq.status == -EFAULT || offset + ((u64)rq.got << PAGE_SHIFT) <= target)) {
			npages -= (target - offset) >> PAGE_SHIFT;
			offset = target;	/* a hole before our page */
			continue;
		}
		break;
	}
	if (!err && !rq.status && !rq.got)
		err = -EFAULT;
	if (err || rq.status)
		a->err = xpmem_fault_errno(err ? -EFAULT : rq.status);
	a->offset = offset;
	a->got = rq.got;
	a->writable = rq.writable;
	a->asked_ns = ktime_get_ns();
	return a;
}

/* The answer is one aligned 2 MiB run for the whole window. */
static bool answer_pmd(struct vm_fault *vmf, const struct xpmem_window *w,
		       const struct answer *a)
{
	unsigned int i;

	if (a->got != PTRS_PER_PMD || a->offset != w->src ||
	    !xpmem_window_pmd_ok(vmf, w, a->pfns[0]))
		return false;
	for (i = 1; i < PTRS_PER_PMD; i++)
		if (a->pfns[i] != a->pfns[0] + i)
			return false;
	return true;
}

/* Under seg->lock, with the generation checked. */
static vm_fault_t install_ptes(struct vm_fault *vmf, const struct xpmem_window *w,
			       const struct answer *a)
{
	unsigned long target = (vmf->address & PAGE_MASK), addr;
	vm_fault_t ret = VM_FAULT_SIGBUS, r;	/* until our page is mapped */
	unsigned long i, mapped = 0;

	for (i = 0; i < a->got; i++) {
		addr = addr_of(vmf->vma, a->offset + ((u64)i << PAGE_SHIFT));
		if (addr < w->start || addr >= w->end)
			continue;
		r = xpmem_map_pte(vmf->vma, addr, a->pfns[i], a->writable);
		if (r == VM_FAULT_NOPAGE)
			mapped++;
		if (addr == target)
			ret = r;
	}
	xpmem_count(pages_mapped, mapped);
	return ret;
}

/* Installs the answer unless an invalidation came meanwhile (*again). */
static vm_fault_t install(struct vm_fault *vmf, struct xpmem_segment *seg,
			  const struct xpmem_window *w, const struct answer *a,
			  bool *again)
{
	struct xpmem_attach *att = vmf->vma->vm_private_data;
	struct xpmem_import *imp = seg->remote;
	vm_fault_t ret;
	bool pmd;

	mutex_lock(&att->pt_lock);
	pmd = answer_pmd(vmf, w, a);
	if (!pmd && !xpmem_prepare_ptes(vmf, w->start, w->end)) {
		mutex_unlock(&att->pt_lock);
		return VM_FAULT_NOPAGE;		/* a PMD is there: retry access */
	}
	mutex_lock(&seg->lock);
	if (READ_ONCE(imp->dead)) {
		ret = VM_FAULT_SIGBUS;
	} else if (atomic_read(&imp->gen) != a->gen) {
		ret = 0;
		*again = true;
	} else if (pmd) {
		ret = xpmem_map_pmd(vmf, a->pfns[0], a->writable);
	} else {
		ret = install_ptes(vmf, w, a);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/*
 * A write to a page we mapped read-only (pfn_mkwrite): the owner pinned the
 * window for writing.  The rest of the window is mapped again writable; our
 * page is upgraded in place (xpmem_upgrade_pte), never left unmapped.
 */
static vm_fault_t upgrade(struct vm_fault *vmf, struct xpmem_segment *seg,
			  const struct xpmem_window *w, const struct answer *a,
			  bool *again)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xpmem_attach *att = vma->vm_private_data;
	struct xpmem_import *imp = seg->remote;
	unsigned long target = vmf->address & PAGE_MASK, addr, i, mapped = 0;
	unsigned long lo = max(w->start, addr_of(vma, a->offset));
	unsigned long hi = min(w->end, addr_of(vma, a->offset + ((u64)a->got << PAGE_SHIFT)));
	vm_fault_t ret = VM_FAULT_SIGBUS;

	if (!a->writable || !(vma->vm_flags & VM_WRITE))
		return VM_FAULT_SIGSEGV;
	if (target < lo || target >= hi)
		return VM_FAULT_SIGBUS;
	mutex_lock(&att->pt_lock);
	/*
	 * The neighbours' read-only PTEs go first, outside seg->lock (a zap
	 * raises notifiers); they come back writable below if nothing was
	 * invalidated meanwhile, and fault again otherwise.
	 */
	if (lo < target)
		xpmem_zap_vma(vma, lo, target);
	if (target + PAGE_SIZE < hi)
		xpmem_zap_vma(vma, target + PAGE_SIZE, hi);
	mutex_lock(&seg->lock);
	if (READ_ONCE(imp->dead)) {
		ret = VM_FAULT_SIGBUS;
	} else if (atomic_read(&imp->gen) != a->gen) {
		ret = 0;
		*again = true;
	} else {
		for (i = 0; i < a->got; i++) {
			addr = addr_of(vma, a->offset + ((u64)i << PAGE_SHIFT));
			if (addr < lo || addr >= hi)
				continue;
			if (addr == target) {
				ret = xpmem_upgrade_pte(vmf, a->pfns[i]);
				continue;
			}
			if (xpmem_map_pte(vma, addr, a->pfns[i], true) == VM_FAULT_NOPAGE)
				mapped++;
		}
		xpmem_count(pages_mapped, mapped);
	}
	mutex_unlock(&seg->lock);
	mutex_unlock(&att->pt_lock);
	return ret;
}

/* The answer can serve this fault: it holds our page, writable if need be. */
static bool answer_fits(const struct answer *a, u64 target, bool write)
{
	if (a->err)
		return a->target == target;
	return target >= a->offset &&
	       target < a->offset + ((u64)a->got << PAGE_SHIFT) &&
	       (!write || a->writable);
}

/*
 * One remote fault (@mkwrite: the write to a page mapped read-only).
 * Called with the attacher's mmap_lock held; returns VM_FAULT_RETRY with it
 * dropped after asking the owner, which the retried fault then installs.
 */
static vm_fault_t remote_fault(struct vm_fault *vmf, bool mkwrite)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xpmem_attach *att = vma->vm_private_data;
	struct xpmem_segment *seg = att->seg;
	struct xpmem_import *imp = seg->remote;
	bool write = mkwrite || (vmf->flags & FAULT_FLAG_WRITE);
	bool unlock, again = false;
	struct xpmem_window w;
	struct answer *a;
	vm_fault_t ret;
	u64 target;

	xpmem_window_compute(vmf, seg, &w);
	if (READ_ONCE(imp->dead) || w.end <= w.start) {
		xpmem_count(sigbus, 1);
		return VM_FAULT_SIGBUS;
	}
	target = w.src + (w.target << PAGE_SHIFT);

	a = answer_take(imp);
	if (a && answer_fits(a, target, write)) {
		if (a->err)
			ret = a->err;
		else if (mkwrite)
			ret = upgrade(vmf, seg, &w, a, &again);
		else
			ret = install(vmf, seg, &w, a, &again);
		kfree(a);
		if (!again)
			return ret;
		xpmem_count(fault_retries, 1);	/* invalidated meanwhile */
	} else {
		kfree(a);
	}

	xpmem_count(faults, 1);
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;		/* the lock stays: ask later */
	unlock = vmf->flags & FAULT_FLAG_ALLOW_RETRY;
	kref_get(&seg->ref);
	if (unlock)
		mmap_read_unlock(vma->vm_mm);	/* vma is not ours from here */
	a = ask(seg, w.src, w.npages, target, write);
	if (unlock) {
		if (a)
			answer_keep(imp, a);
		xpmem_segment_put(seg);
		return VM_FAULT_RETRY;
	}
	/* The core allows no retry: install now, the lock held throughout. */
	ret = VM_FAULT_NOPAGE;		/* no answer: the access faults again */
	if (a && a->err)
		ret = a->err;
	else if (a && answer_fits(a, target, write))
		ret = mkwrite ? upgrade(vmf, seg, &w, a, &again) :
				install(vmf, seg, &w, a, &again);
	if (again)
		ret = VM_FAULT_NOPAGE;
	kfree(a);
	xpmem_segment_put(seg);
	return ret;
}

/* Every fault's service time goes to the histogram and the trace. */
static vm_fault_t import_fault(struct vm_fault *vmf)
{
	unsigned long addr = vmf->address, src = xpmem_src_of(vmf->vma, addr);
	u64 t0 = xpmem_hist_now();
	vm_fault_t ret = remote_fault(vmf, false);
	u64 ns = xpmem_hist_elapsed(t0);

	xpmem_hist_record(XPMEM_HIST_FAULT, ns);
	/* vm_fault_t is a sparse-restricted type; the event records its bits. */
	trace_xpmem_fault(addr, src, (__force unsigned int)ret, ns);
	return ret;
}

static vm_fault_t import_pfn_mkwrite(struct vm_fault *vmf)
{
	return xpmem_mkwrite_ret(remote_fault(vmf, true));
}

/* The attachments of proxies. */
const struct vm_operations_struct xpmem_import_vm_ops = {
	.fault = import_fault,
	.pfn_mkwrite = import_pfn_mkwrite,
};

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

/*
 * Every live proxy of @peer loses its mappings.  @dead: the peer was fenced,
 * the proxies answer SIGBUS from now on; otherwise (its window went) their
 * generation moves, so a fault holding an answer translated before asks
 * again.  A fault that passed its check finishes installing first
 * (seg->lock), then the attachments are zapped.  The zaps run apart
 * (xpmem_zap_attachers_fenced): our callers may hold part.lock, and under
 * import_lock a zap would close i_mmap_rwsem -> part.lock -> import_lock ->
 * i_mmap_rwsem.
 */
static void zap_peer_proxies(u32 peer, bool dead)
{
	struct xpmem_import *imp;
	int bkt;

	mutex_lock(&import_lock);
	hash_for_each(imports, bkt, imp, link) {
		if (imp->peer != peer || imp->dead)
			continue;
		if (dead)
			WRITE_ONCE(imp->dead, true);
		else
			atomic_inc(&imp->gen);
		mutex_lock(&imp->seg->lock);
		mutex_unlock(&imp->seg->lock);
		xpmem_zap_attachers_fenced(imp->seg, imp->seg->start, imp->seg->end);
	}
	mutex_unlock(&import_lock);
}

/* @peer was fenced (called under part.lock): its proxies answer SIGBUS. */
void xpmem_import_peer_dead(u32 peer)
{
	zap_peer_proxies(peer, true);
}

/*
 * @peer's window went (its device unbound): no frame of it is translated
 * any more (partition.c did that under the fabric mutex before calling).
 * The proxies stay alive: the owner is not fenced, they UNPIN and RELEASE
 * as usual, and fault again through a window bound later (SIGBUS while
 * there is none).
 */
void xpmem_import_window_lost(u32 peer)
{
	zap_peer_proxies(peer, false);
}
