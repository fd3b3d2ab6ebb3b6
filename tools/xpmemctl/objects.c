// SPDX-License-Identifier: GPL-2.0-only
/* objects.c - `segments`, `attachments` and `permits`. */
#include <stdio.h>
#include <string.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

static int on_segment(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_SEG_A_MAX + 1];
	struct record *r = records_add(data);
	uint64_t start, end;

	nl_parse(nlh, tb, XPMEM_SEG_A_MAX);
	start = nl_u64(tb[XPMEM_SEG_A_START]);
	end = nl_u64(tb[XPMEM_SEG_A_END]);
	rec_hex(r, "segid", nl_u64(tb[XPMEM_SEG_A_SEGID]));
	rec_u64(r, "partition", nl_u32(tb[XPMEM_SEG_A_PARTITION]));
	rec_u64(r, "owner_pid", nl_u32(tb[XPMEM_SEG_A_OWNER_PID]));
	rec_u64(r, "owner_uid", nl_u32(tb[XPMEM_SEG_A_OWNER_UID]));
	rec_bool(r, "owner_alive", nl_u8(tb[XPMEM_SEG_A_OWNER_ALIVE]));
	rec_hex(r, "start", start);
	rec_hex(r, "end", end);
	rec_u64(r, "size", end - start);
	rec_mode(r, "mode", nl_u32(tb[XPMEM_SEG_A_MODE]));
	rec_u64(r, "attachments", nl_u32(tb[XPMEM_SEG_A_ATTACHMENTS]));
	rec_u64(r, "pages_mapped", nl_u64(tb[XPMEM_SEG_A_PAGES_MAPPED]));
	rec_u64(r, "pmds_mapped", nl_u64(tb[XPMEM_SEG_A_PMDS_MAPPED]));
	return MNL_CB_OK;
}

int collect_segments(struct ctl *c, struct records *rs)
{
	return nl_call(&c->nl, XPMEM_CMD_GET_SEGMENTS, 1, NULL, on_segment, rs);
}

static int on_attachment(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_ATT_A_MAX + 1];
	struct record *r = records_add(data);
	uint64_t start, end;

	nl_parse(nlh, tb, XPMEM_ATT_A_MAX);
	start = nl_u64(tb[XPMEM_ATT_A_START]);
	end = nl_u64(tb[XPMEM_ATT_A_END]);
	rec_hex(r, "segid", nl_u64(tb[XPMEM_ATT_A_SEGID]));
	rec_hex(r, "attach_id", nl_u64(tb[XPMEM_ATT_A_ATTACH_ID]));
	rec_u64(r, "pid", nl_u32(tb[XPMEM_ATT_A_PID]));
	rec_u64(r, "uid", nl_u32(tb[XPMEM_ATT_A_UID]));
	rec_hex(r, "start", start);
	rec_hex(r, "end", end);
	rec_u64(r, "size", end - start);
	rec_hex(r, "src", nl_u64(tb[XPMEM_ATT_A_SRC]));
	rec_bool(r, "rdonly", nl_u8(tb[XPMEM_ATT_A_RDONLY]));
	rec_u64(r, "pages_mapped", nl_u64(tb[XPMEM_ATT_A_PAGES_MAPPED]));
	rec_u64(r, "pmds_mapped", nl_u64(tb[XPMEM_ATT_A_PMDS_MAPPED]));
	return MNL_CB_OK;
}

int collect_attachments(struct ctl *c, int64_t segid, struct records *rs)
{
	struct nl_req req = NL_REQ_INIT;

	req.segid = segid;
	return nl_call(&c->nl, XPMEM_CMD_GET_ATTACHMENTS, 1, &req,
		       on_attachment, rs);
}

static int on_permit(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_PERMIT_A_MAX + 1];
	struct record *r = records_add(data);

	nl_parse(nlh, tb, XPMEM_PERMIT_A_MAX);
	rec_hex(r, "apid", nl_u64(tb[XPMEM_PERMIT_A_APID]));
	rec_hex(r, "segid", nl_u64(tb[XPMEM_PERMIT_A_SEGID]));
	rec_u64(r, "partition", nl_u32(tb[XPMEM_PERMIT_A_PARTITION]));
	rec_bool(r, "rdonly", nl_u8(tb[XPMEM_PERMIT_A_RDONLY]));
	return MNL_CB_OK;
}

int collect_permits(struct ctl *c, struct records *rs)
{
	return nl_call(&c->nl, XPMEM_CMD_GET_PERMITS, 1, NULL, on_permit, rs);
}

static int show(struct ctl *c, const char *key, struct records *rs, int err)
{
	if (err) {
		records_free(rs);
		return ctl_error(c, err, key);
	}
	if (c->json) {
		fputc('{', stdout);
		print_json_array(stdout, key, rs);
		fputs("}\n", stdout);
	} else if (rs->n) {
		print_table(stdout, rs);
	} else {
		printf("no %s\n", key);
	}
	records_free(rs);
	return EXIT_OK;
}

int cmd_segments(struct ctl *c, int argc, char **argv)
{
	struct records rs = { 0 };

	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] segments\n"
		       "Lists the exported segments (all of them for CAP_SYS_ADMIN,\n"
		       "else those made by processes of your effective uid).\n");
		return argc > 1 && !wants_help(argc, argv) ? EXIT_USAGE : EXIT_OK;
	}
	return show(c, "segments", &rs, collect_segments(c, &rs));
}

int cmd_attachments(struct ctl *c, int argc, char **argv)
{
	struct records rs = { 0 };
	uint64_t segid = 0;

	if (wants_help(argc, argv) || argc > 2 ||
	    (argc == 2 && parse_u64(argv[1], &segid))) {
		printf("usage: xpmemctl [--json] attachments [SEGID]\n"
		       "Lists the attachment mappings (of one segment with SEGID),\n"
		       "with the pages and PMDs each maps now.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	return show(c, "attachments", &rs,
		    collect_attachments(c, (int64_t)segid, &rs));
}

int cmd_permits(struct ctl *c, int argc, char **argv)
{
	struct records rs = { 0 };

	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] permits\n"
		       "Lists the access permits (apids) on visible segments.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	return show(c, "permits", &rs, collect_permits(c, &rs));
}
