// SPDX-License-Identifier: GPL-2.0-only
/*
 * exporter.c - the exporter side: a control page and a data region of
 * 4 KiB pages, exported with the whole address space, then one of
 *
 *   hold       generation 1 stays until someone sets `quit` (the source of
 *              first-touch);
 *   shootdown  per repetition and variant, a fresh generation touched by
 *              the variant's slots (none, the local child, one remote
 *              slot, two remote slots), then a timed munmap;
 *   victim     generation 1 touched by the given slots, "ready", then (after
 *              a poke with --go, at once otherwise) a timed munmap and the
 *              victim partition's row of the partition table;
 *   share      the demo's story: a slot reads generation 1 and writes marks
 *              that are checked here, a timed munmap against one of a
 *              region nobody attached, then generation 2 at the same
 *              address, seen through the slot's kept attachment.
 *
 * Slot 0 is a child forked before anything is mapped or exported (a fork
 * later would write-protect the exported pages for copy-on-write, which
 * is an invalidation of its own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "role.h"

struct exporter {
	const struct role_opts *o;
	struct role_ctl *ctl;
	char *data;
	bool mapped;
	xpmem_segid_t segid;
	struct worker child;	/* slot 0, when taking part */
	bool has_child;
};

static int child_main(int in, int out, void *arg)
{
	struct role_opts o = *(const struct role_opts *)arg;
	struct msg m = msg_recv(in, 1);

	(void)out;
	o.slot = 0;
	o.keep = false;
	return attacher_run(&o, (xpmem_segid_t)m.u[0], (uintptr_t)m.u[1],
			    (uintptr_t)m.u[2]);
}

/* Maps generation g at the region's address and writes every page's tag
 * (which allocates the page). */
static void populate(struct exporter *e, uint64_t g)
{
	size_t len = e->o->len;

	if (!e->mapped) {
		char *p = mmap(e->data, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS |
			       MAP_FIXED_NOREPLACE, -1, 0);
		if (p != e->data)
			bench_die("mmap at %p: %s", (void *)e->data,
				  p == MAP_FAILED ? strerror(errno) :
				  "placed elsewhere");
		if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
			bench_die("madvise: %s", strerror(errno));
		e->mapped = true;
	}
	for (size_t i = 0; i < len / PAGE_SZ; i++)
		*(volatile uint64_t *)(e->data + i * PAGE_SZ) = gen_tag(g, i);
}

static double unmap_ms(struct exporter *e)
{
	uint64_t t0 = now_ns();

	if (munmap(e->data, e->o->len) != 0)
		bench_die("munmap: %s", strerror(errno));
	e->mapped = false;
	return (now_ns() - t0) / 1e6;
}

static void publish(struct exporter *e, uint64_t g, uint64_t want)
{
	ctl_put(&e->ctl->want, want);
	ctl_put(&e->ctl->gen, g);
}

/* Waits until field[s] >= v for every slot s in mask. */
static void wait_slots(struct exporter *e, const uint64_t *field,
		       uint64_t mask, uint64_t v, const char *what)
{
	uint64_t deadline = role_deadline(e->o);

	for (int s = 0; s < CTL_SLOTS; s++)
		while ((mask >> s & 1) && ctl_get(&field[s]) < v)
			role_poll(deadline, what);
}

static void exporter_start(struct exporter *e, const struct role_opts *o)
{
	memset(e, 0, sizeof(*e));
	e->o = o;
	if (o->slots & 1) {
		worker_start(&e->child, "local attacher", 0, child_main,
			     (void *)o);
		e->has_child = true;
	}
	e->ctl = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->ctl == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	memset(e->ctl, 0, PAGE_SZ);
	ctl_put(&e->ctl->magic, CTL_MAGIC);
	e->data = free_aligned_range(o->len, HUGE_SZ);
	populate(e, 1);
	e->segid = xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			      (void *)0600);
	if (e->segid < 0)
		bench_die("xpmem_make: %s", strerror(errno));
	if (e->has_child)
		msg_send(e->child.to, 1, (uint64_t)e->segid,
			 (uintptr_t)e->ctl, (uintptr_t)e->data);
}

/* Ends the run: quit, then waits until the slots in `live` stopped touching
 * the segment before removing it (a dead partition's slot never answers). */
static void exporter_finish(struct exporter *e, uint64_t live)
{
	ctl_put(&e->ctl->quit, 1);
	wait_slots(e, e->ctl->left, live, 1, "the attachers to leave");
	if (e->has_child)
		worker_join(&e->child);
	if (xpmem_remove(e->segid) != 0)
		bench_die("xpmem_remove: %s", strerror(errno));
}

