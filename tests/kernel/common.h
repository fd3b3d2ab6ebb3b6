// SPDX-License-Identifier: GPL-2.0-only
//
// common.h - shared pieces of the kernel test suite (tests that run inside a
// lab VM against the real xpmem.ko).
//
// Every test derives its fixture from KernelTest.  SetUp fails the test when
// /dev/xpmem is missing (this suite never skips because the module is not
// loaded: a suite that ran nothing must not look green) and records the
// module's object counters; TearDown waits, bounded, until the counters are
// back to that baseline and no page is pinned, and fails otherwise.  That is
// how every test also checks that the module leaks nothing.
//
// Processes: tests use forked peers (peer.h) as exporters and attachers, and
// run_child() for one-shot children whose death by a signal is the expected
// outcome.  Every wait here is bounded.
#ifndef XPMEM_KERNEL_COMMON_H
#define XPMEM_KERNEL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "test_proc.h"

extern "C" {
#include <xpmem.h>
#include <xpmem_ioctl.h>
}

namespace xk {

constexpr size_t kPage = 4096;
constexpr size_t kWordsPerPage = kPage / sizeof(uint64_t);
constexpr size_t kMiB = 1024 * 1024;
constexpr const char *kDevPath = "/dev/xpmem";

// ---- the device, raw -------------------------------------------------------

// The process-wide descriptor for raw ioctls (opened once, never closed, so
// closing it can never be what tears a context down).  -1 if the open failed.
int dev();
// ioctl() that returns its result (>= 0) or -errno.
long raw_ioctl(int fd, unsigned long cmd, void *arg);
// XPMEM_IOC_STATS on dev(); false (and errno) on failure.
bool read_stats(struct xpmem_stats *out);
using xt::format_stats;

// Little-endian field access for hand-built ioctl argument buffers.
void put_u64(unsigned char *buf, size_t off, uint64_t v);
void put_u32(unsigned char *buf, size_t off, uint32_t v);
uint64_t get_u64(const unsigned char *buf, size_t off);

// ---- memory ----------------------------------------------------------------

// The value of word `word` of page `page` of a region filled with `seed`:
// distinct for every (seed, page, word), readable in failure messages.
inline uint64_t pattern(uint64_t seed, uint64_t page, uint64_t word)
{
	return (seed << 32) | (page << 9) | word;
}
// Sparse mode touches only words 0, 257 and 511 of each page (for the
// 100,000-page runs, where full fills would dominate the run time in TCG).
void fill_pages(void *p, size_t npages, uint64_t seed, bool sparse = false);
// -1 if every checked word matches, else the index (page * 512 + word) of the
// first mismatch, with the value found in *found.
int64_t check_pages(const void *p, size_t npages, uint64_t seed,
		    bool sparse = false, uint64_t *found = nullptr);
// The same for a view that starts at page `page0` of the filled region (an
// attachment at an offset into it); the index returned is relative to p.
int64_t check_pages_from(const void *p, size_t page0, size_t npages,
			 uint64_t seed, bool sparse = false,
			 uint64_t *found = nullptr);
std::string describe_mismatch(int64_t idx, uint64_t seed, uint64_t found,
			      size_t page0 = 0);
// One word of every page: fill with, or check against, pattern(seed, pg, word).
void fill_word(void *p, size_t npages, size_t word, uint64_t seed);
int64_t check_word(const void *p, size_t npages, size_t word, uint64_t seed,
		   uint64_t *found = nullptr);

// An address range of `len` bytes aligned to `align` with nothing mapped.
uintptr_t free_range(size_t len, size_t align);
// The end of user space: 2^47 - 4096 with 4-level page tables, 2^56 - 4096
// with 5-level ones (QEMU's "max" CPU has LA57).  Probed, not assumed.
using xt::user_top;
// Anonymous read-write mapping; MAP_FAILED on failure.
void *map_anon(size_t len, uintptr_t fixed = 0);

// ---- processes --------------------------------------------------------------

// waitpid() bounded by timeout_ms; on timeout the child is SIGKILLed, reaped,
// and -1 is returned.
using xt::now_ms;
// Bounds on waits times XPMEM_TEST_TIME_SCALE (4 on the debug kernel); the
// helpers here (wait_pid, run_child, spawn, wait_stats, Peer) scale theirs.
using xt::time_scale;
using xt::scaled_ms;
using xt::scaled_s;
using xt::wait_pid;
using xt::describe_status;
using xt::exited_ok;
bool killed_by(int status, int sig);

// Forks; the child (alarm(timeout_s), no core dumps, killed if we die) runs fn
// and _exit()s with its return value.  Returns the wait status, or -1 if the
// child had to be killed at the deadline.
int run_child(const std::function<int()> &fn, int timeout_s = 30);
// The fork half of run_child(), for children that run side by side; reap
// them with wait_pid().
pid_t spawn(const std::function<int()> &fn, int timeout_s = 30);

// For code running in a child: print where and why, then _exit(1).
[[noreturn]] void child_fail(const char *file, int line, const char *what);
#define CHILD_CHECK(cond)                                           \
	do {                                                        \
		if (!(cond))                                        \
			::xk::child_fail(__FILE__, __LINE__, #cond); \
	} while (0)

// Sets up a freshly forked child: dies with its parent, no core dumps, and an
// alarm so that it cannot outlive a hung test.
using xt::child_setup;

// Polls read_stats() until pred holds or timeout_ms (scaled) passes; the last snapshot
// is left in *last.  Counters that drop after a process exits can lag a bit
// (the file and mm are released after the exit is visible to waitpid).
bool wait_stats(const std::function<bool(const struct xpmem_stats &)> &pred,
		int timeout_ms, struct xpmem_stats *last);

// ---- RAII for objects the test process itself owns -------------------------

struct Segment {
	xpmem_segid_t id = -1;
	Segment() = default;
	explicit Segment(xpmem_segid_t s) : id(s) {}
	Segment(const Segment &) = delete;
	Segment &operator=(const Segment &) = delete;
	~Segment() { if (id > 0) xpmem_remove(id); }
};

struct Permit {
	xpmem_apid_t id = -1;
	Permit() = default;
	explicit Permit(xpmem_apid_t a) : id(a) {}
	Permit(const Permit &) = delete;
	Permit &operator=(const Permit &) = delete;
	~Permit() { if (id > 0) xpmem_release(id); }
};

struct Attachment {
	void *addr = (void *)-1;
	Attachment() = default;
	explicit Attachment(void *a) : addr(a) {}
	Attachment(const Attachment &) = delete;
	Attachment &operator=(const Attachment &) = delete;
	~Attachment() { if (addr != (void *)-1) xpmem_detach(addr); }
	bool ok() const { return addr != (void *)-1; }
	template <typename T = uint64_t> T *as() const { return (T *)addr; }
};

struct Mapping {
	void *addr = MAP_FAILED;
	size_t len = 0;
	Mapping() = default;
	explicit Mapping(size_t l, uintptr_t fixed = 0);
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	~Mapping();
	bool ok() const { return addr != MAP_FAILED; }
	template <typename T = uint64_t> T *as() const { return (T *)addr; }
	uintptr_t at(size_t off) const { return (uintptr_t)addr + off; }
};

// The whole address space, the way MPI libraries export it.
inline xpmem_segid_t make_whole(long mode = 0600)
{
	return xpmem_make(0, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE, (void *)mode);
}

// ---- the fixture ------------------------------------------------------------

class KernelTest : public ::testing::Test {
protected:
	void SetUp() override;
	void TearDown() override;

	// Counter deltas against the SetUp baseline.
	struct xpmem_stats base_ = {};
	bool have_base_ = false;
};

}  // namespace xk

#endif
