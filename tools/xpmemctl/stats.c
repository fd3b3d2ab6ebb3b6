// SPDX-License-Identifier: GPL-2.0-only
/* stats.c - `stats`: the module's counters and latency histograms. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

static const char *const counter_names[XPMEM_CTR_A_MAX + 1] = {
	[XPMEM_CTR_A_CONTEXTS] = "contexts",
	[XPMEM_CTR_A_SEGMENTS] = "segments",
	[XPMEM_CTR_A_PERMITS] = "permits",
	[XPMEM_CTR_A_ATTACHMENTS] = "attachments",
	[XPMEM_CTR_A_PINNED_PAGES] = "pinned_pages",
	[XPMEM_CTR_A_FAULTS] = "faults",
	[XPMEM_CTR_A_PAGES_MAPPED] = "pages_mapped",
	[XPMEM_CTR_A_PMDS_MAPPED] = "pmds_mapped",
	[XPMEM_CTR_A_FAULT_RETRIES] = "fault_retries",
	[XPMEM_CTR_A_SIGBUS] = "sigbus",
	[XPMEM_CTR_A_INVALIDATIONS] = "invalidations",
	[XPMEM_CTR_A_INVALIDATIONS_REFUSED] = "invalidations_refused",
	[XPMEM_CTR_A_REMOTE_FAULTS] = "remote_faults",
	[XPMEM_CTR_A_REMOTE_INVALIDATIONS] = "remote_invalidations",
	[XPMEM_CTR_A_TIMEOUTS] = "timeouts",
	[XPMEM_CTR_A_DOORBELLS_SENT] = "doorbells_sent",
	[XPMEM_CTR_A_DOORBELLS_RECEIVED] = "doorbells_received",
	[XPMEM_CTR_A_INVALIDATES_IN_SERVICE] = "invalidates_in_service",
	[XPMEM_CTR_A_FAULTS_DEFERRED] = "faults_deferred",
};

static const char *const drop_names[__XPMEM_DROP_MAX] = {
	[XPMEM_DROP_MALFORMED] = "dropped_malformed",
	[XPMEM_DROP_STALE_EPOCH] = "dropped_stale_epoch",
	[XPMEM_DROP_UNKNOWN_PARTITION] = "dropped_unknown_partition",
	[XPMEM_DROP_FENCED] = "dropped_fenced",
	[XPMEM_DROP_QUEUE_FULL] = "dropped_queue_full",
};

static int on_counters(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_CTR_A_MAX + 1], *a;
	struct record *r = data;
	int i;

	nl_parse(nlh, tb, XPMEM_CTR_A_MAX);
	for (i = 0; i <= XPMEM_CTR_A_MAX; i++)
		if (counter_names[i])
			rec_u64(r, counter_names[i], nl_u64(tb[i]));
	if (tb[XPMEM_CTR_A_DROPPED]) {
		uint64_t drops[__XPMEM_DROP_MAX] = { 0 };

		mnl_attr_for_each_nested(a, tb[XPMEM_CTR_A_DROPPED]) {
			int reason = mnl_attr_get_type(a) - XPMEM_DROP_ATTR(0);

			if (reason >= 0 && reason < __XPMEM_DROP_MAX)
				drops[reason] = mnl_attr_get_u64(a);
		}
		for (i = 0; i < __XPMEM_DROP_MAX; i++)
			rec_u64(r, drop_names[i], drops[i]);
	}
	return MNL_CB_OK;
}

int collect_counters(struct ctl *c, struct record *r)
{
	return nl_call(&c->nl, XPMEM_CMD_GET_COUNTERS, 0, NULL, on_counters, r);
}

#define BUCKETS_MAX 64

struct histogram {
	char name[32];
	uint64_t count, sum_ns;
	int n;
	uint64_t le[BUCKETS_MAX], cnt[BUCKETS_MAX];
};

struct histograms {
	struct histogram h[8];
	int n;
};

static int on_histogram(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_HIST_A_MAX + 1], *b, *a;
	struct histograms *hs = data;
	struct histogram *h;

	if (hs->n == (int)(sizeof(hs->h) / sizeof(hs->h[0])))
		return MNL_CB_OK;
	h = &hs->h[hs->n++];
	memset(h, 0, sizeof(*h));
	nl_parse(nlh, tb, XPMEM_HIST_A_MAX);
	if (tb[XPMEM_HIST_A_NAME])
		snprintf(h->name, sizeof(h->name), "%s",
			 mnl_attr_get_str(tb[XPMEM_HIST_A_NAME]));
	h->count = nl_u64(tb[XPMEM_HIST_A_COUNT]);
	h->sum_ns = nl_u64(tb[XPMEM_HIST_A_SUM_NS]);
	if (!tb[XPMEM_HIST_A_BUCKETS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(b, tb[XPMEM_HIST_A_BUCKETS]) {
		if (mnl_attr_get_type(b) != XPMEM_BUCKET_A_BUCKET ||
		    h->n == BUCKETS_MAX)
			continue;
		mnl_attr_for_each_nested(a, b) {
			if (mnl_attr_get_type(a) == XPMEM_BUCKET_A_LE_NS)
				h->le[h->n] = mnl_attr_get_u64(a);
			else if (mnl_attr_get_type(a) == XPMEM_BUCKET_A_COUNT)
				h->cnt[h->n] = mnl_attr_get_u64(a);
		}
		h->n++;
	}
	return MNL_CB_OK;
}

/* The bound of the bucket holding quantile q (a bound, not a value). */
static uint64_t quantile_le(const struct histogram *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
	int i;

	for (i = 0; i < h->n; i++) {
		seen += h->cnt[i];
		if (seen >= want && seen)
			return h->le[i];
	}
	return 0;
}

