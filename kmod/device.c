// SPDX-License-Identifier: GPL-2.0-only
/*
 * device.c - /dev/xpmem and the ioctl ABI.
 *
 * Every open() makes a context bound to the opener's mm (context.c).  A
 * descriptor used from another mm (a forked child using its parent's
 * descriptor) gets XPMEM_ERRNO_NOPROC; the library then opens its own.  The
 * context is released in .release, i.e. when the last descriptor of that
 * open file is closed, never in .flush: closing a dup() tears nothing down.
 *
 * Each upstream command copies its argument in, runs, writes its result
 * back, and undoes itself if that write faults, so a caller never holds an
 * object it was not told about.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "xpmem_internal.h"

static int xpmem_open(struct inode *inode, struct file *file)
{
	struct xpmem_ctx *ctx = xpmem_ctx_create();

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	file->private_data = ctx;
	return 0;
}

static int xpmem_release(struct inode *inode, struct file *file)
{
	xpmem_ctx_destroy(file->private_data);
	return 0;
}

static long ioctl_make(struct xpmem_ctx *ctx, void __user *uarg)
{
	struct xpmem_cmd_make __user *u = uarg;
	struct xpmem_cmd_make cmd;
	int err;

	if (copy_from_user(&cmd, u, sizeof(cmd)))
		return -EFAULT;
	err = xpmem_cmd_make(ctx, &cmd);
	if (err)
		return err;
	if (put_user(cmd.segid, &u->segid)) {
		xpmem_cmd_remove(ctx, cmd.segid);
		return -EFAULT;
	}
	return 0;
}

static long ioctl_get(struct xpmem_ctx *ctx, void __user *uarg)
{
	struct xpmem_cmd_get __user *u = uarg;
	struct xpmem_cmd_get cmd;
	int err;

	if (copy_from_user(&cmd, u, sizeof(cmd)))
		return -EFAULT;
	err = xpmem_cmd_get(ctx, &cmd);
	if (err)
		return err;
	if (put_user(cmd.apid, &u->apid)) {
		xpmem_cmd_release(ctx, cmd.apid);
		return -EFAULT;
	}
	return 0;
}

static long ioctl_attach(struct xpmem_ctx *ctx, void __user *uarg)
{
	struct xpmem_cmd_attach __user *u = uarg;
	struct xpmem_cmd_attach cmd;
	int err;

	if (copy_from_user(&cmd, u, sizeof(cmd)))
		return -EFAULT;
	err = xpmem_cmd_attach(ctx, &cmd, &u->vaddr);
	if (err)
		return err;
	if (put_user(cmd.vaddr, &u->vaddr)) {
		xpmem_undo_attach(cmd.vaddr, cmd.size);
		return -EFAULT;
	}
	return 0;
}

/* Commands whose whole argument is one 64-bit id or address. */
static long ioctl_u64(struct xpmem_ctx *ctx, unsigned int cmd,
		      void __user *uarg)
{
	u64 val;

	if (get_user(val, (u64 __user *)uarg))
		return -EFAULT;
	switch (cmd) {
	case XPMEM_CMD_REMOVE:
		return xpmem_cmd_remove(ctx, (s64)val);
	case XPMEM_CMD_RELEASE:
		return xpmem_cmd_release(ctx, (s64)val);
	default:
		return xpmem_cmd_detach(ctx, val);
	}
}

static long xpmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xpmem_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	/* Sized extensions: matched by number, whatever size they encode. */
	if (_IOC_TYPE(cmd) == 'x' && _IOC_NR(cmd) == XPMEM_IOC_STATS_NR &&
	    _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE))
		return xpmem_cmd_stats(uarg);

	switch (cmd) {
	case XPMEM_CMD_VERSION:
		return XPMEM_ABI_VERSION;
	case XPMEM_CMD_MAKE:
	case XPMEM_CMD_REMOVE:
	case XPMEM_CMD_GET:
	case XPMEM_CMD_RELEASE:
	case XPMEM_CMD_ATTACH:
	case XPMEM_CMD_DETACH:
	case XPMEM_CMD_FORK_BEGIN:
	case XPMEM_CMD_FORK_END:
		break;
	default:
		return -ENOTTY;
	}

	if (ctx->mm != current->mm)
		return -XPMEM_ERRNO_NOPROC;

	switch (cmd) {
	case XPMEM_CMD_MAKE:
		return ioctl_make(ctx, uarg);
	case XPMEM_CMD_GET:
		return ioctl_get(ctx, uarg);
	case XPMEM_CMD_ATTACH:
		return ioctl_attach(ctx, uarg);
	case XPMEM_CMD_REMOVE:
	case XPMEM_CMD_RELEASE:
	case XPMEM_CMD_DETACH:
		return ioctl_u64(ctx, cmd, uarg);
	default:		/* FORK_BEGIN/END: nothing to do */
		return 0;
	}
}

static const struct file_operations xpmem_fops = {
	.owner = THIS_MODULE,
	.open = xpmem_open,
	.release = xpmem_release,
	.unlocked_ioctl = xpmem_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice xpmem_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = XPMEM_DEV_NAME,
	.fops = &xpmem_fops,
	.mode = 0666,
};

int xpmem_device_init(void)
{
	return misc_register(&xpmem_miscdev);
}

void xpmem_device_exit(void)
{
	misc_deregister(&xpmem_miscdev);
}
