// SPDX-License-Identifier: GPL-2.0-only
/*
 * attach.c - ATTACH and DETACH.
 *
 * An attachment is a shared mapping of a pseudo file whose address_space is
 * the segment's own (one inode per segment on a private pseudo filesystem).
 * The mapping's page offset is the source address in pages, so the VMA of
 * every attacher of a segment sits in one interval tree keyed by source
 * address: the invalidate callback finds and zaps them all with one
 * unmap_mapping_pages(), and VMA splits and moves keep working because the
 * fault handler derives the source address from vm_pgoff alone.
 *
 * Each ATTACH makes its own file so that the attachment's state (segment,
 * read-only) lives exactly as long as some VMA maps it: the file is released
 * when the last one goes, by munmap, DETACH or exit.  Nothing depends on the
 * caller's /dev/xpmem descriptor, so closing it tears nothing down.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>

#include "remote.h"
#include "xpmem_internal.h"

#define XPMEM_FS_MAGIC 0x78706d6d	/* "xpmm" */

static struct vfsmount *attach_mnt;

static int attach_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, XPMEM_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type attach_fs_type = {
	.name = "xpmem",
	.init_fs_context = attach_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

struct inode *xpmem_attach_inode_alloc(void)
{
	return alloc_anon_inode(attach_mnt->mnt_sb);
}

static int attach_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xpmem_attach *att = file->private_data;
	unsigned long flags = VM_PFNMAP | VM_DONTEXPAND | VM_DONTCOPY |
			      VM_DONTDUMP;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (att->rdonly && (vma->vm_flags & VM_WRITE))
		return -EACCES;
#ifdef XPMEM_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
	if (att->rdonly)
		vm_flags_clear(vma, VM_MAYWRITE);
#else
	vma->vm_flags |= flags;
	if (att->rdonly)
		vma->vm_flags &= ~VM_MAYWRITE;
#endif
	/* Another partition's segment faults through its owner. */
	vma->vm_ops = att->seg->remote ? &xpmem_import_vm_ops : &xpmem_vm_ops;
	vma->vm_private_data = att;
	return 0;
}

static int attach_file_release(struct inode *inode, struct file *file)
{
	struct xpmem_attach *att = file->private_data;

	if (att->seg->remote)
		xpmem_import_detached(att->seg);
	xpmem_segment_put(att->seg);
	kfree(att);
	xpmem_count(attachments, -1);
	return 0;
}

/*
 * The page offset of an attachment is its source address, so placing it
 * like a THP-able file mapping puts it at an address congruent to the
 * source modulo 2 MiB: the condition for PMD mappings of THP sources.
 */
static const struct file_operations attach_fops = {
	.owner = THIS_MODULE,
	.mmap = attach_file_mmap,
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	.get_unmapped_area = thp_get_unmapped_area,
#endif
	.release = attach_file_release,
};

/* The attachment's segment and source range, checked against the permit. */
static int attach_source(struct xpmem_permit *permit, s64 offset, u64 size,
			 unsigned long *src, unsigned long *len)
{
	struct xpmem_segment *seg = permit->seg;
	u64 span = seg->end - seg->start;

	if (offset < 0 || !PAGE_ALIGNED(offset) || !size)
		return -EINVAL;
	if (size > span || (u64)offset > span - PAGE_ALIGN(size) ||
	    PAGE_ALIGN(size) < size)
		return -EINVAL;
	*src = seg->start + offset;
	*len = PAGE_ALIGN(size);
	return 0;
}

static struct file *attach_file_open(struct xpmem_segment *seg, bool rdonly)
{
	struct xpmem_attach *att;
	struct file *file;

	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	if (!att)
		return ERR_PTR(-ENOMEM);
	mutex_init(&att->pt_lock);
	att->rdonly = rdonly;
	att->seg = seg;

