// SPDX-License-Identifier: GPL-2.0-only
/*
 * unmap.c - table 3: what attachers cost the exporter when it frees memory.
 *
 * This process is the exporter: it exports its whole address space, then
 * per sample maps a region of opts->unmap_len bytes with 4 KiB pages,
 * populates every page, lets k attacher processes attach it and read every
 * page (so each holds a full set of PTEs), and times munmap() of the region.
 * With k > 0 that munmap runs the module's invalidation, which zaps every
 * attacher's PTEs (the local TLB shootdown) before the pages are freed.
 *
 *   not exported   the same munmap in a process that never used xpmem;
 *   k = 0, 1, 4    attachers holding the region fully faulted in.
 *
 * The attachers detach after each sample, when the region is gone.
 *
 * Every variant has the same timeline before the timed munmap: populate,
 * (attachers attach and read), then SETTLE_MS of busy waiting.  Without
 * the settle the variants differ in what just happened on the CPU (a
 * populate loop, or sleeping while the attachers read), and under QEMU TCG
 * that alone moved munmap times by up to 1.5x, enough to make one attacher
 * look cheaper than none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

enum { UN_READY = 1, UN_RUN, UN_DONE, UN_ATTACH, UN_TOUCHED, UN_DETACH,
       UN_DETACHED, UN_QUIT, UN_BYE };

#define MAX_ATTACHERS 4
#define SETTLE_MS 20

static void settle(void)
{
	uint64_t end = now_ns() + SETTLE_MS * 1000000ULL;

	while (now_ns() < end)
		;
}
static const int k_of_row[UR_COUNT] = { [UR_PLAIN] = 0, [UR_K0] = 0,
					[UR_K1] = 1, [UR_K4] = 4 };

/* The process that never touches xpmem. */
static int plain_worker(int in, int out, void *arg)
{
	(void)arg;
	for (;;) {
		struct msg m = msg_recv(in, 0);

		if (m.kind == UN_QUIT)
			break;
		if (m.kind != UN_RUN)
			bench_die("protocol: message %llu",
				  (unsigned long long)m.kind);
		char *p = buf_map(m.u[0], false);
		tag_pages(p, m.u[0]);
		settle();
		uint64_t t0 = now_ns();
		buf_unmap(p, m.u[0]);
		msg_send(out, UN_DONE, now_ns() - t0, 0, 0);
	}
	msg_send(out, UN_BYE, 0, 0, 0);
	return 0;
}

static int attacher_worker(int in, int out, void *arg)
{
	xpmem_segid_t segid = *(xpmem_segid_t *)arg;
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE,
				      NULL);

	if (apid < 0)
		bench_die("xpmem_get: %s", strerror(errno));
	msg_send(out, UN_READY, 0, 0, 0);
	for (;;) {
		struct msg m = msg_recv(in, 0);

		if (m.kind == UN_QUIT)
			break;
		if (m.kind != UN_ATTACH)
			bench_die("protocol: message %llu",
				  (unsigned long long)m.kind);
		struct xpmem_addr addr = { apid, (off_t)m.u[0] };
		size_t len = m.u[1], bad = 0;
		char *p = xpmem_attach(addr, len, NULL);

		if (p == (void *)-1)
			bench_die("xpmem_attach: %s", strerror(errno));
		for (size_t i = 0; i < len / PAGE_SZ; i++)
			if (*(volatile uint64_t *)(p + i * PAGE_SZ) !=
			    pattern_word(i))
				bad++;
		msg_send(out, UN_TOUCHED, bad, 0, 0);
		msg_recv(in, UN_DETACH);
		if (xpmem_detach(p) != 0)
			bench_die("xpmem_detach: %s", strerror(errno));
		msg_send(out, UN_DETACHED, 0, 0, 0);
	}
	if (xpmem_release(apid) != 0)
		bench_die("xpmem_release: %s", strerror(errno));
	msg_send(out, UN_BYE, 0, 0, 0);
	return 0;
}

