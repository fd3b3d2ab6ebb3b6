// SPDX-License-Identifier: GPL-2.0-only
//
// detach_test.cc - ways an attachment ends or changes shape: xpmem_detach
// (of nothing, of a non-XPMEM mapping, of an address inside an attachment),
// munmap by the attacher (= detach, and the attacher lives), partial munmap
// and mremap (either clean or refused, never a crash).
//
// The attacher is a peer, so that a module that kills it for unmapping its
// own attachment fails the test instead of the test program.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Detach : public KernelTest {
protected:
	// Exporter with npages of `seed`; the attacher maps them all at *P.
	void setup(Peer &exp, Peer &att, size_t npages, uint64_t seed,
		   uint64_t *A, uint64_t *P)
	{
		SharedPages s;
		share_pages(exp, att, npages, seed, &s);
		*A = s.A;
		*P = s.P;
		apid_ = s.apid;
	}

	void expect_alive(Peer &att)
	{
		Reply r = att.call(Op::Ping);
		EXPECT_EQ(r.ret, att.pid()) << "attacher died";
		if (!r.ok()) {
			int st = att.wait();
			ADD_FAILURE() << "attacher " << describe_status(st);
		}
	}

	void expect_attachments(uint64_t n)
	{
		struct xpmem_stats s;
		bool ok = wait_stats([&](const struct xpmem_stats &x) {
			return x.attachments == base_.attachments + n;
		}, 2000, &s);
		EXPECT_TRUE(ok) << "attachments " << s.attachments << ", expected "
				<< base_.attachments + n;
	}

	int64_t apid_ = -1;
};

TEST_F(Detach, AddressWithNoMappingIsZero)
{
	uintptr_t hole = free_range(kPage, kPage);
	ASSERT_NE(hole, 0u);
	EXPECT_EQ(xpmem_detach((void *)hole), 0) << strerror(errno);
	EXPECT_EQ(xpmem_detach(nullptr), 0) << strerror(errno);
}

TEST_F(Detach, NonXpmemMappingIsEinval)
{
	Mapping m(2 * kPage);
	ASSERT_TRUE(m.ok());
	m.as()[0] = 0x99;
	errno = 0;
	EXPECT_EQ(xpmem_detach(m.addr), -1);
	EXPECT_EQ(errno, EINVAL);
	errno = 0;
	EXPECT_EQ(xpmem_detach((char *)m.addr + kPage + 8), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(m.as()[0], 0x99u) << "the mapping was touched";
}

TEST_F(Detach, AddressInsideAnAttachmentDetachesIt)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 31, &A, &P);
	if (HasFatalFailure())
		return;
	expect_attachments(1);
	EXPECT_EQ(att.call(Op::Detach, P + 2 * kPage + 100).ret, 0);
	expect_attachments(0);
	// Detaching again: nothing mapped there any more.
	EXPECT_EQ(att.call(Op::Detach, P).ret, 0);
	expect_alive(att);
}

TEST_F(Detach, MunmapByTheAttacherIsDetach)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 8, 32, &A, &P);
	if (HasFatalFailure())
		return;
	expect_attachments(1);
	Reply r = att.call(Op::Munmap, P, 8 * kPage);
	EXPECT_EQ(r.ret, 0) << strerror((int)r.err);
	expect_alive(att);
	expect_attachments(0);
	// The exporter is unaffected.
	Reply rd = exp.call(Op::Read, A + 7 * kPage);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(32, 7, 0));
}

