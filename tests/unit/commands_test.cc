// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * commands_test.cc - what each function hands the kernel, byte for byte at
 * the offsets of docs/abi.md, and how it returns the kernel's answer.
 */
#include <fcntl.h>

#include <tuple>

#include "libxpmem_fixture.h"

namespace {

class CommandTest : public LibxpmemTest {
protected:
	/* The single recorded call, which must be request. */
	fakedev_call OnlyCall(unsigned long request)
	{
		const auto calls = Calls();
		EXPECT_EQ(calls.size(), 1u);
		if (calls.empty())
			return fakedev_call{};
		EXPECT_EQ(calls[0].request, request);
		return calls[0];
	}
};

TEST_F(CommandTest, VersionReturnsTheKernelsValue)
{
	for (int v : {0x00026005, 0x00027011, 0x00030000, 0}) {
		fakedev_arm(kFakePath);
		SetKernel([v](const fakedev_call &, void *) { return v; });
		EXPECT_EQ(lib_.version(), v);
		const auto c = OnlyCall(kVersion);
		EXPECT_EQ(c.len, 0u);
		EXPECT_EQ(c.argp, nullptr);
	}
}

TEST_F(CommandTest, VersionErrorIsReturned)
{
	SetKernel(Failing(ENOTTY));
	errno = 0;
	EXPECT_EQ(lib_.version(), -1);
	EXPECT_EQ(errno, ENOTTY);
}

TEST_F(CommandTest, MakeArgumentAndResult)
{
	SetKernel([](const fakedev_call &, void *arg) {
		Store64(arg, 32, 0x0001234567abcdefULL);
		return 0;
	});
	const xpmem_segid_t segid =
		lib_.make(reinterpret_cast<void *>(0x7f1234560000ULL), 0x200000,
			  XPMEM_PERMIT_MODE, reinterpret_cast<void *>(0600));
	EXPECT_EQ(segid, 0x0001234567abcdefLL);
	const auto c = OnlyCall(kMake);
	EXPECT_EQ(RecordedBytes(c), ArgBytes(40)
					    .u64(0, 0x7f1234560000ULL)
					    .u64(8, 0x200000)
					    .u32(16, XPMEM_PERMIT_MODE)
					    .u64(24, 0600)
					    .bytes());
}

TEST_F(CommandTest, MakeWholeAddressSpace)
{
	SetKernel([](const fakedev_call &, void *arg) {
		Store64(arg, 32, 42);
		return 0;
	});
	EXPECT_EQ(lib_.make(nullptr, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
			    reinterpret_cast<void *>(0666)), 42);
	const auto c = OnlyCall(kMake);
	EXPECT_EQ(RecordedBytes(c), ArgBytes(40)
					    .u64(8, ~0ULL)
					    .u32(16, 1)
					    .u64(24, 0666)
					    .bytes());
}

/* One segment per call: an earlier library issued MAKE twice and leaked
 * one segment each time. */
TEST_F(CommandTest, MakeIssuesExactlyOneCommandPerCall)
{
	int64_t next = 1;
	SetKernel([&next](const fakedev_call &, void *arg) {
		Store64(arg, 32, next++);
		return 0;
	});
	for (int i = 1; i <= 5; i++)
		EXPECT_EQ(lib_.make(nullptr, XPMEM_MAXADDR_SIZE,
				    XPMEM_PERMIT_MODE, nullptr), i);
	const auto calls = Calls();
	EXPECT_EQ(calls.size(), 5u);
	for (const auto &c : calls)
		EXPECT_EQ(c.request, kMake);
}

TEST_F(CommandTest, MakeErrorIsReturnedAfterOneCommand)
{
	SetKernel(Failing(EINVAL));
	errno = 0;
	EXPECT_EQ(lib_.make(reinterpret_cast<void *>(0x1001), 4096,
			    XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EINVAL);
	OnlyCall(kMake);
}

TEST_F(CommandTest, RemoveArgument)
{
	EXPECT_EQ(lib_.remove(0x0123456789abcdefLL), 0);
	EXPECT_EQ(RecordedBytes(OnlyCall(kRemove)),
		  ArgBytes(8).u64(0, 0x0123456789abcdefULL).bytes());
}

TEST_F(CommandTest, RemoveErrorsAreReturned)
{
	for (int err : {ENOENT, EPERM, EINVAL}) {
		fakedev_arm(kFakePath);
		SetKernel(Failing(err));
		errno = 0;
		EXPECT_EQ(lib_.remove(7), -1);
		EXPECT_EQ(errno, err);
	}
}

/* Open MPI and libfabric pass 0666, MPICH 0600, UCX NULL: the kernel gets
 * NULL from each, as the other XPMEM libraries send it (their modules refuse
 * any other permit value with EINVAL; ours ignores it), and none makes the
 * call fail. */
class GetPermitTest
	: public CommandTest,
	  public ::testing::WithParamInterface<std::tuple<uintptr_t, int>> {};

TEST_P(GetPermitTest, PermitValueIsSentAsNullFlagsPassThrough)
{
	const uintptr_t permit = std::get<0>(GetParam());
	const int flags = std::get<1>(GetParam());
	SetKernel([](const fakedev_call &, void *arg) {
		Store64(arg, 24, 0x0000777700001111ULL);
		return 0;
	});
	EXPECT_EQ(lib_.get(0x0042000000000099LL, flags, XPMEM_PERMIT_MODE,
			   reinterpret_cast<void *>(permit)),
		  0x0000777700001111LL);
	EXPECT_EQ(RecordedBytes(OnlyCall(kGet)), ArgBytes(32)
							 .u64(0, 0x0042000000000099ULL)
							 .u32(8, flags)
							 .u32(12, XPMEM_PERMIT_MODE)
							 .u64(16, 0)
							 .bytes());
}

INSTANTIATE_TEST_SUITE_P(
	Consumers, GetPermitTest,
	::testing::Combine(::testing::Values(uintptr_t{0666}, uintptr_t{0600},
					     uintptr_t{0}),
			   ::testing::Values(XPMEM_RDWR, XPMEM_RDONLY)));

TEST_F(CommandTest, GetErrorsAreReturned)
{
	for (int err : {EACCES, ENOENT, EINVAL, ENOMEM}) {
		fakedev_arm(kFakePath);
		SetKernel(Failing(err));
		errno = 0;
		EXPECT_EQ(lib_.get(5, XPMEM_RDWR, XPMEM_PERMIT_MODE,
				   reinterpret_cast<void *>(0600)), -1);
		EXPECT_EQ(errno, err);
	}
}

TEST_F(CommandTest, ReleaseArgument)
{
	EXPECT_EQ(lib_.release(0x00007fffffffffffLL), 0);
	EXPECT_EQ(RecordedBytes(OnlyCall(kRelease)),
		  ArgBytes(8).u64(0, 0x00007fffffffffffULL).bytes());
}

TEST_F(CommandTest, ReleaseErrorsAreReturned)
{
	for (int err : {ENOENT, EPERM}) {
		fakedev_arm(kFakePath);
		SetKernel(Failing(err));
		errno = 0;
		EXPECT_EQ(lib_.release(9), -1);
		EXPECT_EQ(errno, err);
	}
}

TEST_F(CommandTest, AttachArgumentCarriesTheDeviceDescriptor)
{
	SetKernel([](const fakedev_call &, void *arg) {
		Store64(arg, 24, 0x7f0000200000ULL);
		return 0;
	});
	const xpmem_addr addr = {0x00000abc00000def, 0x7ffe12340000};
	EXPECT_EQ(lib_.attach(addr, 0x800000, nullptr),
		  reinterpret_cast<void *>(0x7f0000200000ULL));
	const auto c = OnlyCall(kAttach);
	ASSERT_EQ(fakedev_open_count(), 1);
	EXPECT_EQ(c.fd, fakedev_open_fd(0));
	EXPECT_EQ(RecordedBytes(c), ArgBytes(40)
					    .u64(0, 0x00000abc00000defULL)
					    .u64(8, 0x7ffe12340000ULL)
					    .u64(16, 0x800000)
					    .u64(24, 0)
					    .u32(32, fakedev_open_fd(0))
					    .u32(36, 0)
					    .bytes());
}

TEST_F(CommandTest, AttachPassesTheWantedAddress)
{
	SetKernel([](const fakedev_call &, void *arg) {
		Store64(arg, 24, Load64(arg, 24));
		return 0;
	});
	void *want = reinterpret_cast<void *>(0x600000000000ULL);
	EXPECT_EQ(lib_.attach({3, 0x1000}, 0x2000, want), want);
	EXPECT_EQ(RecordedBytes(OnlyCall(kAttach)), ArgBytes(40)
							    .u64(0, 3)
							    .u64(8, 0x1000)
							    .u64(16, 0x2000)
							    .u64(24, 0x600000000000ULL)
							    .u32(32, fakedev_open_fd(0))
							    .bytes());
}

TEST_F(CommandTest, AttachErrorsAreReturned)
{
	for (int err : {EINVAL, ENOENT, ENOMEM, EFAULT}) {
		fakedev_arm(kFakePath);
		SetKernel(Failing(err));
		errno = 0;
		EXPECT_EQ(lib_.attach({1, 0}, 4096, nullptr),
			  reinterpret_cast<void *>(-1));
		EXPECT_EQ(errno, err);
	}
}

TEST_F(CommandTest, DetachArgument)
{
	EXPECT_EQ(lib_.detach(reinterpret_cast<void *>(0x7f0000201000ULL)), 0);
	EXPECT_EQ(RecordedBytes(OnlyCall(kDetach)),
		  ArgBytes(8).u64(0, 0x7f0000201000ULL).bytes());
}

TEST_F(CommandTest, DetachErrorIsReturned)
{
	SetKernel(Failing(EINVAL));
	errno = 0;
	EXPECT_EQ(lib_.detach(reinterpret_cast<void *>(0x1000)), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(CommandTest, RawIoctlPassesCommandArgumentAndResult)
{
	SetKernel([](const fakedev_call &c, void *) {
		return c.request == kVersion ? 0x00030000 : 17;
	});
	EXPECT_EQ(lib_.ioctl(0x7800, nullptr), 0x00030000);

	/* A sized extension number has bit 31 set: it must reach ioctl()
	 * as the same 32-bit value, not sign-extended. */
	unsigned char buf[104] = {};
	const unsigned int stats = 0xc0687880u;
	EXPECT_EQ(lib_.ioctl(static_cast<int>(stats), buf), 17);
	const auto calls = Calls();
	ASSERT_EQ(calls.size(), 2u);
	EXPECT_EQ(calls[0].request, kVersion);
	EXPECT_EQ(calls[1].request, 0xc0687880UL);
	EXPECT_EQ(calls[1].argp, static_cast<void *>(buf));
}

TEST_F(CommandTest, RawIoctlErrorIsReturned)
{
	SetKernel(Failing(ENOTTY));
	errno = 0;
	EXPECT_EQ(lib_.ioctl(0x7899, nullptr), -1);
	EXPECT_EQ(errno, ENOTTY);
}

} // namespace
