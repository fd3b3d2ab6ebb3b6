/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * partition.h - this kernel as one partition of a fabric: membership with
 * its peers over the transport, and the request round trip later work
 * builds on.  Without a fabric, every function here reports "no fabric".
 */
#ifndef XPMEM_PARTITION_H
#define XPMEM_PARTITION_H

#include <linux/types.h>

struct xpmem_partition_info {
	u32 id;
	u32 state;		/* enum xp_state: FREE, JOINING, UP, SUSPECT, DEAD */
	u32 epoch;
	u32 reason;		/* last fence reason (enum xp_reason) */
	u64 hb_age_ns;
	u64 fence_time_ns;	/* CLOCK_BOOTTIME of its last fence; 0: never */
	int window;		/* index of its peer window here, -1 if unknown */
};

/* Deadlines (module parameters, tunables) and fault-injection points. */
extern unsigned int xpmem_hb_ms, xpmem_dead_ms, xpmem_fault_ms;
extern unsigned int xpmem_inject_stop_heartbeat, xpmem_inject_drop_doorbells;

int xpmem_partition_init(void);
void xpmem_partition_exit(void);

/* Number of partition slots of the fabric (0: no fabric). */
u32 xpmem_partition_count(void);
/* Our own id, or -ENODEV without a fabric. */
int xpmem_partition_self(void);
int xpmem_partition_info(u32 id, struct xpmem_partition_info *out);
const char *xpmem_partition_state_name(u32 state);
const char *xpmem_partition_reason_name(u32 reason);
/* PING @peer and wait for its completion, bounded by fault_ms. */
int xpmem_partition_ping(u32 peer, u64 *rtt_ns);

#endif /* XPMEM_PARTITION_H */
