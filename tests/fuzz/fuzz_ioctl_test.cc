// SPDX-License-Identifier: GPL-2.0-only
//
// xpmem-fuzz-ioctl: up to a million ioctls (by default) on /dev/xpmem
// from several processes at once, random and structured, with memory
// changing under the attachments, forks, exits and teardowns (worker.h has
// the map).  Every result is checked against what the ABI allows for that
// call; every attachment read is checked against the data it must show.
// After the workers are gone the module's object counters must be back to
// where they were.
//
// Options (or environment): --calls N (XPMEM_FUZZ_CALLS, default 1000000),
// --seed S (XPMEM_FUZZ_SEED, default from the clock; printed, so a run can
// be repeated), --workers N (XPMEM_FUZZ_WORKERS, default 4), --timeout S
// (XPMEM_FUZZ_TIMEOUT, default 600).  A repeated seed repeats every
// process's sequence of decisions; where they race, the interleaving is the
// scheduler's.
//
// The run ends at its call count or at its deadline, whichever comes first:
// how many calls fit in the time depends on the kernel (the debug kernel's
// KASAN and lockdep make about a quarter of the stock kernel's), so the
// count is not a verdict.  What fails is a run that stops moving: no call
// counted for kStallMs (every process stuck), or a worker still running 90 s
// after the deadline (one process stuck), besides every wrong result, a path
// the run never took and objects left behind.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "board.h"
#include "common.h"
#include "worker.h"

namespace xf {
namespace {

uint64_t g_calls, g_seed, g_workers, g_timeout;
// Calls never stop for this long in a healthy run, even in a slow VM: every
// step, fork and exit is bounded well below it, and the counter moves
// whenever any one of the workers makes 64 steps (on the debug kernel, at
// about 480 calls a second, it moves several times a second).  Both bounds
// are scaled by time_scale() (the debug kernel is slower at every step).
constexpr int64_t kStallMs = 120000;
constexpr int64_t kGraceMs = 90000;	// after the deadline, for the workers to stop

void print_summary(const Board &b, double secs)
{
	printf("\n%-10s %10s", "command", "calls");
	for (unsigned o = 0; o < kOutcomes; o++)
		printf(" %8s", outcome_name((Outcome)o));
	printf("\n");
	for (unsigned c = 0; c < kCmdClasses; c++) {
		uint64_t total = 0;
		for (unsigned o = 0; o < kOutcomes; o++)
			total += b.hist[c][o].load();
		printf("%-10s %10llu", cmd_name((CmdClass)c), (unsigned long long)total);
		for (unsigned o = 0; o < kOutcomes; o++)
			printf(" %8llu", (unsigned long long)b.hist[c][o].load());
		printf("\n");
	}
	printf("\n");
	for (unsigned e = 0; e < kEventKinds; e++)
		printf("%-36s %10llu\n", event_name((EventKind)e),
		       (unsigned long long)b.events[e].load());
	printf("\nworker time (all processes; events include their children):\n");
	for (unsigned a = 0; a < kActivities; a++)
		printf("%-36s %10.1f s\n", activity_name((Activity)a),
		       b.busy_us[a].load() / 1e6);
	uint64_t calls = b.calls.load();
	printf("\n%llu ioctls in %.1f s: %.0f calls/s\n", (unsigned long long)calls,
	       secs, secs > 0 ? calls / secs : 0.0);
	fflush(stdout);
}

TEST(FuzzIoctl, ManyProcesses)
{
	ASSERT_EQ(access(kDevPath, F_OK), 0)
		<< kDevPath << " does not exist: this test needs xpmem.ko loaded "
		   "(run it inside the lab VM: tests/run --suite fuzz)";
	int fd = open_dev();
	ASSERT_GE(fd, 0) << "open " << kDevPath << ": " << strerror(errno);
	struct xpmem_stats base, now;
	ASSERT_TRUE(read_stats(fd, &base)) << "XPMEM_IOC_STATS: " << strerror(errno);

	int workers = (int)std::min<uint64_t>(std::max<uint64_t>(g_workers, 1),
					      Board::kWriters / 2);
	printf("seed %#llx, %llu calls, %d workers, timeout %llu s\n"
	       "repeat with: --seed %#llx --calls %llu --workers %d\n",
	       (unsigned long long)g_seed, (unsigned long long)g_calls, workers,
	       (unsigned long long)g_timeout, (unsigned long long)g_seed,
	       (unsigned long long)g_calls, workers);
	fflush(stdout);

	Board *b = shared_new<Board>();
	b->target = g_calls;
	install_fault_handlers();
	int64_t t0 = now_ms();
	int64_t deadline = t0 + (int64_t)g_timeout * 1000;
	std::vector<pid_t> pids;
	for (int i = 0; i < workers; i++) {
		fflush(nullptr);
		pid_t pid = fork();
		if (pid == 0) {
			child_setup((int)g_timeout + 120);
			RunConfig cfg = { b, i, workers + i, mix64(g_seed + (uint64_t)i),
					  deadline, false, false };
			_exit(worker_main(cfg));
		}
		ASSERT_GT(pid, 0) << "fork: " << strerror(errno);
		pids.push_back(pid);
	}

	// Wait, with progress lines, a stop at the deadline and a kill well
	// after it, or as soon as the calls stop moving (a task stuck in the
	// kernel): the run never hangs, and says where it was stuck.
	std::vector<int> status(pids.size(), -1);
	size_t left = pids.size();
	const int64_t stall_ms = scaled_ms(kStallMs), grace_ms = scaled_ms(kGraceMs);
	int64_t last_print = t0, last_move = t0;
	uint64_t last_calls = 0;
	std::string stuck;
	while (left) {
		for (size_t i = 0; i < pids.size(); i++) {
			int st;
			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				status[i] = st;
				pids[i] = 0;
				left--;
			}
		}
		int64_t t = now_ms();
		uint64_t calls = b->calls.load();
		if (calls != last_calls) {
			last_calls = calls;
			last_move = t;
		}
		if (t >= deadline && !b->stop.load())
			b->stop.store(1);
		bool hung = t - last_move >= stall_ms;
		if (hung || t >= deadline + grace_ms) {
			stuck = describe_tasks("xpmem-fuzz");
			ADD_FAILURE() << (hung ? "no progress for " + std::to_string(stall_ms / 1000) +
							 " s: processes stuck"
					       : "workers still running " + std::to_string(grace_ms / 1000) +
							 " s after the deadline")
				      << ":\n" << stuck;
			for (size_t i = 0; i < pids.size(); i++)
				if (pids[i] > 0 && !kill_and_reap(pids[i], &status[i]))
					ADD_FAILURE() << "worker " << i << " (pid " << pids[i]
						      << ") cannot be killed: stuck in the kernel";
			break;
		}
		if (t - last_print >= 15000) {
			last_print = t;
			printf("  %llu calls after %.0f s\n",
			       (unsigned long long)b->calls.load(), (t - t0) / 1000.0);
			fflush(stdout);
		}
		usleep(20000);
	}
	double secs = (now_ms() - t0) / 1000.0;
	print_summary(*b, secs);
	if (stuck.empty())
		printf("%s\n", b->calls.load() >= g_calls
				       ? "the run made all its calls"
				       : "the run ended at its deadline (the calls it made are the "
					 "kernel's speed, not a verdict)");