static void print_bound(uint64_t ns)
{
	if (ns == UINT64_MAX)
		printf("%10s", "inf");
	else if (ns >= 1000000)
		printf("%8" PRIu64 "ms", ns / 1000000);
	else if (ns >= 1000)
		printf("%8" PRIu64 "us", ns / 1000);
	else
		printf("%8" PRIu64 "ns", ns);
}

static void print_histograms_text(const struct histograms *hs)
{
	int i, b;

	for (i = 0; i < hs->n; i++) {
		const struct histogram *h = &hs->h[i];

		printf("\n%s latency: %" PRIu64 " events", h->name, h->count);
		if (!h->count) {
			printf("\n");
			continue;
		}
		printf(", mean %" PRIu64 " ns, p50 <=", h->sum_ns / h->count);
		print_bound(quantile_le(h, 0.5));
		printf(", p99 <=");
		print_bound(quantile_le(h, 0.99));
		printf("\n");
		for (b = 0; b < h->n; b++) {
			if (!h->cnt[b])
				continue;
			printf("  <=");
			print_bound(h->le[b]);
			printf("  %12" PRIu64 "\n", h->cnt[b]);
		}
	}
}

static void print_histograms_json(const struct histograms *hs)
{
	int i, b;

	printf("\"histograms\": [");
	for (i = 0; i < hs->n; i++) {
		const struct histogram *h = &hs->h[i];

		printf("%s\n  {\"name\": ", i ? "," : "");
		json_string(stdout, h->name);
		printf(", \"count\": %" PRIu64 ", \"sum_ns\": %" PRIu64
		       ", \"buckets\": [", h->count, h->sum_ns);
		for (b = 0; b < h->n; b++)
			printf("%s{\"le_ns\": %" PRIu64 ", \"count\": %" PRIu64 "}",
			       b ? ", " : "", h->le[b], h->cnt[b]);
		printf("]}");
	}
	printf("%s]", hs->n ? "\n" : "");
}

int cmd_stats(struct ctl *c, int argc, char **argv)
{
	struct histograms hs = { .n = 0 };
	struct record r = { 0 };
	int err, i;

	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] stats\n"
		       "Prints the module's counters (live objects, then events since\n"
		       "load; remote traffic reads 0 without the partition fabric)\n"
		       "and the latency histograms.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	err = collect_counters(c, &r);
	if (err)
		return ctl_error(c, err, "counters");
	err = nl_call(&c->nl, XPMEM_CMD_GET_HISTOGRAMS, 1, NULL, on_histogram,
		      &hs);
	if (err)
		return ctl_error(c, err, "histograms");
	if (c->json) {
		printf("{\"counters\": ");
		print_json_object(stdout, &r);
		printf(",\n");
		print_histograms_json(&hs);
		printf("}\n");
		return EXIT_OK;
	}
	for (i = 0; i < r.n; i++)
		printf("%-26s %14s\n", r.f[i].key, r.f[i].text);
	print_histograms_text(&hs);
	return EXIT_OK;
}
