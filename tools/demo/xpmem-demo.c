// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmem-demo - the pattern MPI libraries use, played step by step with
 * narration and timings.
 *
 *   A (this process) exports its whole address space;
 *   B (forked, talking to A over pipes) gets the segment and attaches A's
 *     buffer at A's own virtual address (offset = A's address), and keeps
 *     that attachment cached for the rest of the run;
 *   data flows A -> B and B -> A;
 *   A frees its buffer and allocates a new one at the same address: B's
 *     cached attachment shows the new pages;
 *   a grandchild of A touches a hole in A's address space and gets SIGBUS
 *     (in a child of B, so that the demo survives it);
 *   the module's counters show nothing left behind and nothing pinned.
 *
 * Exits 0 only if every step checked out; otherwise prints what failed and
 * exits 1.  Every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>
#include <xpmem_ioctl.h>

#define PAGE		4096UL
#define BUF_PAGES	256UL		/* 1 MiB */
#define BUF_LEN		(BUF_PAGES * PAGE)
#define WORDS		(BUF_LEN / sizeof(uint64_t))
#define TIMEOUT_MS	20000

enum kind { MSG_SEGID = 1, MSG_ATTACHED, MSG_CHECK_B, MSG_B_WROTE,
	    MSG_REALLOCATED, MSG_NEW_SEEN, MSG_HOLE, MSG_SIGBUS, MSG_DONE,
	    MSG_FAIL };

struct msg {
	uint64_t kind, a, b, c;
};

