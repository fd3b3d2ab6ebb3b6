// SPDX-License-Identifier: GPL-2.0-only
/*
 * copy.c - table 1: how fast one process gets another process's data.
 *
 * An exporter process fills a buffer and exports its whole address space
 * (as MPI libraries do); this process (the attacher) attaches the buffer
 * once and touches every page, so the timed copies hit a cached, fully
 * mapped attachment.  Then, for each size, four ways of moving the data
 * into a local buffer of the attacher:
 *
 *   xpmem   memcpy from the attachment (the single copy XPMEM exists for);
 *   pvr     process_vm_readv from the exporter (the kernel's single copy,
 *           which pins and copies on every call);
 *   shm     two copies through a MAP_SHARED buffer: the exporter copies in,
 *           hands over through a flag in shared memory, the attacher copies
 *           out; each copy is timed by the process that does it and the two
 *           are added (the handover itself is not counted, in favour of
 *           this method);
 *   local   memcpy between two buffers of the attacher: the limit.
 *
 * A sample repeats one transfer for about opts->sample_ms of copying (the
 * count is calibrated per size and method): long enough that being
 * preempted on a busy host for a time slice or two shifts it little.
 * The methods take turns within every repetition (in a shuffled order, see
 * rep_order()), so slow phases of a busy host spread over all of them.
 * Every method's result is checked word by word once per size before the
 * timed samples.  All buffers use 4 KiB pages, for a like-for-like table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

enum { CP_READY = 1, CP_SHM_RUN, CP_SHM_DONE, CP_QUIT, CP_BYE };

/* Whose turn it is on the shared buffer; alone in its cache line. */
struct shm_ctl {
	int turn;		/* 0: exporter copies in, 1: attacher copies out */
	char pad[60];
};

struct copy_ctx {
	size_t max;
	char *shm;
	struct shm_ctl *ctl;
};

#define barrier() __asm__ __volatile__("" ::: "memory")

static const char *const method_name[CM_COUNT] = {
	[CM_XPMEM] = "xpmem", [CM_PVR] = "process_vm_readv",
	[CM_SHM] = "shared buffer", [CM_LOCAL] = "local memcpy",
};

/* Spins (these run on different CPUs), then yields so that a single CPU
 * would still make progress; bounded like every other wait. */
static void wait_turn(int *turn, int want)
{
	uint64_t deadline = 0;

	for (unsigned long spins = 0;
	     __atomic_load_n(turn, __ATOMIC_ACQUIRE) != want; spins++) {
		if (spins < 2000) {
			__builtin_ia32_pause();
			continue;
		}
		if (!deadline)
			deadline = now_ns() + STEP_TIMEOUT_S * 1000000000ULL;
		else if ((spins & 255) == 0 && now_ns() > deadline)
			bench_die("shared-buffer handover: no turn within %d s",
				  STEP_TIMEOUT_S);
		sched_yield();
	}
}

static int copy_exporter(int in, int out, void *arg)
{
	struct copy_ctx *c = arg;
	char *src = buf_map(c->max, false);
	xpmem_segid_t segid;

	pattern_fill(src, c->max);
	segid = xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			   (void *)0600);
	if (segid < 0)
		bench_die("xpmem_make: %s", strerror(errno));
	msg_send(out, CP_READY, (uint64_t)segid, (uintptr_t)src,
		 (uint64_t)getpid());

	for (;;) {
		struct msg m = msg_recv(in, 0);
		uint64_t acc = 0;

		if (m.kind == CP_QUIT)
			break;
		if (m.kind != CP_SHM_RUN)
			bench_die("protocol: message %llu",
				  (unsigned long long)m.kind);
		for (uint64_t i = 0; i < m.u[1]; i++) {
			wait_turn(&c->ctl->turn, 0);
			uint64_t t0 = now_ns();
			memcpy(c->shm, src, m.u[0]);
			barrier();
			acc += now_ns() - t0;
			__atomic_store_n(&c->ctl->turn, 1, __ATOMIC_RELEASE);
		}
		msg_send(out, CP_SHM_DONE, acc, 0, 0);
	}
	if (xpmem_remove(segid) != 0)
		bench_die("xpmem_remove: %s", strerror(errno));
	buf_unmap(src, c->max);
	msg_send(out, CP_BYE, 0, 0, 0);
	return 0;
}

struct attacher {
	struct worker exp;
	struct copy_ctx *c;
	pid_t exp_pid;
	uintptr_t exp_src;	/* the buffer's address in the exporter */
	char *att, *dst, *lsrc;
};

static void pvr_read(pid_t pid, char *dst, uintptr_t src, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec l = { dst + done, len - done };
		struct iovec r = { (void *)(src + done), len - done };
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

		if (n <= 0)
			bench_die("process_vm_readv: %s",
				  n < 0 ? strerror(errno) : "no progress");
		done += (size_t)n;
	}
}

/* `count` transfers of `size` bytes by method m; returns the nanoseconds
 * spent copying. */
