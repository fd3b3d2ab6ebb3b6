// SPDX-License-Identifier: GPL-2.0-only
//
// make_test.cc - xpmem_make and xpmem_remove: argument checks, the whole
// address space, segment ids (positive, unique, partition bits, not derived
// from the pid), ownership, and exactly one segment per call.
#include <errno.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Make : public KernelTest {};

TEST_F(Make, VaddrAndSizeMustBePageAligned)
{
	Mapping m(4 * kPage);
	ASSERT_TRUE(m.ok());
	char *p = (char *)m.addr;

	struct {
		void *vaddr;
		size_t size;
	} bad[] = {
		{ p + 1, kPage }, { p + 2048, kPage }, { p, kPage + 1 },
		{ p, 4095 }, { p, 1 }, { p + 8, 2 * kPage - 8 },
	};
	for (auto &b : bad) {
		errno = 0;
		EXPECT_EQ(xpmem_make(b.vaddr, b.size, XPMEM_PERMIT_MODE,
				     (void *)0600), -1)
			<< "vaddr " << b.vaddr << " size " << b.size;
		EXPECT_EQ(errno, EINVAL)
			<< "vaddr " << b.vaddr << " size " << b.size;
	}
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments) << "a refused make left a segment";
}

TEST_F(Make, SizeZeroIsInvalid)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	errno = 0;
	EXPECT_EQ(xpmem_make(m.addr, 0, XPMEM_PERMIT_MODE, (void *)0600), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(xpmem_make(nullptr, 0, XPMEM_PERMIT_MODE, (void *)0600), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Make, WholeAddressSpaceFromZeroIsAccepted)
{
	Segment seg(make_whole());
	ASSERT_GT(seg.id, 0) << strerror(errno);
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1);
	EXPECT_EQ(xpmem_remove(seg.id), 0);
	seg.id = -1;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments);
}

TEST_F(Make, OneSegmentPerCall)
{
	Mapping m(3 * kPage);
	ASSERT_TRUE(m.ok());
	struct xpmem_stats s;

	for (int i = 0; i < 3; i++) {
		Segment seg(xpmem_make((char *)m.addr + i * kPage, kPage,
				       XPMEM_PERMIT_MODE, (void *)0600));
		ASSERT_GT(seg.id, 0);
		ASSERT_TRUE(read_stats(&s));
		EXPECT_EQ(s.segments, base_.segments + 1)
			<< "xpmem_make must create exactly one segment";
	}
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments);
}

TEST_F(Make, SegidIsPositiveWithPartitionZero)
{
	Segment seg(make_whole());
	ASSERT_GT(seg.id, 0);
	EXPECT_EQ((uint64_t)seg.id >> 63, 0u);
	// One kernel, no fabric: the owner's partition id is 0.
	EXPECT_EQ(XPMEM_SEGID_PARTITION(seg.id), 0u)
		<< std::hex << "segid 0x" << seg.id;
}

TEST_F(Make, ManySegidsAreUnique)
{
	constexpr size_t kN = 512;
	Mapping m(kN * kPage);
	ASSERT_TRUE(m.ok());
	std::vector<xpmem_segid_t> ids;
	std::set<xpmem_segid_t> seen;

	for (size_t i = 0; i < kN; i++) {
		xpmem_segid_t id = xpmem_make((char *)m.addr + i * kPage, kPage,
					      XPMEM_PERMIT_MODE, (void *)0600);
		if (id <= 0) {
			ADD_FAILURE() << "make #" << i << ": " << strerror(errno);
			break;
		}
		EXPECT_TRUE(seen.insert(id).second) << "segid reused: " << id;
		ids.push_back(id);
	}
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + ids.size());
	for (xpmem_segid_t id : ids)
		EXPECT_EQ(xpmem_remove(id), 0);
}

// True if the pid appears, at one fixed bit position, in every id: what a
// pid-derived id looks like.  Random ids match at a given position with
// probability 2^-(bits of pid) each, so all of them never do.
bool embeds_pid(const std::vector<int64_t> &ids, pid_t pid)
{
	unsigned bits = 64 - __builtin_clzll((unsigned long long)pid);
	uint64_t mask = (1ULL << bits) - 1;

	for (unsigned shift = 0; shift + bits <= 63; shift++) {
		bool all = true;
		for (int64_t id : ids)
			all = all && (((uint64_t)id >> shift) & mask) == (uint64_t)pid;
		if (all)
			return true;
	}
	return false;
}

