// SPDX-License-Identifier: GPL-2.0-only
//
// counters_test.cc - XPMEM_IOC_STATS counts live objects exactly, local
// attachments pin nothing, and process exit (clean or SIGKILL, exporter or
// attacher first) takes every object with it.  (Every other test also ends
// with the fixture's check that the counters are back to their baseline.)
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Counters : public KernelTest {
protected:
	struct xpmem_stats now()
	{
		struct xpmem_stats s = {};
		EXPECT_TRUE(read_stats(&s));
		return s;
	}
	// Exporter with 3 segments over 3 pages; attacher with 3 permits and
	// 3 attachments, every page touched.
	void build(Peer &exp, Peer &att, uint64_t *A, int64_t seg[3],
		   uint64_t P[3]);
	void expect_baseline(const char *after);
};

void Counters::build(Peer &exp, Peer &att, uint64_t *A, int64_t seg[3],
		     uint64_t P[3])
{
	ASSERT_TRUE(exp.started()) << exp.why();
	ASSERT_TRUE(att.started()) << att.why();
	*A = exp.mmap(3 * kPage);
	ASSERT_NE(*A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, *A, 3, 71).ret, 0);
	for (int i = 0; i < 3; i++) {
		seg[i] = exp.make(*A + i * kPage, kPage);
		ASSERT_GT(seg[i], 0);
		Reply g = att.call(Op::Get, (uint64_t)seg[i], XPMEM_RDWR, 0);
		ASSERT_GT(g.ret, 0);
		Reply a = att.call(Op::Attach, (uint64_t)g.ret, 0, kPage, 0);
		ASSERT_TRUE(a.ok());
		P[i] = (uint64_t)a.ret;
		Reply rd = att.call(Op::Read, P[i]);
		ASSERT_TRUE(rd.ok());
		EXPECT_EQ(rd.val, pattern(71, i, 0));
	}
	struct xpmem_stats s = now();
	EXPECT_EQ(s.segments, base_.segments + 3);
	EXPECT_EQ(s.permits, base_.permits + 3);
	EXPECT_EQ(s.attachments, base_.attachments + 3);
	EXPECT_EQ(s.contexts, base_.contexts + 2) << "one context per process";
	EXPECT_EQ(s.pinned_pages, 0u) << "local attachments pin nothing";
}

void Counters::expect_baseline(const char *after)
{
	struct xpmem_stats s;
	const struct xpmem_stats b = base_;
	bool ok = wait_stats([&](const struct xpmem_stats &x) {
		return x.segments == b.segments && x.permits == b.permits &&
		       x.attachments == b.attachments &&
		       x.contexts == b.contexts && x.pinned_pages == 0;
	}, 3000, &s);
	EXPECT_TRUE(ok) << "after " << after << ":\n  baseline " << format_stats(b)
			<< "\n  now      " << format_stats(s);
}

TEST_F(Counters, EachObjectCountedOnce)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	fill_pages(m.addr, 1, 72);
	struct xpmem_stats s;

	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0600));
	ASSERT_GT(seg.id, 0);
	s = now();
	EXPECT_EQ(s.segments, base_.segments + 1);
	EXPECT_EQ(s.permits, base_.permits);

	Permit apid(xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	s = now();
	EXPECT_EQ(s.permits, base_.permits + 1);
	EXPECT_EQ(s.attachments, base_.attachments);

	void *p = xpmem_attach({ apid.id, 0 }, kPage, nullptr);
	ASSERT_NE(p, (void *)-1);
	s = now();
	EXPECT_EQ(s.attachments, base_.attachments + 1);
	EXPECT_EQ(((volatile uint64_t *)p)[0], pattern(72, 0, 0));
	s = now();
	EXPECT_GE(s.faults, base_.faults + 1);
	EXPECT_GE(s.pages_mapped, base_.pages_mapped + 1);
	EXPECT_EQ(s.pinned_pages, 0u);

	ASSERT_EQ(xpmem_detach(p), 0);
	s = now();
	EXPECT_EQ(s.attachments, base_.attachments);
	ASSERT_EQ(xpmem_release(apid.id), 0);
	apid.id = -1;
	s = now();
	EXPECT_EQ(s.permits, base_.permits);
	ASSERT_EQ(xpmem_remove(seg.id), 0);
	seg.id = -1;
	s = now();
	EXPECT_EQ(s.segments, base_.segments);
}

