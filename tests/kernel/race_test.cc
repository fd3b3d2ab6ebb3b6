// SPDX-License-Identifier: GPL-2.0-only
//
// race_test.cc - readers in the attacher against an exporter that keeps
// replacing the attached region, for a bounded time.
//
// The exporter numbers its generations 1, 2, 3...; each generation is a new
// set of pages whose every word is TAG | generation, and the exporter
// publishes the number (in shared memory) once that generation is in place.
// A reader loads the published number P0, reads a whole page, then loads
// P1.  Every word it read must be a tagged generation g with
// P0 <= g <= P1 + 1: older than P0 means it saw pages the exporter had
// already freed (stale PTE, use after free); anything else is garbage.
// A page may be torn between two generations (the reader's PTE is zapped in
// the middle of its read); that is legal and only counted.
//
// Two ways of replacing:
//  - atomic: the next generation is prepared in a staging mapping and moved
//    over the region with mremap(MREMAP_FIXED), so the region never has a
//    hole: no SIGBUS and no zero words are allowed;
//  - unmap: munmap, mmap(MAP_FIXED), fill: readers may hit the hole
//    (SIGBUS, caught and counted) or the fresh zero pages (counted).
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "common.h"

namespace xk {
namespace {

constexpr uint64_t kTag = 0x5a5a000000000000ULL;
constexpr uint64_t kTagMask = 0xffff000000000000ULL;
constexpr size_t kPages = 32;
constexpr int kThreads = 4;
constexpr int kRunMs = 5000;

struct Shared {
	std::atomic<uint64_t> published;
	std::atomic<int> ready, stop, done;
	int64_t segid;
	uint64_t addr;
	std::atomic<uint64_t> gens, reads, torn, zeros, sigbus, errors;
	std::atomic<int> claimed;
	char error[256];
};

// Counts an error; the first one is kept for the failure message.
void report(Shared *sh, const char *what, uint64_t page, uint64_t value,
	    uint64_t p0, uint64_t p1)
{
	sh->errors++;
	if (sh->claimed.exchange(1) == 0)
		snprintf(sh->error, sizeof(sh->error),
			 "%s: page %llu, word %#llx, generations %llu..%llu current",
			 what, (unsigned long long)page, (unsigned long long)value,
			 (unsigned long long)p0, (unsigned long long)p1 + 1);
}

bool timed_out(const struct timespec &start, int ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start.tv_sec) * 1000 +
	       (now.tv_nsec - start.tv_nsec) / 1000000 >= ms;
}

void fill_gen(uint64_t addr, uint64_t gen)
{
	volatile uint64_t *w = (volatile uint64_t *)addr;

	for (size_t i = 0; i < kPages * kWordsPerPage; i++)
		w[i] = kTag | gen;
}

int exporter(Shared *sh, bool atomic_replace)
{
	const size_t len = kPages * kPage;
	void *p = map_anon(len);
	CHILD_CHECK(p != MAP_FAILED);
	uint64_t A = (uint64_t)p;
	fill_gen(A, 1);
	sh->segid = make_whole();
	CHILD_CHECK(sh->segid > 0);
	sh->addr = A;
	sh->published.store(1, std::memory_order_release);
	sh->ready.store(1, std::memory_order_release);

	uint64_t g = 1;
	while (!sh->stop.load(std::memory_order_acquire)) {
		g++;
		if (atomic_replace) {
			void *s = map_anon(len);
			CHILD_CHECK(s != MAP_FAILED);
			fill_gen((uint64_t)s, g);
			void *r = mremap(s, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					 (void *)A);
			CHILD_CHECK(r == (void *)A);
		} else {
			CHILD_CHECK(munmap((void *)A, len) == 0);
			CHILD_CHECK(map_anon(len, A) == (void *)A);
			fill_gen(A, g);
		}
		sh->published.store(g, std::memory_order_release);
		sh->gens.store(g);
	}
	// Keep the segment until the attacher is done with it.
	while (!sh->done.load(std::memory_order_acquire))
		usleep(1000);
	CHILD_CHECK(xpmem_remove(sh->segid) == 0);
	return 0;
}

thread_local sigjmp_buf t_jump;
thread_local volatile sig_atomic_t t_armed;

void on_sigbus(int sig)
{
	if (t_armed) {
		t_armed = 0;
		siglongjmp(t_jump, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

struct Reader {
	Shared *sh;
	const volatile uint64_t *base;
	bool atomic_replace;
	unsigned seed;
};

void *reader(void *arg)
{
	Reader *rd = (Reader *)arg;
	Shared *sh = rd->sh;

	while (!sh->stop.load(std::memory_order_acquire)) {
		size_t pg = rand_r(&rd->seed) % kPages;
		const volatile uint64_t *w = rd->base + pg * kWordsPerPage;
		uint64_t p0 = sh->published.load(std::memory_order_acquire);
		static thread_local uint64_t page[kWordsPerPage];
		if (sigsetjmp(t_jump, 1)) {
			sh->sigbus++;
			if (rd->atomic_replace)
				report(sh, "SIGBUS with no hole", pg, 0, p0, p0);
			continue;
		}
		t_armed = 1;
		for (size_t i = 0; i < kWordsPerPage; i++)
			page[i] = w[i];
		t_armed = 0;
		std::atomic_thread_fence(std::memory_order_acquire);
		uint64_t p1 = sh->published.load(std::memory_order_acquire);
		bool torn = false;
		for (size_t i = 0; i < kWordsPerPage; i++) {
			uint64_t v = page[i];
			if (v == 0 && !rd->atomic_replace) {
				sh->zeros++;
				torn = torn || page[0] != 0;
				continue;
			}
			if ((v & kTagMask) != kTag) {
				report(sh, "garbage", pg, v, p0, p1);
				break;
			}
			uint64_t g = v & ~kTagMask;
			if (g < p0 || g > p1 + 1) {
				report(sh, "stale or unknown generation", pg, v, p0, p1);
				break;
			}
			torn = torn || v != page[0];
		}
		if (torn)
			sh->torn++;
		sh->reads++;
	}
	return nullptr;
}

int attacher(Shared *sh, bool atomic_replace)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!sh->ready.load(std::memory_order_acquire)) {
		CHILD_CHECK(!timed_out(start, 20000));
		usleep(1000);
	}
	xpmem_apid_t apid = xpmem_get(sh->segid, XPMEM_RDWR, XPMEM_PERMIT_MODE,
				      nullptr);
	CHILD_CHECK(apid > 0);
	void *p = xpmem_attach({ apid, (off_t)sh->addr }, kPages * kPage, nullptr);
	CHILD_CHECK(p != (void *)-1);

	struct sigaction sa = {};
	sa.sa_handler = on_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, nullptr);

	pthread_t th[kThreads];
	Reader rd[kThreads];
	for (int i = 0; i < kThreads; i++) {
		rd[i] = { sh, (const volatile uint64_t *)p, atomic_replace,
			  (unsigned)(i * 7919 + 1) };
		CHILD_CHECK(pthread_create(&th[i], nullptr, reader, &rd[i]) == 0);
	}
	for (int i = 0; i < kThreads; i++)
		pthread_join(th[i], nullptr);
	CHILD_CHECK(xpmem_detach(p) == 0);
	CHILD_CHECK(xpmem_release(apid) == 0);
	sh->done.store(1, std::memory_order_release);
	return 0;
}

class Race : public KernelTest {
protected:
	void run(bool atomic_replace);
};

void Race::run(bool atomic_replace)
{
	void *m = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(m, MAP_FAILED);
	Shared *sh = new (m) Shared();
	struct xpmem_stats before, after;
	ASSERT_TRUE(read_stats(&before));

	pid_t e = spawn([&]() { return exporter(sh, atomic_replace); }, 60);
	pid_t a = spawn([&]() { return attacher(sh, atomic_replace); }, 60);
	ASSERT_GT(e, 0);
	ASSERT_GT(a, 0);
	usleep(kRunMs * 1000);
	sh->stop.store(1, std::memory_order_release);
	int sa = wait_pid(a, 30000);
	sh->done.store(1, std::memory_order_release);	// even if it died
	int se = wait_pid(e, 30000);

	EXPECT_TRUE(exited_ok(sa)) << "attacher " << describe_status(sa);
	EXPECT_TRUE(exited_ok(se)) << "exporter " << describe_status(se);
	EXPECT_EQ(sh->errors.load(), 0u) << sh->error;
	if (atomic_replace) {
		EXPECT_EQ(sh->sigbus.load(), 0u) << "the region never had a hole";
		EXPECT_EQ(sh->zeros.load(), 0u);
	}
	// A run that did not race proves nothing.
	EXPECT_GE(sh->gens.load(), 3u) << "exporter made too few generations";
	EXPECT_GE(sh->reads.load(), 100u) << "readers read too little";
	ASSERT_TRUE(read_stats(&after));
	EXPECT_GT(after.invalidations, before.invalidations)
		<< "no invalidation zapped the attachment";
	printf("generations %llu, page reads %llu, torn %llu, zero words %llu, "
	       "sigbus %llu, invalidations %llu, fault retries %llu\n",
	       (unsigned long long)sh->gens.load(),
	       (unsigned long long)sh->reads.load(),
	       (unsigned long long)sh->torn.load(),
	       (unsigned long long)sh->zeros.load(),
	       (unsigned long long)sh->sigbus.load(),
	       (unsigned long long)(after.invalidations - before.invalidations),
	       (unsigned long long)(after.fault_retries - before.fault_retries));
	sh->~Shared();
	munmap(m, sizeof(Shared));
}

TEST_F(Race, AtomicReplaceNeverShowsStalePages) { run(true); }
TEST_F(Race, UnmapRemapNeverShowsStalePages) { run(false); }

}  // namespace
}  // namespace xk
