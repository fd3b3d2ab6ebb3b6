// SPDX-License-Identifier: GPL-2.0-only
/*
 * gup.c - system calls that take references to user pages on a remote
 * attachment (issue 10, defect 3): futex(FUTEX_WAIT), an O_DIRECT read into
 * it, vmsplice of it.
 *
 *   xpmem-xpart-gup export SECONDS   maps 4 MiB, 2 MiB aligned: a THP half
 *       (MADV_HUGEPAGE) and a 4 KiB half (MADV_NOHUGEPAGE), fills both,
 *       exports them, prints "segid N thp_kb K", waits (bounded) until the
 *       attacher says it is done and checks that the first MiB of each half
 *       is intact: PASS/FAIL and the exit status.
 *   xpmem-xpart-gup attach SEGID   attaches the 4 MiB 2 MiB aligned, reads
 *       each half (a PMD for the THP half where the module maps PMDs), runs
 *       the three calls on each half and checks that each answers cleanly
 *       (works, or EFAULT) and the same for both halves.
 *
 * A remote attachment maps the owner's frames through its peer window:
 * frames without a struct page.  GUP-fast on a PMD that is not special
 * dereferences their nonexistent memmap: the attacher's partition oopsed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

#define MIB (1024UL * 1024)
#define HALF (2 * MIB)
#define WORDS_PER_PAGE 512
#define DONE_MAGIC 0x646f6e65ULL /* "done" */

static uint64_t pattern(uint64_t page, uint64_t word)
{
	return (0x67ULL << 32) | (page << 9) | word;
}

/* The done word: the last word of the second half (outside what is checked). */
static volatile uint64_t *done_word(void *base)
{
	return (volatile uint64_t *)((char *)base + 2 * HALF - 8);
}

static void *aligned_map(size_t len)
{
	char *p = mmap(NULL, len + HALF, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HALF - 1) & ~(HALF - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + len), (uintptr_t)p + len + HALF - (a + len));
	return (void *)a;
}

static long thp_kb(void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long lo, hi;
	long kb = -1, in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int export_side(int seconds)
{
	char *p = aligned_map(2 * HALF);
	uint64_t *w;
	xpmem_segid_t segid;
	time_t end = time(NULL) + seconds;
	size_t pg, i;
	int bad = 0;

	if (!p)
		return perror("mmap"), 1;
	if (mmap(p, 2 * HALF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) != p)
		return perror("mmap fixed"), 1;
	madvise(p, HALF, MADV_HUGEPAGE);
	madvise(p + HALF, HALF, MADV_NOHUGEPAGE);
	w = (uint64_t *)p;
	for (pg = 0; pg < 2 * HALF / 4096; pg++)
		for (i = 0; i < WORDS_PER_PAGE; i++)
			w[pg * WORDS_PER_PAGE + i] = pattern(pg, i);
	*done_word(p) = 0;
	segid = xpmem_make(p, 2 * HALF, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld thp_kb %ld\n", (long long)segid, thp_kb(p));
	fflush(stdout);
	while (*done_word(p) != DONE_MAGIC) {
		if (time(NULL) > end) {
			printf("FAIL gup: the attacher did not finish in %d s\n", seconds);
			return 1;
		}
		usleep(10000);
	}
	for (pg = 0; pg < 2 * HALF / 4096; pg++) {
		if (pg % (HALF / 4096) >= MIB / 4096)
			continue;	/* the second MiB of a half may be overwritten */
		for (i = 0; i < WORDS_PER_PAGE; i++)
			if (w[pg * WORDS_PER_PAGE + i] != pattern(pg, i) && !bad++)
				printf("page %zu word %zu: %#llx\n", pg, i,
				       (unsigned long long)w[pg * WORDS_PER_PAGE + i]);
	}
	if (bad) {
		printf("FAIL gup: %d words changed\n", bad);
		return 1;
	}
	printf("PASS gup\n");
	return 0;
}

static int futex_wait(void *addr, uint32_t val)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	long r = syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);

	if (r < 0 && (errno == ETIMEDOUT || errno == EAGAIN))
		return 0;	/* it waited, or saw another value: it worked */
	return r < 0 ? errno : 0;
}

static int vmsplice_of(void *addr, size_t len)
{
	struct iovec iov = { addr, len };
	int p[2], err;
	ssize_t n;

	if (pipe(p))
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, (int)len);
	n = vmsplice(p[1], &iov, 1, 0);
	err = n < 0 ? errno : 0;
	close(p[0]);
	close(p[1]);
	return err;
}

/* An O_DIRECT read of this program (on the host's tree) into addr. */
static int odirect_read(void *addr, size_t len)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_DIRECT), err;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, addr, len, 0);
	err = n < 0 ? errno : 0;
	close(fd);
	return err;
}

static const char *res(int e)
{
	return e ? strerror(e) : "ok";
}

static int attach_side(const char *arg)
{
	xpmem_segid_t segid = strtoll(arg, NULL, 0);
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
	struct xpmem_addr addr = { .apid = apid, .offset = 0 };
	int r[2][3], h, ok = 1;
	char *q;

	if (apid < 0)
		return perror("xpmem_get"), 1;
	q = xpmem_attach(addr, 2 * HALF, NULL);
	if (q == (void *)-1)
		return perror("xpmem_attach"), 1;
	printf("attached at %p (%s 2 MiB aligned)\n", (void *)q,
	       (uintptr_t)q % HALF ? "not" : "");
	for (h = 0; h < 2; h++) {
		char *half = q + h * HALF;
		volatile uint64_t *w = (volatile uint64_t *)half;

		if (w[0] != pattern(h * HALF / 4096, 0)) {
			printf("FAIL gup: half %d reads %#llx\n", h, (unsigned long long)w[0]);
			return 1;
		}
		r[h][0] = futex_wait(half, (uint32_t)w[0]);
		r[h][1] = vmsplice_of(half, 64 * 1024);
		r[h][2] = odirect_read(half + MIB, 64 * 1024);
		if (r[h][2] == -1) {
			printf("FAIL gup: no O_DIRECT open: %s\n", strerror(errno));
			return 1;
		}
		printf("%s half: futex %s, vmsplice %s, O_DIRECT read %s\n",
		       h ? "4 KiB" : "THP", res(r[h][0]), res(r[h][1]), res(r[h][2]));
		for (int i = 0; i < 3; i++)
			if (r[h][i] && r[h][i] != EFAULT)
				ok = 0;
	}
	for (int i = 0; i < 3; i++)
		if (r[0][i] != r[1][i])
			ok = 0;
	*done_word(q) = DONE_MAGIC;
	printf("%s gup attacher: %s\n", ok ? "PASS" : "FAIL",
	       ok ? "clean and the same on both halves" : "a call failed otherwise or differs");
	return !ok;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "export"))
		return export_side(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "attach"))
		return attach_side(argv[2]);
	fprintf(stderr, "usage: xpmem-xpart-gup export SECONDS | attach SEGID\n");
	return 2;
}
