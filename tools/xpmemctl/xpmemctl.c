// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmemctl.c - see and steer xpmem.ko: the command table, the one-screen
 * summary, and the error edge (the only place that turns -errno into
 * messages and exit codes).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

int ctl_error(struct ctl *c, int err, const char *what)
{
	const char *ack = c->nl.ext_ack[0] ? c->nl.ext_ack : NULL;

	switch (err) {
	case -EPERM:
	case -EACCES:
		fprintf(stderr, "xpmemctl: %s: permission denied (needs CAP_SYS_ADMIN)\n",
			what);
		return EXIT_PERM;
	case -ENOENT:
		fprintf(stderr, "xpmemctl: %s: %s\n", what,
			ack ? ack : "not found");
		return EXIT_NOT_FOUND;
	default:
		fprintf(stderr, "xpmemctl: %s: %s%s%s\n", what, strerror(-err),
			ack ? ": " : "", ack ? ack : "");
		return EXIT_FAIL;
	}
}

int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

static int cmd_summary(struct ctl *c, int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "summary", cmd_summary, "one-screen overview (the default)" },
	{ "segments", cmd_segments, "exported segments" },
	{ "permits", cmd_permits, "access permits (apids)" },
	{ "attachments", cmd_attachments, "attachment mappings and what they map" },
	{ "partitions", cmd_partitions, "known partitions and their health" },
	{ "stats", cmd_stats, "counters and latency histograms" },
	{ "monitor", cmd_monitor, "print partition events until interrupted" },
	{ "tunables", cmd_tunables, "list tunables" },
	{ "set", cmd_set, "set a tunable (CAP_SYS_ADMIN)" },
	{ "inject", cmd_inject, "list or arm fault-injection points (CAP_SYS_ADMIN)" },
	{ "quarantine", cmd_quarantine, "quarantine release PARTITION (CAP_SYS_ADMIN)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: xpmemctl [--json] [COMMAND [ARGS]]\n\n"
		   "Commands (each takes --help):\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nExit status: 0 ok, 1 error, 2 usage, 3 module not loaded,\n"
		   "4 permission denied, 5 not found.  See xpmemctl(8).\n");
}

static uint64_t counter(const struct record *r, const char *key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].key, key))
			return strtoull(r->f[i].text, NULL, 10);
	return 0;
}

#define SUMMARY_ROWS 8	/* per table: the summary fits one screen */

static void summary_table(const struct records *rs, const char *what)
{
	if (!rs->n)
		return;
	printf("\n");
	print_table_head(stdout, rs, SUMMARY_ROWS);
	if (rs->n > SUMMARY_ROWS)
		printf("... %zu more (xpmemctl %s)\n", rs->n - SUMMARY_ROWS, what);
}

static int cmd_summary(struct ctl *c, int argc, char **argv)
{
	struct records parts = { 0 }, segs = { 0 }, atts = { 0 };
	struct record ctr = { 0 };
	int err;

	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] [summary]\n"
		       "Partitions, object counts, the main counters and the\n"
		       "visible segments and attachments, on one screen.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	err = collect_counters(c, &ctr);
	if (!err)
		err = collect_partitions(c, &parts);
	if (!err)
		err = collect_segments(c, &segs);
	if (!err)
		err = collect_attachments(c, 0, &atts);
	if (err)
		goto out;

	if (c->json) {
		printf("{\"counters\": ");
		print_json_object(stdout, &ctr);
		printf(",\n");
		print_json_array(stdout, "partitions", &parts);
		printf(",\n");
		print_json_array(stdout, "segments", &segs);
		printf(",\n");
		print_json_array(stdout, "attachments", &atts);
		printf("}\n");
		goto out;
	}
	printf("xpmem: %" PRIu64 " contexts, %" PRIu64 " segments, %" PRIu64
	       " permits, %" PRIu64 " attachments, %" PRIu64 " pinned pages\n",
	       counter(&ctr, "contexts"), counter(&ctr, "segments"),
	       counter(&ctr, "permits"), counter(&ctr, "attachments"),
	       counter(&ctr, "pinned_pages"));
	printf("since load: %" PRIu64 " faults, %" PRIu64 " pages and %" PRIu64
	       " PMDs mapped, %" PRIu64 " invalidations, %" PRIu64 " SIGBUS\n\n",
	       counter(&ctr, "faults"), counter(&ctr, "pages_mapped"),
	       counter(&ctr, "pmds_mapped"), counter(&ctr, "invalidations"),
	       counter(&ctr, "sigbus"));
	print_table(stdout, &parts);
	summary_table(&segs, "segments");
	summary_table(&atts, "attachments");
out:
	records_free(&parts);
	records_free(&segs);
	records_free(&atts);
	return err ? ctl_error(c, err, "summary") : EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl c = { .json = 0 };
	const struct command *cmd = &commands[0];
	size_t i;
	int err, ret;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j")) {
			c.json = 1;
		} else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "xpmemctl: unknown option %s\n", argv[1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (argc > 1) {
		cmd = NULL;
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				cmd = &commands[i];
		if (!cmd) {
			fprintf(stderr, "xpmemctl: unknown command %s\n", argv[1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	/* Help needs no module. */
	if (wants_help(argc, argv))
		return cmd->fn(&c, argc, argv);

	err = nl_open(&c.nl);
	if (err == -ENOENT) {
		fprintf(stderr, "xpmemctl: the xpmem module is not loaded "
				"(no generic-netlink family \"%s\"; try modprobe xpmem)\n",
			XPMEM_GENL_NAME);
		return EXIT_NO_MODULE;
	}
	if (err)
		return ctl_error(&c, err, "opening generic netlink");
	ret = cmd->fn(&c, argc, argv);
	nl_close(&c.nl);
	return ret;
}
