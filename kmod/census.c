// SPDX-License-Identifier: GPL-2.0-only
/*
 * census.c - finding every attachment mapping and counting what it maps.
 *
 * An attachment lives as VMAs in the attacher's mm and nowhere else (its
 * file is held by the VMAs alone), and the kernel does not export a way to
 * walk the VMAs of an address_space to modules.  So the census walks the
 * processes instead: every thread-group leader whose mm it is the owner of
 * (threads and vfork children share the mm; it is counted once), and in it
 * every VMA whose vm_ops are ours, under that mm's mmap_lock (read).  What a
 * range maps is read from its page tables: present PTEs, and PMD leaves
 * counted as 512 pages and one PMD.  Under mmap_lock (read) page tables are
 * not freed, and a PTE table is read under its lock.
 *
 * The cost is one pass over the visited processes' VMAs, paid once per dump
 * (the snapshot is taken in the dump's start callback and freed when it is
 * done); it is a tool for humans and scripts, not for a fast path.  Any
 * user may start a dump, so what one costs is bounded by its scope: an
 * unprivileged caller's census visits only the processes whose effective
 * uid is the caller's (no other user's mmap_lock is taken, no other user's
 * VMAs are read) and holds at most XPMEM_CENSUS_MAX_RANGES_USER ranges,
 * allocated with __GFP_ACCOUNT; beyond that the dump fails with E2BIG.
 */
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "census.h"
#include "xpmem_internal.h"

static siphash_key_t attach_id_key;

int xpmem_census_init(void)
{
	get_random_bytes(&attach_id_key, sizeof(attach_id_key));
	return 0;
}

/* Counts the PTE-mapped pages of [addr, end), within one PMD. */
static u64 count_ptes(struct mm_struct *mm, pmd_t *pmd, unsigned long addr,
		      unsigned long end)
{
	spinlock_t *ptl;
	pte_t *start, *pte;
	u64 n = 0;

	start = pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	for (; addr < end; addr += PAGE_SIZE, pte++)
		if (pte_present(*pte))
			n++;
	pte_unmap_unlock(start, ptl);
	return n;
}

static void count_mapped(struct mm_struct *mm, unsigned long addr,
			 unsigned long end, u64 *pages, u64 *pmds)
{
	unsigned long next;

	for (; addr < end; addr = next) {
		pgd_t *pgd = pgd_offset(mm, addr);
		p4d_t *p4d;
		pud_t *pud;
		pmd_t *pmdp, pmd;

		next = pgd_addr_end(addr, end);
		if (pgd_none(*pgd) || pgd_bad(*pgd))
			continue;
		p4d = p4d_offset(pgd, addr);
		next = p4d_addr_end(addr, end);
		if (p4d_none(*p4d) || p4d_bad(*p4d))
			continue;
		pud = pud_offset(p4d, addr);
		next = pud_addr_end(addr, end);
		if (pud_none(*pud) || pud_bad(*pud))
			continue;
		pmdp = pmd_offset(pud, addr);
		next = pmd_addr_end(addr, end);
		pmd = READ_ONCE(*pmdp);
		if (pmd_none(pmd))
			continue;
		if (pmd_leaf(pmd) || pmd_devmap(pmd)) {
			if (pmd_present(pmd)) {
				*pages += (next - addr) >> PAGE_SHIFT;
				*pmds += 1;
			}
			continue;
		}
		if (pmd_bad(pmd))
			continue;
		*pages += count_ptes(mm, pmdp, addr, next);
	}
}

static int grow(struct xpmem_census **cp, unsigned int max)
{
	struct xpmem_census *c = *cp, *bigger;
	unsigned int cap = min(c->cap * 2, max);

	if (c->cap >= max)
		return -E2BIG;
	bigger = kvmalloc(struct_size(c, r, cap), GFP_KERNEL_ACCOUNT);
	if (!bigger)
		return -ENOMEM;
	memcpy(bigger, c, struct_size(c, r, c->n));
	bigger->cap = cap;
	kvfree(c);
	*cp = bigger;
	return 0;
}