/* One sample with k attachers; returns the munmap's nanoseconds. */
static uint64_t exported_munmap(struct worker *att, int k, size_t len,
				uint64_t *invalidations)
{
	char *p = buf_map(len, false);
	uint64_t before, t0, ns;

	tag_pages(p, len);
	for (int i = 0; i < k; i++)
		msg_send(att[i].to, UN_ATTACH, (uintptr_t)p, len, 0);
	for (int i = 0; i < k; i++) {
		struct msg m = msg_recv(att[i].from, UN_TOUCHED);

		if (m.u[0])
			bench_die("attacher %d read %llu wrong pages", i,
				  (unsigned long long)m.u[0]);
	}
	before = xpmem_counters().invalidations;
	settle();
	t0 = now_ns();
	buf_unmap(p, len);
	ns = now_ns() - t0;
	*invalidations = xpmem_counters().invalidations - before;
	for (int i = 0; i < k; i++)
		msg_send(att[i].to, UN_DETACH, 0, 0, 0);
	for (int i = 0; i < k; i++)
		msg_recv(att[i].from, UN_DETACHED);
	return ns;
}

static uint64_t sample(struct worker *plain, struct worker *att, int row,
		       size_t len, uint64_t *invalidations)
{
	*invalidations = 0;
	if (row == UR_PLAIN) {
		msg_send(plain->to, UN_RUN, len, 0, 0);
		return msg_recv(plain->from, UN_DONE).u[0];
	}
	return exported_munmap(att, k_of_row[row], len, invalidations);
}

void bench_unmap(const struct bench_opts *o, struct unmap_results *r)
{
	struct worker plain, att[MAX_ATTACHERS];
	double *ms = calloc((size_t)o->reps * UR_COUNT, sizeof(*ms));
	xpmem_segid_t segid;
	uint64_t inv;

	if (!ms)
		bench_die("out of memory");
	memset(r, 0, sizeof(*r));
	r->len = o->unmap_len;
	pin_cpu(0);
	/* Forked before this process exports anything. */
	worker_start(&plain, "plain process", 0, plain_worker, NULL);

	segid = xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			   (void *)0600);
	if (segid < 0)
		bench_die("xpmem_make: %s", strerror(errno));
	for (int i = 0; i < MAX_ATTACHERS; i++) {
		worker_start(&att[i], "munmap attacher", i + 1,
			     attacher_worker, &segid);
		msg_recv(att[i].from, UN_READY);
	}

	/* Untimed round: checks the data every attacher reads. */
	for (int row = 0; row < UR_COUNT; row++) {
		sample(&plain, att, row, r->len, &inv);
		r->invalidations[row] = inv;
	}
	for (int rep = 0; rep < o->reps; rep++) {
		int order[UR_COUNT];

		rep_order(rep, UR_COUNT, order);
		for (int j = 0; j < UR_COUNT; j++) {
			int row = order[j];
			uint64_t ns = sample(&plain, att, row, r->len, &inv);

			ms[row * o->reps + rep] = (double)ns / 1e6;
			if (inv < r->invalidations[row])
				r->invalidations[row] = inv;
		}
	}
	for (int row = 0; row < UR_COUNT; row++)
		r->ms[row] = summarize(ms + row * o->reps, o->reps);
	free(ms);

	for (int i = 0; i < MAX_ATTACHERS; i++) {
		msg_send(att[i].to, UN_QUIT, 0, 0, 0);
		msg_recv(att[i].from, UN_BYE);
		worker_join(&att[i]);
	}
	msg_send(plain.to, UN_QUIT, 0, 0, 0);
	msg_recv(plain.from, UN_BYE);
	worker_join(&plain);
	if (xpmem_remove(segid) != 0)
		bench_die("xpmem_remove: %s", strerror(errno));
}
