// SPDX-License-Identifier: GPL-2.0-only
//
// common.cc - options, PRNG, device access, counters, shared failure log,
// fault-catching memory access and bounded process helpers.
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

namespace xf {

// ---- options -----------------------------------------------------------------

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

uint64_t option_u64(int argc, char **argv, const char *name, const char *env,
		    uint64_t def, bool *given)
{
	size_t n = strlen(name);
	const char *val = nullptr;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], name) && i + 1 < argc)
			val = argv[i + 1];
		else if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			val = argv[i] + n + 1;
	}
	if (!val && env)
		val = getenv(env);
	if (given)
		*given = val != nullptr;
	if (!val)
		return def;
	uint64_t v;
	if (!parse_u64(val, &v)) {
		fprintf(stderr, "bad value for %s: '%s'\n", name, val);
		exit(2);
	}
	return v;
}

uint64_t fresh_seed()
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
		     ((uint64_t)getpid() << 32));
}

// ---- randomness ----------------------------------------------------------------

uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void Rng::reseed(uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		seed = mix64(seed + (uint64_t)i);
		s_[i] = seed;
	}
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t Rng::next()
{
	uint64_t result = rotl(s_[1] * 5, 7) * 9;
	uint64_t t = s_[1] << 17;

	s_[2] ^= s_[0];
	s_[3] ^= s_[1];
	s_[1] ^= s_[2];
	s_[0] ^= s_[3];
	s_[2] ^= t;
	s_[3] = rotl(s_[3], 45);
	return result;
}

uint64_t Rng::scaled()
{
	unsigned bits = (unsigned)below(65);

	if (bits == 0)
		return 0;
	uint64_t v = next();
	return bits == 64 ? v : v & ((1ULL << bits) - 1);
}

// ---- the device --------------------------------------------------------------

int open_dev()
{
	return open(kDevPath, O_RDWR | O_CLOEXEC);
}

long xioctl(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

bool read_stats(int fd, struct xpmem_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	return ioctl(fd, XPMEM_IOC_STATS, out) == 0;
}

bool stats_at_base(const struct xpmem_stats &s, const struct xpmem_stats &base)
{
	return s.contexts == base.contexts && s.segments == base.segments &&
	       s.permits == base.permits && s.attachments == base.attachments &&
	       s.pinned_pages == 0 && base.pinned_pages == 0;
}

bool wait_stats_base(int fd, const struct xpmem_stats &base, int timeout_ms,
		     struct xpmem_stats *last)
{
	int64_t deadline = now_ms() + scaled_ms(timeout_ms);

	for (;;) {
		bool ok = read_stats(fd, last);
		if (ok && stats_at_base(*last, base))
			return true;
		if (now_ms() >= deadline)
			return false;
		usleep(20000);
	}
}

// ---- shared memory and failure reporting ------------------------------------

void *shared_alloc(size_t len)
{
	void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap shared");
		abort();
	}
	return p;
}

void fail(FailLog *log, const char *fmt, ...)
{
	char buf[FailLog::kLen];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "[pid %d] ", getpid());

	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "FAILURE %s\n", buf);
	int i = log->count.fetch_add(1);
	if (i < FailLog::kKept)
		memcpy(log->msg[i], buf, sizeof(buf));
}

// ---- guarded memory access ----------------------------------------------------

namespace detail {
thread_local sigjmp_buf *armed;
thread_local volatile int fault_sig;
thread_local volatile uintptr_t fault_addr;
}

static void on_fault(int sig, siginfo_t *si, void *)
{
	if (!detail::armed) {
		// Not expected here: die of it, as the process would have.
		signal(sig, SIG_DFL);
		return;		// the faulting access runs again and kills us
	}
	detail::fault_sig = sig;
	detail::fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(*detail::armed, 1);
}

void install_fault_handlers()
{
	struct sigaction sa = {};

	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, nullptr);
	sigaction(SIGSEGV, &sa, nullptr);
}

// ---- processes -----------------------------------------------------------------

int64_t now_us()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool kill_and_reap(pid_t pid, int *status)
{
	int64_t deadline = now_ms() + scaled_ms(10000);
	int st;

	kill(pid, SIGKILL);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			if (status)
				*status = st;
			return true;
		}
		if (now_ms() >= deadline)
			return false;
		usleep(10000);
	}
}

static std::string slurp(const std::string &path, size_t max)
{
	FILE *f = fopen(path.c_str(), "re");
	std::string s;
	char buf[512];

	if (!f)
		return s;
	while (s.size() < max && fgets(buf, sizeof(buf), f))
		s += buf;
	fclose(f);
	return s;
}

std::string describe_tasks(const char *comm_prefix)
{
	std::string out;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return out;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		std::string p = std::string("/proc/") + e->d_name;
		std::string comm = slurp(p + "/comm", 64);
		if (comm.compare(0, strlen(comm_prefix), comm_prefix))
			continue;
		std::string stat = slurp(p + "/stat", 512);
		size_t rp = stat.rfind(')');
		char state = rp != std::string::npos && rp + 2 < stat.size() ? stat[rp + 2] : '?';
		out += "  pid " + std::string(e->d_name) + " state " + state +
		       " wchan " + slurp(p + "/wchan", 64) + "\n";
		if (state == 'D') {
			std::string stack = slurp(p + "/stack", 2048);
			size_t pos = 0, n = 0;
			while (pos < stack.size() && n++ < 14) {
				size_t nl = stack.find('\n', pos);
				out += "      " + stack.substr(pos, nl - pos) + "\n";
				pos = nl == std::string::npos ? stack.size() : nl + 1;
			}
		}
	}
	closedir(d);
	return out;
}

bool is_mapped(uintptr_t addr)
{
	unsigned char vec;

	return mincore((void *)(addr & ~(kPage - 1)), kPage, &vec) == 0 ||
	       errno != ENOMEM;
}

int count_attachment_maps()
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[xpmem]"))
			n++;
	fclose(f);
	return n;
}

std::string maps_line(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	std::string out = "-";

	if (!f)
		return out;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
			line[strcspn(line, "\n")] = 0;
			out = line;
			break;
		}
	}
	fclose(f);
	return out;
}

}  // namespace xf
