// SPDX-License-Identifier: GPL-2.0-only
//
// cowwrite_test.cc - writes through an attachment to pages the owner shares
// copy-on-write with its forked child (issue 10, defect 2).
//
// The pattern: a process fills a buffer, exports its address space and
// forks; each child attaches the parent's buffer and adds i to one word of
// page i with a read-modify-write instruction.  Every page is first mapped
// read-only (the parent's pages are write-protected by the fork), so every
// add goes through pfn_mkwrite.  If pfn_mkwrite dropped the PTE, the retried
// instruction could fault as a read (QEMU TCG reports the load half of an
// RMW first) and map the page read-only again, for ever.
//
// Such a loop is a failure, not a hang, and is told from a slow kernel by
// progress, not by total time: every process of the pattern counts each page
// it finished in a shared counter, and a run whose counter stands still for
// kStallSeconds (times time_scale(): 80 s on the debug kernel) is killed and
// failed.  A looping write moves nothing past its first page, so it fails
// after that bound whatever the kernel's speed; the debug kernel (KASAN,
// lockdep), 10 to 100 times slower, takes minutes for 10,000 pages but
// moves the counter many times a second.
//
// 1 to 3 children, one after the other and side by side, 1 to 10,000 pages;
// afterwards the parent's word of page i holds its fill value plus
// children * i, and each child's own copy still holds what the fork gave it.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include <string>
#include <vector>

#include "common.h"

