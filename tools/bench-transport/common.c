// SPDX-License-Identifier: LGPL-2.1-or-later
/* common.c - fabric in shared memory, partition processes, statistics. */
#define _GNU_SOURCE
#include "bt.h"

#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *shared_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int bt_fabric_create(struct bt_fabric *f, u32 parts, u32 slots)
{
	memset(f, 0, sizeof(*f));
	if (xp_layout_compute(&f->l, parts, slots))
		return -EINVAL;
	f->mem = shared_map(f->l.size);
	f->futex_words = shared_map(4096);
	f->flags = shared_map(4096);
	f->shared = shared_map(4096);
	if (!f->mem || !f->futex_words || !f->flags || !f->shared)
		return -ENOMEM;
	if (xp_region_format(f->mem, f->l.size, &f->l) ||
	    xp_region_attach(&f->r, f->mem, f->l.size) != XP_ATTACH_OK)
		return -EINVAL;
	return xp_efd_doorbell_create(&f->efd, parts);
}

void bt_fabric_destroy(struct bt_fabric *f)
{
	xp_efd_doorbell_close(&f->efd);
	munmap(f->mem, f->l.size);
	munmap(f->futex_words, 4096);
	munmap((void *)f->flags, 4096);
	munmap(f->shared, 4096);
}

static int part_send(void *ctx, u32 peer, struct xp_msg *m)
{
	struct bt_part *p = ctx;
	int err = xp_ring_push(&p->ch[peer].tx, m);

	if (!err)
		xp_doorbell_ring(&p->db, peer, XP_VEC_MSG);
	return err;
}

static void part_fence(void *ctx, u32 peer, u32 epoch, u32 reason)
{
	struct bt_part *p = ctx;
	u64 now = xp_clock_ns();

	(void)epoch;
	(void)reason;
	p->fence_ns[peer] = now;
	p->fence_silence_ns[peer] = now - p->m.peers[peer].hb_seen_ns;
}

static void part_self_fence(void *ctx, u32 epoch, u32 reason)
{
	struct bt_part *p = ctx;
	u32 i;

	(void)epoch;
	(void)reason;
	for (i = 0; i < p->f->l.max_parts; i++)
		if (i != p->m.cfg.self)
			xp_chan_init(&p->ch[i], &p->m, i, &p->db);
}

static const struct xp_member_ops part_ops = {
	.send = part_send, .fence = part_fence, .self_fence = part_self_fence,
};

int bt_part_up(struct bt_part *p, struct bt_fabric *f, u32 self,
	       enum bt_bell bell, u64 hb_ns, u64 dead_ns, bool wait_up)
{
	struct xp_member_cfg cfg;
	u64 end;
	u32 i;
	int err;

	memset(p, 0, sizeof(*p));
	p->f = f;
	p->fdb.self = self;
	p->fdb.nparts = f->l.max_parts;
	p->fdb.words = f->futex_words;
	p->fdb.seen = __atomic_load_n(&f->futex_words[self], __ATOMIC_ACQUIRE);
	p->edb = f->efd;
	p->edb.self = self;
	if (bell == BT_FUTEX)
		p->db = (struct xp_doorbell){ &xp_futex_doorbell_ops, &p->fdb };
	else if (bell == BT_EVENTFD)
		p->db = (struct xp_doorbell){ &xp_efd_doorbell_ops, &p->edb };
	memset(&cfg, 0, sizeof(cfg));
	cfg.self = self;
	cfg.hb_ns = hb_ns;
	cfg.dead_ns = dead_ns;
	err = xp_member_init(&p->m, &f->r, &cfg, &part_ops, p);
	if (err)
		return err;
	for (i = 0; i < f->l.max_parts; i++)
		if (i != self)
			xp_chan_init(&p->ch[i], &p->m, i, &p->db);
	err = xp_member_join(&p->m, xp_clock_ns());
	if (err || !wait_up)
		return err;
	for (end = xp_clock_ns() + 5000 * BT_MS; xp_clock_ns() < end; ) {
		bool all = p->m.state == XP_UP;

		bt_part_service(p);
		/* UP alone is not enough: we may have joined first. */
		for (i = 0; i < f->l.max_parts && all; i++)
			if (i != self && p->m.peers[i].state != XP_UP)
				all = false;
		if (all)
			return 0;
		usleep(200);
	}
	return -ETIMEDOUT;
}

void bt_part_service(struct bt_part *p)
{
	u64 now = xp_clock_ns();
	u32 i;

	for (i = 0; i < p->f->l.max_parts; i++)
		if (i != p->m.cfg.self)
			xp_chan_poll(&p->ch[i], now, 64, NULL, NULL);
	xp_member_tick(&p->m, now);
}

int bt_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int bt_numa_nodes(void)
{
	if (numa_available() < 0)
		return 1;
	return numa_max_node() + 1;
}

/* Partition i on node i mod nodes, memory preferred there too. */
void bt_place(int index)
{
	int nodes = bt_numa_nodes();

	if (nodes < 2)
		return;
	numa_run_on_node(index % nodes);
	numa_set_preferred(index % nodes);
}

pid_t bt_spawn(int cpu, void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	alarm(120);	/* never outlive a broken parent */
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu % bt_ncpus(), &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	bt_place(cpu < 0 ? 0 : cpu);
	fn(arg);
	_exit(0);
}

int bt_reap(pid_t pid, int timeout_ms)
{
	int st, i;

	for (i = 0; i < timeout_ms; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

void bt_sort(u64 *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

u64 bt_pct(u64 *sorted, size_t n, unsigned int pct)
{
	size_t i;

	if (!n)
		return 0;
	i = (n - 1) * pct / 100;
	return sorted[i];
}
