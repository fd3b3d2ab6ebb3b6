// SPDX-License-Identifier: GPL-2.0-only
//
// puppet.cc - xpmem-xpart-puppet: a process in a lab partition that the
// host drives one command at a time (tests/partition/scenarios.py, through
// tools/lab/xpmemlab/puppet.py).
//
// A partition's lab agent runs one command at a time, so a process that
// must stay alive while the host acts elsewhere in the same partition
// (reads its counters, kills it, runs memory pressure) cannot be the
// agent's command.  The puppet detaches from the agent instead:
//
//   xpmem-xpart-puppet start NAME [--life S]   forks the puppet (own
//       session, stdio closed, killed by its alarm after S seconds, default
//       900), prints "pid N" once it listens, exits 0
//   xpmem-xpart-puppet cmd NAME [--timeout S] WORDS...   sends one command,
//       prints the puppet's answer line and exits 0 for "ok", 1 for "err",
//       124 when no answer came within S seconds (default 60)
//   xpmem-xpart-puppet wait NAME WORD [--timeout S]   waits for an event
//       line "- WORD ..." (from an asynchronous command), prints it
//
// Commands come through the FIFO /tmp/xpart-NAME.in as "SEQ WORDS...";
// answers go to /tmp/xpart-NAME.out as "SEQ ok key=value..." or
// "SEQ err why", events as "- WORD key=value...".  Regions have names:
//
//   map R PAGES SEED          anonymous pages, sparse pattern SEED (words 0,
//                             257, 511 of each page), no THP
//   make R MODE               xpmem_make of R, permit mode MODE (octal)
//   get SEGID rw|ro           xpmem_get -> apid=, or err errno=NAME
//   attach R APID PAGES [ro]  xpmem_attach at offset 0
//   check R SEED              the sparse pattern SEED in every page: ok, or
//                             err with the first mismatch or fault
//   stamp R VALUE             writes VALUE ^ page at words 0 and 511 of
//                             every page (a canary the host can find in RAM)
//   touch R PAGE read|write [VALUE] [async]
//                             one access: value=X, or fault=sigbus|sigsegv
//                             (a fault is a result, not an error); async:
//                             answers "started" and reports "- touch ..."
//   sweep R read|write VALUE  every page once: pages= sigbus= sigsegv= value_ok=
//   pfns R                    frame number of each page (/proc/self/pagemap)
//   munmap R [async]          the munmap's ms=; async: "- munmap R ms=..."
//   detach R | release APID | remove SEGID
//   become UID GID            drops to these ids (setgroups, setresgid, setresuid)
//   exit                      answers, then exits 0
//
// Every wait is bounded: the puppet's alarm, the client's timeout.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "xpart.h"

