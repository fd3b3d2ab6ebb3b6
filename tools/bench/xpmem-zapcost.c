// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmem-zapcost - what one local shootdown costs the owner.
 *
 * The owner drops one page of a region with madvise(MADV_DONTNEED), which
 * runs the segment's interval notifier: with an attacher attached, the
 * notifier has the range zapped in every attachment (by a worker it waits
 * for, docs/design.md "Invalidation") before it returns.  The same call on
 * a region no segment covers runs no callback of ours.  Both are timed, in
 * turns, in the same process; the table gives the medians, their ratio and
 * their difference: the shootdown's cost per call for the smallest range,
 * where the fixed part (hand-over, attacher-side invalidation) shows most.
 * A tool, not a test: it prints, it asserts nothing about times.  Exits 1
 * on any error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

#define NPAGES 256

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @p quantile of @n sorted samples. */
static double quantile(const double *v, int n, double p)
{
	return v[(int)(p * (n - 1))];
}

/* The attacher: attach the whole region, read every page, wait. */
static int attacher(xpmem_segid_t segid, size_t len, size_t page, int ready,
		    int done)
{
	struct xpmem_addr addr;
	volatile char *at;
	long sum = 0;
	char c = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	addr.apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
	if (addr.apid <= 0) {
		perror("xpmem_get");
		return 1;
	}
	addr.offset = 0;
	at = xpmem_attach(addr, len, NULL);
	if (at == (void *)-1) {
		perror("xpmem_attach");
		return 1;
	}
	for (size_t i = 0; i < len / page; i++)
		sum += at[i * page];
	if (write(ready, &c, 1) != 1)
		return 1;
	/* Returns when the owner writes or exits (both write ends closed). */
	if (read(done, &c, 1) < 0)
		return 1;
	return sum == (long)(len / page) ? 0 : 2;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 3000;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = NPAGES * page;
	int ready[2], done[2], status = 0;
	double *exported, *plain;
	char *e, *p, c;
	xpmem_segid_t segid;
	pid_t pid;

	if (reps < 10) {
		fprintf(stderr, "usage: xpmem-zapcost [REPS >= 10]\n");
		return 1;
	}
	exported = calloc(reps, sizeof(double));
	plain = calloc(reps, sizeof(double));
	e = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!exported || !plain || e == MAP_FAILED || p == MAP_FAILED) {
		perror("memory");
		return 1;
	}
	madvise(e, len, MADV_NOHUGEPAGE);
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(e, 1, len);
	memset(p, 1, len);
	segid = xpmem_make(e, len, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid <= 0) {
		perror("xpmem_make");
		return 1;
	}
	if (pipe(ready) || pipe(done)) {
		perror("pipe");
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		_exit(attacher(segid, len, page, ready[1], done[0]));
	}
	close(ready[1]);
	close(done[0]);
	/* Returns when the attacher is ready or died (its write end closed). */
	if (read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "the attacher failed\n");
		waitpid(pid, &status, 0);
		return 1;
	}

	for (int r = 0; r < reps; r++) {
		size_t off = (size_t)(r % NPAGES) * page;

		/* The two variants take turns in either order. */
		for (int k = 0; k < 2; k++) {
			int ex = (r + k) % 2 == 0;
			char *b = (ex ? e : p) + off;
			double t0;

			b[0] = 1;	/* the page is there to be dropped */
			t0 = now_us();
			if (madvise(b, page, MADV_DONTNEED)) {
				perror("madvise");
				return 1;
			}
			(ex ? exported : plain)[r] = now_us() - t0;
		}
	}

	c = 1;
	if (write(done[1], &c, 1) != 1)
		perror("write");
	waitpid(pid, &status, 0);
	xpmem_remove(segid);

	qsort(exported, reps, sizeof(double), cmp_double);
	qsort(plain, reps, sizeof(double), cmp_double);
	printf("madvise(MADV_DONTNEED) of one page, %d samples each; us, median [p10..p90]\n",
	       reps);
	printf("   exported, 1 attacher   %8.2f [%.2f..%.2f]\n", quantile(exported, reps, .5),
	       quantile(exported, reps, .1), quantile(exported, reps, .9));
	printf("   no segment             %8.2f [%.2f..%.2f]\n", quantile(plain, reps, .5),
	       quantile(plain, reps, .1), quantile(plain, reps, .9));
	printf("   ratio of medians       %8.2f   difference %.2f us\n",
	       quantile(exported, reps, .5) / quantile(plain, reps, .5),
	       quantile(exported, reps, .5) - quantile(plain, reps, .5));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "the attacher failed\n");
		return 1;
	}
	return 0;
}
