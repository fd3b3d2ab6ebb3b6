/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * histogram.h - latency histograms with power-of-two buckets.
 *
 * Bucket b counts latencies of at most 2^(b + XPMEM_HIST_SHIFT0) ns, the
 * last bucket everything longer.  Recording is three per-CPU adds (no
 * shared cache line on the fault path); a reader sums the CPUs, so while
 * events are being recorded a snapshot's count and bucket sum may differ by
 * the events in flight.
 */
#ifndef XPMEM_HISTOGRAM_H
#define XPMEM_HISTOGRAM_H

#include <linux/sched/clock.h>
#include <linux/types.h>

#include "uapi/xpmem_netlink.h"

#define XPMEM_HIST_SHIFT0	9	/* first bound: 512 ns */
#define XPMEM_HIST_BUCKETS	26	/* last bounded one: 2^33 ns, ~8.6 s */

struct xpmem_hist_snapshot {
	u64 count, sum_ns;
	u64 bucket[XPMEM_HIST_BUCKETS];
};

void xpmem_hist_record(enum xpmem_hist_id id, u64 ns);
void xpmem_hist_read(enum xpmem_hist_id id, struct xpmem_hist_snapshot *out);
/* The inclusive upper bound of bucket b in ns; U64_MAX for the last. */
u64 xpmem_hist_bound(unsigned int b);
const char *xpmem_hist_name(enum xpmem_hist_id id);

/*
 * Timestamps for latencies: local_clock() reads the TSC where
 * ktime_get_ns() may read a slow clocksource (HPET in many VMs).  Its CPUs
 * may disagree slightly, so a fault that moved CPU is clamped at 0.
 */
static inline u64 xpmem_hist_now(void)
{
	return local_clock();
}

static inline u64 xpmem_hist_elapsed(u64 t0)
{
	s64 ns = (s64)(local_clock() - t0);

	return ns > 0 ? ns : 0;
}

#endif /* XPMEM_HISTOGRAM_H */
