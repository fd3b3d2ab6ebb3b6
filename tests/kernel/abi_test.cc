// SPDX-License-Identifier: GPL-2.0-only
//
// abi_test.cc - the binary ioctl ABI, spoken without the library or the uapi
// structs: command numbers as literals and arguments as byte buffers at the
// offsets of the ABI table (docs/abi.md, "Layouts").  Existing binaries built against the
// old headers talk to the module exactly like this.
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"

namespace xk {
namespace {

// The upstream numbers, _IO('x', n): no size or direction bits.
constexpr unsigned long kVersion = 0x7800, kMake = 0x7801, kRemove = 0x7802,
	kGet = 0x7803, kRelease = 0x7804, kAttach = 0x7805, kDetach = 0x7806;

// The header and the ABI table must agree; a mismatch is a build failure.
static_assert(XPMEM_CMD_VERSION == kVersion && XPMEM_CMD_MAKE == kMake &&
	      XPMEM_CMD_REMOVE == kRemove && XPMEM_CMD_GET == kGet &&
	      XPMEM_CMD_RELEASE == kRelease && XPMEM_CMD_ATTACH == kAttach &&
	      XPMEM_CMD_DETACH == kDetach && XPMEM_CMD_FORK_BEGIN == 0x7807 &&
	      XPMEM_CMD_FORK_END == 0x7808, "upstream command numbers");
static_assert(sizeof(struct xpmem_cmd_make) == 40 &&
	      offsetof(struct xpmem_cmd_make, size) == 8 &&
	      offsetof(struct xpmem_cmd_make, permit_type) == 16 &&
	      offsetof(struct xpmem_cmd_make, permit_value) == 24 &&
	      offsetof(struct xpmem_cmd_make, segid) == 32, "MAKE layout");
static_assert(sizeof(struct xpmem_cmd_get) == 32 &&
	      offsetof(struct xpmem_cmd_get, flags) == 8 &&
	      offsetof(struct xpmem_cmd_get, permit_type) == 12 &&
	      offsetof(struct xpmem_cmd_get, permit_value) == 16 &&
	      offsetof(struct xpmem_cmd_get, apid) == 24, "GET layout");
static_assert(sizeof(struct xpmem_cmd_attach) == 40 &&
	      offsetof(struct xpmem_cmd_attach, offset) == 8 &&
	      offsetof(struct xpmem_cmd_attach, size) == 16 &&
	      offsetof(struct xpmem_cmd_attach, vaddr) == 24 &&
	      offsetof(struct xpmem_cmd_attach, fd) == 32 &&
	      offsetof(struct xpmem_cmd_attach, flags) == 36, "ATTACH layout");
static_assert(sizeof(struct xpmem_cmd_remove) == 8 &&
	      sizeof(struct xpmem_cmd_release) == 8 &&
	      sizeof(struct xpmem_cmd_detach) == 8, "8-byte commands");
static_assert(sizeof(struct xpmem_addr) == 16 &&
	      offsetof(struct xpmem_addr, offset) == 8, "struct xpmem_addr");

// A guard after each buffer shows whether the kernel wrote past the
// documented size.
constexpr size_t kGuard = 16;
constexpr unsigned char kGuardByte = 0xa5;

struct Buf {
	unsigned char b[64];
	size_t len;
	explicit Buf(size_t n) : len(n)
	{
		memset(b, 0, sizeof(b));
		memset(b + n, kGuardByte, kGuard);
	}
	bool guard_intact() const
	{
		for (size_t i = 0; i < kGuard; i++)
			if (b[len + i] != kGuardByte)
				return false;
		return true;
	}
};

bool unmapped(void *p)
{
	// msync() fails with ENOMEM on a range with no mapping.
	return msync(p, kPage, MS_ASYNC) == -1 && errno == ENOMEM;
}

class Abi : public KernelTest {};

TEST_F(Abi, VersionIsNonNegativeAndMatchesTheLibrary)
{
	long v = raw_ioctl(dev(), kVersion, nullptr);

	ASSERT_GE(v, 0) << "VERSION failed: " << strerror((int)-v);
	EXPECT_EQ(v, (long)xpmem_version());
	EXPECT_EQ(v, (long)XPMEM_ABI_VERSION);
	EXPECT_EQ(v & ~0x0fffffffL, 0) << "0x00MMmmmm: bits 28..31 must be 0";
}

TEST_F(Abi, FullCycleThroughHandBuiltBuffers)
{
	constexpr size_t kPages = 16;
	Mapping src(kPages * kPage);
	ASSERT_TRUE(src.ok());
	fill_pages(src.addr, kPages, 7);

	// MAKE: vaddr @0, size @8, permit_type @16, permit_value @24, segid @32.
	Buf make(40);
	put_u64(make.b, 0, (uint64_t)src.addr);
	put_u64(make.b, 8, kPages * kPage);
	put_u32(make.b, 16, 1);
	put_u64(make.b, 24, 0600);
	ASSERT_EQ(raw_ioctl(dev(), kMake, make.b), 0);
	int64_t segid = (int64_t)get_u64(make.b, 32);
	ASSERT_GT(segid, 0);
	EXPECT_TRUE(make.guard_intact()) << "MAKE wrote past 40 bytes";
	EXPECT_EQ(get_u64(make.b, 0), (uint64_t)src.addr) << "input clobbered";
	EXPECT_EQ(get_u64(make.b, 8), kPages * kPage) << "input clobbered";

	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1);

