// SPDX-License-Identifier: GPL-2.0-only
//
// xpmem-stress-mixed: several processes for minutes, each exporting a region
// that changes by generations (rewrites, munmap, mprotect, MADV_DONTNEED,
// fork copy-on-write, mremap, new segments, its owner's exit) while the
// others attach it, fault it in, verify every word they read against the
// generation protocol of slot.h, write into it, detach, munmap and fork.
// Owners that exit are replaced.  Any failed call, wrong signal, stale or
// foreign word is a failure; at the end the module's counters must be back
// where they were.
//
// Options (or environment): --seconds N (XPMEM_STRESS_SECONDS, default 300),
// --seed S (XPMEM_STRESS_SEED, default from the clock, printed), --procs N
// (XPMEM_STRESS_PROCS, default 4).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "common.h"
#include "proc.h"
#include "slot.h"

namespace xs {
namespace {

uint64_t g_seconds, g_seed, g_procs;

pid_t spawn(Shared *sh, int idx, int nprocs, uint64_t incarnation, int64_t deadline)
{
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		xf::child_setup((int)g_seconds + 240);
		uint64_t seed = xf::mix64(g_seed + (uint64_t)idx * 1000003 + incarnation);
		_exit(proc_main(sh, idx, nprocs, seed, deadline));
	}
	return pid;
}

void print_summary(const Shared &sh, double secs)
{
	printf("\n%-36s %12s\n", "slot transitions", "count");
	for (int t = 0; t < kTransitions; t++)
		printf("%-36s %12llu\n", transition_name(t),
		       (unsigned long long)sh.transitions[t].load());
	printf("\n%-36s %12llu\n%-36s %12llu\n%-36s %12llu\n%-36s %12llu\n"
	       "%-36s %12llu\n%-36s %12llu\n%-36s %12llu\n%-36s %12llu\n"
	       "%-36s %12llu\n",
	       "attaches", (unsigned long long)sh.attaches.load(),
	       "words verified", (unsigned long long)sh.verified_words.load(),
	       "page reads in quiet periods", (unsigned long long)sh.quiet_reads.load(),
	       "page reads during changes", (unsigned long long)sh.busy_reads.load(),
	       "SIGBUS (expected)", (unsigned long long)sh.sigbus.load(),
	       "mailbox writes", (unsigned long long)sh.mail_writes.load(),
	       "mailbox writes checked by owners", (unsigned long long)sh.mail_checked.load(),
	       "reader children forked", (unsigned long long)sh.forks.load(),
	       "segments removed", (unsigned long long)sh.removes.load());
	printf("%.0f s\n", secs);
	fflush(stdout);
}

TEST(StressMixed, GenerationsUnderAttachers)
{
	ASSERT_EQ(access(xf::kDevPath, F_OK), 0)
		<< xf::kDevPath << " does not exist: this test needs xpmem.ko loaded "
		   "(run it inside the lab VM: tests/run --suite stress)";
	int fd = xf::open_dev();
	ASSERT_GE(fd, 0) << "open: " << strerror(errno);
	struct xpmem_stats base, now;
	ASSERT_TRUE(xf::read_stats(fd, &base)) << "XPMEM_IOC_STATS: " << strerror(errno);

	int nprocs = (int)std::min<uint64_t>(std::max<uint64_t>(g_procs, 2), kMaxProcs);
	printf("seed %#llx, %llu s, %d processes\nrepeat with: --seed %#llx --seconds %llu "
	       "--procs %d\n", (unsigned long long)g_seed, (unsigned long long)g_seconds,
	       nprocs, (unsigned long long)g_seed, (unsigned long long)g_seconds, nprocs);
	fflush(stdout);

	Shared *sh = xf::shared_new<Shared>();
	xf::install_fault_handlers();
	int64_t t0 = xf::now_ms();
	int64_t deadline = t0 + (int64_t)g_seconds * 1000;
	std::vector<pid_t> pids(nprocs);
	std::vector<uint64_t> incarnations(nprocs, 0);
	std::vector<std::string> deaths;
	for (int i = 0; i < nprocs; i++) {
		pids[i] = spawn(sh, i, nprocs, 0, deadline);
		ASSERT_GT(pids[i], 0) << "fork: " << strerror(errno);
	}

	// Supervise: replace owners that exit, note any that die otherwise,
	// stop at the deadline or when nothing moves any more (a process stuck
	// in the kernel), and never wait without a bound (scaled: the debug
	// kernel is slower at every step).
	const int64_t stall_ms = xf::scaled_ms(120000), grace_ms = xf::scaled_ms(120000);
	int64_t last_print = t0, last_move = t0;
	uint64_t last_progress = 0;
	int alive = nprocs;
	while (alive) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		int64_t t = xf::now_ms();
		if (pid > 0) {
			for (int i = 0; i < nprocs; i++) {
				if (pids[i] != pid)
					continue;
				pids[i] = 0;
				alive--;
				if (!xf::exited_ok(st))
					deaths.push_back("process " + std::to_string(i) + ": " +
							 xf::describe_status(st));
				if (t < deadline - 2000 && !sh->stop.load()) {
					pids[i] = spawn(sh, i, nprocs, ++incarnations[i], deadline);
					if (pids[i] > 0)
						alive++;
				}
			}
			continue;
		}
		uint64_t progress = sh->verified_words.load() + sh->attaches.load() +
				    sh->busy_reads.load() + sh->sigbus.load();
		for (int k = 0; k < kTransitions; k++)
			progress += sh->transitions[k].load();
		if (progress != last_progress) {
			last_progress = progress;
			last_move = t;
		}
		if (t >= deadline)
			sh->stop.store(1);
		bool hung = t - last_move >= stall_ms;
		if (hung || t >= deadline + grace_ms) {
			deaths.push_back((hung ? "no progress for " + std::to_string(stall_ms / 1000) +
							 " s"
					       : "processes still running " +
							 std::to_string(grace_ms / 1000) + " s after the end") +
					 ": processes stuck:\n" + xf::describe_tasks("xpmem-stress"));
			for (int i = 0; i < nprocs; i++)
				if (pids[i] > 0 && !xf::kill_and_reap(pids[i]))
					deaths.push_back("process " + std::to_string(i) +
							 " cannot be killed: stuck in the kernel");
			break;
		}
		if (t - last_print >= 30000) {
			last_print = t;
			printf("  %.0f s: %llu words verified, %llu transitions\n", (t - t0) / 1000.0,
			       (unsigned long long)sh->verified_words.load(),
			       (unsigned long long)(sh->transitions[0].load() +
						    sh->transitions[1].load() +
						    sh->transitions[3].load()));
			fflush(stdout);
		}
		usleep(10000);
	}
	print_summary(*sh, (xf::now_ms() - t0) / 1000.0);

