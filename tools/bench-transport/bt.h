/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bt.h - shared pieces of bench-transport: a fabric in MAP_SHARED memory,
 * forked processes standing in for partitions (pinned to CPUs, placed on
 * NUMA nodes when there are several), a partition's loop state, samples
 * and medians.
 */
#ifndef BT_H
#define BT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "chan.h"
#include "host/doorbell_host.h"

#define BT_MS	1000000ull

enum bt_bell { BT_SPIN, BT_FUTEX, BT_EVENTFD };

struct bt_fabric {
	struct xp_layout l;
	struct xp_region r;
	void *mem;
	u32 *futex_words;		/* XP_MAX_PARTS words, shared */
	struct xp_efd_doorbell efd;
	volatile int *flags;		/* shared scratch for the benchmarks */
	u64 *shared;			/* shared u64 results (64 of them) */
};

/* One partition's view, built in its own process after fork. */
struct bt_part {
	struct bt_fabric *f;
	struct xp_member m;
	struct xp_chan ch[XP_MAX_PARTS];
	struct xp_futex_doorbell fdb;
	struct xp_efd_doorbell edb;
	struct xp_doorbell db;
	u64 fence_ns[XP_MAX_PARTS];	/* when we fenced p (0: never) */
	u64 fence_silence_ns[XP_MAX_PARTS]; /* how long p had been silent */
};

int bt_fabric_create(struct bt_fabric *f, u32 parts, u32 slots);
void bt_fabric_destroy(struct bt_fabric *f);
/*
 * Set up member and channels for @self and join; with @wait_up, run until
 * we and every other partition of the layout are UP (at most 5 s).
 */
int bt_part_up(struct bt_part *p, struct bt_fabric *f, u32 self,
	       enum bt_bell bell, u64 hb_ns, u64 dead_ns, bool wait_up);
/* Poll every channel and tick once. */
void bt_part_service(struct bt_part *p);
/* Fork a partition process running fn(arg) on @cpu (-1: anywhere). */
pid_t bt_spawn(int cpu, void (*fn)(void *), void *arg);
int bt_reap(pid_t pid, int timeout_ms);
/* NUMA: node for partition i (-1 when the machine has one node). */
int bt_numa_nodes(void);
void bt_place(int index);

void bt_sort(u64 *v, size_t n);
u64 bt_pct(u64 *sorted, size_t n, unsigned int pct);
int bt_ncpus(void);

void bench_rtt(int iters);
void bench_throughput(u64 msgs);
void bench_fanout(int iters);
void bench_fence(int rounds, u64 dead_ms, u64 hb_ms);

#endif