namespace xk {
namespace {

constexpr uint64_t kSeed = 0x2d;
constexpr size_t kWord = 3;		// the word of each page the children add to
// The longest the pattern may go without finishing a page: far more than
// any step of it takes (a fork, an attach of 10,000 pages, a child's exit:
// well under a second on the stock kernel, seconds on the debug one), and
// the time a write looping on its fault takes to fail.
constexpr int kStallSeconds = 20;

// Pages finished by every process of one run, in a MAP_SHARED page that the
// pattern's processes inherit.
struct Progress {
	std::atomic<uint64_t> steps;
};
Progress *progress;

inline void step()
{
	progress->steps.fetch_add(1, std::memory_order_relaxed);
}

// kStallSeconds on this kernel.
int stall_seconds()
{
	return scaled_s(kStallSeconds);
}

// waitpid() for @pid for as long as the pattern makes progress: after
// stall_seconds() without a step @pid is SIGKILLed (its children die with
// it), reaped, and -1 returned.
int wait_progressing(pid_t pid)
{
	const int64_t stall_ms = (int64_t)stall_seconds() * 1000;
	uint64_t seen = progress->steps.load();
	int64_t moved = now_ms();
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		uint64_t now_steps = progress->steps.load();
		if (now_steps != seen) {
			seen = now_steps;
			moved = now_ms();
		} else if (now_ms() - moved >= stall_ms) {
			break;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

// word += i as one read-modify-write instruction, the way the issue found it.
// Children running side by side add to the same words: a plain add is then
// a load and a store that two CPUs may interleave (one child's add lost, the
// test's fault, not the module's), so they use the locked form, which is
// still one read-modify-write instruction faulting the same way.
inline void add_rmw(volatile uint64_t *word, uint64_t i, bool concurrent)
{
#if defined(__x86_64__)
	if (concurrent)
		__asm__ volatile("lock addq %1, %0" : "+m"(*word) : "r"(i) : "memory");
	else
		__asm__ volatile("addq %1, %0" : "+m"(*word) : "r"(i) : "memory");
#else
	if (concurrent)
		__atomic_fetch_add(word, i, __ATOMIC_RELAXED);
	else
		*word += i;
#endif
}

// A child: attach the parent's buffer, add i to page i's word, check that
// its own copy of the buffer (copy-on-write since the fork) did not change.
int child_adds(int64_t segid, volatile uint64_t *buf, size_t npages, bool concurrent)
{
	// Its own copy as the fork left it (earlier children's adds included).
	std::vector<uint64_t> own(npages);
	for (size_t i = 0; i < npages; i++) {
		own[i] = buf[i * kWordsPerPage + kWord];
		step();
	}
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	if (apid <= 0) {
		fprintf(stderr, "[child %d] xpmem_get: %s\n", getpid(), strerror(errno));
		return 2;
	}
	void *at = xpmem_attach({ apid, (off_t)(uintptr_t)buf }, npages * kPage, nullptr);
	if (at == (void *)-1) {
		fprintf(stderr, "[child %d] xpmem_attach: %s\n", getpid(), strerror(errno));
		return 3;
	}
	volatile uint64_t *w = (volatile uint64_t *)at;
	for (size_t i = 0; i < npages; i++) {
		add_rmw(&w[i * kWordsPerPage + kWord], i, concurrent);
		step();
	}
	for (size_t i = 0; i < npages; i++) {
		if (buf[i * kWordsPerPage + kWord] != own[i]) {
			fprintf(stderr, "[child %d] own copy of page %zu changed\n",
				getpid(), i);
			return 4;
		}
		step();
	}
	xpmem_detach(at);
	xpmem_release(apid);
	return 0;
}

// The parent of the pattern (itself a child of the test process).
int parent(size_t npages, int children, bool parallel)
{
	size_t len = npages * kPage;
	void *p = map_anon(len);
	if (p == MAP_FAILED)
		return 10;
	volatile uint64_t *buf = (volatile uint64_t *)p;
	fill_word(p, npages, kWord, kSeed);
	step();
	xpmem_segid_t segid = make_whole();
	if (segid <= 0) {
		fprintf(stderr, "[parent] xpmem_make: %s\n", strerror(errno));
		return 11;
	}
	std::vector<pid_t> pids;
	for (int c = 0; c < children; c++) {
		// No alarm: bounded by progress, and dies with this process.
		pid_t pid = spawn([&] { return child_adds(segid, buf, npages, parallel); },
				  0);
		if (pid < 0)
			return 12;
		if (parallel) {
			pids.push_back(pid);
			continue;
		}
		int st = wait_progressing(pid);
		if (!exited_ok(st)) {
			fprintf(stderr, "[parent] child %d of %d: %s%s\n", c + 1,
				children, describe_status(st).c_str(),
				st == -1 ? " (no progress)" : "");
			return 13;
		}
	}
	for (pid_t pid : pids) {
		int st = wait_progressing(pid);
		if (!exited_ok(st)) {
			fprintf(stderr, "[parent] a parallel child: %s%s\n",
				describe_status(st).c_str(),
				st == -1 ? " (no progress)" : "");
			return 13;
		}
	}
	for (size_t i = 0; i < npages; i++) {
		uint64_t want = pattern(kSeed, i, kWord) + (uint64_t)children * i;
		uint64_t got = buf[i * kWordsPerPage + kWord];
		if (got != want) {
			fprintf(stderr, "[parent] page %zu: %#llx, want %#llx\n", i,
				(unsigned long long)got, (unsigned long long)want);
			return 14;
		}
		step();
	}
	xpmem_remove(segid);
	return 0;
}

struct Shape {
	size_t pages;
	int children;
	bool parallel;
};

std::string shape_name(const ::testing::TestParamInfo<Shape> &info)
{
	return std::to_string(info.param.pages) + "pages_" +
	       std::to_string(info.param.children) +
	       (info.param.parallel ? "children_parallel" : "children_in_sequence");
}

class CowWrite : public KernelTest, public ::testing::WithParamInterface<Shape> {};

TEST_P(CowWrite, AddThroughAttachmentCompletes)
{
	const Shape s = GetParam();
	void *shared = mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(shared, MAP_FAILED) << strerror(errno);
	progress = new (shared) Progress{};
	// Every page: a child's look at its own copy, add and check; the
	// parent's check; and the parent's fill.
	const uint64_t all = (uint64_t)s.children * 3 * s.pages + s.pages + 1;
	int64_t t0 = now_ms();
	pid_t pid = spawn([&] { return parent(s.pages, s.children, s.parallel); }, 0);
	ASSERT_GE(pid, 0) << strerror(errno);
	int st = wait_progressing(pid);
	uint64_t steps = progress->steps.load();
	EXPECT_TRUE(exited_ok(st))
		<< describe_status(st) << " after " << steps << " of " << all
		<< " steps"
		<< (st == -1 ? " (no page finished for " + std::to_string(stall_seconds()) +
				       " s: a write looping on its page fault?)"
			     : std::string());
	EXPECT_TRUE(st == -1 || !exited_ok(st) || steps == all)
		<< steps << " of " << all << " steps";
	printf("%zu pages, %d children %s: %lld ms, %llu steps\n", s.pages,
	       s.children, s.parallel ? "in parallel" : "in sequence",
	       (long long)(now_ms() - t0), (unsigned long long)steps);
	munmap(shared, kPage);
}

INSTANTIATE_TEST_SUITE_P(
	Pattern, CowWrite,
	::testing::Values(Shape{ 1, 1, false }, Shape{ 1, 3, true }, Shape{ 7, 2, false },
			  Shape{ 7, 2, true }, Shape{ 513, 3, false },
			  Shape{ 513, 3, true }, Shape{ 10000, 1, false },
			  Shape{ 10000, 3, false }, Shape{ 10000, 3, true }),
	shape_name);

}  // namespace
}  // namespace xk
