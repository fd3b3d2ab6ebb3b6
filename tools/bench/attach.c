// SPDX-License-Identifier: GPL-2.0-only
/*
 * attach.c - table 2: what it costs to start using another process's
 * memory, per MiB, against starting to use fresh memory of one's own.
 *
 * An exporter process populates two regions of opts->attach_len bytes and
 * exports its whole address space: one with 4 KiB pages (MADV_NOHUGEPAGE)
 * and one 2 MiB aligned with MADV_HUGEPAGE (whether the kernel really gave
 * it huge pages is read from the exporter's /proc/self/smaps and reported).
 * The first word of every page holds a tag.  This process then times, per
 * sample, one whole cycle:
 *
 *   xpmem 4K       attach the 4 KiB-page region, read one word per 4 KiB
 *                  page (checking its tag), detach;
 *   xpmem THP      the same over the THP region, attached at a 2 MiB
 *                  aligned address so that the module can map PMDs (the
 *                  PMDs installed are counted with XPMEM_IOC_STATS);
 *   xpmem THP, no hint
 *                  the THP region attached where the kernel and the
 *                  module place it (what a consumer passing NULL gets);
 *   local 4K       mmap fresh anonymous memory, MADV_NOHUGEPAGE, write one
 *                  byte per page, munmap;
 *   local THP      the same, 2 MiB aligned with MADV_HUGEPAGE.
 *
 * Local first touch allocates and zeroes pages; attaching maps pages that
 * exist.  A local region must be written (a read would map the zero page);
 * the attachment is read, which is what a receiver does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

enum { AT_READY = 1, AT_QUIT, AT_BYE };

static int attach_exporter(int in, int out, void *arg)
{
	size_t len = *(size_t *)arg;
	char *s4 = buf_map(len, false), *sh = buf_map(len, true);
	struct msg m = { .kind = AT_READY };
	xpmem_segid_t segid;

	tag_pages(s4, len);
	tag_pages(sh, len);
	segid = xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			   (void *)0600);
	if (segid < 0)
		bench_die("xpmem_make: %s", strerror(errno));
	m.u[0] = (uint64_t)segid;
	m.u[1] = (uintptr_t)s4;
	m.u[2] = (uintptr_t)sh;
	m.u[3] = (uint64_t)smaps_anon_huge_kb(0, sh);
	msg_send_full(out, &m);

	msg_recv(in, AT_QUIT);
	if (xpmem_remove(segid) != 0)
		bench_die("xpmem_remove: %s", strerror(errno));
	buf_unmap(s4, len);
	buf_unmap(sh, len);
	msg_send(out, AT_BYE, 0, 0, 0);
	return 0;
}

struct attacher {
	size_t len;
	xpmem_apid_t apid;
	uintptr_t src4k, srcthp;	/* the regions in the exporter */
	char *hint;			/* free 2 MiB aligned ranges: for the */
	char *local_hint;		/* attachment and the local region */
	bool hint_missed;
};

static const char *const row_name[AR_COUNT] = {
	[AR_XPMEM_4K] = "xpmem 4K", [AR_XPMEM_THP] = "xpmem THP",
	[AR_XPMEM_THP_NOHINT] = "xpmem THP, no hint",
	[AR_LOCAL_4K] = "local 4K", [AR_LOCAL_THP] = "local THP",
};

/* Reads every page's tag; returns how many were wrong. */
static size_t read_tags(const char *p, size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < len / PAGE_SZ; i++)
		if (*(const volatile uint64_t *)(p + i * PAGE_SZ) !=
		    pattern_word(i))
			bad++;
	return bad;
}

static uint64_t attach_cycle(struct attacher *a, int row, uint64_t *pmds)
{
	uintptr_t src = row == AR_XPMEM_4K ? a->src4k : a->srcthp;
	void *want = row == AR_XPMEM_THP ? a->hint : NULL;
	struct xpmem_addr addr = { a->apid, (off_t)src };
	uint64_t before = xpmem_counters().pmds_mapped, t0, ns;
	size_t bad;
	char *p;
	int err;

	t0 = now_ns();
	p = xpmem_attach(addr, a->len, want);
	if (p == (void *)-1)
		bench_die("xpmem_attach: %s", strerror(errno));
	bad = read_tags(p, a->len);
	err = xpmem_detach(p);
	ns = now_ns() - t0;

	if (err)
		bench_die("xpmem_detach: %s", strerror(errno));
	if (bad)
		bench_die("%s: %zu of %zu pages read wrong data", row_name[row],
			  bad, a->len / PAGE_SZ);
	if (want && p != want)
		a->hint_missed = true;
	*pmds = xpmem_counters().pmds_mapped - before;
	return ns;
}

