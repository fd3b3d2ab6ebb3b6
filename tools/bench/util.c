// SPDX-License-Identifier: GPL-2.0-only
/*
 * util.c - the plumbing of xpmem-bench: errors, clocks, CPU pinning, worker
 * processes and their pipes (every wait bounded), buffers with a chosen
 * page size, data patterns, /proc/<pid>/smaps and the module's counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_role = "main";
unsigned int bench_alarm_s = 3600;

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "xpmem-bench: error (%s, pid %d): ", bench_role,
		getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* Workers die with their parent (PR_SET_PDEATHSIG). */
	exit(1);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int cpus_allowed(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
}

/* Pins to the cpu-th allowed CPU (modulo their number): with 2 vCPUs the
 * exporter and the attacher each get their own, which keeps the scheduler
 * from moving them mid-measurement. */
void pin_cpu(int cpu)
{
	cpu_set_t allowed, one;
	int n = 0, want;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		bench_die("sched_getaffinity: %s", strerror(errno));
	want = cpu % CPU_COUNT(&allowed);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		if (n++ != want)
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			bench_die("sched_setaffinity(%d): %s", c, strerror(errno));
		return;
	}
}

void msg_send_full(int fd, const struct msg *m)
{
	ssize_t n;

	do
		n = write(fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*m))
		bench_die("pipe write: %s", n < 0 ? strerror(errno) : "short");
}

void msg_send(int fd, uint64_t kind, uint64_t u0, uint64_t u1, uint64_t u2)
{
	struct msg m = { .kind = kind, .u = { u0, u1, u2, 0 } };

	msg_send_full(fd, &m);
}

struct msg msg_recv(int fd, uint64_t want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t deadline = now_ns() + STEP_TIMEOUT_S * 1000000000ULL;
	struct msg m;
	ssize_t n;

	for (;;) {
		uint64_t now = now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000);
		int r = poll(&p, 1, left);

		if (r == 1)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			bench_die("no message %" PRIu64 " within %d s", want,
				  STEP_TIMEOUT_S);
		bench_die("poll: %s", strerror(errno));
	}
	do
		n = read(fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		bench_die("the other process went away (waiting for message %"
			  PRIu64 ")", want);
	if (n != (ssize_t)sizeof(m))
		bench_die("pipe read: %s", n < 0 ? strerror(errno) : "short");
	if (want && m.kind != want)
		bench_die("protocol: message %" PRIu64 ", wanted %" PRIu64,
			  m.kind, want);
	return m;
}

void worker_start(struct worker *w, const char *name, int cpu, worker_fn fn,
		  void *arg)
{
	int down[2], up[2];
	pid_t parent = getpid();

	if (pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC))
		bench_die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	w->name = name;
	w->pid = fork();
	if (w->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (w->pid == 0) {
		bench_role = name;
		close(down[1]);
		close(up[0]);
		/* Die with the parent; and since fork() does not pass a
		 * pending alarm on, arm the same overall bound here. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		alarm(bench_alarm_s);
		pin_cpu(cpu);
		int rc = fn(down[0], up[1], arg);
		fflush(stdout);
		_exit(rc);
	}
	close(down[0]);
	close(up[1]);
	w->to = down[1];
	w->from = up[0];
}

void worker_join(struct worker *w)
{
	uint64_t deadline = now_ns() + STEP_TIMEOUT_S * 1000000000ULL;
	int status;

	close(w->to);
	close(w->from);
	for (;;) {
		pid_t r = waitpid(w->pid, &status, WNOHANG);

		if (r == w->pid)
			break;
		if (r < 0 && errno != EINTR)
			bench_die("waitpid(%s): %s", w->name, strerror(errno));
		if (now_ns() > deadline) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
			bench_die("%s did not exit within %d s", w->name,
				  STEP_TIMEOUT_S);
		}
		usleep(2000);
	}
	if (WIFSIGNALED(status))
		bench_die("%s was killed by signal %d", w->name,
			  WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("%s exited with status %d", w->name,
			  WEXITSTATUS(status));
}

void *free_aligned_range(size_t len, size_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap reserve %zu: %s", len + align, strerror(errno));
	munmap(p, len + align);
	return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

void *buf_map(size_t len, bool huge)
{
	void *p;

	if (huge) {
		/* Reserve, then trim to a 2 MiB aligned range: a 6.1 kernel
		 * does not align anonymous mappings by itself. */
		size_t extra = HUGE_SZ;
		char *r = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED)
			bench_die("mmap %zu: %s", len + extra, strerror(errno));
		char *a = (char *)(((uintptr_t)r + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
		if (a > r)
			munmap(r, (size_t)(a - r));
		if (a + len < r + len + extra)
			munmap(a + len, (size_t)(r + len + extra - (a + len)));
		p = a;
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			bench_die("mmap %zu: %s", len, strerror(errno));
	}
	if (madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0)
		bench_die("madvise(%s): %s",
			  huge ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE",
			  strerror(errno));
	return p;
}

void buf_unmap(void *p, size_t len)
{
	if (munmap(p, len) != 0)
		bench_die("munmap: %s", strerror(errno));
}

void pattern_fill(void *p, size_t len)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = pattern_word(i);
}

