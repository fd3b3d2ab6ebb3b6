// SPDX-License-Identifier: GPL-2.0-only
/*
 * atomics.c - read-modify-write instructions through a remote attachment.
 *
 *   xpmem-xpart-atomics export SECONDS   makes a one-page segment, prints
 *       "segid N", waits (bounded) until the attacher says it is done, and
 *       checks what its atomics left: PASS/FAIL and the exit status.
 *   xpmem-xpart-atomics attach SEGID    reads the page first (so that it is
 *       mapped read-only), then runs lock add, xchg and cmpxchg on it.
 *
 * A first write to a page mapped read-only comes back to the module through
 * pfn_mkwrite; an atomic must complete there too (QEMU TCG reports an RMW on
 * a missing page as a read, so a page dropped to be faulted again as a
 * write would be mapped read-only again for ever).  The exec's timeout ends
 * a run that hangs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

enum { ADDS = 1000, W_ADD = 0, W_XCHG = 64, W_CAS = 128, W_DONE = 256 };
#define DONE_MAGIC 0x646f6e65ULL /* "done" */

static int export_side(int seconds)
{
	uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	xpmem_segid_t segid;
	time_t end = time(NULL) + seconds;

	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 0, 4096);
	p[W_CAS] = 7;
	segid = xpmem_make(p, 4096, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld\n", (long long)segid);
	fflush(stdout);
	while (__atomic_load_n(&p[W_DONE], __ATOMIC_ACQUIRE) != DONE_MAGIC) {
		if (time(NULL) > end) {
			printf("FAIL atomics: the attacher did not finish in %d s\n", seconds);
			return 1;
		}
		usleep(10000);
	}
	printf("add %llu xchg %#llx cas %llu\n", (unsigned long long)p[W_ADD],
	       (unsigned long long)p[W_XCHG], (unsigned long long)p[W_CAS]);
	if (p[W_ADD] != ADDS || p[W_XCHG] != 0x5a5a || p[W_CAS] != 8) {
		printf("FAIL atomics: wrong values\n");
		return 1;
	}
	printf("PASS atomics\n");
	return 0;
}

static int attach_side(const char *arg)
{
	xpmem_segid_t segid = strtoll(arg, NULL, 0);
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
	struct xpmem_addr addr = { .apid = apid, .offset = 0 };
	uint64_t *q, expected = 7, seen;
	int i;

	if (apid < 0)
		return perror("xpmem_get"), 1;
	q = xpmem_attach(addr, 4096, NULL);
	if (q == (void *)-1)
		return perror("xpmem_attach"), 1;
	seen = __atomic_load_n(&q[W_CAS], __ATOMIC_ACQUIRE);	/* read first */
	for (i = 0; i < ADDS; i++)
		__atomic_fetch_add(&q[W_ADD], 1, __ATOMIC_SEQ_CST);
	__atomic_exchange_n(&q[W_XCHG], 0x5a5a, __ATOMIC_SEQ_CST);
	if (!__atomic_compare_exchange_n(&q[W_CAS], &expected, 8, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		printf("FAIL atomics: cmpxchg saw %llu (read %llu)\n",
		       (unsigned long long)expected, (unsigned long long)seen);
		return 1;
	}
	__atomic_store_n(&q[W_DONE], DONE_MAGIC, __ATOMIC_RELEASE);
	printf("attacher done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "export"))
		return export_side(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "attach"))
		return attach_side(argv[2]);
	fprintf(stderr, "usage: xpmem-xpart-atomics export SECONDS | attach SEGID\n");
	return 2;
}
