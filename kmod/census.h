/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * census.h - a snapshot of the attachment mappings in the system (all of
 * them, or those of one user's processes), with what each maps right now
 * (for the netlink segment and attachment dumps).
 */
#ifndef XPMEM_CENSUS_H
#define XPMEM_CENSUS_H

#include <linux/types.h>
#include <linux/uidgid.h>

struct xpmem_census_range {
	s64 segid;
	u64 attach_id;		/* keyed hash of the attachment: not a pointer */
	pid_t pid;		/* tgid in the census taker's pid namespace */
	kuid_t uid;		/* the attacher's effective uid */
	unsigned long start, end, src;
	bool rdonly;
	u64 pages, pmds;
};

/* Ranges sorted by (segid, attach_id, start). */
struct xpmem_census {
	unsigned int n, cap;
	struct xpmem_census_range r[];
};

/* Whose mappings a census records, and how many ranges it may hold. */
struct xpmem_census_scope {
	bool all_users;		/* else only processes whose euid is uid */
	kuid_t uid;
	s64 only_segid;		/* 0: every segment */
	unsigned int max_ranges;
};

/* An admin's dump: every process.  Anyone else's: only the processes whose
 * attachments they may see, in a snapshot of at most this many ranges
 * (~300 KiB, charged to the caller's memory cgroup). */
#define XPMEM_CENSUS_MAX_RANGES (1U << 18)
#define XPMEM_CENSUS_MAX_RANGES_USER (1U << 12)

int xpmem_census_init(void);
struct xpmem_census *xpmem_census_take(const struct xpmem_census_scope *scope);
void xpmem_census_free(struct xpmem_census *c);
/* Index of the first range of segid (n if none). */
unsigned int xpmem_census_find(const struct xpmem_census *c, s64 segid);

#endif /* XPMEM_CENSUS_H */
