// SPDX-License-Identifier: GPL-2.0-only
/*
 * fanout.c - one page exported to many proxies in two partitions, for the
 * shootdown's per-target deadlines.
 *
 *   xpmem-xpart-fanout export SECONDS
 *       makes a one-page segment and prints "segid N"; waits (bounded by
 *       SECONDS) for the first attacher's ready word ("ready 1"), then for
 *       the second's ("ready 2"); then munmaps the page (which asks every
 *       proxy's partition to drop it) and prints "munmap_ms T", PASS.
 *   xpmem-xpart-fanout attach SEGID COUNT SLOT HOLD_SECONDS [INJECT-SPEC]
 *       COUNT GETs of SEGID (COUNT exports on the owner), each attached and
 *       read (each FAULT pins the page for its export); then runs
 *       "$XPMEMCTL INJECT-SPEC" if given, writes its ready word SLOT (1 or
 *       2) through the first attachment, and sleeps HOLD_SECONDS without
 *       touching anything.
 *
 * The owner's exports are listed in GET order: with 16 GETs from the first
 * attacher and 1 from the second, the second's export is the 17th target.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

#define READY_MAGIC 0x7265616479ULL /* "ready" */
#define MAX_COUNT 64
enum { W_READY = 64 };	/* word of slot s: W_READY * s */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_ready(volatile uint64_t *p, int slot, int64_t end)
{
	while (__atomic_load_n(&p[W_READY * slot], __ATOMIC_ACQUIRE) != READY_MAGIC) {
		if (now_ms() > end) {
			printf("FAIL fanout: attacher %d not ready in time\n", slot);
			return 1;
		}
		usleep(10000);
	}
	printf("ready %d\n", slot);
	fflush(stdout);
	return 0;
}

static int export_side(int seconds)
{
	uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t end = now_ms() + seconds * 1000LL, t0;
	xpmem_segid_t segid;

	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 0, 4096);
	segid = xpmem_make(p, 4096, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld\n", (long long)segid);
	fflush(stdout);
	if (wait_ready(p, 1, end) || wait_ready(p, 2, end))
		return 1;
	t0 = now_ms();
	if (munmap(p, 4096))
		return perror("munmap"), 1;
	printf("munmap_ms %lld\n", (long long)(now_ms() - t0));
	printf("PASS fanout\n");
	return 0;
}

static int attach_side(int argc, char **argv)
{
	xpmem_segid_t segid = strtoll(argv[2], NULL, 0);
	int count = atoi(argv[3]), slot = atoi(argv[4]), hold = atoi(argv[5]);
	volatile uint64_t *q[MAX_COUNT];
	uint64_t sum = 0;
	int i;

	if (count < 1 || count > MAX_COUNT || slot < 1 || slot > 2)
		return fprintf(stderr, "bad COUNT or SLOT\n"), 2;
	for (i = 0; i < count; i++) {
		xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
		struct xpmem_addr addr = { .apid = apid, .offset = 0 };

		if (apid < 0)
			return perror("xpmem_get"), 1;
		q[i] = xpmem_attach(addr, 4096, NULL);
		if (q[i] == (void *)-1)
			return perror("xpmem_attach"), 1;
		sum += q[i][0];		/* a FAULT: the owner pins for this export */
	}
	if (argc > 6) {
		const char *ctl = getenv("XPMEMCTL");
		char cmd[512];

		if (!ctl)
			return fprintf(stderr, "XPMEMCTL is not set\n"), 1;
		snprintf(cmd, sizeof(cmd), "%s %s </dev/null", ctl, argv[6]);
		if (system(cmd))
			return fprintf(stderr, "'%s' failed\n", cmd), 1;
		printf("armed %s\n", argv[6]);
	}
	__atomic_store_n(&q[0][W_READY * slot], READY_MAGIC, __ATOMIC_RELEASE);
	printf("attached %d (sum %llu)\n", count, (unsigned long long)sum);
	fflush(stdout);
	sleep(hold);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "export"))
		return export_side(atoi(argv[2]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "attach"))
		return attach_side(argc, argv);
	fprintf(stderr, "usage: xpmem-xpart-fanout export SECONDS | "
		"attach SEGID COUNT SLOT HOLD_SECONDS [INJECT-SPEC]\n");
	return 2;
}
