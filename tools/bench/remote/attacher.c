// SPDX-License-Identifier: GPL-2.0-only
/*
 * attacher.c - the attacher side: the slot loop driven by an exporter's
 * control page (`attach`, and the exporter's own local child), a poke, and
 * the first-touch measurement (`first-touch`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "role.h"

/* Reads every page's tag of generation g; returns how many were wrong. */
static size_t check_tags(const char *p, size_t len, uint64_t g)
{
	size_t bad = 0;

	for (size_t i = 0; i < len / PAGE_SZ; i++)
		if (*(const volatile uint64_t *)(p + i * PAGE_SZ) !=
		    gen_tag(g, i))
			bad++;
	return bad;
}

static char *attach_data(xpmem_apid_t apid, uintptr_t data, size_t len)
{
	struct xpmem_addr addr = { .apid = apid, .offset = (off_t)data };
	char *p = xpmem_attach(addr, len, NULL);

	if (p == (void *)-1)
		bench_die("xpmem_attach of %zu bytes at %#lx: %s", len,
			  (unsigned long)data, strerror(errno));
	return p;
}

/*
 * Slot s: whenever the exporter publishes a generation whose `want` names
 * s, attach (or reuse the kept attachment), read and check every page's
 * tag, optionally write marks, say ready; once the exporter says it
 * unmapped that generation, detach (unless keeping) and say done.  Ends at
 * `quit`.
 */
int attacher_run(const struct role_opts *o, xpmem_segid_t segid,
		 uintptr_t ctl, uintptr_t data)
{
	uint64_t bit = 1ULL << o->slot, seen = 0;
	uint64_t deadline = role_deadline(o);
	xpmem_apid_t apid;
	struct role_ctl *c = ctl_attach(segid, ctl, &apid);
	char *p = NULL;

	ctl_put(&c->joined[o->slot], 1);
	role_say("joined slot=%d", o->slot);
	while (!ctl_get(&c->quit)) {
		uint64_t g = ctl_get(&c->gen), t0, ns;
		size_t bad;

		if (g == 0 || g == seen || !(ctl_get(&c->want) & bit)) {
			role_poll(deadline, "the exporter's next generation");
			continue;
		}
		seen = g;
		if (!p)
			p = attach_data(apid, data, o->len);
		t0 = now_ns();
		bad = check_tags(p, o->len, g);
		ns = now_ns() - t0;
		if (bad)
			bench_die("slot %d: %zu of %zu pages of generation %llu "
				  "read wrong tags", o->slot, bad,
				  o->len / PAGE_SZ, (unsigned long long)g);
		if (o->write) {
			for (size_t i = o->len / PAGE_SZ / 2;
			     i < o->len / PAGE_SZ; i++)
				((volatile uint64_t *)(p + i * PAGE_SZ))[1] =
					slot_mark(o->slot, g, i);
			ctl_put(&c->wrote[o->slot], g);
		}
		ctl_put(&c->touch_ns[o->slot], ns);
		ctl_put(&c->ready[o->slot], g);
		role_say("touched slot=%d gen=%llu pages=%zu ms=%.3f kept=%d",
			 o->slot, (unsigned long long)g, o->len / PAGE_SZ,
			 ns / 1e6, o->keep && seen > 1);
		while (ctl_get(&c->unmapped) < g && !ctl_get(&c->quit))
			role_poll(deadline, "the exporter's munmap");
		if (!o->keep) {
			if (xpmem_detach(p) != 0)
				bench_die("xpmem_detach: %s", strerror(errno));
			p = NULL;
		}
		ctl_put(&c->done[o->slot], g);
	}
	if (p && xpmem_detach(p) != 0)
		bench_die("xpmem_detach: %s", strerror(errno));
	/* The last touch of the exporter's memory: after it, the exporter may
	 * remove the segment, and a touch would (rightly) raise SIGBUS. */
	ctl_put(&c->left[o->slot], 1);
	if (xpmem_detach(c) != 0 || xpmem_release(apid) != 0)
		bench_die("detach/release: %s", strerror(errno));
	role_say("left slot=%d", o->slot);
	return 0;
}

