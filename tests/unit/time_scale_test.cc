// SPDX-License-Identifier: GPL-2.0-only
//
// time_scale_test.cc - the lab programs' bounds on waits follow
// XPMEM_TEST_TIME_SCALE (tests/lib/test_proc.h), which tests/run sets on the
// debug kernel: unset is 1 (stock runs keep their bounds), a number scales
// wait_pid() and the scaled_* helpers, and a bad value stops the program
// rather than pass as 1.  time_scale() reads the variable once per process,
// so each case runs in a child of its own.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include <gtest/gtest.h>

#include "test_proc.h"

namespace {

// Runs fn in a child with XPMEM_TEST_TIME_SCALE set to value (nullptr:
// unset); returns the child's wait status.
int in_child(const char *value, const std::function<int()> &fn)
{
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		if (value)
			setenv("XPMEM_TEST_TIME_SCALE", value, 1);
		else
			unsetenv("XPMEM_TEST_TIME_SCALE");
		_exit(fn());
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

int exit_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

// A child of the test child that sleeps ms, then exits 7.
pid_t sleeper(int ms)
{
	pid_t pid = fork();
	if (pid == 0) {
		usleep(ms * 1000);
		_exit(7);
	}
	return pid;
}

TEST(TimeScale, UnsetIsOne)
{
	int st = in_child(nullptr, [] {
		if (xt::time_scale() != 1)
			return 1;
		return xt::scaled_ms(1500) == 1500 && xt::scaled_s(30) == 30 ? 0 : 2;
	});
	EXPECT_EQ(exit_code(st), 0);
}

TEST(TimeScale, ScalesMillisecondsAndSeconds)
{
	int st = in_child("4", [] {
		if (xt::time_scale() != 4)
			return 1;
		return xt::scaled_ms(1500) == 6000 && xt::scaled_s(30) == 120 ? 0 : 2;
	});
	EXPECT_EQ(exit_code(st), 0);
}

TEST(TimeScale, ClampsToInt)
{
	int st = in_child("1000", [] {
		return xt::scaled_ms(int64_t(1) << 40) == INT32_MAX ? 0 : 1;
	});
	EXPECT_EQ(exit_code(st), 0);
}

// The same bound on a child that sleeps 1 s: 200 ms times 1 kills it,
// times 50 (10 s) sees it exit.
TEST(TimeScale, WaitPidBoundIsScaled)
{
	int st = in_child(nullptr, [] {
		return xt::wait_pid(sleeper(1000), 200) == -1 ? 0 : 1;
	});
	EXPECT_EQ(exit_code(st), 0) << "unscaled: the bound did not end the wait";
	st = in_child("50", [] {
		int s = xt::wait_pid(sleeper(1000), 200);
		return s != -1 && WIFEXITED(s) && WEXITSTATUS(s) == 7 ? 0 : 1;
	});
	EXPECT_EQ(exit_code(st), 0) << "scaled by 50: the wait was cut short";
}

TEST(TimeScale, BadValueStopsTheProgram)
{
	for (const char *bad : { "abc", "0", "-2", "4x", "1001", "99999999999999999999" }) {
		int st = in_child(bad, [] { return xt::time_scale() > 0 ? 0 : 1; });
		EXPECT_EQ(exit_code(st), 2) << "XPMEM_TEST_TIME_SCALE=" << bad;
	}
}

}  // namespace
