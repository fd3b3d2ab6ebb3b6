// SPDX-License-Identifier: GPL-2.0-only
//
// xpart.cc - see xpart.h.
#include "xpart.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace xp {

static const size_t kSparse[] = { 0, 257, 511 };

void fill(volatile uint64_t *p, size_t pages, uint64_t seed, bool sparse)
{
	for (size_t pg = 0; pg < pages; pg++) {
		volatile uint64_t *w = p + pg * kWords;
		if (sparse) {
			for (size_t i : kSparse)
				w[i] = pattern(seed, pg, i);
		} else {
			for (size_t i = 0; i < kWords; i++)
				w[i] = pattern(seed, pg, i);
		}
	}
}

int64_t check(const volatile uint64_t *p, size_t pages, uint64_t seed,
	      bool sparse, uint64_t *found)
{
	for (size_t pg = 0; pg < pages; pg++) {
		const volatile uint64_t *w = p + pg * kWords;
		if (sparse) {
			for (size_t i : kSparse) {
				uint64_t v = w[i];
				if (v != pattern(seed, pg, i)) {
					*found = v;
					return (int64_t)(pg * kWords + i);
				}
			}
			continue;
		}
		for (size_t i = 0; i < kWords; i++) {
			uint64_t v = w[i];
			if (v != pattern(seed, pg, i)) {
				*found = v;
				return (int64_t)(pg * kWords + i);
			}
		}
	}
	return -1;
}

std::string mismatch(int64_t idx, uint64_t seed, uint64_t found)
{
	char buf[160];
	uint64_t pg = idx / kWords, w = idx % kWords;

	snprintf(buf, sizeof(buf), "page %llu word %llu: %#llx, expected %#llx (seed %llu)",
		 (unsigned long long)pg, (unsigned long long)w,
		 (unsigned long long)found,
		 (unsigned long long)pattern(seed, pg, w), (unsigned long long)seed);
	return buf;
}

int64_t now_ms()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool wait_for(const std::atomic<uint64_t> &w, uint64_t want,
	      const std::atomic<uint64_t> &peer_failed, int timeout_ms,
	      const char *what, std::string *err)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		if (w.load(std::memory_order_acquire) >= want)
			return true;
		if (peer_failed.load(std::memory_order_acquire)) {
			*err = std::string("the other side failed while we waited for ") + what;
			return false;
		}
		if (now_ms() >= deadline) {
			char buf[160];
			snprintf(buf, sizeof(buf), "%s: not reached in %d ms (step %llu, want %llu)",
				 what, timeout_ms,
				 (unsigned long long)w.load(), (unsigned long long)want);
			*err = buf;
			return false;
		}
		usleep(500);
	}
}

bool arm(const std::string &spec, std::string *err)
{
	if (spec.empty())
		return true;
	const char *ctl = getenv("XPMEMCTL");
	if (!ctl || !*ctl) {
		*err = "XPMEMCTL is not set: cannot arm " + spec;
		return false;
	}
	// spec is "inject NAME V" or "set NAME V", from the test script.
	std::string cmd = std::string(ctl) + " " + spec + " </dev/null";
	int st = system(cmd.c_str());
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		*err = "'" + cmd + "' failed";
		return false;
	}
	printf("armed %s\n", spec.c_str());
	return true;
}

uint64_t pfn_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	off_t off = (off_t)((uintptr_t)addr / kPage * sizeof(e));
	if (pread(fd, &e, sizeof(e), off) != (ssize_t)sizeof(e))
		e = 0;
	close(fd);
	if (!(e >> 63))		// not present
		return 0;
	return e & ((1ULL << 55) - 1);
}

void *map_anon(size_t len, void *fixed)
{
	return mmap(fixed, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
}

void setup_output()
{
	setvbuf(stdout, nullptr, _IOLBF, 0);
	setvbuf(stderr, nullptr, _IOLBF, 0);
}

}  // namespace xp
