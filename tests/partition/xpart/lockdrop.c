// SPDX-License-Identifier: GPL-2.0-only
/*
 * lockdrop.c - a remote fault's round trip does not hold the attacher's
 * mmap_lock (issue 9, defect 4).
 *
 *   xpmem-xpart-lockdrop export SECONDS   makes a one-page segment, prints
 *       "segid N", waits (bounded) until the attacher says it is done.
 *   xpmem-xpart-lockdrop attach SEGID    attaches the page; one thread
 *       touches it (a remote fault, slow: the caller stalls the owner's
 *       fault service), while the main thread, once that fault is under
 *       way, maps and unmaps anonymous memory, which needs the mmap_lock for
 *       writing.  PASS if the mmap/munmap finished before the fault did: the
 *       fault dropped the lock while it waited for the owner.  Held across
 *       the round trip, the lock made the munmap wait for the fault.
 *
 * The verdict is an order of events, not a time.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

#define DONE_MAGIC 0x646f6e65ULL /* "done" */
enum { W_DATA = 0, W_DONE = 256 };

static int export_side(int seconds)
{
	uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	time_t end = time(NULL) + seconds;
	xpmem_segid_t segid;

	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	p[W_DATA] = 0x6c6f636bULL;	/* "lock" */
	segid = xpmem_make(p, 4096, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld\n", (long long)segid);
	fflush(stdout);
	while (__atomic_load_n(&p[W_DONE], __ATOMIC_ACQUIRE) != DONE_MAGIC) {
		if (time(NULL) > end) {
			printf("FAIL lockdrop: the attacher did not finish in %d s\n", seconds);
			return 1;
		}
		usleep(10000);
	}
	printf("PASS lockdrop exporter\n");
	return 0;
}

static volatile uint64_t *page;
static uint64_t seen;
static int order;		/* events so far */
static int fault_done_at, mmap_done_at, fault_started;

static int next_event(void)
{
	return __atomic_add_fetch(&order, 1, __ATOMIC_SEQ_CST);
}

static void *toucher(void *arg)
{
	(void)arg;
	__atomic_store_n(&fault_started, 1, __ATOMIC_SEQ_CST);
	seen = page[W_DATA];		/* the remote fault */
	fault_done_at = next_event();
	return NULL;
}

static int attach_side(const char *arg)
{
	xpmem_segid_t segid = strtoll(arg, NULL, 0);
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
	struct xpmem_addr addr = { .apid = apid, .offset = 0 };
	pthread_t t;
	void *q, *m;
	int ok;

	if (apid < 0)
		return perror("xpmem_get"), 1;
	q = xpmem_attach(addr, 4096, NULL);
	if (q == (void *)-1)
		return perror("xpmem_attach"), 1;
	page = q;
	if (pthread_create(&t, NULL, toucher, NULL))
		return perror("pthread_create"), 1;
	while (!__atomic_load_n(&fault_started, __ATOMIC_SEQ_CST))
		usleep(1000);
	usleep(300 * 1000);	/* the fault is waiting for the owner by now */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return perror("mmap"), 1;
	munmap(m, 4096);
	mmap_done_at = next_event();
	pthread_join(t, NULL);
	page[W_DONE] = DONE_MAGIC;
	ok = seen == 0x6c6f636bULL && mmap_done_at < fault_done_at;
	printf("%s lockdrop: mmap/munmap finished %s the remote fault (read %#llx)\n",
	       ok ? "PASS" : "FAIL", mmap_done_at < fault_done_at ? "before" : "after",
	       (unsigned long long)seen);
	return !ok;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "export"))
		return export_side(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "attach"))
		return attach_side(argv[2]);
	fprintf(stderr, "usage: xpmem-xpart-lockdrop export SECONDS | attach SEGID\n");
	return 2;
}