static uint64_t transfer(struct attacher *a, int m, size_t size,
			 uint64_t count)
{
	uint64_t t0, acc = 0;

	switch (m) {
	case CM_XPMEM:
		t0 = now_ns();
		for (uint64_t i = 0; i < count; i++) {
			memcpy(a->dst, a->att, size);
			barrier();
		}
		return now_ns() - t0;
	case CM_PVR:
		t0 = now_ns();
		for (uint64_t i = 0; i < count; i++)
			pvr_read(a->exp_pid, a->dst, a->exp_src, size);
		return now_ns() - t0;
	case CM_SHM:
		msg_send(a->exp.to, CP_SHM_RUN, size, count, 0);
		for (uint64_t i = 0; i < count; i++) {
			wait_turn(&a->c->ctl->turn, 1);
			t0 = now_ns();
			memcpy(a->dst, a->c->shm, size);
			barrier();
			acc += now_ns() - t0;
			__atomic_store_n(&a->c->ctl->turn, 0, __ATOMIC_RELEASE);
		}
		return acc + msg_recv(a->exp.from, CP_SHM_DONE).u[0];
	default:
		t0 = now_ns();
		for (uint64_t i = 0; i < count; i++) {
			memcpy(a->dst, a->lsrc, size);
			barrier();
		}
		return now_ns() - t0;
	}
}

static void *shared_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap shared %zu: %s", len, strerror(errno));
	return p;
}

/* Transfers per sample for about opts->sample_ms of copying, from the
 * fastest of three probes (a probe that got preempted would shorten the
 * samples, never lengthen them). */
static uint64_t calibrate(struct attacher *a, const struct bench_opts *o,
			  int m, size_t size)
{
	uint64_t probe = MiB / size ? MiB / size : 1, best = UINT64_MAX;
	double target = o->sample_ms * 1e6, per;

	for (int i = 0; i < 3; i++) {
		uint64_t ns = transfer(a, m, size, probe);

		if (ns < best)
			best = ns;
	}
	per = (double)(best ? best : 1) / (double)probe;
	if (target / per < 1)
		return 1;
	return target / per > 1e7 ? 10000000 : (uint64_t)(target / per);
}

static void measure_size(struct attacher *a, const struct bench_opts *o,
			 struct copy_results *r, int idx)
{
	size_t size = r->size[idx];
	double *gbs = calloc((size_t)o->reps * CM_COUNT, sizeof(*gbs));
	uint64_t inner[CM_COUNT];

	if (!gbs)
		bench_die("out of memory");

	/* Once per size and method: poisoned destination (and shared
	 * buffer), one transfer, every word checked.  Doubles as warm-up. */
	for (int m = 0; m < CM_COUNT; m++) {
		char what[64];

		memset(a->dst, 0xa5, size);
		memset(a->c->shm, 0x5a, size);
		transfer(a, m, size, 1);
		snprintf(what, sizeof(what), "%s, %zu bytes", method_name[m],
			 size);
		pattern_check(a->dst, size, what);
		inner[m] = calibrate(a, o, m, size);
		r->inner[idx][m] = inner[m];
	}

	for (int rep = 0; rep < o->reps; rep++) {
		int order[CM_COUNT];

		rep_order(rep, CM_COUNT, order);
		for (int j = 0; j < CM_COUNT; j++) {
			int m = order[j];
			uint64_t ns = transfer(a, m, size, inner[m]);

			gbs[m * o->reps + rep] = (double)(size * inner[m]) /
						 (double)(ns ? ns : 1);
		}
	}
	for (int m = 0; m < CM_COUNT; m++)
		r->gbs[idx][m] = summarize(gbs + m * o->reps, o->reps);
	free(gbs);
}

void bench_copy(const struct bench_opts *o, struct copy_results *r)
{
	static const size_t sizes[] = { 4 * KiB, 16 * KiB, 64 * KiB,
		256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB };
	struct copy_ctx c = { .max = o->max_copy };
	struct attacher a = { .c = &c };
	xpmem_apid_t apid;
	struct msg m;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i] <= o->max_copy)
			r->size[r->nsizes++] = sizes[i];

	c.shm = shared_map(c.max);
	c.ctl = shared_map(PAGE_SZ);
	memset(c.shm, 0, c.max);
	pin_cpu(1);
	worker_start(&a.exp, "copy exporter", 0, copy_exporter, &c);
	m = msg_recv(a.exp.from, CP_READY);
	a.exp_src = (uintptr_t)m.u[1];
	a.exp_pid = (pid_t)m.u[2];

	apid = xpmem_get((xpmem_segid_t)m.u[0], XPMEM_RDWR, XPMEM_PERMIT_MODE,
			 NULL);
	if (apid < 0)
		bench_die("xpmem_get: %s", strerror(errno));
	struct xpmem_addr addr = { apid, (off_t)a.exp_src };
	a.att = xpmem_attach(addr, c.max, NULL);
	if (a.att == (void *)-1)
		bench_die("xpmem_attach %zu bytes: %s", c.max, strerror(errno));
	/* Fault the whole attachment in now: the table is about copies from
	 * an attachment that MPI libraries keep cached. */
	for (size_t off = 0; off < c.max; off += PAGE_SZ)
		(void)*(volatile char *)(a.att + off);

	a.dst = buf_map(c.max, false);
	memset(a.dst, 0, c.max);
	a.lsrc = buf_map(c.max, false);
	pattern_fill(a.lsrc, c.max);

	for (int i = 0; i < r->nsizes; i++) {
		measure_size(&a, o, r, i);
		fprintf(stderr, "  copy: %zu KiB done\n", r->size[i] / KiB);
	}

	if (xpmem_detach(a.att) != 0 || xpmem_release(apid) != 0)
		bench_die("detach/release: %s", strerror(errno));
	msg_send(a.exp.to, CP_QUIT, 0, 0, 0);
	msg_recv(a.exp.from, CP_BYE);
	worker_join(&a.exp);
	buf_unmap(a.dst, c.max);
	buf_unmap(a.lsrc, c.max);
	munmap(c.shm, c.max);
	munmap(c.ctl, PAGE_SZ);
}