namespace xp {
namespace {

std::string in_path(const std::string &n) { return "/tmp/xpart-" + n + ".in"; }
std::string out_path(const std::string &n) { return "/tmp/xpart-" + n + ".out"; }

// ---- the puppet --------------------------------------------------------------

struct Region {
	volatile uint64_t *p = nullptr;
	size_t pages = 0;
};

std::map<std::string, Region> g_regions;
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;	// regions, output
int g_out = -1;

void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void emit(const char *fmt, ...)
{
	char b[1 << 16];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(b) - 2)
		n = sizeof(b) - 2;
	b[n++] = '\n';
	pthread_mutex_lock(&g_lock);
	if (write(g_out, b, n) != n)
		_exit(3);
	pthread_mutex_unlock(&g_lock);
}

// A fault during an access is a result: the thread that armed the guard
// jumps back with the signal's number.
thread_local sigjmp_buf t_jump;
thread_local volatile sig_atomic_t t_armed;

void on_fault(int sig, siginfo_t *, void *)
{
	if (t_armed) {
		t_armed = 0;
		siglongjmp(t_jump, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

// 0: done, else the signal that interrupted the access.
int guarded_read(const volatile uint64_t *w, uint64_t *v)
{
	int sig = sigsetjmp(t_jump, 1);
	if (sig)
		return sig;
	t_armed = 1;
	*v = *w;
	t_armed = 0;
	return 0;
}

int guarded_write(volatile uint64_t *w, uint64_t v)
{
	int sig = sigsetjmp(t_jump, 1);
	if (sig)
		return sig;
	t_armed = 1;
	*w = v;
	t_armed = 0;
	return 0;
}

const char *fault_name(int sig)
{
	return sig == SIGBUS ? "sigbus" : sig == SIGSEGV ? "sigsegv" : "signal";
}

const char *errno_name(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EIO: return "EIO";
	case ENODEV: return "ENODEV";
	case EAGAIN: return "EAGAIN";
	case EHOSTDOWN: return "EHOSTDOWN";
	default: return "other";
	}
}

bool region(const std::string &name, Region *r, std::string *err)
{
	pthread_mutex_lock(&g_lock);
	auto it = g_regions.find(name);
	bool ok = it != g_regions.end();
	if (ok)
		*r = it->second;
	pthread_mutex_unlock(&g_lock);
	if (!ok)
		*err = "no region " + name;
	return ok;
}

void put_region(const std::string &name, const Region &r)
{
	pthread_mutex_lock(&g_lock);
	g_regions[name] = r;
	pthread_mutex_unlock(&g_lock);
}

void drop_region(const std::string &name)
{
	pthread_mutex_lock(&g_lock);
	g_regions.erase(name);
	pthread_mutex_unlock(&g_lock);
}

const size_t kSparse[] = { 0, 257, 511 };

uint64_t num(const std::string &s)
{
	return strtoull(s.c_str(), nullptr, 0);
}

// One access; "value=X" or "fault=NAME".
std::string touch(const Region &r, size_t page, bool write, uint64_t value)
{
	char b[96];
	volatile uint64_t *w = r.p + page * kWords;
	uint64_t v = value;
	int sig = write ? guarded_write(w, value) : guarded_read(w, &v);
	if (sig)
		snprintf(b, sizeof(b), "fault=%s", fault_name(sig));
	else
		snprintf(b, sizeof(b), "value=%#llx", (unsigned long long)v);
	return b;
}

struct Async {
	std::string word, name;
	Region r;
	size_t page;
	bool write;
	uint64_t value;
};

void *async_munmap(void *arg)
{
	Async *a = (Async *)arg;
	int64_t t0 = now_ms();
	int rc = munmap((void *)a->r.p, a->r.pages * kPage);
	emit("- munmap %s ms=%lld rc=%d", a->name.c_str(), (long long)(now_ms() - t0), rc);
	delete a;
	return nullptr;
}

void *async_touch(void *arg)
{
	Async *a = (Async *)arg;
	int64_t t0 = now_ms();
	std::string res = touch(a->r, a->page, a->write, a->value);
	emit("- touch %s page=%zu %s ms=%lld", a->name.c_str(), a->page, res.c_str(),
	     (long long)(now_ms() - t0));
	delete a;
	return nullptr;
}

bool spawn(void *(*fn)(void *), Async *a)
{
	pthread_t t;
	if (pthread_create(&t, nullptr, fn, a)) {
		delete a;
		return false;
	}
	pthread_detach(t);
	return true;
}

// Runs one command; returns the answer after "ok " / "err ".
bool run(const std::vector<std::string> &w, std::string *out)
{
	std::ostringstream o;
	std::string err;
	Region r;
	size_t n = w.size();
	const std::string &c = n ? w[0] : std::string();

	if (c == "map" && n == 4) {
		r.pages = num(w[2]);
		void *p = map_anon(r.pages * kPage);
		if (p == MAP_FAILED)
			return *out = std::string("mmap: ") + strerror(errno), false;
		madvise(p, r.pages * kPage, MADV_NOHUGEPAGE);
		r.p = (volatile uint64_t *)p;
		fill(r.p, r.pages, num(w[3]), true);
		put_region(w[1], r);
		o << "addr=" << p << " pages=" << r.pages;
	} else if (c == "make" && n == 3) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		uintptr_t mode = strtoul(w[2].c_str(), nullptr, 8);
		xpmem_segid_t s = xpmem_make((void *)r.p, r.pages * kPage, XPMEM_PERMIT_MODE,
					     (void *)mode);
		if (s < 0)
			return *out = std::string("errno=") + errno_name(errno), false;
		o << "segid=0x" << std::hex << s;
	} else if (c == "get" && n == 3) {
		int fl = w[2] == "ro" ? XPMEM_RDONLY : XPMEM_RDWR;
		xpmem_apid_t a = xpmem_get(num(w[1]), fl, XPMEM_PERMIT_MODE, nullptr);
		if (a < 0)
			return *out = std::string("errno=") + errno_name(errno), false;
		o << "apid=0x" << std::hex << a;
	} else if (c == "attach" && (n == 4 || n == 5)) {
		r.pages = num(w[3]);
		int fl = n == 5 && w[4] == "ro" ? PROT_READ : PROT_READ | PROT_WRITE;
		(void)fl;	// the permit decides; the library maps what it allows
		void *p = xpmem_attach({ (xpmem_apid_t)num(w[2]), 0 }, r.pages * kPage, nullptr);
		if (p == (void *)-1)
			return *out = std::string("errno=") + errno_name(errno), false;
		r.p = (volatile uint64_t *)p;
		put_region(w[1], r);
		o << "addr=" << p;
	} else if (c == "check" && n == 3) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		uint64_t seed = num(w[2]);
		for (size_t pg = 0; pg < r.pages; pg++)
			for (size_t i : kSparse) {
				uint64_t v = 0;
				int sig = guarded_read(r.p + pg * kWords + i, &v);
				char b[200];
				if (sig) {
					snprintf(b, sizeof(b), "page=%zu word=%zu fault=%s", pg, i,
						 fault_name(sig));
					return *out = b, false;
				}
				if (v != pattern(seed, pg, i)) {
					snprintf(b, sizeof(b), "page=%zu word=%zu found=%#llx want=%#llx",
						 pg, i, (unsigned long long)v,
						 (unsigned long long)pattern(seed, pg, i));
					return *out = b, false;
				}
			}
		o << "pages=" << r.pages;
	} else if (c == "stamp" && n == 3) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		uint64_t v = num(w[2]);
		for (size_t pg = 0; pg < r.pages; pg++) {
			int sig = guarded_write(r.p + pg * kWords, v ^ pg);
			if (!sig)
				sig = guarded_write(r.p + pg * kWords + kWords - 1, v ^ pg);
			if (sig) {
				char b[96];
				snprintf(b, sizeof(b), "page=%zu fault=%s", pg, fault_name(sig));
				return *out = b, false;
			}
		}
		o << "pages=" << r.pages;
	} else if (c == "touch" && n >= 4) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		size_t pg = num(w[2]);
		bool wr = w[3] == "write";
		uint64_t v = wr && n >= 5 ? num(w[4]) : 0;
		bool async = w[n - 1] == "async";
		if (pg >= r.pages)
			return *out = "page out of range", false;
		if (async) {
			if (!spawn(async_touch, new Async{ "touch", w[1], r, pg, wr, v }))
				return *out = "pthread_create", false;
			o << "started";
		} else {
			o << touch(r, pg, wr, v);
		}
	} else if (c == "sweep" && n == 4) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		bool wr = w[2] == "write";
		uint64_t v = num(w[3]);
		size_t bus = 0, segv = 0, ok = 0;
		for (size_t pg = 0; pg < r.pages; pg++) {
			uint64_t got = 0;
			volatile uint64_t *p = r.p + pg * kWords;
			int sig = wr ? guarded_write(p, v ^ pg) : guarded_read(p, &got);
			bus += sig == SIGBUS;
			segv += sig == SIGSEGV;
			ok += !sig && (wr || got == (v ^ pg));
		}
		o << "pages=" << r.pages << " sigbus=" << bus << " sigsegv=" << segv
		  << " value_ok=" << ok;
	} else if (c == "pfns" && n == 2) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		o << "pfns=";
		for (size_t pg = 0; pg < r.pages; pg++)
			o << (pg ? "," : "") << std::hex << "0x" << pfn_of((const void *)(r.p + pg * kWords));
	} else if (c == "munmap" && (n == 2 || n == 3)) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		drop_region(w[1]);
		if (n == 3 && w[2] == "async") {
			if (!spawn(async_munmap, new Async{ "munmap", w[1], r, 0, false, 0 }))
				return *out = "pthread_create", false;
			o << "started";
		} else {
			int64_t t0 = now_ms();
			if (munmap((void *)r.p, r.pages * kPage))
				return *out = std::string("munmap: ") + strerror(errno), false;
			o << "ms=" << now_ms() - t0;
		}
	} else if (c == "detach" && n == 2) {
		if (!region(w[1], &r, &err))
			return *out = err, false;
		drop_region(w[1]);
		if (xpmem_detach((void *)r.p))
			return *out = std::string("errno=") + errno_name(errno), false;
	} else if (c == "release" && n == 2) {
		if (xpmem_release(num(w[1])))
			return *out = std::string("errno=") + errno_name(errno), false;
	} else if (c == "remove" && n == 2) {
		if (xpmem_remove(num(w[1])))
			return *out = std::string("errno=") + errno_name(errno), false;
	} else if (c == "become" && n == 3) {
		uid_t u = num(w[1]);
		gid_t g = num(w[2]);
		if (setgroups(0, nullptr) || setresgid(g, g, g) || setresuid(u, u, u))
			return *out = std::string("set ids: ") + strerror(errno), false;
		o << "uid=" << geteuid() << " gid=" << getegid();
	} else if (c == "exit" && n == 1) {
		o << "bye";
	} else {
		return *out = "unknown command or arguments: " + c, false;
	}
	*out = o.str();
	return true;
}

