// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tput.c - messages per second through one ring between two processes:
 * the raw ring (push/pop of a pre-sealed message) and the full path
 * (producer seals every message, consumer validates every message).
 */
#define _GNU_SOURCE
#include "bt.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct tput_arg {
	struct bt_fabric *f;
	u64 msgs;
	bool full;
	u32 batch;	/* 0: xp_ring_push; n: reserve up to n, publish once */
};

static void producer(void *arg)
{
	struct tput_arg *a = arg;
	struct xp_ring_prod p;
	struct xp_msg m;
	u64 i;

	xp_ring_prod_init(&p, &a->f->r, 0, 1);
	memset(&m, 0, sizeof(m));
	xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32);
	i = 0;
	a->f->flags[1] = 1;			/* ready */
	while (!a->f->flags[2])			/* go */
		xp_cpu_relax();
	while (a->batch && i < a->msgs) {
		u32 pending = 0;
		int err = 0;

		while (pending < a->batch && i + pending < a->msgs) {
			struct xp_msg *slot = xp_ring_reserve(&p, &pending, &err);

			if (!slot)
				break;
			memcpy(slot, &m, XP_MSG_HDR_SIZE + m.h.len);
		}
		xp_ring_publish(&p, pending);
		i += pending;
		if (!pending)
			xp_cpu_relax();
	}
	for (; i < a->msgs; ) {
		if (a->full) {
			m.u.ping.rid = i;
			xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32 | (u32)(i + 1));
		}
		if (xp_ring_push(&p, &m) == 0)
			i++;
		else
			xp_cpu_relax();
	}
}

static double run(u64 msgs, u32 slots, bool full, u32 batch, u64 *bad)
{
	struct tput_arg a = { NULL, msgs, full, batch };
	struct xp_msg_expect e = { 0, 1, 1, 1, 2 };
	struct bt_fabric f;
	struct xp_ring_cons c;
	struct xp_msg m;
	u64 got = 0, t0, t1;
	pid_t pid;

	if (bt_fabric_create(&f, 2, slots))
		return 0;
	a.f = &f;
	xp_ring_cons_init(&c, &f.r, 0, 1);
	pid = bt_spawn(0, producer, &a);
	while (!f.flags[1])
		xp_cpu_relax();
	*bad = 0;
	t0 = xp_clock_ns();
	f.flags[2] = 1;
	while (got < msgs) {
		int r = xp_ring_pop(&c, &m);

		if (r < 0)
			break;
		if (!r) {
			xp_cpu_relax();
			continue;
		}
		if (full && xp_msg_check(&m, &e, NULL) != XP_REJ_OK)
			(*bad)++;
		got++;
	}
	t1 = xp_clock_ns();
	bt_reap(pid, 5000);
	bt_fabric_destroy(&f);
	return got == msgs ? (double)msgs * 1e9 / (double)(t1 - t0) : 0;
}

static u64 cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/*
 * One process, batches of 32 pushed then popped: the CPU cost per message
 * with no cache line crossing CPUs and no scheduler in the way (an upper
 * bound for the two-process figure on an idle machine).  Timed in CPU time
 * of the thread, so preemption by other load does not count.
 */
static double run_local(u64 msgs, bool full)
{
	struct xp_msg_expect e = { 0, 1, 1, 1, 2 };
	struct bt_fabric f;
	struct xp_ring_prod p;
	struct xp_ring_cons c;
	struct xp_msg m, out;
	u64 i, j, t0, bad = 0;

	if (bt_fabric_create(&f, 2, 64))
		return 0;
	xp_ring_cons_init(&c, &f.r, 0, 1);
	xp_ring_prod_init(&p, &f.r, 0, 1);
	memset(&m, 0, sizeof(m));
	xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32);
	t0 = cpu_ns();
	for (i = 0; i < msgs; i += 32) {
		for (j = 0; j < 32; j++) {
			if (full)
				xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32 | (u32)(i + j + 1));
			xp_ring_push(&p, &m);
		}
		for (j = 0; j < 32; j++) {
			xp_ring_pop(&c, &out);
			if (full && xp_msg_check(&out, &e, NULL) != XP_REJ_OK)
				bad++;
		}
	}
	t0 = cpu_ns() - t0;
	bt_fabric_destroy(&f);
	return bad ? 0 : (double)msgs * 1e9 / (double)t0;
}

void bench_throughput(u64 msgs)
{
	static const u32 slots[] = { 64, 1024 };
	cpu_set_t old, one;
	unsigned int i;
	int full, rep;

	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&one);
	CPU_SET(1 % bt_ncpus(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	printf("\n## Messages through one ring (producer CPU 0 -> consumer CPU 1, %llu messages, median of 5 runs)\n\n",
	       (unsigned long long)msgs);
	printf("| path | slots | median Mmsg/s | min | max | goal | met |\n|---|---:|---:|---:|---:|---:|---|\n");
	for (full = 0; full <= 2; full++) {
		for (i = 0; i < 2; i++) {
			u64 v[5], bad = 0, allbad = 0;

			for (rep = 0; rep < 5; rep++) {
				v[rep] = (u64)(run(msgs, slots[i], full == 1, full == 2 ? 16 : 0,
						   &bad) / 1000.0);
				allbad += bad;
			}
			bt_sort(v, 5);
			printf("| %s | %u | %.2f | %.2f | %.2f | >= 10 | %s |\n",
			       full == 1 ? "seal + push / pop + validate" :
			       full == 2 ? "reserve 16 + publish / pop (pre-sealed)" :
			       "push / pop (pre-sealed)",
			       slots[i], v[2] / 1000.0, v[0] / 1000.0, v[4] / 1000.0,
			       v[2] >= 10000 ? "yes" : "no");
			if (allbad)
				printf("\n(%llu messages failed validation)\n", (unsigned long long)allbad);
		}
	}
	for (full = 0; full <= 1; full++) {
		u64 v[5];


		for (rep = 0; rep < 5; rep++)
			v[rep] = (u64)(run_local(msgs, full) / 1000.0);
		bt_sort(v, 5);
		printf("| %s, one process, per CPU second | 64 | %.2f | %.2f | %.2f | - | - |\n",
		       full ? "seal + push / pop + validate" : "push / pop (pre-sealed)",
		       v[2] / 1000.0, v[0] / 1000.0, v[4] / 1000.0);
	}
	sched_setaffinity(0, sizeof(old), &old);
}