void pattern_check(const void *p, size_t len, const char *what)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != pattern_word(i))
			bench_die("%s: data mismatch at byte %zu of %zu: "
				  "%#" PRIx64 ", expected %#" PRIx64, what,
				  i * 8, len, w[i], pattern_word(i));
}

void tag_pages(void *p, size_t len)
{
	for (size_t i = 0; i < len / PAGE_SZ; i++)
		*(volatile uint64_t *)((char *)p + i * PAGE_SZ) = pattern_word(i);
}

long smaps_anon_huge_kb(pid_t pid, const void *addr)
{
	char path[64], line[512];
	uintptr_t a = (uintptr_t)addr;
	bool inside = false;
	long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	f = fopen(path, "re");
	if (!f)
		bench_die("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long v;

		/* A mapping header: "lo-hi perms offset dev inode [path]". */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	if (kb < 0)
		bench_die("%s: no AnonHugePages for %p", path, addr);
	return kb;
}

struct xpmem_stats xpmem_counters(void)
{
	static int fd = -1;
	struct xpmem_stats s;

	/* A descriptor of our own, opened in the process that reads: the
	 * library's is reopened after fork and is none of our business. */
	static pid_t owner;
	if (fd < 0 || owner != getpid()) {
		fd = open("/dev/xpmem", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			bench_die("open /dev/xpmem: %s", strerror(errno));
		owner = getpid();
	}
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	if (ioctl(fd, XPMEM_IOC_STATS, &s) != 0)
		bench_die("XPMEM_IOC_STATS: %s", strerror(errno));
	if (s.size < XPMEM_STATS_SIZE_V1)
		bench_die("XPMEM_IOC_STATS filled only %u bytes", s.size);
	return s;
}

void rep_order(int rep, int n, int *order)
{
	/* xorshift64 seeded by the repetition: the same orders every run. */
	uint64_t x = 0x9E3779B97F4A7C15ULL * (uint64_t)(rep + 1);

	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int j = (int)(x % (uint64_t)(i + 1));
		int t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct summary summarize(const double *v, int n)
{
	struct summary s = { .n = n };
	double *c;

	if (n <= 0)
		bench_die("no samples to summarize");
	c = malloc(sizeof(*c) * (size_t)n);
	if (!c)
		bench_die("out of memory");
	memcpy(c, v, sizeof(*c) * (size_t)n);
	qsort(c, (size_t)n, sizeof(*c), cmp_double);
	s.min = c[0];
	s.max = c[n - 1];
	s.median = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	/* Nearest rank. */
	int rank = (int)((90 * n + 99) / 100);
	s.p90 = c[rank > 0 ? rank - 1 : 0];
	free(c);
	return s;
}
