/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * role.h - xpmem-role: one process of a cross-partition scenario, run in a
 * lab partition by a host driver (tools/bench/xpmem-remote-bench,
 * tools/demo/xpmem-remote-demo).
 *
 * Processes in different partitions share no pipe, no file and no clock.
 * They talk through memory: the exporter keeps a control page next to its
 * data region, both inside its one segment (the whole address space, as MPI
 * libraries export), and every attacher attaches the control page first.
 * Flags in it say which generation of the data region exists, who must
 * touch it, who has, when it was unmapped.  The host driver talks to each
 * process only through its output lines ("word key=value ..."), read as
 * they come, and through other lab commands (kill, restart, a poke).
 *
 * Every wait polls with a sleep (1 ms): a spinning attacher would take the
 * single vCPU of its partition from the kernel threads that serve the
 * faults and invalidations being measured.  Every wait is bounded.
 */
#ifndef XPMEM_ROLE_H
#define XPMEM_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bench.h"

#define CTL_MAGIC	0x58504d454d43544cULL	/* "XPMEMCTL" */
#define CTL_SLOTS	8	/* attacher slots: 0 the exporter's local
				 * child, P a process in partition P */

/* The control page.  Each field has one writer (said in its comment);
 * readers in other partitions reach it through their attachment.  Loads
 * acquire and stores release: plain moves on x86, no locked instruction,
 * since one writer per field needs no read-modify-write (and a locked one
 * on a remote attachment hangs in the fault path: see docs/benchmark.md). */
struct role_ctl {
	uint64_t magic;			/* exporter */
	uint64_t quit;			/* anyone: every process stops */
	uint64_t gen;			/* exporter: generation of the data
					 * region now mapped, 0 for none */
	uint64_t want;			/* exporter: slots that must touch gen */
	uint64_t unmapped;		/* exporter: last generation unmapped */
	uint64_t go;			/* a poke (xpmem-role poke) */
	uint64_t joined[CTL_SLOTS];	/* slot s: attached, listening */
	uint64_t ready[CTL_SLOTS];	/* slot s: touched and checked gen */
	uint64_t done[CTL_SLOTS];	/* slot s: saw `unmapped` reach gen */
	uint64_t wrote[CTL_SLOTS];	/* slot s: wrote its marks into gen */
	uint64_t touch_ns[CTL_SLOTS];	/* slot s: how long its touch took */
	uint64_t left[CTL_SLOTS];	/* slot s: saw quit, touches no more */
};

static inline uint64_t ctl_get(const uint64_t *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static inline void ctl_put(uint64_t *f, uint64_t v)
{
	__atomic_store_n(f, v, __ATOMIC_RELEASE);
}

/* The tag of page i of generation g (first word of the page), and the mark
 * an attacher in slot s writes into the second word of the pages of the
 * region's second half (the demo's "and vice versa"). */
static inline uint64_t gen_tag(uint64_t g, uint64_t i)
{
	return pattern_word(i) ^ (g * 0x100000001b3ULL);
}

static inline uint64_t slot_mark(uint64_t s, uint64_t g, uint64_t i)
{
	return gen_tag(g, i) ^ (0xa5a5000000000000ULL | s << 40);
}

struct role_opts {
	const char *role;
	size_t len;		/* data region, bytes */
	int reps;
	int timeout_s;		/* bound of every wait of this run */
	xpmem_segid_t segid;
	uintptr_t ctl, data;	/* addresses in the exporter */
	int slot;		/* the attacher's slot */
	uint64_t slots;		/* exporter: the slots taking part */
	int part;		/* a partition id (victim, watch) */
	bool keep;		/* attacher: keep one attachment throughout */
	bool write;		/* attacher: write marks into the second half */
	bool go;		/* victim: wait for a poke before munmap */
	const char *until;	/* watch: "dead" or "rejoined" */
	uint64_t epoch;		/* watch --until rejoined: above this one */
};

/* A wait's bound, from opts->timeout_s. */
uint64_t role_deadline(const struct role_opts *o);
/* Sleeps one poll period; dies past the deadline, naming what it awaited. */
void role_poll(uint64_t deadline, const char *what);
/* Prints one output line and flushes it (the driver reads lines as they
 * come). */
__attribute__((format(printf, 1, 2)))
void role_say(const char *fmt, ...);

/* xpmem_get + attach of the exporter's control page. */
struct role_ctl *ctl_attach(xpmem_segid_t segid, uintptr_t ctl,
			    xpmem_apid_t *apid);

/* /sys/kernel/xpmem/partitions, one partition's line. */
struct part_row {
	int id;
	char state[16], reason[24];
	uint64_t epoch, hb_age_ms;
	long long quarantined, inflight;	/* -1: not shown */
};
bool part_read(int id, struct part_row *r);

int role_exporter(const struct role_opts *o);	/* hold, shootdown, victim, share */
int role_attach(const struct role_opts *o);
int role_first_touch(const struct role_opts *o);
int role_poke(const struct role_opts *o);
int role_watch(const struct role_opts *o);

/* The attacher loop, for a process of its own or the exporter's child. */
int attacher_run(const struct role_opts *o, xpmem_segid_t segid,
		 uintptr_t ctl, uintptr_t data);

#endif /* XPMEM_ROLE_H */
