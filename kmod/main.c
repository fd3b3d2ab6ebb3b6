// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.c - xpmem.ko: cross-partition memory sharing.  Module init is the
 * ordered chain of the subsystems' init functions; exit is its reverse.
 */
#include <linux/module.h>

#include "census.h"
#include "fabric.h"
#include "partition.h"
#include "netlink.h"
#include "xpmem_internal.h"

static int __init xpmem_init(void)
{
	int err;

	err = xpmem_invalidate_init();
	if (err)
		return err;
	err = xpmem_ids_init();
	if (err)
		goto err_invalidate;
	err = xpmem_attach_init();
	if (err)
		goto err_ids;
	err = xpmem_census_init();
	if (err)
		goto err_attach;
	err = xpmem_device_init();
	if (err)
		goto err_attach;
	err = xpmem_netlink_init();
	if (err)
		goto err_device;
	err = xpmem_fabric_init();
	if (err)
		goto err_netlink;
	err = xpmem_partition_init(&xpmem_remote_partition_ops);
	if (err)
		goto err_fabric;
	pr_info("xpmem: version %x.%x, partition %d%s\n",
		XPMEM_ABI_VERSION >> 16, XPMEM_ABI_VERSION & 0xffff,
		xpmem_fabric_self_id(),
		xpmem_fabric_present() ? "" : " (no fabric)");
	return 0;

err_fabric:
	xpmem_fabric_exit();
err_netlink:
	xpmem_netlink_exit();
err_device:
	xpmem_device_exit();
err_attach:
	xpmem_attach_exit();
err_ids:
	xpmem_ids_exit();
err_invalidate:
	xpmem_invalidate_exit();
	return err;
}

static void __exit xpmem_exit(void)
{
	xpmem_partition_exit();
	xpmem_fabric_exit();
	xpmem_netlink_exit();
	xpmem_device_exit();
	xpmem_attach_exit();
	xpmem_ids_exit();
	/* Last: a callback of ours may zap through it until then. */
	xpmem_invalidate_exit();
	WARN_ON(!xpmem_stats_check_idle());
}

module_init(xpmem_init);
module_exit(xpmem_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Cross-partition memory sharing (XPMEM-compatible)");
MODULE_VERSION("3.0");
