// SPDX-License-Identifier: GPL-2.0-only
/*
 * remote_ops.c - the segment layer's handlers for the partition layer.
 *
 * partition*.c is glue under the segment layer (threads, doorbells, the
 * fabric mutex, windows) and calls up only through this table, given to
 * xpmem_partition_init: what a message or a membership change means for
 * our proxies (import.c), our exports (export.c, shootdown.c) and the
 * netlink events is decided here and below, never in partition*.c.
 */
#include "netlink.h"
#include "partition.h"
#include "remote.h"

/* Incarnation @epoch of @peer is dead: its mappings go, its pins wait. */
static void remote_fenced(u32 peer, u32 epoch, u32 reason, u64 fence_time_ns)
{
	xpmem_import_peer_dead(peer);
	xpmem_export_peer_fenced(peer, epoch);
	xpmem_netlink_event_fence(peer, epoch, xpmem_netlink_fence_reason(reason),
				  fence_time_ns, xpmem_export_quarantined(peer));
}

/* We fenced ourselves: every proxy is dead, our exports quarantined. */
static void remote_self_fenced(u32 self, u32 nparts)
{
	u32 p;

	for (p = 0; p < nparts; p++)
		if (p != self)
			xpmem_import_peer_dead(p);
	xpmem_export_self_fenced();
}

static u64 remote_joined(u32 peer, u32 epoch)
{
	return xpmem_export_release_quarantine(peer, epoch);
}

/* enum xp_state and the uapi's enum xpmem_part_state share values. */
static void remote_changed(u32 peer, u32 state, u32 epoch)
{
	xpmem_netlink_event_partition(peer, state, epoch);
}

const struct xpmem_partition_ops xpmem_remote_partition_ops = {
	.noted = xpmem_import_noted,
	.invalidate = xpmem_import_invalidate,
	.serve = xpmem_export_serve,
	.fenced = remote_fenced,
	.self_fenced = remote_self_fenced,
	.joined = remote_joined,
	.changed = remote_changed,
	.release_self = xpmem_export_release_self,
	.quarantined = xpmem_export_quarantined,
	.window_lost = xpmem_import_window_lost,
	.exit = xpmem_export_exit,
};
