/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netlink.h - the "xpmem" generic-netlink family (uapi/xpmem_netlink.h
 * documents the protocol).
 */
#ifndef XPMEM_NETLINK_H
#define XPMEM_NETLINK_H

#include <linux/types.h>

int xpmem_netlink_init(void);
void xpmem_netlink_exit(void);

/* Announces to the "events" group; for the partition fabric to call. */
void xpmem_netlink_event_partition(u32 id, u32 state, u64 epoch);
u32 xpmem_netlink_fence_reason(u32 xp_reason);
void xpmem_netlink_event_fence(u32 id, u64 epoch, u32 reason, u64 time_ns,
			       u64 quarantined_pages);

#endif /* XPMEM_NETLINK_H */