[[noreturn]] void serve(const std::string &name, int life_s, int ready_fd)
{
	setsid();
	alarm(life_s);
	int nul = open("/dev/null", O_RDWR);
	dup2(nul, 0);
	dup2(nul, 1);
	dup2(nul, 2);
	struct sigaction sa = {};
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, nullptr);
	sigaction(SIGSEGV, &sa, nullptr);
	// O_RDWR: the FIFO never reads end of file between two clients.
	int in = open(in_path(name).c_str(), O_RDWR | O_CLOEXEC);
	if (in < 0)
		_exit(2);
	char pid[32];
	int k = snprintf(pid, sizeof(pid), "pid %d\n", getpid());
	if (write(ready_fd, pid, k) != k)
		_exit(2);
	close(ready_fd);
	FILE *f = fdopen(in, "r");
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		std::istringstream s(line);
		std::string seq, x;
		std::vector<std::string> w;
		s >> seq;
		while (s >> x)
			w.push_back(x);
		std::string ans;
		bool ok = run(w, &ans);
		emit("%s %s %s", seq.c_str(), ok ? "ok" : "err", ans.c_str());
		if (ok && w.size() == 1 && w[0] == "exit")
			_exit(0);
	}
	_exit(1);
}

int start(const std::string &name, int life_s)
{
	unlink(in_path(name).c_str());
	if (mkfifo(in_path(name).c_str(), 0666)) {
		perror("mkfifo");
		return 2;
	}
	g_out = open(out_path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0666);
	if (g_out < 0) {
		perror("open");
		return 2;
	}
	// Anyone may send commands (a puppet that dropped root still reads them).
	chmod(in_path(name).c_str(), 0666);
	int p[2];
	if (pipe(p))
		return 2;
	pid_t c = fork();
	if (c < 0)
		return 2;
	if (c == 0) {
		close(p[0]);
		serve(name, life_s, p[1]);
	}
	close(p[1]);
	char b[64] = "";
	struct pollfd pfd = { p[0], POLLIN, 0 };
	if (poll(&pfd, 1, 30000) <= 0 || read(p[0], b, sizeof(b) - 1) <= 0) {
		fprintf(stderr, "xpmem-xpart-puppet: %s did not start\n", name.c_str());
		kill(c, SIGKILL);
		return 1;
	}
	printf("%s", b);
	return 0;
}