	// GET: segid @0, flags @8, permit_type @12, permit_value @16, apid @24.
	Buf get(32);
	put_u64(get.b, 0, (uint64_t)segid);
	put_u32(get.b, 8, 2);		// RDWR
	put_u32(get.b, 12, 1);
	put_u64(get.b, 16, 0600);
	ASSERT_EQ(raw_ioctl(dev(), kGet, get.b), 0);
	int64_t apid = (int64_t)get_u64(get.b, 24);
	ASSERT_GT(apid, 0);
	EXPECT_TRUE(get.guard_intact()) << "GET wrote past 32 bytes";
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.permits, base_.permits + 1);

	// ATTACH: apid @0, offset @8, size @16, vaddr @24 (out), fd @32,
	// flags @36.  Pages 1..8 of the segment.
	Buf att(40);
	put_u64(att.b, 0, (uint64_t)apid);
	put_u64(att.b, 8, kPage);
	put_u64(att.b, 16, 8 * kPage);
	put_u64(att.b, 24, 0);
	put_u32(att.b, 32, (uint32_t)dev());
	put_u32(att.b, 36, 0);
	ASSERT_EQ(raw_ioctl(dev(), kAttach, att.b), 0);
	uint64_t at = get_u64(att.b, 24);
	ASSERT_NE(at, 0u);
	ASSERT_EQ(at % kPage, 0u);
	EXPECT_TRUE(att.guard_intact()) << "ATTACH wrote past 40 bytes";
	EXPECT_EQ(get_u64(att.b, 0), (uint64_t)apid) << "input clobbered";
	EXPECT_EQ(get_u64(att.b, 8), kPage) << "input clobbered";
	EXPECT_EQ(get_u64(att.b, 16), 8 * kPage) << "input clobbered";
	EXPECT_FALSE(at >= (uint64_t)src.addr &&
		     at < (uint64_t)src.addr + kPages * kPage)
		<< "attachment placed inside the exported range";

	uint64_t found = 0;
	int64_t bad = check_pages_from((void *)at, 1, 8, 7, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 7, found, 1);
	// And the other way: a store through the attachment lands in src.
	((volatile uint64_t *)at)[3] = 0x1122334455667788ULL;
	EXPECT_EQ(src.as()[kWordsPerPage + 3], 0x1122334455667788ULL);
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.attachments, base_.attachments + 1);

	// DETACH: vaddr @0.
	Buf det(8);
	put_u64(det.b, 0, at);
	EXPECT_EQ(raw_ioctl(dev(), kDetach, det.b), 0);
	EXPECT_TRUE(unmapped((void *)at)) << "attachment still mapped";
	EXPECT_TRUE(det.guard_intact());

	// RELEASE: apid @0.
	Buf rel(8);
	put_u64(rel.b, 0, (uint64_t)apid);
	EXPECT_EQ(raw_ioctl(dev(), kRelease, rel.b), 0);
	EXPECT_TRUE(rel.guard_intact());

	// REMOVE: segid @0.
	Buf rem(8);
	put_u64(rem.b, 0, (uint64_t)segid);
	EXPECT_EQ(raw_ioctl(dev(), kRemove, rem.b), 0);
	EXPECT_TRUE(rem.guard_intact());

	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments);
	EXPECT_EQ(s.permits, base_.permits);
	EXPECT_EQ(s.attachments, base_.attachments);
}

TEST_F(Abi, WholeAddressSpaceMakeThroughBuffer)
{
	Buf make(40);
	put_u64(make.b, 0, 0);
	put_u64(make.b, 8, ~0ULL);	// XPMEM_MAXADDR_SIZE
	put_u32(make.b, 16, 1);
	put_u64(make.b, 24, 0666);
	ASSERT_EQ(raw_ioctl(dev(), kMake, make.b), 0);
	int64_t segid = (int64_t)get_u64(make.b, 32);
	EXPECT_GT(segid, 0);

	Buf rem(8);
	put_u64(rem.b, 0, (uint64_t)segid);
	EXPECT_EQ(raw_ioctl(dev(), kRemove, rem.b), 0);
}

TEST_F(Abi, StatsSizeIsInOut)
{
	// Room for more than we know: the kernel fills V1 and says so, and
	// leaves the rest alone.
	unsigned char big[XPMEM_STATS_SIZE_V1 + 64];
	memset(big, 0x5a, sizeof(big));
	put_u32(big, 0, sizeof(big));
	ASSERT_EQ(raw_ioctl(dev(), XPMEM_IOC_STATS, big), 0);
	EXPECT_EQ(get_u64(big, 0) & 0xffffffff, XPMEM_STATS_SIZE_V1);
	for (size_t i = XPMEM_STATS_SIZE_V1; i < sizeof(big); i++)
		ASSERT_EQ(big[i], 0x5a) << "byte " << i << " written";

	// Less than the first released size is refused.
	struct xpmem_stats small = {};
	small.size = 8;
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_IOC_STATS, &small), -EINVAL);

	struct xpmem_stats s = {};
	s.size = sizeof(s);
	ASSERT_EQ(raw_ioctl(dev(), XPMEM_IOC_STATS, &s), 0);
	EXPECT_EQ(s.size, XPMEM_STATS_SIZE_V1);
	EXPECT_EQ(s.pinned_pages, 0u) << "local use pins nothing";
}

}  // namespace
}  // namespace xk
