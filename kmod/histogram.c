// SPDX-License-Identifier: GPL-2.0-only
/*
 * histogram.c - latency histograms (fault service, shootdowns), read by the
 * netlink GET_HISTOGRAMS dump.  Per-CPU, so that concurrent faults on many
 * CPUs do not bounce one cache line between them.
 */
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/percpu.h>
#include <linux/string.h>

#include "histogram.h"

struct hist_cpu {
	struct xpmem_hist_snapshot h[__XPMEM_HIST_MAX];
};

static DEFINE_PER_CPU(struct hist_cpu, hists);

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
	this_cpu_inc(hists.h[id].bucket[bucket_of(ns)]);
	this_cpu_add(hists.h[id].sum_ns, ns);
	this_cpu_inc(hists.h[id].count);
}

void xpmem_hist_read(enum xpmem_hist_id id, struct xpmem_hist_snapshot *out)
{
	unsigned int cpu, b;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		const struct xpmem_hist_snapshot *h =
			&per_cpu_ptr(&hists, cpu)->h[id];

		out->count += READ_ONCE(h->count);
		out->sum_ns += READ_ONCE(h->sum_ns);
		for (b = 0; b < XPMEM_HIST_BUCKETS; b++)
			out->bucket[b] += READ_ONCE(h->bucket[b]);
	}
}
