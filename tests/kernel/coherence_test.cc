// SPDX-License-Identifier: GPL-2.0-only
//
// coherence_test.cc - a cached attachment follows the exporter's current
// pages (I5): free and reallocate at the same address shows the new data;
// where the exporter has no page any more (munmap, hole, removed segment,
// exporter gone) the attacher gets SIGBUS, never stale data.
//
// The attacher is a peer process so that an expected SIGBUS kills only it.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Coherence : public KernelTest {
protected:
	// Exporter with npages at *A filled with seed, whole address space
	// exported; attacher with those pages attached at *P and checked.
	void setup(Peer &exp, Peer &att, size_t npages, uint64_t seed,
		   uint64_t *A, uint64_t *P)
	{
		SharedPages s;
		share_pages(exp, att, npages, seed, &s);
		*A = s.A;
		*P = s.P;
		segid_ = s.segid;
	}

	void expect_pages(Peer &att, uint64_t P, size_t npages, uint64_t seed)
	{
		Reply c = att.call(Op::Check, P, npages, seed);
		ASSERT_TRUE(c.ret == 0) << (c.err ? strerror((int)c.err) :
			describe_mismatch((int64_t)c.val, seed, c.val2));
	}

	// The attacher touches addr and must die of SIGBUS, counted by the
	// module.
	void expect_sigbus(Peer &att, uint64_t addr)
	{
		struct xpmem_stats before, after;
		ASSERT_TRUE(read_stats(&before));
		Reply r = att.call(Op::Read, addr);
		EXPECT_FALSE(r.ok()) << "read returned " << std::hex << r.val
				     << " where SIGBUS was due";
		int st = att.wait();
		EXPECT_TRUE(killed_by(st, SIGBUS)) << describe_status(st);
		ASSERT_TRUE(read_stats(&after));
		EXPECT_GT(after.sigbus, before.sigbus) << "sigbus not counted";
	}

	int64_t segid_ = -1;
};

TEST_F(Coherence, FreeAndReallocateShowsTheNewPages)
{
	constexpr size_t kPages = 16;
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, kPages, 1, &A, &P);
	if (HasFatalFailure())
		return;

	for (uint64_t gen = 2; gen <= 4; gen++) {
		SCOPED_TRACE("generation " + std::to_string(gen));
		ASSERT_EQ(exp.call(Op::Munmap, A, kPages * kPage).ret, 0);
		ASSERT_EQ(exp.mmap(kPages * kPage, kMapFixed, A), A);
		ASSERT_EQ(exp.call(Op::Fill, A, kPages, gen).ret, 0);
		expect_pages(att, P, kPages, gen);
	}
	// mmap(MAP_FIXED) straight over the live pages, no munmap first.
	ASSERT_EQ(exp.mmap(kPages * kPage, kMapFixed, A), A);
	ASSERT_EQ(exp.call(Op::Fill, A, kPages, 5).ret, 0);
	expect_pages(att, P, kPages, 5);
	// And the attacher's stores land in the new pages.
	ASSERT_EQ(att.call(Op::Write, P + 3 * kPage, 0x7777).ret, 0);
	Reply rd = exp.call(Op::Read, A + 3 * kPage);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0x7777u);
}

TEST_F(Coherence, DiscardedAndFreshPagesReadAsZero)
{
	constexpr size_t kPages = 4;
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, kPages, 6, &A, &P);
	if (HasFatalFailure())
		return;
	// MADV_DONTNEED drops page 0 (what free() does to large blocks): the
	// exporter now reads zeros, and so must the attacher, not the freed
	// page.  Page 1 is replaced by a fresh, never-touched mapping.
	ASSERT_EQ(exp.call(Op::Madvise, A, kPage, MADV_DONTNEED).ret, 0);
	ASSERT_EQ(exp.mmap(kPage, kMapFixed, A + kPage), A + kPage);
	for (uint64_t off : { (uint64_t)8, kPage + 8 }) {
		Reply rd = att.call(Op::Read, P + off);
		ASSERT_TRUE(rd.ok());
		EXPECT_EQ(rd.val, 0u) << "attacher still sees the freed page at +" << off;
	}
	Reply rd = att.call(Op::Read, P + 2 * kPage + 8);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(6, 2, 1)) << "untouched page changed";
	// New data written by the exporter after the discard shows too.
	ASSERT_EQ(exp.call(Op::Write, A + 16, 0x4242).ret, 0);
	rd = att.call(Op::Read, P + 16);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0x4242u);
}