int role_attach(const struct role_opts *o)
{
	return attacher_run(o, o->segid, o->ctl, o->data);
}

int role_poke(const struct role_opts *o)
{
	xpmem_apid_t apid;
	uint64_t t0 = now_ns();
	struct role_ctl *c = ctl_attach(o->segid, o->ctl, &apid);

	ctl_put(&c->go, 1);
	role_say("poked ms=%.3f", (now_ns() - t0) / 1e6);
	if (xpmem_detach(c) != 0 || xpmem_release(apid) != 0)
		bench_die("detach/release: %s", strerror(errno));
	return 0;
}

/* --- first-touch --------------------------------------------------------- */

struct source {
	xpmem_apid_t apid;
	uintptr_t data;
	struct role_ctl *ctl;
};

/* attach + read one word per page (checked); returns the ns of that and
 * puts the detach's in *detach_ns. */
static uint64_t touch_cycle(const struct source *s, size_t len,
			    uint64_t *detach_ns)
{
	uint64_t t0 = now_ns(), t1;
	char *p = attach_data(s->apid, s->data, len);
	size_t bad = check_tags(p, len, 1);

	t1 = now_ns();
	if (xpmem_detach(p) != 0)
		bench_die("xpmem_detach: %s", strerror(errno));
	*detach_ns = now_ns() - t1;
	if (bad)
		bench_die("%zu of %zu pages read wrong tags", bad,
			  len / PAGE_SZ);
	return t1 - t0;
}

int exporter_hold_worker(int in, int out, void *arg);

static void print_samples(const char *key, const double *v, int n,
			  bool last)
{
	printf("\"%s\": [", key);
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? ", " : "", v[i]);
	printf("]%s", last ? "" : ", ");
}

/*
 * The remote source (an exporter in another partition, named by the
 * options) against a local one (an exporter forked here, same region
 * shape): per repetition one attach + first touch + detach of each, in a
 * shuffled order, after one untimed round.
 */
int role_first_touch(const struct role_opts *o)
{
	struct role_opts lo = *o;
	struct source src[2];	/* 0 remote, 1 local */
	double *us[2], *det[2], mib = (double)o->len / MiB;
	struct worker w;
	struct msg m;

	for (int i = 0; i < 2; i++) {
		us[i] = calloc((size_t)o->reps, sizeof(double));
		det[i] = calloc((size_t)o->reps, sizeof(double));
		if (!us[i] || !det[i])
			bench_die("out of memory");
	}
	worker_start(&w, "local exporter", 0, exporter_hold_worker, &lo);
	m = msg_recv(w.from, 1);
	src[0].ctl = ctl_attach(o->segid, o->ctl, &src[0].apid);
	src[0].data = o->data;
	src[1].ctl = ctl_attach((xpmem_segid_t)m.u[0], (uintptr_t)m.u[1],
				&src[1].apid);
	src[1].data = (uintptr_t)m.u[2];

	for (int rep = -1; rep < o->reps; rep++) {
		int order[2];

		rep_order(rep < 0 ? 0 : rep, 2, order);
		for (int j = 0; j < 2; j++) {
			int k = order[j];
			uint64_t dns, ns = touch_cycle(&src[k], o->len, &dns);

			if (rep < 0)
				continue;
			us[k][rep] = ns / 1e3 / mib;
			det[k][rep] = dns / 1e6;
		}
	}
	for (int i = 0; i < 2; i++) {
		ctl_put(&src[i].ctl->quit, 1);
		if (xpmem_detach(src[i].ctl) != 0 ||
		    xpmem_release(src[i].apid) != 0)
			bench_die("detach/release: %s", strerror(errno));
	}
	worker_join(&w);
	printf("result {\"len\": %zu, \"reps\": %d, ", o->len, o->reps);
	print_samples("remote_us_per_mib", us[0], o->reps, false);
	print_samples("local_us_per_mib", us[1], o->reps, false);
	print_samples("remote_detach_ms", det[0], o->reps, false);
	print_samples("local_detach_ms", det[1], o->reps, true);
	printf("}\n");
	fflush(stdout);
	return 0;
}
