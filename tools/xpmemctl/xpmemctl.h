/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xpmemctl.h - what the subcommands share: the connection, the output
 * mode, the collectors that turn netlink replies into records, and the exit
 * codes (documented in xpmemctl.8).
 */
#ifndef XPMEMCTL_H
#define XPMEMCTL_H

#include "nl.h"
#include "output.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* anything else */
	EXIT_USAGE = 2,
	EXIT_NO_MODULE = 3,	/* xpmem.ko not loaded */
	EXIT_PERM = 4,		/* permission denied */
	EXIT_NOT_FOUND = 5,	/* unknown partition, tunable or segment */
};

struct ctl {
	struct nl nl;
	int json;
};

/* Prints "xpmemctl: what: reason" for -errno err; returns the exit code. */
int ctl_error(struct ctl *c, int err, const char *what);
/* Parses a number (decimal, 0x hex, 0 octal); 0 on success. */
int parse_u64(const char *s, uint64_t *v);
/* True if argv holds -h or --help. */
int wants_help(int argc, char **argv);

int collect_segments(struct ctl *c, struct records *rs);
int collect_attachments(struct ctl *c, int64_t segid, struct records *rs);
int collect_permits(struct ctl *c, struct records *rs);
int collect_partitions(struct ctl *c, struct records *rs);
int collect_counters(struct ctl *c, struct record *r);

int cmd_segments(struct ctl *c, int argc, char **argv);
int cmd_attachments(struct ctl *c, int argc, char **argv);
int cmd_permits(struct ctl *c, int argc, char **argv);
int cmd_partitions(struct ctl *c, int argc, char **argv);
int cmd_stats(struct ctl *c, int argc, char **argv);
int cmd_monitor(struct ctl *c, int argc, char **argv);
int cmd_tunables(struct ctl *c, int argc, char **argv);
int cmd_set(struct ctl *c, int argc, char **argv);
int cmd_inject(struct ctl *c, int argc, char **argv);
int cmd_quarantine(struct ctl *c, int argc, char **argv);

/* Names for the kernel's enums. */
const char *part_state_name(uint32_t state);
const char *fence_reason_name(uint32_t reason);

#endif
