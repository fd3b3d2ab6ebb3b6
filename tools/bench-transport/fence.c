// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence.c - from a partition's death (SIGKILL of its process) to its
 * fencing by an observer, against the configured deadline dead_ms.
 * Two numbers per round: kill -> fence (lies in [dead - hb, dead] plus the
 * observer's tick, since the victim's last heartbeat preceded its death by
 * up to hb), and last heartbeat seen -> fence (the deadline itself, plus
 * the observer's tick: what "within 5% of the deadline" is judged on).
 */
#include "bt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct fence_arg {
	struct bt_fabric *f;
	u64 hb_ns, dead_ns;
};

static void victim(void *arg)
{
	struct fence_arg *a = arg;
	struct bt_part *p = calloc(1, sizeof(*p));

	if (!p || bt_part_up(p, a->f, 1, BT_SPIN, a->hb_ns, a->dead_ns, true))
		_exit(1);
	for (;;) {
		bt_part_service(p);
		usleep(1000);
	}
}

static int round_once(struct fence_arg *a, u64 *kill_to_fence, u64 *silence)
{
	struct bt_part *p = calloc(1, sizeof(*p));
	struct bt_fabric f;
	u64 t_kill, end;
	pid_t pid;
	int st, ret = -1;

	if (!p || bt_fabric_create(&f, 2, 16))
		return -1;
	a->f = &f;
	pid = bt_spawn(1, victim, a);
	if (bt_part_up(p, &f, 0, BT_SPIN, a->hb_ns, a->dead_ns, true))
		goto out_kill;
	/* Run together for a random while, so death lands anywhere in a period. */
	for (end = xp_clock_ns() + (50 + (u64)(rand() % 100)) * BT_MS; xp_clock_ns() < end; ) {
		bt_part_service(p);
		usleep(500);
	}
	if (p->m.peers[1].state != XP_UP)
		goto out_kill;
	t_kill = xp_clock_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	pid = 0;
	for (end = t_kill + 3 * a->dead_ns; xp_clock_ns() < end && !p->fence_ns[1]; ) {
		bt_part_service(p);
		usleep(500);
	}
	if (p->fence_ns[1]) {
		*kill_to_fence = p->fence_ns[1] - t_kill;
		*silence = p->fence_silence_ns[1];
		ret = 0;
	}
out_kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	bt_fabric_destroy(&f);
	free(p);
	return ret;
}

void bench_fence(int rounds, u64 dead_ms, u64 hb_ms)
{
	struct fence_arg a = { NULL, hb_ms * BT_MS, dead_ms * BT_MS };
	u64 *k = calloc((size_t)rounds, sizeof(*k));
	u64 *s = calloc((size_t)rounds, sizeof(*s));
	int i, n = 0;
	double worst;

	for (i = 0; i < rounds; i++)
		if (round_once(&a, &k[n], &s[n]) == 0)
			n++;
	printf("\n## Death -> fence (dead_ms %llu, hb_ms %llu, observer ticks every ~0.5 ms, %d of %d rounds)\n\n",
	       (unsigned long long)dead_ms, (unsigned long long)hb_ms, n, rounds);
	if (!n) {
		printf("no round completed\n");
		goto out;
	}
	bt_sort(k, (size_t)n);
	bt_sort(s, (size_t)n);
	worst = (double)s[n - 1] / (double)a.dead_ns;
	printf("| measure | min ms | median ms | max ms | median / dead_ms |\n|---|---:|---:|---:|---:|\n");
	printf("| kill -> fence | %.2f | %.2f | %.2f | %.3f |\n", k[0] / 1e6, bt_pct(k, n, 50) / 1e6,
	       k[n - 1] / 1e6, (double)bt_pct(k, n, 50) / (double)a.dead_ns);
	printf("| last heartbeat seen -> fence | %.2f | %.2f | %.2f | %.3f |\n", s[0] / 1e6,
	       bt_pct(s, n, 50) / 1e6, s[n - 1] / 1e6, (double)bt_pct(s, n, 50) / (double)a.dead_ns);
	printf("\nGoal: fenced within 5%% of the deadline (silence / dead_ms <= 1.05): worst %.3f, %s.\n",
	       worst, worst <= 1.05 && s[0] >= a.dead_ns ? "met" : "not met");
out:
	free(k);
	free(s);
}