// Partial munmap: either clean (the rest stays readable and correct) or
// refused with an error (everything stays readable) - never a crash.
TEST_F(Detach, PartialMunmapIsCleanOrRefused)
{
	const struct { size_t first, count; const char *what; } cuts[] = {
		{ 3, 2, "middle" }, { 0, 1, "head" }, { 7, 1, "tail" },
	};
	for (auto &cut : cuts) {
		SCOPED_TRACE(cut.what);
		Peer exp, att;
		uint64_t A, P;
		setup(exp, att, 8, 33, &A, &P);
		if (HasFatalFailure())
			return;
		Reply r = att.call(Op::Munmap, P + cut.first * kPage,
				   cut.count * kPage);
		expect_alive(att);
		for (size_t pg = 0; pg < 8; pg++) {
			bool cut_away = r.ok() && pg >= cut.first &&
					pg < cut.first + cut.count;
			if (cut_away)
				continue;
			Reply rd = att.call(Op::Read, P + pg * kPage + 8);
			ASSERT_TRUE(rd.ok()) << "page " << pg << " after "
					     << (r.ok() ? "partial munmap"
							: "refused munmap");
			EXPECT_EQ(rd.val, pattern(33, pg, 1)) << "page " << pg;
		}
		if (!r.ok()) {
			EXPECT_TRUE(r.err == EINVAL || r.err == EBUSY ||
				    r.err == EPERM) << strerror((int)r.err);
		}
		// Stores through what is left still reach the exporter.
		size_t keep = cut.first == 0 ? 7 : 0;
		ASSERT_EQ(att.call(Op::Write, P + keep * kPage, 0x3131).ret, 0);
		Reply rd = exp.call(Op::Read, A + keep * kPage);
		ASSERT_TRUE(rd.ok());
		EXPECT_EQ(rd.val, 0x3131u);
		// Unmapping the whole range ends everything.
		EXPECT_EQ(att.call(Op::Munmap, P, 8 * kPage).ret, 0);
		expect_alive(att);
		expect_attachments(0);
	}
}

// mremap: either it works (the data moves along and stays coherent) or it
// is refused with EINVAL/EFAULT, and the attacher survives either way.
TEST_F(Detach, MremapWorksOrIsRefused)
{
	const struct { size_t newpages; int flags; bool fixed; const char *what; } cases[] = {
		{ 8, MREMAP_MAYMOVE, false, "grow" },
		{ 2, 0, false, "shrink" },
		{ 4, MREMAP_MAYMOVE | MREMAP_FIXED, true, "move" },
	};
	for (auto &c : cases) {
		SCOPED_TRACE(c.what);
		Peer exp, att;
		uint64_t A, P;
		setup(exp, att, 4, 34, &A, &P);
		if (HasFatalFailure())
			return;
		uint64_t target = 0;
		if (c.fixed) {
			Reply res = att.call(Op::Reserve, 4 * kPage, kPage);
			ASSERT_TRUE(res.ok());
			target = (uint64_t)res.ret;
		}
		Reply r = att.call(Op::Mremap, P, 4 * kPage, c.newpages * kPage,
				   (uint64_t)c.flags, target);
		expect_alive(att);
		uint64_t now = P;
		size_t valid = 4;
		if (r.ok()) {
			now = (uint64_t)r.ret;
			valid = c.newpages < 4 ? c.newpages : 4;
			if (c.fixed) {
				EXPECT_EQ(now, target);
			}
		} else {
			EXPECT_TRUE(r.err == EINVAL || r.err == EFAULT)
				<< strerror((int)r.err);
		}
		Reply ck = att.call(Op::Check, now, valid, 34);
		EXPECT_EQ(ck.ret, 0) << (ck.err ? strerror((int)ck.err) :
			describe_mismatch((int64_t)ck.val, 34, ck.val2));
		// Still coherent: the exporter writes, the attacher sees it.
		ASSERT_EQ(exp.call(Op::Write, A + 8, 0x3434).ret, 0);
		Reply rd = att.call(Op::Read, now + 8);
		ASSERT_TRUE(rd.ok());
		EXPECT_EQ(rd.val, 0x3434u);
		EXPECT_EQ(att.call(Op::Munmap, now, (r.ok() ? c.newpages : 4) * kPage).ret, 0);
		expect_alive(att);
		expect_attachments(0);
	}
}

TEST_F(Detach, DetachAfterTheExporterIsGone)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 2, 35, &A, &P);
	if (HasFatalFailure())
		return;
	exp.kill_now();
	EXPECT_EQ(att.call(Op::Detach, P).ret, 0);
	// The permit may or may not have outlived its segment.
	Reply rl = att.call(Op::Release, (uint64_t)apid_);
	EXPECT_TRUE(rl.ok() || rl.err == ENOENT) << strerror((int)rl.err);
	expect_alive(att);
	expect_attachments(0);
}

}  // namespace
}  // namespace xk