TEST_F(Counters, PeerContextComesAndGoes)
{
	{
		Peer p;
		ASSERT_TRUE(p.started()) << p.why();
		// A make needs a context of the peer's own.
		uint64_t a = p.mmap(kPage);
		int64_t seg = p.make(a, kPage);
		ASSERT_GT(seg, 0);
		struct xpmem_stats s = now();
		EXPECT_EQ(s.contexts, base_.contexts + 1);
		EXPECT_EQ(s.segments, base_.segments + 1);
	}
	expect_baseline("the peer's exit");
}

TEST_F(Counters, CleanExitExporterFirst)
{
	Peer exp, att;
	uint64_t A, P[3];
	int64_t seg[3];
	build(exp, att, &A, seg, P);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(exp.call(Op::Exit).ret, 0);
	EXPECT_TRUE(exited_ok(exp.wait()));
	ASSERT_EQ(att.call(Op::Exit).ret, 0);
	EXPECT_TRUE(exited_ok(att.wait()));
	expect_baseline("both exited");
}

TEST_F(Counters, KilledAttacherFirst)
{
	Peer exp, att;
	uint64_t A, P[3];
	int64_t seg[3];
	build(exp, att, &A, seg, P);
	if (HasFatalFailure())
		return;
	att.kill_now();
	struct xpmem_stats s;
	const struct xpmem_stats b = base_;
	bool ok = wait_stats([&](const struct xpmem_stats &x) {
		return x.permits == b.permits && x.attachments == b.attachments &&
		       x.segments == b.segments + 3;
	}, 3000, &s);
	EXPECT_TRUE(ok) << "attacher's objects after SIGKILL: " << format_stats(s);
	// The exporter keeps working and can remove what is its own.
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(exp.call(Op::Remove, (uint64_t)seg[i]).ret, 0);
	exp.kill_now();
	expect_baseline("both killed");
}

TEST_F(Counters, KilledExporterFirst)
{
	Peer exp, att;
	uint64_t A, P[3];
	int64_t seg[3];
	build(exp, att, &A, seg, P);
	if (HasFatalFailure())
		return;
	exp.kill_now();
	struct xpmem_stats s;
	const struct xpmem_stats b = base_;
	bool ok = wait_stats([&](const struct xpmem_stats &x) {
		return x.contexts == b.contexts + 1;
	}, 3000, &s);
	EXPECT_TRUE(ok) << "exporter's context after SIGKILL: " << format_stats(s);
	// The attacher survives and can still detach and release.
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(att.call(Op::Detach, P[i]).ret, 0);
	EXPECT_EQ(att.call(Op::Ping).ret, att.pid());
	att.kill_now();
	expect_baseline("both killed");
}

// Both processes leave a forked child behind that holds their descriptors
// open: their segments, permits and attachments must still go when their
// address spaces do; only the contexts (one per open file) wait for the
// last descriptor.
TEST_F(Counters, ExitWhileForkedChildrenHoldTheDescriptors)
{
	ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);	// to reap the sleepers
	pid_t sleepers[2] = { -1, -1 };
	{
		Peer exp, att;
		uint64_t A, P[3];
		int64_t seg[3];
		build(exp, att, &A, seg, P);
		if (!HasFatalFailure()) {
			Reply s1 = exp.call(Op::Sleeper);
			Reply s2 = att.call(Op::Sleeper);
			EXPECT_GT(s1.ret, 0);
			EXPECT_GT(s2.ret, 0);
			sleepers[0] = (pid_t)s1.ret;
			sleepers[1] = (pid_t)s2.ret;
			EXPECT_EQ(exp.call(Op::Exit).ret, 0);
			EXPECT_EQ(att.call(Op::Exit).ret, 0);
			EXPECT_TRUE(exited_ok(exp.wait()));
			EXPECT_TRUE(exited_ok(att.wait()));

			struct xpmem_stats s;
			const struct xpmem_stats b = base_;
			bool ok = wait_stats([&](const struct xpmem_stats &x) {
				return x.segments == b.segments &&
				       x.permits == b.permits &&
				       x.attachments == b.attachments &&
				       x.pinned_pages == 0;
			}, 3000, &s);
			EXPECT_TRUE(ok) << "objects of exited processes kept alive by "
					   "their children's descriptors: " << format_stats(s);
		}
	}
	for (pid_t p : sleepers) {
		if (p > 0) {
			kill(p, SIGKILL);
			wait_pid(p, 5000);
		}
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	expect_baseline("the children's exit");
}

}  // namespace
}  // namespace xk