static void say_exported(const struct exporter *e)
{
	role_say("exported segid=%#llx ctl=%#lx data=%#lx len=%zu",
		 (unsigned long long)e->segid, (unsigned long)e->ctl,
		 (unsigned long)e->data, e->o->len);
}

static void wait_quit(struct exporter *e)
{
	uint64_t deadline = role_deadline(e->o);

	while (!ctl_get(&e->ctl->quit))
		role_poll(deadline, "quit");
}

/* first-touch's local source: publishes over the pipe, holds until quit. */
int exporter_hold_worker(int in, int out, void *arg)
{
	struct role_opts o = *(const struct role_opts *)arg;
	struct exporter e;

	(void)in;
	o.slots = 0;
	exporter_start(&e, &o);
	publish(&e, 1, 0);
	msg_send(out, 1, (uint64_t)e.segid, (uintptr_t)e.ctl,
		 (uintptr_t)e.data);
	wait_quit(&e);
	exporter_finish(&e, 0);
	return 0;
}

/* --- shootdown --------------------------------------------------------- */

enum { V_NONE, V_LOCAL, V_REMOTE1, V_REMOTE2, V_COUNT };
static const char *const vname[V_COUNT] = { "none", "local", "remote1",
					     "remote2" };

static void shootdown(struct exporter *e)
{
	const struct role_opts *o = e->o;
	uint64_t mask[V_COUNT] = { 0 }, remote = o->slots & ~1ULL, g = 1;
	double *ms[V_COUNT], *touch[V_COUNT];
	int have[V_COUNT], nv = 0;
	struct xpmem_stats s0, s1;

	mask[V_LOCAL] = o->slots & 1;
	mask[V_REMOTE1] = remote & -remote;			/* lowest */
	mask[V_REMOTE2] = mask[V_REMOTE1] |
		((remote & ~mask[V_REMOTE1]) & -(remote & ~mask[V_REMOTE1]));
	for (int v = 0; v < V_COUNT; v++) {
		/* A variant needs all of its slots (remote2: two of them). */
		bool ok = v == V_NONE || (v == V_REMOTE2 ?
			__builtin_popcountll(mask[v]) == 2 : mask[v] != 0);
		if (ok)
			have[nv++] = v;
		ms[v] = calloc((size_t)o->reps, sizeof(double));
		touch[v] = calloc((size_t)o->reps, sizeof(double));
		if (!ms[v] || !touch[v])
			bench_die("out of memory");
	}
	wait_slots(e, e->ctl->joined, o->slots, 1, "the attachers to join");
	role_say("joined slots=%#llx", (unsigned long long)o->slots);
	s0 = xpmem_counters();
	/* Repetition -1 is the untimed round. */
	for (int rep = -1; rep < o->reps; rep++) {
		int order[V_COUNT];

		rep_order(rep < 0 ? 0 : rep, nv, order);
		for (int j = 0; j < nv; j++) {
			int v = have[order[j]];
			double t = 0, u;

			if (++g > 1)
				populate(e, g);
			publish(e, g, mask[v]);
			wait_slots(e, e->ctl->ready, mask[v], g,
				   "the attachers' touch");
			for (int s = 0; s < CTL_SLOTS; s++)
				if (mask[v] >> s & 1)
					t = ctl_get(&e->ctl->touch_ns[s]) /
						1e6 > t ? ctl_get(
						&e->ctl->touch_ns[s]) / 1e6 : t;
			/* The same recent history for every variant: under
			 * TCG a munmap right after populating and one after
			 * a sleep differ by more than what is measured. */
			for (uint64_t t0 = now_ns(); now_ns() - t0 < 20000000;)
				;
			u = unmap_ms(e);
			ctl_put(&e->ctl->unmapped, g);
			wait_slots(e, e->ctl->done, mask[v], g,
				   "the attachers' detach");
			if (rep >= 0) {
				ms[v][rep] = u;
				touch[v][rep] = t;
			}
		}
		if (rep >= 0)
			role_say("rep %d of %d", rep + 1, o->reps);
	}
	s1 = xpmem_counters();
	printf("result {\"len\": %zu, \"reps\": %d, \"invalidations\": %llu, "
	       "\"ms\": {", o->len, o->reps,
	       (unsigned long long)(s1.invalidations - s0.invalidations));
	for (int j = 0; j < nv; j++) {
		printf("%s\"%s\": [", j ? ", " : "", vname[have[j]]);
		for (int r = 0; r < o->reps; r++)
			printf("%s%.3f", r ? ", " : "", ms[have[j]][r]);
		printf("]");
	}
	printf("}, \"touch_ms\": {");
	for (int j = 0; j < nv; j++) {
		printf("%s\"%s\": [", j ? ", " : "", vname[have[j]]);
		for (int r = 0; r < o->reps; r++)
			printf("%s%.3f", r ? ", " : "", touch[have[j]][r]);
		printf("]");
	}
	printf("}}\n");
	fflush(stdout);
}

