// SPDX-License-Identifier: GPL-2.0-only
//
// common.h - pieces shared by the fuzz and stress programs (they run inside
// the lab VM, as root, against the real xpmem.ko).
//
// Everything here is usable from forked worker processes: no gtest calls,
// no global constructors with side effects.  Failures found in a worker are
// written to a FailLog in shared memory, which the gtest parent turns into
// test failures once every worker has exited.
#ifndef XPMEM_FUZZ_COMMON_H
#define XPMEM_FUZZ_COMMON_H

#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>
#include <string>

extern "C" {
#include <xpmem_ioctl.h>
}

#include "test_proc.h"

namespace xf {

constexpr size_t kPage = 4096;
constexpr size_t kWordsPerPage = kPage / sizeof(uint64_t);
constexpr size_t kHugePage = 2 * 1024 * 1024;
constexpr const char *kDevPath = "/dev/xpmem";

// ---- options -----------------------------------------------------------------

// "--name N" / "--name=N" on the command line (left there by gtest), else the
// environment variable, else def.  Exits with a message on a malformed value.
uint64_t option_u64(int argc, char **argv, const char *name, const char *env,
		    uint64_t def, bool *given = nullptr);
// A seed from the clock when none is given.
uint64_t fresh_seed();

// ---- randomness ----------------------------------------------------------------

uint64_t mix64(uint64_t x);	// splitmix64 finaliser: a good 64-bit hash

// xoshiro256**: small, fast, and the same sequence for the same seed.
class Rng {
public:
	explicit Rng(uint64_t seed = 1) { reseed(seed); }
	void reseed(uint64_t seed);
	uint64_t next();
	uint64_t below(uint64_t n) { return n ? next() % n : 0; }
	bool chance(unsigned pct) { return below(100) < pct; }
	// A value whose bit length is uniform: small numbers as often as big.
	uint64_t scaled();

private:
	uint64_t s_[4];
};

// ---- the device --------------------------------------------------------------

int open_dev();			// O_RDWR | O_CLOEXEC; -1 and errno on failure
long xioctl(int fd, unsigned long cmd, void *arg);	// result or -errno
bool read_stats(int fd, struct xpmem_stats *out);
using xt::format_stats;
// True when the live-object counters equal base (the caller's own context
// included) and nothing is pinned.
bool stats_at_base(const struct xpmem_stats &s, const struct xpmem_stats &base);
// Polls until stats_at_base or timeout_ms (scaled by xt::time_scale()); the
// last snapshot lands in *last.
bool wait_stats_base(int fd, const struct xpmem_stats &base, int timeout_ms,
		     struct xpmem_stats *last);

// The first address above user space for this process: 2^47 - 4 KiB, or
// 2^56 - 4 KiB under 5-level paging (the kernel's TASK_SIZE).
using xt::user_top;

// ---- shared memory and failure reporting ------------------------------------

// Zeroed MAP_SHARED anonymous memory that forked children share; aborts on
// failure (only called before any worker starts).
void *shared_alloc(size_t len);
template <typename T> T *shared_new() { return new (shared_alloc(sizeof(T))) T(); }

struct FailLog {
	static constexpr int kKept = 48;
	static constexpr int kLen = 320;
	std::atomic<int> count;
	char msg[kKept][kLen];
};

// Records a failure (printed at once to stderr with the pid, kept for the
// parent).  Safe from any process sharing the log.
void fail(FailLog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// ---- guarded memory access ----------------------------------------------------

// Installs SIGBUS/SIGSEGV handlers that return into guarded() when armed and
// otherwise kill the process as usual.  Call once per process (children
// inherit it).
void install_fault_handlers();

struct FaultInfo {
	int sig;		// 0, SIGBUS or SIGSEGV
	uintptr_t addr;		// the faulting address
};

namespace detail {
extern thread_local sigjmp_buf *armed;
extern thread_local volatile int fault_sig;
extern thread_local volatile uintptr_t fault_addr;
}

// Runs fn(); if it takes SIGBUS or SIGSEGV the fault is caught and reported
// in the result.  fn must not allocate or own anything with a destructor: a
// fault leaves it by siglongjmp.
template <typename F> FaultInfo guarded(F &&fn)
{
	sigjmp_buf jb;
	sigjmp_buf *prev = detail::armed;

	detail::fault_sig = 0;
	if (sigsetjmp(jb, 1)) {
		detail::armed = prev;
		return { detail::fault_sig, detail::fault_addr };
	}
	detail::armed = &jb;
	fn();
	detail::armed = prev;
	return { 0, 0 };
}

inline uint64_t load(uintptr_t a) { return *(volatile uint64_t *)a; }
inline void store(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
// A write that changes nothing: one locked compare-and-swap of 0 with 0.
// The CPU performs it as a write access whatever the comparison gives (a
// read-only mapping faults), and it stores only a zero over a zero, so no
// reader can ever see a value it did not expect.
inline void rewrite(uintptr_t a)
{
	uint64_t zero = 0;
	__atomic_compare_exchange_n((uint64_t *)a, &zero, 0, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

// ---- processes -----------------------------------------------------------------

using xt::now_ms;
int64_t now_us();
// ms times xt::time_scale() (XPMEM_TEST_TIME_SCALE: 4 on the debug kernel),
// for a bound on a wait; the helpers below scale theirs themselves.
using xt::scaled_ms;
// Sets up a freshly forked child: dies with its parent, no core dumps, an
// alarm after timeout_s seconds (scaled) so that it cannot outlive a hung run.
using xt::child_setup;
// waitpid() bounded by timeout_ms (scaled); on timeout the child is SIGKILLed and
// reaped and -1 returned.  A child stuck in the kernel cannot be reaped:
// after 10 s more it is left behind (still -1), never waited for forever.
using xt::wait_pid;
// Kills pid and reaps it within 10 s (scaled); false if it would not die (stuck in
// an uninterruptible kernel wait).
bool kill_and_reap(pid_t pid, int *status = nullptr);
// For a run that stopped making progress: state, wait channel and kernel
// stack of every process whose name starts with comm_prefix.
std::string describe_tasks(const char *comm_prefix);
using xt::describe_status;
using xt::exited_ok;

// mincore() says whether [addr, addr + 4 KiB) is mapped at all.
bool is_mapped(uintptr_t addr);
// Number of xpmem attachment mappings in /proc/self/maps.
int count_attachment_maps();
// The /proc/self/maps line covering addr (for failure messages), or "-".
std::string maps_line(uintptr_t addr);

}  // namespace xf

#endif
