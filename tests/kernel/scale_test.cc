// SPDX-License-Identifier: GPL-2.0-only
//
// scale_test.cc - 1, 3 and 10 attacher processes x 1, 16, 1000 and 100,000
// pages of one exporter, side by side.  Each attacher checks the exporter's
// pattern on every page, then stamps its own word in every page, and the
// exporter checks every stamp.  The object counters must match the number
// of attachers exactly while they are attached.
//
// 100,000 pages are 400 MB in the exporter (the VM has about 2 GiB; the
// attachers add only page tables).  Above 1000 pages the pattern is sparse
// (three words per page) to keep the TCG run time reasonable.
#include <errno.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

struct Shape {
	int attachers;
	size_t pages;
};

class Scale : public KernelTest, public ::testing::WithParamInterface<Shape> {};

constexpr int kSlowMs = 600000;

TEST_P(Scale, AttachersCheckAndStampEveryPage)
{
	const Shape sh = GetParam();
	const bool sparse = sh.pages > 1000;
	const uint64_t seed = 50;

	PeerOptions slow;
	slow.lifetime_s = 1200;
	Peer exp(slow);
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(sh.pages * kPage);
	ASSERT_NE(A, 0u) << "exporter could not map " << sh.pages << " pages";
	ASSERT_EQ(exp.call(Op::Fill, A, sh.pages, seed, sparse, 0, kSlowMs).ret, 0);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);

	std::vector<std::unique_ptr<Peer>> att;
	for (int i = 0; i < sh.attachers; i++) {
		att.emplace_back(new Peer(slow));
		ASSERT_TRUE(att.back()->started()) << att.back()->why();
	}
	std::vector<uint64_t> apid(sh.attachers), P(sh.attachers);
	for (int i = 0; i < sh.attachers; i++) {
		Reply g = att[i]->call(Op::Get, (uint64_t)segid, XPMEM_RDWR, 0666);
		ASSERT_GT(g.ret, 0) << "attacher " << i << ": " << strerror((int)g.err);
		apid[i] = (uint64_t)g.ret;
		Reply a = att[i]->call(Op::Attach, apid[i], A, sh.pages * kPage, 0);
		ASSERT_TRUE(a.ok()) << "attacher " << i << ": " << strerror((int)a.err);
		P[i] = (uint64_t)a.ret;
	}

	// All attachers read every page at the same time.
	for (int i = 0; i < sh.attachers; i++)
		ASSERT_TRUE(att[i]->post(Op::Check, P[i], sh.pages, seed, sparse));
	for (int i = 0; i < sh.attachers; i++) {
		Reply c = att[i]->collect(kSlowMs);
		EXPECT_EQ(c.ret, 0) << "attacher " << i << ": "
			<< (c.err ? strerror((int)c.err)
				  : describe_mismatch((int64_t)c.val, seed, c.val2));
	}

	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1);
	EXPECT_EQ(s.permits, base_.permits + sh.attachers);
	EXPECT_EQ(s.attachments, base_.attachments + sh.attachers);
	EXPECT_EQ(s.pinned_pages, 0u) << "local attachments must not pin";

	// Each attacher stamps word 1 + i of every page, all at once.
	for (int i = 0; i < sh.attachers; i++)
		ASSERT_TRUE(att[i]->post(Op::FillWord, P[i], sh.pages, 1 + i, 100 + i));
	for (int i = 0; i < sh.attachers; i++)
		EXPECT_EQ(att[i]->collect(kSlowMs).ret, 0) << "attacher " << i;
	for (int i = 0; i < sh.attachers; i++) {
		Reply c = exp.call(Op::CheckWord, A, sh.pages, 1 + i, 100 + i, 0, kSlowMs);
		EXPECT_EQ(c.ret, 0) << "stamp of attacher " << i << ": "
			<< (c.err ? strerror((int)c.err)
				  : describe_mismatch((int64_t)c.val, 100 + i, c.val2));
	}
	// The stamps did not disturb the pattern words.
	Reply c = exp.call(Op::Check, A, sh.pages, seed, true, 0, kSlowMs);
	EXPECT_EQ(c.ret, 0) << describe_mismatch((int64_t)c.val, seed, c.val2);

	for (int i = 0; i < sh.attachers; i++) {
		EXPECT_EQ(att[i]->call(Op::Detach, P[i]).ret, 0);
		EXPECT_EQ(att[i]->call(Op::Release, apid[i]).ret, 0);
	}
	EXPECT_EQ(exp.call(Op::Remove, (uint64_t)segid).ret, 0);
}

std::string name(const ::testing::TestParamInfo<Shape> &info)
{
	return std::to_string(info.param.attachers) + "x" +
	       std::to_string(info.param.pages) + "pages";
}

INSTANTIATE_TEST_SUITE_P(Shapes, Scale, ::testing::Values(
	Shape{ 1, 1 }, Shape{ 1, 16 }, Shape{ 1, 1000 }, Shape{ 1, 100000 },
	Shape{ 3, 1 }, Shape{ 3, 16 }, Shape{ 3, 1000 }, Shape{ 3, 100000 },
	Shape{ 10, 1 }, Shape{ 10, 16 }, Shape{ 10, 1000 }, Shape{ 10, 100000 }),
	name);

}  // namespace
}  // namespace xk
