// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rtt.c - request -> completion round trip between two partition
 * processes: PING on the ring, completion word back (xp_chan_ping), with
 * both sides spinning, or sleeping on a futex or eventfd doorbell.  Pings
 * go back to back (a responder that has just gone to sleep may still be on
 * its way into the futex and so not need a wake-up) or 200 us apart (the
 * responder is asleep: one real wake-up per round trip).
 */
#define _GNU_SOURCE
#include "bt.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rtt_arg {
	struct bt_fabric *f;
	enum bt_bell bell;
};

static void responder(void *arg)
{
	struct rtt_arg *a = arg;
	struct bt_part *p = calloc(1, sizeof(*p));
	u64 n = 0;

	if (!p || bt_part_up(p, a->f, 1, a->bell, 10 * BT_MS, 60000 * BT_MS, true))
		_exit(1);
	while (!a->f->flags[0]) {
		int got = xp_chan_poll(&p->ch[0], 0, 64, NULL, NULL);

		if ((++n & 0xfff) == 0)
			xp_member_tick(&p->m, xp_clock_ns());
		if (got <= 0 && a->bell != BT_SPIN)
			p->db.ops->wait(p->db.ctx, xp_clock_ns() + 5 * BT_MS);
	}
}

static void sleep_on_bell(void *ctx)
{
	struct bt_part *p = ctx;

	p->db.ops->wait(p->db.ctx, xp_clock_ns() + BT_MS);
}

/* As a shootdown waits (docs/design.md): spin briefly on the completion, then sleep. */
static u64 spin_until;

static void spin_then_sleep(void *ctx)
{
	if (xp_clock_ns() < spin_until)
		xp_cpu_relax();
	else
		sleep_on_bell(ctx);
}

static int run(enum bt_bell bell, int iters, u64 *s, int *failed, u64 spin_ns,
	       unsigned int gap_us)
{
	struct rtt_arg a;
	struct bt_fabric f;
	struct bt_part *p = calloc(1, sizeof(*p));
	void (*idle)(void *) = bell == BT_SPIN ? NULL :
			       spin_ns ? spin_then_sleep : sleep_on_bell;
	pid_t pid;
	int i, n = 0;

	if (!p || bt_fabric_create(&f, 2, 64))
		return -1;
	a.f = &f;
	a.bell = bell;
	pid = bt_spawn(1, responder, &a);
	if (bt_part_up(p, &f, 0, bell, 10 * BT_MS, 60000 * BT_MS, true)) {
		fprintf(stderr, "rtt: partitions did not come up\n");
		f.flags[0] = 1;
		bt_reap(pid, 2000);
		return -1;
	}
	*failed = 0;
	for (i = -1000; i < iters; i++) {	/* 1000 warm-up round trips */
		u64 t0 = xp_clock_ns();
		int err;

		if (gap_us) {	/* let the responder fall asleep first */
			usleep(gap_us);
			t0 = xp_clock_ns();
		}
		spin_until = t0 + spin_ns;
		err = xp_chan_ping(&p->ch[1], t0 + 100 * BT_MS, idle, p);
		u64 t1 = xp_clock_ns();

		if (err && getenv("BT_DEBUG"))
			fprintf(stderr, "ping: %d\n", err);
		if (err)
			(*failed)++;
		else if (i >= 0)
			s[n++] = t1 - t0;
	}
	f.flags[0] = 1;
	xp_doorbell_ring(&p->db, 1, XP_VEC_MSG);
	bt_reap(pid, 2000);
	bt_fabric_destroy(&f);
	free(p);
	return n;
}

void bench_rtt(int iters)
{
	static const char *const names[] = { "spin", "futex doorbell", "eventfd doorbell",
		"futex doorbell, requester spins 20 us first, back to back",
		"futex doorbell, requester spins 20 us first, 200 us apart" };
	static const enum bt_bell bells[] = { BT_SPIN, BT_FUTEX, BT_EVENTFD, BT_FUTEX, BT_FUTEX };
	static const u64 goal[] = { 1000, 15000, 15000, 15000, 15000 };
	u64 *s = calloc((size_t)iters, sizeof(*s));
	cpu_set_t old, one;
	int b;

	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	printf("\n## Round trip PING -> completion word (2 partitions, CPUs 0 and 1, %d samples)\n\n", iters);
	printf("| mode | median ns | p90 ns | p99 ns | failed | goal (median) | met |\n");
	printf("|---|---:|---:|---:|---:|---:|---|\n");
	for (b = 0; b < 5; b++) {
		int failed = 0, n = run(bells[b], b == 4 ? iters / 4 : iters, s, &failed,
					b >= 3 ? 20000 : 0, b == 4 ? 200 : 0);

		if (n <= 0) {
			printf("| %s | - | - | - | - | %llu | not measured |\n", names[b],
			       (unsigned long long)goal[b]);
			continue;
		}
		bt_sort(s, (size_t)n);
		printf("| %s | %llu | %llu | %llu | %d | <= %llu | %s |\n", names[b],
		       (unsigned long long)bt_pct(s, n, 50), (unsigned long long)bt_pct(s, n, 90),
		       (unsigned long long)bt_pct(s, n, 99), failed, (unsigned long long)goal[b],
		       bt_pct(s, n, 50) <= goal[b] ? "yes" : "no");
	}
	sched_setaffinity(0, sizeof(old), &old);
	free(s);
}