	/* The file's last fput() drops both: the inode and the module. */
	ihold(seg->inode);
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(seg->inode, attach_mnt, "[xpmem]", O_RDWR,
				 &attach_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(seg->inode);
		kfree(att);
		return file;
	}
	kref_get(&seg->ref);
	if (seg->remote)
		xpmem_import_attached(seg);
	file->private_data = att;
	xpmem_count(attachments, 1);
	return file;
}

/*
 * An attach whose result cannot be written back is undone by unmapping it,
 * but a MAP_FIXED one has already replaced what was mapped there.  So the
 * result field (@out) is first written with its own value: an argument we
 * may not write then fails with EFAULT before anything is replaced.
 */
static int probe_out(u64 __user *out)
{
	u64 v;

	if (get_user(v, out))
		return -EFAULT;
	return put_user(v, out);
}

int xpmem_cmd_attach(struct xpmem_ctx *ctx, struct xpmem_cmd_attach *cmd,
		     u64 __user *out)
{
	struct xpmem_permit *permit;
	struct xpmem_segment *seg;
	unsigned long src, len, addr, mflags = MAP_SHARED;
	unsigned long prot = PROT_READ;
	struct file *file;
	bool rdonly;
	int err;

	if (cmd->apid <= 0)
		return -EINVAL;
	if (cmd->flags & MAP_FIXED) {
		if (!PAGE_ALIGNED(cmd->vaddr) || !cmd->vaddr)
			return -EINVAL;
		mflags |= MAP_FIXED;
	}

	mutex_lock(&ctx->lock);
	rcu_read_lock();
	permit = xpmem_permit_lookup(cmd->apid);
	if (!permit || permit->owner != ctx) {
		rcu_read_unlock();
		mutex_unlock(&ctx->lock);
		return permit ? -EPERM : -ENOENT;
	}
	rcu_read_unlock();
	seg = permit->seg;
	rdonly = permit->rdonly;
	err = attach_source(permit, cmd->offset, cmd->size, &src, &len);
	if (!err && READ_ONCE(seg->dead))
		err = -ENOENT;
	if (!err)
		kref_get(&seg->ref);
	mutex_unlock(&ctx->lock);
	if (err)
		return err;

	if ((mflags & MAP_FIXED) && probe_out(out)) {
		xpmem_segment_put(seg);
		return -EFAULT;
	}
	file = attach_file_open(seg, rdonly);
	xpmem_segment_put(seg);
	if (IS_ERR(file))
		return PTR_ERR(file);

	if (!rdonly)
		prot |= PROT_WRITE;
	addr = vm_mmap(file, cmd->vaddr, len, prot, mflags, src);
	fput(file);	/* the VMA holds its own reference */
	if (IS_ERR_VALUE(addr))
		return (int)addr;

	cmd->vaddr = addr;
	return 0;
}

bool xpmem_vma_is_attachment(struct vm_area_struct *vma)
{
	return vma->vm_file && vma->vm_file->f_op == &attach_fops;
}

/*
 * Unmaps the attachment VMA containing vaddr.  No mapping there: 0, as
 * consumers expect; a mapping that is not an attachment: -EINVAL.
 */
int xpmem_cmd_detach(struct xpmem_ctx *ctx, u64 vaddr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long start = 0, len = 0;
	int err = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, vaddr);
	if (vma && !xpmem_vma_is_attachment(vma))
		err = -EINVAL;
	else if (vma) {
		start = vma->vm_start;
		len = vma->vm_end - vma->vm_start;
	}
	mmap_read_unlock(mm);
	if (err || !len)
		return err;
	return vm_munmap(start, len);
}

/* Undoes an ATTACH whose result could not be written back. */
int xpmem_undo_attach(u64 vaddr, u64 size)
{
	return vm_munmap(vaddr, PAGE_ALIGN(size));
}

int xpmem_attach_init(void)
{
	attach_mnt = kern_mount(&attach_fs_type);
	return PTR_ERR_OR_ZERO(attach_mnt);
}

void xpmem_attach_exit(void)
{
	kern_unmount(attach_mnt);
}