// The answer line for SEQ, or an event line "- WORD", within timeout_s.
int await(const std::string &name, const std::string &prefix, int timeout_s)
{
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		FILE *f = fopen(out_path(name).c_str(), "r");
		char line[1 << 16];
		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, prefix.c_str(), prefix.size())) {
				fputs(line, stdout);
				fclose(f);
				return strncmp(line + prefix.size(), "err", 3) ? 0 : 1;
			}
		}
		if (f)
			fclose(f);
		if (now_ms() >= deadline) {
			fprintf(stderr, "xpmem-xpart-puppet: no '%s' from %s within %d s\n",
				prefix.c_str(), name.c_str(), timeout_s);
			return 124;
		}
		usleep(20000);
	}
}

int command(const std::string &name, const std::string &words, int timeout_s)
{
	char seq[48];
	snprintf(seq, sizeof(seq), "c%d.%lld", getpid(), (long long)now_ms());
	std::string line = std::string(seq) + " " + words + "\n";
	int fd = open(in_path(name).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "xpmem-xpart-puppet: %s is not listening: %s\n", name.c_str(),
			strerror(errno));
		return 2;
	}
	if (write(fd, line.data(), line.size()) != (ssize_t)line.size()) {
		perror("write");
		return 2;
	}
	close(fd);
	return await(name, std::string(seq) + " ", timeout_s);
}

int usage()
{
	fprintf(stderr, "usage: xpmem-xpart-puppet start NAME [--life S]\n"
			"       xpmem-xpart-puppet cmd NAME [--timeout S] WORDS...\n"
			"       xpmem-xpart-puppet wait NAME WORD [--timeout S]\n");
	return 2;
}

}  // namespace
}  // namespace xp

int main(int argc, char **argv)
{
	using namespace xp;
	if (argc < 3)
		return usage();
	std::string verb = argv[1], name = argv[2];
	int timeout = 60, life = 900, i = 3;
	if (name.find('/') != std::string::npos)
		return usage();
	if (verb == "start") {
		if (argc == 5 && !strcmp(argv[3], "--life"))
			life = atoi(argv[4]);
		else if (argc != 3)
			return usage();
		return start(name, life);
	}
	if (i + 1 < argc && !strcmp(argv[i], "--timeout")) {
		timeout = atoi(argv[i + 1]);
		i += 2;
	}
	if (verb == "cmd" && i < argc) {
		std::string words;
		for (; i < argc; i++)
			words += (words.empty() ? "" : " ") + std::string(argv[i]);
		return command(name, words, timeout);
	}
	if (verb == "wait" && i < argc) {
		std::string word = argv[i++];
		if (i + 1 < argc && !strcmp(argv[i], "--timeout"))
			timeout = atoi(argv[i + 1]);
		return await(name, "- " + word + " ", timeout);
	}
	return usage();
}
