// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * reopen_test.cc - XPMEM_ERRNO_NOPROC (2004): the kernel's answer to a
 * process without a context, e.g. a forked child using its parent's
 * descriptor.  The library reopens the device once and retries once; a
 * second 2004 goes to the caller.
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "libxpmem_fixture.h"

namespace {

/* One library function, called with fixed arguments; true if it
 * succeeded. */
struct Op {
	const char *name;
	unsigned long request;
	bool (*call)(const Libxpmem &lib);
};

const Op kOps[] = {
	{"version", kVersion, [](const Libxpmem &l) { return l.version() >= 0; }},
	{"make", kMake,
	 [](const Libxpmem &l) {
		 return l.make(nullptr, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			       reinterpret_cast<void *>(0600)) == 77;
	 }},
	{"remove", kRemove, [](const Libxpmem &l) { return l.remove(77) == 0; }},
	{"get", kGet,
	 [](const Libxpmem &l) {
		 return l.get(77, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr) == 88;
	 }},
	{"release", kRelease, [](const Libxpmem &l) { return l.release(88) == 0; }},
	{"attach", kAttach,
	 [](const Libxpmem &l) {
		 return l.attach({88, 0x10000}, 4096, nullptr) ==
			reinterpret_cast<void *>(0x500000000000ULL);
	 }},
	{"detach", kDetach,
	 [](const Libxpmem &l) {
		 return l.detach(reinterpret_cast<void *>(0x500000000000ULL)) == 0;
	 }},
	{"ioctl", kVersion,
	 [](const Libxpmem &l) { return l.ioctl(0x7800, nullptr) >= 0; }},
};

/* Successful answers for the fixed arguments of kOps. */
int Answer(const fakedev_call &c, void *arg)
{
	switch (c.request) {
	case kVersion:
		return 0x00030000;
	case kMake:
		Store64(arg, 32, 77);
		return 0;
	case kGet:
		Store64(arg, 24, 88);
		return 0;
	case kAttach:
		Store64(arg, 24, 0x500000000000ULL);
		return 0;
	default:
		return 0;
	}
}

/* The first open's file has no context; later opens do. */
int NoContextOnFirstOpen(const fakedev_call &c, void *arg)
{
	if (c.instance == 1) {
		errno = kNoProc;
		return -1;
	}
	return Answer(c, arg);
}

class ReopenTest : public LibxpmemTest,
		   public ::testing::WithParamInterface<Op> {};

TEST_P(ReopenTest, NoContextReopensOnceAndRetriesOnce)
{
	const Op &op = GetParam();
	SetKernel(NoContextOnFirstOpen);

	EXPECT_TRUE(op.call(lib_));
	EXPECT_EQ(fakedev_open_count(), 2);
	const auto calls = Calls();
	ASSERT_EQ(calls.size(), 2u);
	EXPECT_EQ(calls[0].request, op.request);
	EXPECT_EQ(calls[1].request, op.request);
	EXPECT_EQ(calls[0].instance, 1);
	EXPECT_EQ(calls[1].instance, 2);
	/* The retry carries the same argument (ATTACH: the same descriptor
	 * number, which now refers to the new file). */
	EXPECT_EQ(RecordedBytes(calls[1]), RecordedBytes(calls[0]));

	/* The old file is gone and no descriptor leaked. */
	EXPECT_EQ(fakedev_live_fds(), 1);
	EXPECT_EQ(fakedev_instance_of(calls[1].fd), 2);
	EXPECT_NE(fcntl(calls[1].fd, F_GETFD) & FD_CLOEXEC, 0);
	EXPECT_EQ(fakedev_open_flags(1) & O_ACCMODE, O_RDWR);
	EXPECT_NE(fakedev_open_flags(1) & O_CLOEXEC, 0);

	/* Later calls use the new file without reopening. */
	EXPECT_TRUE(op.call(lib_));
	EXPECT_EQ(fakedev_open_count(), 2);
	ASSERT_EQ(fakedev_call_count(), 3);
	EXPECT_EQ(Calls()[2].instance, 2);
}

TEST_P(ReopenTest, SecondNoContextIsReturned)
{
	const Op &op = GetParam();
	SetKernel(Failing(kNoProc));

	errno = 0;
	EXPECT_FALSE(op.call(lib_));
	EXPECT_EQ(errno, kNoProc);
	EXPECT_EQ(fakedev_open_count(), 2);
	EXPECT_EQ(fakedev_call_count(), 2);
	EXPECT_EQ(fakedev_live_fds(), 1);
}

INSTANTIATE_TEST_SUITE_P(AllFunctions, ReopenTest, ::testing::ValuesIn(kOps),
			 [](const ::testing::TestParamInfo<Op> &info) {
				 return std::string(info.param.name);
			 });

class ReopenEdgeTest : public LibxpmemTest {};

TEST_F(ReopenEdgeTest, OtherErrorsAreNotRetried)
{
	SetKernel(Failing(ENOENT));
	errno = 0;
	EXPECT_EQ(lib_.remove(5), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(fakedev_open_count(), 1);
	EXPECT_EQ(fakedev_call_count(), 1);
}

TEST_F(ReopenEdgeTest, FailedReopenIsReturnedWithoutRetry)
{
	SetKernel(Failing(kNoProc));
	ASSERT_EQ(lib_.init(), 0);
	fakedev_fail_opens(1, EMFILE);
	errno = 0;
	EXPECT_EQ(lib_.make(nullptr, 4096, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EMFILE);
	EXPECT_EQ(fakedev_open_count(), 2);
	EXPECT_EQ(fakedev_call_count(), 1);
	/* The old descriptor is still in place for the next call. */
	EXPECT_EQ(fakedev_live_fds(), 1);
}

TEST_F(ReopenEdgeTest, EachCallGetsItsOwnRetry)
{
	SetKernel(Failing(kNoProc));
	EXPECT_EQ(lib_.version(), -1);
	EXPECT_EQ(lib_.version(), -1);
	EXPECT_EQ(fakedev_open_count(), 3);
	EXPECT_EQ(fakedev_call_count(), 4);
	EXPECT_EQ(fakedev_live_fds(), 1);
}

/* Threads that all fail on the same old file reopen it once between
 * them: the first one reopens, the others see that and just retry. */
TEST_F(ReopenEdgeTest, RacingThreadsReopenOnce)
{
	constexpr int kThreads = 8;
	std::atomic<int> on_old{0};
	SetKernel([&on_old](const fakedev_call &c, void *arg) {
		if (c.instance == 1) {
			/* Hold every thread on the old file until all are in. */
			on_old++;
			for (int i = 0; i < 2000 && on_old.load() < kThreads; i++) {
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, nullptr);
			}
			errno = kNoProc;
			return -1;
		}
		return Answer(c, arg);
	});
	ASSERT_EQ(lib_.init(), 0);

	std::vector<int> results(kThreads, -2);
	std::vector<std::thread> threads;
	for (int i = 0; i < kThreads; i++)
		threads.emplace_back([&, i] { results[i] = lib_.version(); });
	for (auto &t : threads)
		t.join();

	EXPECT_EQ(on_old.load(), kThreads);
	EXPECT_EQ(fakedev_open_count(), 2);
	EXPECT_EQ(fakedev_call_count(), 2 * kThreads);
	EXPECT_EQ(fakedev_live_fds(), 1);
	for (int r : results)
		EXPECT_EQ(r, 0x00030000);
}

} // namespace