static const char *who = "A";

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void say(double t0, const char *fmt, ...)
{
	char line[256], when[32];
	double us = now_us() - t0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (t0 == 0)
		when[0] = 0;
	else if (us < 1000)
		snprintf(when, sizeof(when), "  (%.1f us)", us);
	else
		snprintf(when, sizeof(when), "  (%.2f ms)", us / 1000);
	printf("  [%s %d] %s%s\n", who, getpid(), line, when);
	fflush(stdout);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xpmem-demo: FAILED in %s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void send_msg(int fd, uint64_t kind, uint64_t a, uint64_t b)
{
	struct msg m = { kind, a, b, 0 };

	if (write(fd, &m, sizeof(m)) != sizeof(m))
		fail("pipe write: %s", strerror(errno));
}

static struct msg recv_msg(int fd, uint64_t want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct msg m;

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		fail("no message %llu from the other side within %d ms",
		     (unsigned long long)want, TIMEOUT_MS);
	if (read(fd, &m, sizeof(m)) != sizeof(m))
		fail("the other side went away");
	if (m.kind == MSG_FAIL)
		fail("the other side failed (see above)");
	if (m.kind != want)
		fail("protocol: got message %llu, wanted %llu",
		     (unsigned long long)m.kind, (unsigned long long)want);
	return m;
}

static void fill(volatile uint64_t *w, uint64_t tag)
{
	for (uint64_t i = 0; i < WORDS; i++)
		w[i] = tag << 32 | i;
}

/* Index of the first word that is not tag:i in [from, to), or -1. */
static long check(const volatile uint64_t *w, uint64_t tag, uint64_t from,
		  uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		if (w[i] != (tag << 32 | i))
			return (long)i;
	return -1;
}

static int stats_fd = -1;

static struct xpmem_stats stats(void)
{
	struct xpmem_stats s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	if (ioctl(stats_fd, XPMEM_IOC_STATS, &s) != 0)
		fail("XPMEM_IOC_STATS: %s", strerror(errno));
	return s;
}

static void print_stats(const char *when, const struct xpmem_stats *s)
{
	printf("    %-22s contexts %llu  segments %llu  permits %llu  "
	       "attachments %llu  pinned pages %llu  faults %llu  "
	       "pages mapped %llu  sigbus %llu\n", when,
	       (unsigned long long)s->contexts, (unsigned long long)s->segments,
	       (unsigned long long)s->permits,
	       (unsigned long long)s->attachments,
	       (unsigned long long)s->pinned_pages,
	       (unsigned long long)s->faults,
	       (unsigned long long)s->pages_mapped,
	       (unsigned long long)s->sigbus);
}

static void child_setup(void)
{
	struct rlimit nocore = { 0, 0 };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setrlimit(RLIMIT_CORE, &nocore);	/* the SIGBUS is on purpose */
	alarm(TIMEOUT_MS / 1000);
}

static int wait_bounded(pid_t pid)
{
	int status;

	for (int i = 0; i < TIMEOUT_MS / 5; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* C: its own permit and attachment of A's 3-page range whose middle page is
 * a hole; reads page 0, then page 1, which must raise SIGBUS. */
static void grandchild(xpmem_segid_t segid, uint64_t hole_range)
{
	who = "C";
	child_setup();
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDONLY, XPMEM_PERMIT_MODE, NULL);
	if (apid < 0)
		fail("xpmem_get: %s", strerror(errno));
	struct xpmem_addr addr = { apid, (off_t)hole_range };
	volatile uint64_t *p = xpmem_attach(addr, 3 * PAGE, NULL);
	if (p == (void *)-1)
		fail("xpmem_attach over a hole: %s", strerror(errno));
	if (p[0] != 0xc0ffee)
		fail("page before the hole reads %#llx", (unsigned long long)p[0]);
	say(0, "page before the hole reads 0xc0ffee; now touching the hole...");
	(void)p[PAGE / sizeof(uint64_t)];
	fail("touching a hole did not raise SIGBUS");
}

static void run_b(int rfd, int wfd)
{
	who = "B";
	child_setup();
	struct msg m = recv_msg(rfd, MSG_SEGID);
	xpmem_segid_t segid = (xpmem_segid_t)m.a;
	uint64_t remote = m.b;
	double t;

	t = now_us();
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE,
				      (void *)0666);
	if (apid < 0)
		fail("xpmem_get: %s", strerror(errno));
	say(t, "xpmem_get(segid %#llx) -> apid %#llx (first call in a forked "
	    "child: the library reopened the device)", (unsigned long long)segid,
	    (unsigned long long)apid);

	t = now_us();
	struct xpmem_addr addr = { apid, (off_t)remote };
	volatile uint64_t *b = xpmem_attach(addr, BUF_LEN, NULL);
	if (b == (void *)-1)
		fail("xpmem_attach: %s", strerror(errno));
	say(t, "attached A's %lu KiB at A's address %#llx -> here at %p",
	    BUF_LEN / 1024, (unsigned long long)remote, (void *)b);
	send_msg(wfd, MSG_ATTACHED, 0, 0);

	recv_msg(rfd, MSG_CHECK_B);
	t = now_us();
	long bad = check(b, 0xa, 0, WORDS);
	if (bad >= 0)
		fail("A's data wrong at word %ld: %#llx", bad,
		     (unsigned long long)b[bad]);
	say(t, "read and checked A's %lu pages through the attachment "
	    "(first touch: faults included)", BUF_PAGES);
	t = now_us();
	if (check(b, 0xa, 0, WORDS) >= 0)
		fail("A's data changed between two reads");
	say(t, "read them again (already mapped)");
	for (uint64_t i = WORDS / 2; i < WORDS; i++)
		b[i] = 0xbUL << 32 | i;
	send_msg(wfd, MSG_B_WROTE, 0, 0);

	recv_msg(rfd, MSG_REALLOCATED);
	t = now_us();
	bad = check(b, 0xa2, 0, WORDS);
	if (bad >= 0)
		fail("cached attachment shows %#llx at word %ld, not A's new "
		     "buffer", (unsigned long long)b[bad], bad);
	say(t, "the cached attachment shows A's new pages");
	send_msg(wfd, MSG_NEW_SEEN, 0, 0);

	m = recv_msg(rfd, MSG_HOLE);
	fflush(stdout);
	pid_t c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0)
		grandchild(segid, m.a);
	int st = wait_bounded(c);
	if (st == -1 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
		fail("the grandchild did not die of SIGBUS (status %#x)", st);
	say(0, "grandchild %d died of SIGBUS, as it must", c);
	send_msg(wfd, MSG_SIGBUS, 0, 0);

	t = now_us();
	if (xpmem_detach((void *)b) != 0 || xpmem_release(apid) != 0)
		fail("detach/release: %s", strerror(errno));
	say(t, "detached and released");
	send_msg(wfd, MSG_DONE, 0, 0);
	exit(0);
}

int main(void)
{
	int to_b[2], to_a[2];
	double t, start = now_us();

	printf("xpmem-demo: the MPI single-copy pattern, step by step\n");
	stats_fd = open("/dev/xpmem", O_RDWR | O_CLOEXEC);
	if (stats_fd < 0)
		fail("open /dev/xpmem: %s (is xpmem.ko loaded?)", strerror(errno));
	int v = xpmem_version();
	if (v < 0)
		fail("xpmem_version: %s", strerror(errno));
	printf("  kernel interface %d.%d\n", v >> 16, v & 0xffff);
	struct xpmem_stats before = stats();

	volatile uint64_t *buf = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	fill(buf, 0xa);
	/* The hole for C: three pages, the middle one unmapped. */
	volatile uint64_t *holey = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (holey == MAP_FAILED || munmap((char *)holey + PAGE, PAGE) != 0)
		fail("mmap/munmap: %s", strerror(errno));
	holey[0] = 0xc0ffee;

	t = now_us();
	xpmem_segid_t segid = xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
					 (void *)0600);
	if (segid < 0)
		fail("xpmem_make: %s", strerror(errno));
	say(t, "exported the whole address space: segid %#llx",
	    (unsigned long long)segid);

	if (pipe(to_b) || pipe(to_a))
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t b = fork();
	if (b < 0)
		fail("fork: %s", strerror(errno));
	if (b == 0) {
		close(to_b[1]);
		close(to_a[0]);
		run_b(to_b[0], to_a[1]);
	}
	close(to_b[0]);
	close(to_a[1]);
	say(0, "forked B (pid %d); buffer at %p, %lu KiB", b, (void *)buf,
	    BUF_LEN / 1024);
	send_msg(to_b[1], MSG_SEGID, (uint64_t)segid, (uint64_t)buf);
	recv_msg(to_a[0], MSG_ATTACHED);

	send_msg(to_b[1], MSG_CHECK_B, 0, 0);
	recv_msg(to_a[0], MSG_B_WROTE);
	long bad = check(buf, 0xb, WORDS / 2, WORDS);
	if (bad >= 0)
		fail("B's data missing at word %ld: %#llx", bad,
		     (unsigned long long)buf[bad]);
	say(0, "B's writes are in A's memory (second half of the buffer)");
	struct xpmem_stats during = stats();

	t = now_us();
	if (munmap((void *)buf, BUF_LEN) != 0)
		fail("munmap: %s", strerror(errno));
	volatile uint64_t *again = mmap((void *)buf, BUF_LEN, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
					-1, 0);
	if (again != buf)
		fail("reallocating at %p: %s", (void *)buf, strerror(errno));
	fill(buf, 0xa2);
	say(t, "freed the buffer and allocated new pages at the same address");
	send_msg(to_b[1], MSG_REALLOCATED, 0, 0);
	recv_msg(to_a[0], MSG_NEW_SEEN);

	send_msg(to_b[1], MSG_HOLE, (uint64_t)holey, 0);
	recv_msg(to_a[0], MSG_SIGBUS);
	recv_msg(to_a[0], MSG_DONE);
	int st = wait_bounded(b);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("B did not exit cleanly (status %#x)", st);

	t = now_us();
	if (xpmem_remove(segid) != 0)
		fail("xpmem_remove: %s", strerror(errno));
	say(t, "removed the segment");

	/* Process teardown in the module can trail waitpid a little. */
	struct xpmem_stats after;
	for (int i = 0; i < 200; i++) {
		after = stats();
		if (after.segments == before.segments &&
		    after.permits == before.permits &&
		    after.attachments == before.attachments &&
		    after.pinned_pages == 0)
			break;
		usleep(10000);
	}
	printf("  counters (XPMEM_IOC_STATS):\n");
	print_stats("before:", &before);
	print_stats("while B was attached:", &during);
	print_stats("after:", &after);
	if (after.segments != before.segments || after.permits != before.permits ||
	    after.attachments != before.attachments)
		fail("objects left behind (see the counters above)");
	if (after.pinned_pages != 0)
		fail("%llu pages still pinned", (unsigned long long)after.pinned_pages);
	if (after.sigbus <= before.sigbus)
		fail("the module did not count the SIGBUS");
	printf("xpmem-demo: every step checked out (%.2f ms in all)\n",
	       (now_us() - start) / 1000);
	return 0;
}