static uint64_t local_cycle(struct attacher *a, bool huge, long *thp_kb)
{
	uint64_t t0 = now_ns(), ns;
	char *p = mmap(huge ? a->local_hint : NULL, a->len,
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap %zu: %s", a->len, strerror(errno));
	if (madvise(p, a->len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0)
		bench_die("madvise: %s", strerror(errno));
	for (size_t off = 0; off < a->len; off += PAGE_SZ)
		*(volatile char *)(p + off) = 1;
	if (thp_kb)	/* the untimed check: look before unmapping */
		*thp_kb = smaps_anon_huge_kb(0, p);
	if (munmap(p, a->len) != 0)
		bench_die("munmap: %s", strerror(errno));
	ns = now_ns() - t0;
	if (huge && p != a->local_hint)
		a->hint_missed = true;
	return ns;
}

static uint64_t cycle(struct attacher *a, int row, uint64_t *pmds,
		      long *thp_kb)
{
	*pmds = 0;
	switch (row) {
	case AR_LOCAL_4K:
		return local_cycle(a, false, NULL);
	case AR_LOCAL_THP:
		return local_cycle(a, true, thp_kb);
	default:
		return attach_cycle(a, row, pmds);
	}
}

void bench_attach(const struct bench_opts *o, struct attach_results *r)
{
	size_t len = o->attach_len;
	struct attacher a = { .len = len };
	double mib = (double)len / MiB;
	double *us = calloc((size_t)o->reps * AR_COUNT, sizeof(*us));
	struct worker exp;
	struct msg m;

	if (!us)
		bench_die("out of memory");
	memset(r, 0, sizeof(*r));
	r->len = len;
	pin_cpu(1);
	worker_start(&exp, "attach exporter", 0, attach_exporter, &len);
	m = msg_recv(exp.from, AT_READY);
	a.src4k = (uintptr_t)m.u[1];
	a.srcthp = (uintptr_t)m.u[2];
	r->src_thp_kb = (long)m.u[3];
	a.apid = xpmem_get((xpmem_segid_t)m.u[0], XPMEM_RDWR,
			   XPMEM_PERMIT_MODE, NULL);
	if (a.apid < 0)
		bench_die("xpmem_get: %s", strerror(errno));
	/* Separate ranges, so that no row inherits another's page tables. */
	a.hint = free_aligned_range(2 * len, HUGE_SZ);
	a.local_hint = a.hint + len;

	/* Untimed round first: checks the data, records PMD counts and the
	 * local THP coverage, warms the code paths up. */
	for (int row = 0; row < AR_COUNT; row++)
		cycle(&a, row, &r->pmds_per_attach[row],
		      row == AR_LOCAL_THP ? &r->local_thp_kb : NULL);

	for (int rep = 0; rep < o->reps; rep++) {
		int order[AR_COUNT];

		rep_order(rep, AR_COUNT, order);
		for (int j = 0; j < AR_COUNT; j++) {
			int row = order[j];
			uint64_t pmds, ns = cycle(&a, row, &pmds, NULL);

			us[row * o->reps + rep] = (double)ns / 1000 / mib;
			if (pmds < r->pmds_per_attach[row])
				r->pmds_per_attach[row] = pmds;
		}
	}
	for (int row = 0; row < AR_COUNT; row++)
		r->us_per_mib[row] = summarize(us + row * o->reps, o->reps);
	r->thp_hint_honoured = !a.hint_missed;
	free(us);

	if (xpmem_release(a.apid) != 0)
		bench_die("xpmem_release: %s", strerror(errno));
	msg_send(exp.to, AT_QUIT, 0, 0, 0);
	msg_recv(exp.from, AT_BYE);
	worker_join(&exp);
}