	for (size_t i = 0; i < status.size(); i++)
		EXPECT_TRUE(exited_ok(status[i]))
			<< "worker " << i << ": " << describe_status(status[i]);
	int nfail = b->log.count.load();
	for (int i = 0; i < nfail && i < FailLog::kKept; i++)
		ADD_FAILURE() << b->log.msg[i];
	EXPECT_EQ(nfail, 0) << "failures found (first " << FailLog::kKept
			    << " listed above; seed " << std::hex << g_seed << ")";

	// A run that never got anything right tests nothing: the valid paths
	// must have been taken.  This is the floor of a time-boxed run too: on
	// the debug kernel 286,134 calls in 600 s took every one of them.
	if (g_calls >= 200000) {
		for (CmdClass c : { C_MAKE, C_REMOVE, C_GET, C_RELEASE, C_ATTACH, C_DETACH })
			EXPECT_GT(b->hist[c][O_OK].load(), 0u) << cmd_name(c) << " never succeeded";
		for (Outcome o : { O_EINVAL, O_ENOENT, O_EPERM, O_EFAULT, O_ENOTTY, O_NOPROC })
			EXPECT_GT(b->hist[C_UNKNOWN][o].load() + b->hist[C_ATTACH][o].load() +
				  b->hist[C_REMOVE][o].load() + b->hist[C_MAKE][o].load(), 0u)
				<< outcome_name(o) << " never seen";
		for (EventKind e : { E_TOUCH_SIGBUS, E_FORK_INHERIT, E_EXPORTER_EXIT,
				     E_RACE, E_CHURN, E_ATT_VMA, E_TEARDOWN })
			EXPECT_GT(b->events[e].load(), 0u) << event_name(e) << ": none";
	}

	// Everything the workers made is gone once they are.
	bool back = wait_stats_base(fd, base, 5000, &now);
	EXPECT_TRUE(back) << "xpmem objects left behind:\n  before: "
			  << format_stats(base) << "\n  after:  " << format_stats(now);
	close(fd);
}

}  // namespace
}  // namespace xf

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	xf::g_calls = xf::option_u64(argc, argv, "--calls", "XPMEM_FUZZ_CALLS", 1000000);
	bool given;
	xf::g_seed = xf::option_u64(argc, argv, "--seed", "XPMEM_FUZZ_SEED", 0, &given);
	if (!given)
		xf::g_seed = xf::fresh_seed();
	xf::g_workers = xf::option_u64(argc, argv, "--workers", "XPMEM_FUZZ_WORKERS", 4);
	xf::g_timeout = xf::option_u64(argc, argv, "--timeout", "XPMEM_FUZZ_TIMEOUT", 600);
	return RUN_ALL_TESTS();
}