/* --- victim ------------------------------------------------------------ */

static void say_part(const char *word, int id)
{
	struct part_row r;

	if (!part_read(id, &r)) {
		role_say("%s part=%d state=absent", word, id);
		return;
	}
	role_say("%s part=%d state=%s reason=%s epoch=%llu hb_age_ms=%llu "
		 "quarantined=%lld inflight=%lld pinned=%llu", word, id,
		 r.state, r.reason, (unsigned long long)r.epoch,
		 (unsigned long long)r.hb_age_ms, r.quarantined, r.inflight,
		 (unsigned long long)xpmem_counters().pinned_pages);
}

static void victim(struct exporter *e)
{
	const struct role_opts *o = e->o;
	uint64_t deadline;
	double ms;

	publish(e, 1, o->slots);
	wait_slots(e, e->ctl->ready, o->slots, 1, "the attachers' touch");
	say_part("ready", o->part);
	if (o->go) {
		deadline = role_deadline(o);
		while (!ctl_get(&e->ctl->go))
			role_poll(deadline, "the poke");
	}
	role_say("munmap-start");
	ms = unmap_ms(e);
	ctl_put(&e->ctl->unmapped, 1);
	role_say("munmapped ms=%.3f", ms);
	say_part("after", o->part);
}

/* --- share (the demo) -------------------------------------------------- */

static void share(struct exporter *e)
{
	const struct role_opts *o = e->o;
	size_t pages = o->len / PAGE_SZ, bad = 0;
	int s = __builtin_ctzll(o->slots);
	double base, ms;
	uint64_t t0;
	char *other;

	publish(e, 1, o->slots);
	wait_slots(e, e->ctl->ready, o->slots, 1, "the attacher's touch");
	wait_slots(e, e->ctl->wrote, o->slots, 1, "the attacher's writes");
	t0 = now_ns();
	for (size_t i = pages / 2; i < pages; i++)
		if (((volatile uint64_t *)(e->data + i * PAGE_SZ))[1] !=
		    slot_mark((uint64_t)s, 1, i))
			bad++;
	if (bad)
		bench_die("%zu of %zu pages lack slot %d's mark", bad,
			  pages - pages / 2, s);
	role_say("marks-checked slot=%d pages=%zu ms=%.3f", s,
		 pages - pages / 2, (now_ns() - t0) / 1e6);

	/* The same munmap where nobody attached, for scale. */
	other = buf_map(o->len, false);
	for (size_t i = 0; i < pages; i++)
		other[i * PAGE_SZ] = 1;
	t0 = now_ns();
	buf_unmap(other, o->len);
	base = (now_ns() - t0) / 1e6;
	ms = unmap_ms(e);
	ctl_put(&e->ctl->unmapped, 1);
	role_say("munmapped ms=%.3f unattached_ms=%.3f pages=%zu", ms, base,
		 pages);
	wait_slots(e, e->ctl->done, o->slots, 1, "the attacher to notice");

	populate(e, 2);
	publish(e, 2, o->slots);
	wait_slots(e, e->ctl->ready, o->slots, 2, "the attacher's new touch");
	role_say("coherent gen=2 slot=%d", s);
}

int role_exporter(const struct role_opts *o)
{
	uint64_t live = o->slots;	/* hold: whoever set quit is leaving */
	struct exporter e;

	exporter_start(&e, o);
	say_exported(&e);
	if (!strcmp(o->role, "hold")) {
		publish(&e, 1, o->slots);
		wait_quit(&e);
		live = 0;
	} else if (!strcmp(o->role, "shootdown")) {
		shootdown(&e);
	} else if (!strcmp(o->role, "victim")) {
		victim(&e);
		live = 0;
	} else {
		share(&e);
	}
	exporter_finish(&e, live);
	role_say("finished");
	return 0;
}