TEST_F(Coherence, ExporterMunmapGivesSigbus)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 7, &A, &P);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(exp.call(Op::Munmap, A, 4 * kPage).ret, 0);
	expect_sigbus(att, P + kPage);
}

TEST_F(Coherence, HoleInTheMiddleGivesSigbus)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 3, 8, &A, &P);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(exp.call(Op::Munmap, A + kPage, kPage).ret, 0);
	Reply r0 = att.call(Op::Read, P);
	Reply r2 = att.call(Op::Read, P + 2 * kPage);
	ASSERT_TRUE(r0.ok() && r2.ok()) << "pages around the hole must stay";
	EXPECT_EQ(r0.val, pattern(8, 0, 0));
	EXPECT_EQ(r2.val, pattern(8, 2, 0));
	expect_sigbus(att, P + kPage + 64);
}

TEST_F(Coherence, HoleAtAttachTimeGivesSigbus)
{
	Peer exp, att;
	ASSERT_TRUE(exp.started() && att.started());
	Reply res = exp.call(Op::Reserve, 3 * kPage, kPage);
	ASSERT_TRUE(res.ok());
	uint64_t A = (uint64_t)res.ret;
	ASSERT_EQ(exp.mmap(kPage, kMapFixed, A), A);
	ASSERT_EQ(exp.mmap(kPage, kMapFixed, A + 2 * kPage), A + 2 * kPage);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDWR, 0);
	ASSERT_GT(g.ret, 0);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, 3 * kPage, 0);
	ASSERT_TRUE(a.ok()) << "attach across a hole: " << strerror((int)a.err);
	EXPECT_TRUE(att.call(Op::Read, (uint64_t)a.ret).ok());
	expect_sigbus(att, (uint64_t)a.ret + kPage);
}

TEST_F(Coherence, RemoveGivesSigbus)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 9, &A, &P);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(exp.call(Op::Remove, (uint64_t)segid_).ret, 0);
	// The exporter's memory itself is untouched by the remove.
	Reply rd = exp.call(Op::Read, A);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(9, 0, 0));
	// Page 0 was mapped in the attacher before: it must have been zapped.
	expect_sigbus(att, P);
}

TEST_F(Coherence, ExporterExitGivesSigbus)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 10, &A, &P);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(exp.call(Op::Exit).ret, 0);
	int st = exp.wait();
	ASSERT_TRUE(exited_ok(st)) << describe_status(st);
	expect_sigbus(att, P + 2 * kPage);
}

// The exporter's descriptor outlives it in a forked child: its segments
// must still go with its address space (the mm's teardown, not the file's
// release, ends them).
TEST_F(Coherence, ExporterExitGivesSigbusWhileItsChildHoldsTheDescriptor)
{
	ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);	// to reap the sleeper
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 12, &A, &P);
	if (HasFatalFailure())
		return;
	Reply sl = exp.call(Op::Sleeper);
	ASSERT_GT(sl.ret, 0);
	pid_t sleeper = (pid_t)sl.ret;
	ASSERT_EQ(exp.call(Op::Exit).ret, 0);
	EXPECT_TRUE(exited_ok(exp.wait()));
	expect_sigbus(att, P + kPage);
	kill(sleeper, SIGKILL);
	wait_pid(sleeper, 5000);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(Coherence, ExporterKilledGivesSigbus)
{
	Peer exp, att;
	uint64_t A, P;
	setup(exp, att, 4, 11, &A, &P);
	if (HasFatalFailure())
		return;
	exp.kill_now();
	expect_sigbus(att, P);
}

}  // namespace
}  // namespace xk