	for (auto &d : deaths)
		ADD_FAILURE() << d;
	int nfail = sh->log.count.load();
	for (int i = 0; i < nfail && i < xf::FailLog::kKept; i++)
		ADD_FAILURE() << sh->log.msg[i];
	EXPECT_EQ(nfail, 0) << "errors found (seed " << std::hex << g_seed << ")";

	// A run that saw neither quiet periods nor changes proved nothing.
	EXPECT_GT(sh->verified_words.load(), 0u);
	EXPECT_GT(sh->quiet_reads.load(), 0u);
	EXPECT_GT(sh->busy_reads.load(), 0u);
	if (g_seconds >= 60) {
		for (int t = 0; t < kTransitions; t++)
			EXPECT_GT(sh->transitions[t].load(), 0u) << transition_name(t) << ": never";
		EXPECT_GT(sh->mail_checked.load(), 0u);
		EXPECT_GT(sh->forks.load(), 0u);
	}

	bool back = xf::wait_stats_base(fd, base, 5000, &now);
	EXPECT_TRUE(back) << "xpmem objects left behind:\n  before: "
			  << xf::format_stats(base) << "\n  after:  " << xf::format_stats(now);
	close(fd);
}

}  // namespace
}  // namespace xs

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	xs::g_seconds = xf::option_u64(argc, argv, "--seconds", "XPMEM_STRESS_SECONDS", 300);
	bool given;
	xs::g_seed = xf::option_u64(argc, argv, "--seed", "XPMEM_STRESS_SEED", 0, &given);
	if (!given)
		xs::g_seed = xf::fresh_seed();
	xs::g_procs = xf::option_u64(argc, argv, "--procs", "XPMEM_STRESS_PROCS", 4);
	return RUN_ALL_TESTS();
}