/* Adds the attachment ranges of one mm, mapped for task tsk. */
static int census_mm(struct xpmem_census **cp,
		     const struct xpmem_census_scope *scope,
		     struct task_struct *tsk, struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	pid_t pid = task_tgid_vnr(tsk);
	kuid_t uid = task_euid(tsk);
	int err = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		struct xpmem_attach *att = vma->vm_private_data;
		struct xpmem_census_range *r;

		if (!xpmem_vma_is_attachment(vma))
			continue;
		if (scope->only_segid && att->seg->segid != scope->only_segid)
			continue;
		if ((*cp)->n == (*cp)->cap) {
			err = grow(cp, scope->max_ranges);
			if (err)
				break;
		}
		r = &(*cp)->r[(*cp)->n++];
		memset(r, 0, sizeof(*r));
		r->segid = att->seg->segid;
		r->attach_id = siphash_1u64((u64)(unsigned long)att,
					    &attach_id_key);
		r->pid = pid;
		r->uid = uid;
		r->start = vma->vm_start;
		r->end = vma->vm_end;
		r->src = vma->vm_pgoff << PAGE_SHIFT;
		r->rdonly = att->rdonly;
		count_mapped(mm, vma->vm_start, vma->vm_end, &r->pages,
			     &r->pmds);
	}
	mmap_read_unlock(mm);
	return err;
}

/* Whether tsk is the one task of its mm's users the census visits. */
static bool owns_mm(struct task_struct *tsk, struct mm_struct *mm)
{
#ifdef CONFIG_MEMCG
	struct task_struct *owner;
	bool ret;

	rcu_read_lock();
	owner = rcu_dereference(mm->owner);
	ret = owner && same_thread_group(owner, tsk);
	rcu_read_unlock();
	return ret;
#else
	return true;
#endif
}

static int cmp_range(const void *a, const void *b)
{
	const struct xpmem_census_range *x = a, *y = b;

	if (x->segid != y->segid)
		return x->segid < y->segid ? -1 : 1;
	if (x->attach_id != y->attach_id)
		return x->attach_id < y->attach_id ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Whether the census of scope visits tsk's processes (see the top). */
static bool in_scope(const struct xpmem_census_scope *scope,
		     struct task_struct *tsk)
{
	return scope->all_users || uid_eq(task_euid(tsk), scope->uid);
}

struct xpmem_census *xpmem_census_take(const struct xpmem_census_scope *scope)
{
	struct xpmem_census *c;
	int nr = 1, err = 0;

	c = kvmalloc(struct_size(c, r, 64), GFP_KERNEL_ACCOUNT);
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->n = 0;
	c->cap = 64;

	while (!err) {
		struct task_struct *tsk = NULL;
		struct mm_struct *mm;
		struct pid *pid;

		rcu_read_lock();
		pid = find_ge_pid(nr, &init_pid_ns);
		if (pid) {
			nr = pid_nr(pid) + 1;
			tsk = pid_task(pid, PIDTYPE_TGID);
			if (tsk)
				get_task_struct(tsk);
		}
		rcu_read_unlock();
		if (!pid)
			break;
		if (!tsk)
			continue;
		if (!in_scope(scope, tsk)) {
			put_task_struct(tsk);
			continue;
		}
		mm = get_task_mm(tsk);
		if (mm) {
			if (owns_mm(tsk, mm))
				err = census_mm(&c, scope, tsk, mm);
			mmput(mm);
		}
		put_task_struct(tsk);
		if (fatal_signal_pending(current))
			err = -EINTR;
		cond_resched();
	}
	if (err) {
		kvfree(c);
		return ERR_PTR(err);
	}
	sort(c->r, c->n, sizeof(c->r[0]), cmp_range, NULL);
	return c;
}

void xpmem_census_free(struct xpmem_census *c)
{
	kvfree(c);
}

unsigned int xpmem_census_find(const struct xpmem_census *c, s64 segid)
{
	unsigned int lo = 0, hi = c->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (c->r[mid].segid < segid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
