// SPDX-License-Identifier: GPL-2.0-only
//
// release_test.cc - xpmem_release: unknown and foreign permit ids, and what
// happens to attachments made through a permit that is then released.
//
// What we assert for a released permit: attachments already made through it
// stay valid and coherent until they are detached (a release is not a
// revocation - only remove and exporter exit take pages away); new attaches
// through it fail with ENOENT; releasing it again is ENOENT; once the last
// attachment is gone nothing is left (the fixture checks the counters).
#include <errno.h>
#include <string.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Release : public KernelTest {};

TEST_F(Release, UnknownApidIsEnoent)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0600));
	ASSERT_GT(seg.id, 0);
	xpmem_apid_t apid = xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	ASSERT_GT(apid, 0);
	ASSERT_EQ(xpmem_release(apid), 0);

	errno = 0;
	EXPECT_EQ(xpmem_release(apid), -1) << "released twice";
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(xpmem_release(0x00004321feedfaceLL), -1);
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(xpmem_release(0), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(xpmem_release(-3), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(Release, ByAnotherProcessIsEperm)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	fill_pages(m.addr, 1, 41);
	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0666));
	ASSERT_GT(seg.id, 0);
	Permit apid(xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);

	Peer other;
	ASSERT_TRUE(other.started()) << other.why();
	Reply r = other.call(Op::Release, (uint64_t)apid.id);
	EXPECT_EQ(r.ret, -1);
	EXPECT_EQ(r.err, EPERM);
	// Nor may it attach through our permit.
	r = other.call(Op::Attach, (uint64_t)apid.id, 0, kPage, 0);
	EXPECT_EQ(r.ret, -1) << "attached through another process's permit";
	EXPECT_TRUE(r.err == EPERM || r.err == ENOENT) << strerror((int)r.err);

	// Still ours and usable.
	Attachment at(xpmem_attach({ apid.id, 0 }, kPage, nullptr));
	ASSERT_TRUE(at.ok()) << strerror(errno);
	EXPECT_EQ(check_pages(at.addr, 1, 41), -1);
}

TEST_F(Release, AttachmentsOutliveTheirPermit)
{
	constexpr size_t kPages = 4;
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPages * kPage);
	ASSERT_NE(A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, A, kPages, 42).ret, 0);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);

	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	ASSERT_GT(apid, 0);
	Attachment at(xpmem_attach({ apid, (off_t)A }, kPages * kPage, nullptr));
	ASSERT_TRUE(at.ok());
	ASSERT_EQ(check_pages(at.addr, 1, 42), -1);	// page 0 mapped now
	ASSERT_EQ(xpmem_release(apid), 0);

	// Existing mapping: still readable, writable and coherent.
	uint64_t found = 0;
	int64_t bad = check_pages(at.addr, kPages, 42, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 42, found);
	at.as()[3] = 0x4242;
	Reply rd = exp.call(Op::Read, A + 24);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0x4242u);
	ASSERT_EQ(exp.call(Op::Munmap, A, kPage).ret, 0);
	ASSERT_EQ(exp.mmap(kPage, kMapFixed, A), A);
	ASSERT_EQ(exp.call(Op::Fill, A, 1, 43).ret, 0);
	EXPECT_EQ(check_pages(at.addr, 1, 43), -1) << "not coherent any more";

	// The permit itself is gone.
	errno = 0;
	void *p = xpmem_attach({ apid, (off_t)A }, kPage, nullptr);
	EXPECT_EQ(p, (void *)-1) << "attached through a released permit";
	EXPECT_EQ(errno, ENOENT);
	errno = 0;
	EXPECT_EQ(xpmem_release(apid), -1);
	EXPECT_EQ(errno, ENOENT);
}

TEST_F(Release, PermitsOfARemovedSegment)
{
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPage);
	ASSERT_NE(A, 0u);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	ASSERT_GT(apid, 0);
	ASSERT_EQ(exp.call(Op::Remove, (uint64_t)segid).ret, 0);

	// man xpmem_attach: ENOENT when the segment has been removed.
	errno = 0;
	void *p = xpmem_attach({ apid, (off_t)A }, kPage, nullptr);
	EXPECT_EQ(p, (void *)-1);
	EXPECT_EQ(errno, ENOENT);
	// Releasing is still allowed or already done; either way nothing may
	// stay behind (checked by the fixture).
	int r = xpmem_release(apid);
	EXPECT_TRUE(r == 0 || errno == ENOENT) << strerror(errno);
}

}  // namespace
}  // namespace xk
