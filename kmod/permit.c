// SPDX-License-Identifier: GPL-2.0-only
/*
 * permit.c - GET and RELEASE: access permits (apids) to a segment.
 *
 * The check is the one System V IPC makes: the owner's, the group's or the
 * others' bits of the segment's mode, chosen by the caller's effective ids,
 * must grant read (RDONLY) or read and write (RDWR).  CAP_IPC_OWNER
 * overrides it, but only when held in the user namespace the segment was
 * made in, so that creating a namespace of one's own gives no access to
 * other users' segments.  The permit value passed to GET is ignored:
 * consumers pass anything from NULL to 0666.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/slab.h>

#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"

static bool may_access(struct xpmem_segment *seg, bool rdonly)
{
	umode_t want = rdonly ? 04 : 06;
	umode_t granted;

	if (uid_eq(current_euid(), seg->uid))
		granted = (seg->mode >> 6) & 07;
	else if (in_egroup_p(seg->gid))
		granted = (seg->mode >> 3) & 07;
	else
		granted = seg->mode & 07;

	if ((granted & want) == want)
		return true;
	return ns_capable(seg->user_ns, CAP_IPC_OWNER);
}

/* A segid made by another partition of our fabric. */
static bool is_remote(s64 segid)
{
	int self = xpmem_partition_self();

	return self >= 0 && XPMEM_SEGID_PARTITION(segid) != (u64)self;
}

int xpmem_cmd_get(struct xpmem_ctx *ctx, struct xpmem_cmd_get *cmd)
{
	struct xpmem_segment *seg;
	struct xpmem_permit *permit;
	bool rdonly;
	int err;

	if (cmd->flags != XPMEM_IOC_RDONLY && cmd->flags != XPMEM_IOC_RDWR)
		return -EINVAL;
	if (cmd->permit_type != XPMEM_IOC_PERMIT_MODE)
		return -EINVAL;
	if (cmd->segid <= 0)
		return -EINVAL;
	rdonly = cmd->flags == XPMEM_IOC_RDONLY;

	if (is_remote(cmd->segid)) {
		/* The owner's partition checks the access and answers. */
		err = xpmem_import_get(cmd->segid, rdonly, &seg);
		if (err)
			return err;
		goto make_permit;
	}
	seg = xpmem_segment_lookup(cmd->segid);
	if (!seg)
		return -ENOENT;
	if (READ_ONCE(seg->dead) || !xpmem_segment_owner_alive(seg)) {
		err = -ENOENT;
		goto err_put_seg;
	}
	if (!may_access(seg, rdonly)) {
		err = -EACCES;
		goto err_put_seg;
	}
make_permit:

	permit = kzalloc(sizeof(*permit), GFP_KERNEL_ACCOUNT);	/* the user's */
	if (!permit) {
		err = -ENOMEM;
		goto err_put_seg;
	}
	permit->seg = seg;
	permit->rdonly = rdonly;
	permit->owner = ctx;

	mutex_lock(&ctx->lock);
	err = xpmem_ctx_live(ctx) ? xpmem_permit_publish(permit) : -ENOENT;
	if (err) {
		mutex_unlock(&ctx->lock);
		goto err_free_permit;
	}
	list_add_tail(&permit->owner_link, &ctx->permits);
	mutex_unlock(&ctx->lock);

	xpmem_count(permits, 1);
	cmd->apid = permit->apid;
	return 0;

err_free_permit:
	kfree(permit);
err_put_seg:
	xpmem_segment_put(seg);
	return err;
}

/* Cuts a permit from its owner and the id table; under ctx->lock. */
void xpmem_permit_unlink(struct xpmem_ctx *ctx, struct xpmem_permit *permit)
{
	lockdep_assert_held(&ctx->lock);
	list_del(&permit->owner_link);
	xpmem_permit_unpublish(permit);
}

/* Frees a permit that xpmem_permit_unlink() cut loose. */
void xpmem_permit_release(struct xpmem_permit *permit)
{
	xpmem_segment_put(permit->seg);
	xpmem_count(permits, -1);
	kfree_rcu(permit, rcu);
}

int xpmem_cmd_release(struct xpmem_ctx *ctx, s64 apid)
{
	struct xpmem_permit *permit;

	if (apid <= 0)
		return -EINVAL;
	mutex_lock(&ctx->lock);
	rcu_read_lock();
	permit = xpmem_permit_lookup(apid);
	if (!permit || permit->owner != ctx) {
		rcu_read_unlock();
		mutex_unlock(&ctx->lock);
		return permit ? -EPERM : -ENOENT;
	}
	rcu_read_unlock();
	xpmem_permit_unlink(ctx, permit);
	mutex_unlock(&ctx->lock);

	xpmem_permit_release(permit);
	return 0;
}
