// SPDX-License-Identifier: GPL-2.0-only
/* partitions.c - `partitions` and `quarantine release`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

const char *part_state_name(uint32_t state)
{
	static const char *const names[] = {
		[XPMEM_PART_UNKNOWN] = "unknown",
		[XPMEM_PART_JOINING] = "joining",
		[XPMEM_PART_UP] = "up",
		[XPMEM_PART_SUSPECT] = "suspect",
		[XPMEM_PART_FENCED] = "fenced",
		[XPMEM_PART_DOWN] = "down",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* "none" without a fabric (the attribute is absent). */
static const char *doorbell_name(const struct nlattr *a)
{
	static const char *const names[] = {
		[XPMEM_DOORBELL_POLL] = "poll",
		[XPMEM_DOORBELL_MSIX] = "msix",
		[XPMEM_DOORBELL_RDMA] = "rdma",
	};
	uint32_t kind;

	if (!a)
		return "none";
	kind = nl_u32(a);
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

const char *fence_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[XPMEM_FENCE_NONE] = "none",
		[XPMEM_FENCE_HEARTBEAT] = "heartbeat",
		[XPMEM_FENCE_TIMEOUT] = "timeout",
		[XPMEM_FENCE_PROTOCOL] = "protocol",
		[XPMEM_FENCE_ADMIN] = "admin",
		[XPMEM_FENCE_SELF_STALE] = "self-stale",
		[XPMEM_FENCE_SELF_STALLED] = "self-stalled",
		[XPMEM_FENCE_REJOINED] = "rejoined",
		[XPMEM_FENCE_DISCONNECT] = "disconnect",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

static int on_partition(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_PART_A_MAX + 1];
	struct record *r = records_add(data);

	nl_parse(nlh, tb, XPMEM_PART_A_MAX);
	rec_u64(r, "id", nl_u32(tb[XPMEM_PART_A_ID]));
	rec_bool(r, "self", nl_u8(tb[XPMEM_PART_A_SELF]));
	rec_str(r, "state", part_state_name(nl_u32(tb[XPMEM_PART_A_STATE])));
	rec_u64(r, "epoch", nl_u64(tb[XPMEM_PART_A_EPOCH]));
	rec_u64(r, "hb_age_ms", nl_u64(tb[XPMEM_PART_A_HB_AGE_MS]));
	rec_u64(r, "inflight", nl_u32(tb[XPMEM_PART_A_INFLIGHT]));
	rec_u64(r, "quarantined_pages",
		nl_u64(tb[XPMEM_PART_A_QUARANTINED_PAGES]));
	rec_str(r, "last_fence_reason",
		fence_reason_name(nl_u32(tb[XPMEM_PART_A_LAST_FENCE_REASON])));
	rec_u64(r, "last_fence_time_ns",
		nl_u64(tb[XPMEM_PART_A_LAST_FENCE_TIME_NS]));
	rec_str(r, "doorbell", doorbell_name(tb[XPMEM_PART_A_DOORBELL]));
	return MNL_CB_OK;
}

int collect_partitions(struct ctl *c, struct records *rs)
{
	return nl_call(&c->nl, XPMEM_CMD_GET_PARTITIONS, 1, NULL, on_partition,
		       rs);
}

int cmd_partitions(struct ctl *c, int argc, char **argv)
{
	struct records rs = { 0 };
	int err;

	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] partitions\n"
		       "Lists the partitions this one knows: state, epoch, heartbeat\n"
		       "age, requests in flight, quarantined pages, last fence, and\n"
		       "the doorbell that wakes it (msix, rdma, poll; none without a fabric).\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	err = collect_partitions(c, &rs);
	if (err)
		return ctl_error(c, err, "partitions");
	if (c->json) {
		fputc('{', stdout);
		print_json_array(stdout, "partitions", &rs);
		fputs("}\n", stdout);
	} else {
		print_table(stdout, &rs);
	}
	records_free(&rs);
	return EXIT_OK;
}

static int on_released(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_PART_A_MAX + 1];
	struct record *r = data;

	nl_parse(nlh, tb, XPMEM_PART_A_MAX);
	rec_u64(r, "id", nl_u32(tb[XPMEM_PART_A_ID]));
	rec_u64(r, "released_pages", nl_u64(tb[XPMEM_PART_A_QUARANTINED_PAGES]));
	return MNL_CB_OK;
}

int cmd_quarantine(struct ctl *c, int argc, char **argv)
{
	struct nl_req req = NL_REQ_INIT;
	struct record r = { 0 };
	uint64_t id;
	int err;

	if (wants_help(argc, argv) || argc != 3 || strcmp(argv[1], "release") ||
	    parse_u64(argv[2], &id) || id > UINT32_MAX) {
		printf("usage: xpmemctl [--json] quarantine release PARTITION\n"
		       "Frees now the pages held back for a fenced partition\n"
		       "(needs CAP_SYS_ADMIN; exit 5 for an unknown partition).\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	req.partition = (int64_t)id;
	err = nl_call(&c->nl, XPMEM_CMD_QUARANTINE_RELEASE, 0, &req,
		      on_released, &r);
	if (err)
		return ctl_error(c, err, "quarantine release");
	if (c->json) {
		print_json_object(stdout, &r);
		fputc('\n', stdout);
	} else {
		printf("partition %s: %s pages released\n", r.f[0].text,
		       r.f[1].text);
	}
	return EXIT_OK;
}
