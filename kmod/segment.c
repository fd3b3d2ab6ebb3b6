// SPDX-License-Identifier: GPL-2.0-only
/*
 * segment.c - MAKE and REMOVE: exporting a range of the caller's address
 * space, and withdrawing it.
 *
 * A segment is published in the id table only once it is complete, and is
 * torn down in the reverse order: unpublished (no new GET finds it), marked
 * dead (faults answer SIGBUS from now on), every attacher's PTEs zapped, the
 * notifier removed, and the table's reference dropped.  Attachments keep the
 * segment's memory alive until their mappings go, but never its pages.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>

#include "remote.h"
#include "xpmem_internal.h"

static void segment_free(struct kref *ref)
{
	struct xpmem_segment *seg = container_of(ref, struct xpmem_segment, ref);

	if (seg->remote)
		xpmem_import_free(seg);
	iput(seg->inode);
	put_user_ns(seg->user_ns);
	put_pid(seg->owner_pid);
	if (seg->mm)
		mmdrop(seg->mm);
	kfree_rcu(seg, rcu);
}

void xpmem_segment_put(struct xpmem_segment *seg)
{
	kref_put(&seg->ref, segment_free);
}

bool xpmem_segment_owner_alive(struct xpmem_segment *seg)
{
	if (seg->remote)
		return xpmem_import_alive(seg);
	return atomic_read(&seg->mm->mm_users) > 0;
}

/* Checks MAKE's range and clamps XPMEM_MAXADDR_SIZE to the top of user space. */
static int make_range(u64 vaddr, u64 size, unsigned long *start,
		      unsigned long *end)
{
	if (!PAGE_ALIGNED(vaddr) || vaddr >= TASK_SIZE)
		return -EINVAL;
	if (size == (u64)-1) {
		*start = vaddr;
		*end = TASK_SIZE;
		return 0;
	}
	if (!size || !PAGE_ALIGNED(size) || size > TASK_SIZE - vaddr)
		return -EINVAL;
	*start = vaddr;
	*end = vaddr + size;
	return 0;
}

int xpmem_cmd_make(struct xpmem_ctx *ctx, struct xpmem_cmd_make *cmd)
{
	struct xpmem_segment *seg;
	unsigned long start, end;
	int err;

	if (cmd->permit_type != XPMEM_IOC_PERMIT_MODE ||
	    cmd->permit_value & ~(u64)0777)
		return -EINVAL;
	err = make_range(cmd->vaddr, cmd->size, &start, &end);
	if (err)
		return err;

	/* Made by a user for as long as it likes: charged to it. */
	seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	if (!seg)
		return -ENOMEM;
	kref_init(&seg->ref);
	init_rwsem(&seg->life);
	mutex_init(&seg->lock);
	INIT_LIST_HEAD(&seg->exports);
	seg->start = start;
	seg->end = end;
	seg->mode = (umode_t)cmd->permit_value;
	seg->uid = current_euid();
	seg->gid = current_egid();
	seg->owner_pid = get_pid(task_tgid(current));
	seg->inode = xpmem_attach_inode_alloc();
	if (IS_ERR(seg->inode)) {
		err = PTR_ERR(seg->inode);
		goto err_free_seg;
	}
	seg->user_ns = get_user_ns(current_user_ns());
	mmgrab(ctx->mm);
	seg->mm = ctx->mm;

	err = mmu_interval_notifier_insert(&seg->notifier, seg->mm, start,
					   end - start, &xpmem_invalidate_ops);
	if (err)
		goto err_drop_refs;

	mutex_lock(&ctx->lock);
	err = xpmem_ctx_live(ctx) ? xpmem_segment_publish(seg) : -ENOENT;
	if (err) {
		mutex_unlock(&ctx->lock);
		goto err_remove_notifier;
	}
	seg->owner = ctx;
	list_add_tail(&seg->owner_link, &ctx->segments);
	mutex_unlock(&ctx->lock);

	xpmem_count(segments, 1);
	cmd->segid = seg->segid;
	return 0;

err_remove_notifier:
	mmu_interval_notifier_remove(&seg->notifier);
err_drop_refs:
	mmdrop(seg->mm);
	put_user_ns(seg->user_ns);
	iput(seg->inode);
err_free_seg:
	put_pid(seg->owner_pid);
	kfree(seg);
	return err;
}

/* Cuts a segment from its owner; under ctx->lock, once per segment. */
void xpmem_segment_unlink(struct xpmem_ctx *ctx, struct xpmem_segment *seg)
{
	lockdep_assert_held(&ctx->lock);
	list_del(&seg->owner_link);
	seg->owner = NULL;
}

/* Withdraws a segment that xpmem_segment_unlink() cut loose. */
void xpmem_segment_remove(struct xpmem_segment *seg)
{
	xpmem_segment_unpublish(seg);

	down_write(&seg->life);
	seg->dead = true;
	up_write(&seg->life);

	xpmem_zap_attachers(seg, seg->start, seg->end);
	/* Other partitions drop it too, while the notifier still guards it. */
	xpmem_export_segment_gone(seg);
	mmu_interval_notifier_remove(&seg->notifier);

	xpmem_count(segments, -1);
	xpmem_segment_put(seg);
}

int xpmem_cmd_remove(struct xpmem_ctx *ctx, s64 segid)
{
	struct xpmem_segment *seg;
	int err = 0;

	if (segid <= 0)
		return -EINVAL;
	seg = xpmem_segment_lookup(segid);
	if (!seg)
		return -ENOENT;

	mutex_lock(&ctx->lock);
	if (seg->owner != ctx) {
		err = READ_ONCE(seg->owner) ? -EPERM : -ENOENT;
		mutex_unlock(&ctx->lock);
		goto out;
	}
	xpmem_segment_unlink(ctx, seg);
	mutex_unlock(&ctx->lock);

	xpmem_segment_remove(seg);
out:
	xpmem_segment_put(seg);
	return err;
}