// Sequential counters give small steps between consecutive ids.
size_t close_steps(const std::vector<int64_t> &ids)
{
	size_t n = 0;

	for (size_t i = 1; i < ids.size(); i++) {
		int64_t d = ids[i] - ids[i - 1];
		if (d > -(1LL << 24) && d < (1LL << 24))
			n++;
	}
	return n;
}

TEST_F(Make, SegidsAreNotDerivedFromThePid)
{
	constexpr int kN = 32;
	Mapping m(kN * kPage);
	ASSERT_TRUE(m.ok());
	std::vector<int64_t> mine;
	for (int i = 0; i < kN; i++) {
		xpmem_segid_t id = xpmem_make((char *)m.addr + i * kPage, kPage,
					      XPMEM_PERMIT_MODE, (void *)0600);
		ASSERT_GT(id, 0);
		mine.push_back(id);
	}

	Peer other;
	ASSERT_TRUE(other.started()) << other.why();
	uint64_t buf = other.mmap(kN * kPage);
	ASSERT_NE(buf, 0u);
	std::vector<int64_t> theirs;
	for (int i = 0; i < kN; i++) {
		int64_t id = other.make(buf + i * kPage, kPage);
		ASSERT_GT(id, 0);
		theirs.push_back(id);
	}

	EXPECT_FALSE(embeds_pid(mine, getpid())) << "segids carry our pid";
	EXPECT_FALSE(embeds_pid(theirs, other.pid())) << "segids carry the peer's pid";
	EXPECT_LT(close_steps(mine), (size_t)kN / 2) << "segids look sequential";
	EXPECT_LT(close_steps(theirs), (size_t)kN / 2) << "segids look sequential";

	// Nothing in common between the two processes' ids either.
	std::set<int64_t> all(mine.begin(), mine.end());
	for (int64_t id : theirs)
		EXPECT_TRUE(all.insert(id).second) << "segid in both processes";

	for (int64_t id : mine)
		EXPECT_EQ(xpmem_remove(id), 0);
	for (int64_t id : theirs)
		EXPECT_EQ(other.call(Op::Remove, (uint64_t)id).ret, 0);
}

TEST_F(Make, RemoveOfUnknownSegidIsEnoent)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	xpmem_segid_t id = xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE,
				      (void *)0600);
	ASSERT_GT(id, 0);
	ASSERT_EQ(xpmem_remove(id), 0);

	errno = 0;
	EXPECT_EQ(xpmem_remove(id), -1) << "removed twice";
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(xpmem_remove(0x0000123456789abdLL), -1);
	EXPECT_EQ(errno, ENOENT);
	// Not positive: not an id at all.
	errno = 0;
	EXPECT_EQ(xpmem_remove(0), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(xpmem_remove(-5), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Make, RemoveByAnotherProcessIsEperm)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0666));
	ASSERT_GT(seg.id, 0);

	// Even root: a segment belongs to the process that made it.
	Peer other;
	ASSERT_TRUE(other.started()) << other.why();
	Reply r = other.call(Op::Remove, (uint64_t)seg.id);
	EXPECT_EQ(r.ret, -1);
	EXPECT_EQ(r.err, EPERM);

	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1) << "segment gone after EPERM";
	EXPECT_EQ(xpmem_remove(seg.id), 0);
	seg.id = -1;
}

TEST_F(Make, SegmentOfUnmappedRangeIsAccepted)
{
	// The range need not be mapped at make time (MPI exports everything).
	uintptr_t hole = free_range(16 * kPage, kPage);
	ASSERT_NE(hole, 0u);
	Segment seg(xpmem_make((void *)hole, 16 * kPage, XPMEM_PERMIT_MODE,
			       (void *)0600));
	EXPECT_GT(seg.id, 0) << strerror(errno);
}

}  // namespace
}  // namespace xk
