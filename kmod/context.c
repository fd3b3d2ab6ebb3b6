// SPDX-License-Identifier: GPL-2.0-only
/*
 * context.c - per-process contexts.
 *
 * A context is made by every open() of /dev/xpmem and bound to the opener's
 * mm.  Its segments and permits are withdrawn when the first of two things
 * happens: the open file is released (last close), or the mm exits.  The
 * second matters because a forked child inherits the descriptor: without it
 * an exited exporter's segments would live as long as its children.  The mm
 * exit is seen through a plain mmu_notifier whose ->release runs at the
 * start of exit_mmap(), before the pages go.
 *
 * Teardown is idempotent: both paths splice the lists out under ctx->lock,
 * and whoever comes second finds them empty.
 */
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "xpmem_internal.h"

static void ctx_teardown(struct xpmem_ctx *ctx)
{
	struct xpmem_segment *seg, *next_seg;
	struct xpmem_permit *permit, *next_permit;
	LIST_HEAD(segments);
	LIST_HEAD(permits);
	bool was_live;

	mutex_lock(&ctx->lock);
	was_live = !ctx->dead;
	ctx->dead = true;
	list_for_each_entry_safe(permit, next_permit, &ctx->permits, owner_link) {
		xpmem_permit_unlink(ctx, permit);
		list_add_tail(&permit->owner_link, &permits);
	}
	list_for_each_entry_safe(seg, next_seg, &ctx->segments, owner_link) {
		xpmem_segment_unlink(ctx, seg);
		list_add_tail(&seg->owner_link, &segments);
	}
	mutex_unlock(&ctx->lock);

	list_for_each_entry_safe(permit, next_permit, &permits, owner_link)
		xpmem_permit_release(permit);
	list_for_each_entry_safe(seg, next_seg, &segments, owner_link)
		xpmem_segment_remove(seg);
	if (was_live)
		xpmem_count(contexts, -1);
}

static void ctx_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	ctx_teardown(container_of(mn, struct xpmem_ctx, mn));
}

static const struct mmu_notifier_ops ctx_mn_ops = {
	.release = ctx_mm_release,
};

struct xpmem_ctx *xpmem_ctx_create(void)
{
	struct xpmem_ctx *ctx;
	int err;

	if (!current->mm)
		return ERR_PTR(-EINVAL);
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	mutex_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->segments);
	INIT_LIST_HEAD(&ctx->permits);
	ctx->mn.ops = &ctx_mn_ops;
	err = mmu_notifier_register(&ctx->mn, current->mm);
	if (err) {
		kfree(ctx);
		return ERR_PTR(err);
	}
	ctx->mm = current->mm;	/* the notifier holds an mmgrab() */
	xpmem_count(contexts, 1);
	return ctx;
}

void xpmem_ctx_destroy(struct xpmem_ctx *ctx)
{
	/* Runs ->release itself if the mm is still alive, then waits out any
	 * concurrent one from exit_mmap(). */
	mmu_notifier_unregister(&ctx->mn, ctx->mm);
	ctx_teardown(ctx);
	kfree(ctx);
}

/* False once the owner's mm has exited or the context is being released. */
bool xpmem_ctx_live(struct xpmem_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	return !ctx->dead;
}
