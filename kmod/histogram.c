// SPDX-License-Identifier: GPL-2.0-only
/*
 * histogram.c - latency histograms (fault service, shootdowns), read by the
 * netlink GET_HISTOGRAMS dump.
 */
#include <linux/bitops.h>
#include <linux/kernel.h>
#include <linux/limits.h>

#include "histogram.h"

struct xpmem_histogram xpmem_histograms[__XPMEM_HIST_MAX];

static const char *const names[__XPMEM_HIST_MAX] = {
	[XPMEM_HIST_FAULT] = "fault",
	[XPMEM_HIST_LOCAL_SHOOTDOWN] = "local_shootdown",
	[XPMEM_HIST_REMOTE_SHOOTDOWN] = "remote_shootdown",
};

const char *xpmem_hist_name(enum xpmem_hist_id id)
{
	return names[id];
}

u64 xpmem_hist_bound(unsigned int b)
{
	if (b >= XPMEM_HIST_BUCKETS - 1)
		return U64_MAX;
	return 1ULL << (b + XPMEM_HIST_SHIFT0);
}

/* The smallest b with ns <= 2^(b + SHIFT0), capped at the last bucket. */
static unsigned int bucket_of(u64 ns)
{
	unsigned int order;

	if (ns <= (1ULL << XPMEM_HIST_SHIFT0))
		return 0;
	order = fls64(ns - 1);	/* ns <= 2^order */
	return min_t(unsigned int, order - XPMEM_HIST_SHIFT0,
		     XPMEM_HIST_BUCKETS - 1);
}

void xpmem_hist_record(enum xpmem_hist_id id, u64 ns)
{
	struct xpmem_histogram *h = &xpmem_histograms[id];

	atomic64_inc(&h->bucket[bucket_of(ns)]);
	atomic64_add(ns, &h->sum_ns);
	atomic64_inc(&h->count);
}
