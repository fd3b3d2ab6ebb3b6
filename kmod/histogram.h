/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * histogram.h - latency histograms with power-of-two buckets.
 *
 * Bucket b counts latencies of at most 2^(b + XPMEM_HIST_SHIFT0) ns, the
 * last bucket everything longer.  Recording is three atomic adds: cheap
 * enough for the fault path, and a reader never blocks a writer.
 */
#ifndef XPMEM_HISTOGRAM_H
#define XPMEM_HISTOGRAM_H

#include <linux/atomic.h>
#include <linux/ktime.h>
#include <linux/types.h>

#include "uapi/xpmem_netlink.h"

#define XPMEM_HIST_SHIFT0	9	/* first bound: 512 ns */
#define XPMEM_HIST_BUCKETS	26	/* last bounded one: 2^33 ns, ~8.6 s */

struct xpmem_histogram {
	atomic64_t count, sum_ns;
	atomic64_t bucket[XPMEM_HIST_BUCKETS];
};

extern struct xpmem_histogram xpmem_histograms[__XPMEM_HIST_MAX];

void xpmem_hist_record(enum xpmem_hist_id id, u64 ns);
/* The inclusive upper bound of bucket b in ns; U64_MAX for the last. */
u64 xpmem_hist_bound(unsigned int b);
const char *xpmem_hist_name(enum xpmem_hist_id id);

/* Records the time since t0 (from ktime_get_ns()). */
static inline void xpmem_hist_since(enum xpmem_hist_id id, u64 t0)
{
	xpmem_hist_record(id, ktime_get_ns() - t0);
}

#endif /* XPMEM_HISTOGRAM_H */
