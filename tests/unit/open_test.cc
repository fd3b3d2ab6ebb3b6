// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * open_test.cc - how libxpmem opens the device: lazily, once, read-write,
 * close-on-exec, at $XPMEM_DEVICE or /dev/xpmem, and once among racing
 * threads.
 */
#include <fcntl.h>
#include <pthread.h>

#include <thread>
#include <vector>

#include "libxpmem_fixture.h"

namespace {

class OpenTest : public LibxpmemTest {};

TEST_F(OpenTest, NothingOpenedBeforeTheFirstCall)
{
	EXPECT_EQ(fakedev_open_count(), 0);
	EXPECT_EQ(fakedev_live_fds(), 0);
	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
}

TEST_F(OpenTest, FirstCallOfAnyKindOpens)
{
	EXPECT_EQ(fakedev_open_count(), 0);
	EXPECT_EQ(lib_.detach(reinterpret_cast<void *>(0x10000)), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
	ASSERT_EQ(fakedev_call_count(), 1);
	EXPECT_EQ(Calls()[0].request, kDetach);
}

TEST_F(OpenTest, OpensReadWriteAndCloseOnExec)
{
	ASSERT_GE(lib_.version(), 0);
	ASSERT_EQ(fakedev_open_count(), 1);
	const int flags = fakedev_open_flags(0);
	EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
	EXPECT_NE(flags & O_CLOEXEC, 0);
	const int fd = fakedev_open_fd(0);
	ASSERT_GE(fd, 0);
	EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
}

TEST_F(OpenTest, OneDescriptorForAllCalls)
{
	ASSERT_GE(lib_.version(), 0);
	lib_.make(nullptr, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
		  reinterpret_cast<void *>(0600));
	lib_.get(1, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	lib_.attach({1, 0}, 4096, nullptr);
	lib_.detach(nullptr);
	lib_.release(1);
	lib_.remove(1);
	EXPECT_EQ(fakedev_open_count(), 1);
	const auto calls = Calls();
	ASSERT_EQ(calls.size(), 7u);
	for (const auto &c : calls) {
		EXPECT_EQ(c.fd, fakedev_open_fd(0));
		EXPECT_EQ(c.instance, 1);
	}
}

TEST_F(OpenTest, DefaultPathIsDevXpmem)
{
	fakedev_arm("/dev/xpmem");
	ASSERT_EQ(unsetenv("XPMEM_DEVICE"), 0);
	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
}

TEST_F(OpenTest, EmptyOverrideMeansDefaultPath)
{
	fakedev_arm("/dev/xpmem");
	ASSERT_EQ(setenv("XPMEM_DEVICE", "", 1), 0);
	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
}

TEST_F(OpenTest, OverrideIsReadAtOpenTime)
{
	/* Nothing is read at load: an override set after loading counts. */
	fakedev_arm("/nonexistent/xpmem-other");
	ASSERT_EQ(setenv("XPMEM_DEVICE", "/nonexistent/xpmem-other", 1), 0);
	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
}

TEST_F(OpenTest, FailedOpenIsReportedAndRetriedByTheNextCall)
{
	fakedev_fail_opens(1, ENOENT);
	errno = 0;
	EXPECT_EQ(lib_.version(), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(fakedev_call_count(), 0);

	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 2);
	EXPECT_EQ(fakedev_call_count(), 1);
	EXPECT_EQ(fakedev_live_fds(), 1);
}

TEST_F(OpenTest, FailedOpenFailsEveryFunction)
{
	fakedev_fail_opens(100, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.make(nullptr, 4096, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.get(1, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.attach({1, 0}, 4096, nullptr), reinterpret_cast<void *>(-1));
	EXPECT_EQ(errno, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.detach(nullptr), -1);
	EXPECT_EQ(errno, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.remove(1), -1);
	EXPECT_EQ(errno, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.release(1), -1);
	EXPECT_EQ(errno, EACCES);
	EXPECT_EQ(fakedev_call_count(), 0);
}

TEST_F(OpenTest, InitOpensOnce)
{
	EXPECT_EQ(lib_.init(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
	EXPECT_EQ(lib_.init(), 0);
	EXPECT_GE(lib_.version(), 0);
	EXPECT_EQ(fakedev_open_count(), 1);
	EXPECT_EQ(fakedev_call_count(), 1) << "xpmem_init issues no command";
}

TEST_F(OpenTest, InitReportsOpenFailure)
{
	fakedev_fail_opens(1, EACCES);
	errno = 0;
	EXPECT_EQ(lib_.init(), -1);
	EXPECT_EQ(errno, EACCES);
	EXPECT_EQ(lib_.init(), 0);
	EXPECT_EQ(fakedev_open_count(), 2);
}

/* Threads meet at a barrier and make their first call together; the fake
 * open sleeps, so without mutual exclusion several would open. */
TEST_F(OpenTest, RacingFirstCallsOpenOnce)
{
	constexpr int kThreads = 16;
	fakedev_set_open_delay_ms(50);
	SetKernel([](const fakedev_call &, void *) { return 0x00030000; });

	pthread_barrier_t barrier;
	ASSERT_EQ(pthread_barrier_init(&barrier, nullptr, kThreads), 0);
	std::vector<int> results(kThreads, -2);
	std::vector<std::thread> threads;
	for (int i = 0; i < kThreads; i++) {
		threads.emplace_back([&, i] {
			pthread_barrier_wait(&barrier);
			results[i] = lib_.version();
		});
	}
	for (auto &t : threads)
		t.join();
	pthread_barrier_destroy(&barrier);

	EXPECT_EQ(fakedev_open_count(), 1);
	EXPECT_EQ(fakedev_live_fds(), 1);
	EXPECT_EQ(fakedev_call_count(), kThreads);
	for (int r : results)
		EXPECT_EQ(r, 0x00030000);
}

} // namespace
