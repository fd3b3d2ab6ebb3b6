// SPDX-License-Identifier: GPL-2.0-only
//
// attach_test.cc - xpmem_attach: the MPI pattern (whole address space
// exported, attached at the exporter's virtual addresses in 8 MiB-aligned
// ranges that span holes), data both ways, offsets, range checks, placement
// (hint and MAP_FIXED), read-only permits, and attaching one's own segment.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

constexpr size_t k8M = 8 * kMiB;

// GET and ATTACH on dev() with the uapi structs, for the placement flags the
// library does not expose.
int64_t raw_get(int64_t segid, int flags)
{
	struct xpmem_cmd_get g = {};
	g.segid = segid;
	g.flags = flags;
	g.permit_type = XPMEM_IOC_PERMIT_MODE;
	g.permit_value = 0600;
	long r = raw_ioctl(dev(), XPMEM_CMD_GET, &g);
	return r < 0 ? r : g.apid;
}

long raw_attach(int64_t apid, int64_t offset, uint64_t size, uint64_t vaddr,
		int flags, uint64_t *out)
{
	struct xpmem_cmd_attach a = {};
	a.apid = apid;
	a.offset = offset;
	a.size = size;
	a.vaddr = vaddr;
	a.fd = dev();
	a.flags = flags;
	long r = raw_ioctl(dev(), XPMEM_CMD_ATTACH, &a);
	*out = a.vaddr;
	return r;
}

long raw_detach(uint64_t vaddr)
{
	struct xpmem_cmd_detach d = { vaddr };
	return raw_ioctl(dev(), XPMEM_CMD_DETACH, &d);
}

long raw_release(int64_t apid)
{
	struct xpmem_cmd_release r = { apid };
	return raw_ioctl(dev(), XPMEM_CMD_RELEASE, &r);
}

class Attach : public KernelTest {
protected:
	// An exporter peer with npages filled with `seed`, its whole address
	// space exported; a permit for it in this process.
	void export_pages(Peer &exp, size_t npages, uint64_t seed,
			  uint64_t *addr, int64_t *segid)
	{
		ASSERT_TRUE(exp.started()) << exp.why();
		*addr = exp.mmap(npages * kPage);
		ASSERT_NE(*addr, 0u);
		ASSERT_EQ(exp.call(Op::Fill, *addr, npages, seed).ret, 0);
		*segid = exp.make_whole();
		ASSERT_GT(*segid, 0);
	}
};

TEST_F(Attach, MpiPatternEightMiBRangesSpanningHoles)
{
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	// [B, B+1M) data, [B+1M, B+3M) hole, [B+3M, B+4M) data,
	// [B+4M, B+7M) hole, [B+7M, B+8M) data: one 8 MiB-aligned range.
	Reply res = exp.call(Op::Reserve, k8M, k8M);
	ASSERT_TRUE(res.ok());
	uint64_t B = (uint64_t)res.ret;
	const struct { size_t off, len; uint64_t seed; } parts[] = {
		{ 0, 1 * kMiB, 1 }, { 3 * kMiB, 1 * kMiB, 2 }, { 7 * kMiB, 1 * kMiB, 3 },
	};
	for (auto &p : parts) {
		ASSERT_EQ(exp.mmap(p.len, kMapFixed, B + p.off), B + p.off);
		ASSERT_EQ(exp.call(Op::Fill, B + p.off, p.len / kPage, p.seed).ret, 0);
	}
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);

	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, (void *)0666));
	ASSERT_GT(apid.id, 0) << strerror(errno);
	Attachment at(xpmem_attach({ apid.id, (off_t)B }, k8M, nullptr));
	ASSERT_TRUE(at.ok()) << "attach of an 8 MiB range with holes: "
			     << strerror(errno);
	for (auto &p : parts) {
		uint64_t found = 0;
		int64_t bad = check_pages((char *)at.addr + p.off, p.len / kPage,
					  p.seed, false, &found);
		EXPECT_EQ(bad, -1) << "part at +" << p.off << ": "
				   << describe_mismatch(bad, p.seed, found);
	}

	// Attacher -> exporter.
	volatile uint64_t *w = (volatile uint64_t *)((char *)at.addr + 3 * kMiB + 5 * kPage);
	*w = 0xfeedfacecafe0001ULL;
	Reply rd = exp.call(Op::Read, B + 3 * kMiB + 5 * kPage);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0xfeedfacecafe0001ULL);
	// Exporter -> attacher (the page is already mapped in the attacher).
	ASSERT_EQ(exp.call(Op::Write, B + 7 * kMiB + 8, 0xfeedfacecafe0002ULL).ret, 0);
	EXPECT_EQ(((volatile uint64_t *)((char *)at.addr + 7 * kMiB))[1],
		  0xfeedfacecafe0002ULL);

	// A second, unaligned-to-8M range inside the first data part.
	Attachment at2(xpmem_attach({ apid.id, (off_t)(B + 7 * kPage) }, 3 * kPage,
				    nullptr));
	ASSERT_TRUE(at2.ok()) << strerror(errno);
	uint64_t found = 0;
	int64_t bad = check_pages_from(at2.addr, 7, 3, 1, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 1, found, 7);
}

TEST_F(Attach, AnyPageAlignedOffset)
{
	constexpr size_t kPages = 64;
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, kPages, 5, &A, &segid);
	if (HasFatalFailure())
		return;
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);

	for (size_t k : { 0, 1, 2, 3, 17, 31, 62, 63 }) {
		size_t n = kPages - k;
		Attachment at(xpmem_attach({ apid.id, (off_t)(A + k * kPage) },
					   n * kPage, nullptr));
		ASSERT_TRUE(at.ok()) << "offset page " << k << ": " << strerror(errno);
		uint64_t found = 0;
		int64_t bad = check_pages_from(at.addr, k, n, 5, false, &found);
		EXPECT_EQ(bad, -1) << "offset page " << k << ": "
				   << describe_mismatch(bad, 5, found, k);
	}
}

TEST_F(Attach, OffsetsAreRelativeToTheSegmentStart)
{
	constexpr size_t kPages = 16;
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPages * kPage);
	ASSERT_NE(A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, A, kPages, 9).ret, 0);
	int64_t segid = exp.make(A, kPages * kPage);
	ASSERT_GT(segid, 0);
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);

	Attachment all(xpmem_attach({ apid.id, 0 }, kPages * kPage, nullptr));
	ASSERT_TRUE(all.ok()) << strerror(errno);
	uint64_t found = 0;
	int64_t bad = check_pages(all.addr, kPages, 9, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 9, found);

	Attachment tail(xpmem_attach({ apid.id, 12 * kPage }, 4 * kPage, nullptr));
	ASSERT_TRUE(tail.ok()) << strerror(errno);
	bad = check_pages_from(tail.addr, 12, 4, 9, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 9, found, 12);
}

TEST_F(Attach, RangeChecks)
{
	constexpr size_t kPages = 16;
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPages * kPage);
	ASSERT_NE(A, 0u);
	int64_t bounded = exp.make(A, kPages * kPage);
	ASSERT_GT(bounded, 0);
	int64_t whole = exp.make_whole();
	ASSERT_GT(whole, 0);
	Permit pb(xpmem_get(bounded, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	Permit pw(xpmem_get(whole, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(pb.id, 0);
	ASSERT_GT(pw.id, 0);

	const struct {
		xpmem_apid_t apid;
		off_t off;
		size_t size;
		const char *what;
	} bad[] = {
		{ pb.id, 1, kPage, "offset 1" },
		{ pb.id, 2048, kPage, "offset 2048" },
		{ pw.id, (off_t)A + 8, kPage, "unaligned remote address" },
		{ pb.id, 0, 0, "size 0" },
		{ pw.id, (off_t)A, 0, "size 0, whole address space" },
		{ pb.id, 15 * kPage, 2 * kPage, "runs past the end" },
		{ pb.id, 16 * kPage, kPage, "starts at the end" },
		{ pb.id, 0, 17 * kPage, "one page too many" },
		{ pb.id, -(off_t)kPage, kPage, "negative offset" },
		{ pb.id, 0, (size_t)-1, "size SIZE_MAX" },
		{ pw.id, (off_t)user_top(), kPage, "at the end of user space" },
		{ pw.id, (off_t)(user_top() - kPage), 2 * kPage, "past the end of user space" },
		{ pw.id, (off_t)1 << 56, kPage, "beyond user space" },
		{ pw.id, 0x7ffffffffffff000LL, 2 * kPage, "offset + size wraps" },
		{ pw.id, kPage, (size_t)-4096, "size wraps" },
	};
	for (auto &b : bad) {
		errno = 0;
		void *p = xpmem_attach({ b.apid, b.off }, b.size, nullptr);
		EXPECT_EQ(p, (void *)-1) << b.what;
		EXPECT_EQ(errno, EINVAL) << b.what;
		if (p != (void *)-1)
			xpmem_detach(p);
	}
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.attachments, base_.attachments) << "refused attach left one";

	// The exact extent is fine.
	Attachment ok(xpmem_attach({ pb.id, 0 }, kPages * kPage, nullptr));
	EXPECT_TRUE(ok.ok()) << strerror(errno);
}

TEST_F(Attach, VaddrHintIsHonoured)
{
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, 4, 11, &A, &segid);
	if (HasFatalFailure())
		return;
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);

	uintptr_t hint = free_range(4 * kPage, kPage);
	ASSERT_NE(hint, 0u);
	Attachment at(xpmem_attach({ apid.id, (off_t)A }, 4 * kPage, (void *)hint));
	ASSERT_TRUE(at.ok()) << strerror(errno);
	EXPECT_EQ((uintptr_t)at.addr, hint) << "free hint not used";
	uint64_t found = 0;
	int64_t bad = check_pages(at.addr, 4, 11, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 11, found);
}

TEST_F(Attach, RawHintAndMapFixed)
{
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, 4, 12, &A, &segid);
	if (HasFatalFailure())
		return;
	int64_t apid = raw_get(segid, XPMEM_IOC_RDWR);
	ASSERT_GT(apid, 0) << strerror((int)-apid);

	// flags 0: a hint, used when free.
	uintptr_t hint = free_range(4 * kPage, kPage);
	uint64_t got = 0;
	ASSERT_EQ(raw_attach(apid, (int64_t)A, 4 * kPage, hint, 0, &got), 0);
	EXPECT_EQ(got, hint);
	EXPECT_EQ(check_pages((void *)got, 4, 12), -1);
	EXPECT_EQ(raw_detach(got), 0);

	// MAP_FIXED over an existing anonymous mapping replaces it.
	Mapping victim(4 * kPage);
	ASSERT_TRUE(victim.ok());
	memset(victim.addr, 0x77, 4 * kPage);
	ASSERT_EQ(raw_attach(apid, (int64_t)A, 4 * kPage, (uint64_t)victim.addr,
			     MAP_FIXED, &got), 0);
	EXPECT_EQ(got, (uint64_t)victim.addr);
	uint64_t found = 0;
	int64_t bad = check_pages((void *)got, 4, 12, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 12, found);
	EXPECT_EQ(raw_detach(got), 0);
	// The old mapping is gone: after the detach nothing is left there.
	EXPECT_EQ(msync(victim.addr, kPage, MS_ASYNC), -1);
	victim.addr = MAP_FAILED;

	// MAP_FIXED needs an aligned address.
	uintptr_t free_at = free_range(4 * kPage, kPage);
	EXPECT_EQ(raw_attach(apid, (int64_t)A, 4 * kPage, free_at + 100,
			     MAP_FIXED, &got), -EINVAL);
	EXPECT_EQ(raw_release(apid), 0);
}

TEST_F(Attach, ReadOnlyPermitReadsAndFaultsOnWrite)
{
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, 2, 13, &A, &segid);
	if (HasFatalFailure())
		return;

	Peer att;
	ASSERT_TRUE(att.started()) << att.why();
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDONLY, 0600);
	ASSERT_GT(g.ret, 0) << strerror((int)g.err);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, 2 * kPage, 0);
	ASSERT_TRUE(a.ok()) << "a read-only permit must be attachable: "
			    << strerror((int)a.err);
	uint64_t p = (uint64_t)a.ret;
	Reply c = att.call(Op::Check, p, 2, 13);
	EXPECT_EQ(c.ret, 0) << describe_mismatch((int64_t)c.val, 13, c.val2);

	Reply w = att.call(Op::Write, p + 16, 0xbad);
	EXPECT_FALSE(w.ok()) << "write through a read-only attachment worked";
	int st = att.wait();
	EXPECT_TRUE(killed_by(st, SIGSEGV)) << describe_status(st);
	Reply rd = exp.call(Op::Read, A + 16);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(13, 0, 2)) << "exporter's page modified";
}

TEST_F(Attach, ReadOnlyPermitCannotBeMadeWritable)
{
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, 1, 14, &A, &segid);
	if (HasFatalFailure())
		return;

	Peer att;
	ASSERT_TRUE(att.started()) << att.why();
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDONLY, 0600);
	ASSERT_GT(g.ret, 0);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, kPage, 0);
	ASSERT_TRUE(a.ok());
	Reply mp = att.call(Op::Mprotect, (uint64_t)a.ret, kPage,
			    PROT_READ | PROT_WRITE);
	if (mp.ok()) {
		// mprotect let it through: the fault path must still refuse.
		Reply w = att.call(Op::Write, (uint64_t)a.ret, 0xbad);
		EXPECT_FALSE(w.ok()) << "read-only permit written after mprotect";
		att.wait();
	} else {
		EXPECT_EQ(mp.err, EACCES);
	}
	Reply rd = exp.call(Op::Read, A);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(14, 0, 0)) << "exporter's page modified";
}

TEST_F(Attach, OwnSegmentOutsideTheSourceRange)
{
	constexpr size_t kPages = 8;
	Mapping buf(kPages * kPage);
	ASSERT_TRUE(buf.ok());
	fill_pages(buf.addr, kPages, 15);
	Segment seg(make_whole());
	ASSERT_GT(seg.id, 0);
	Permit apid(xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, (void *)0600));
	ASSERT_GT(apid.id, 0);
	Attachment at(xpmem_attach({ apid.id, (off_t)buf.addr }, kPages * kPage,
				   nullptr));
	ASSERT_TRUE(at.ok()) << strerror(errno);
	ASSERT_NE(at.addr, buf.addr);

	uint64_t found = 0;
	int64_t bad = check_pages(at.addr, kPages, 15, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 15, found);
	at.as()[100] = 0xabcdef;
	EXPECT_EQ(buf.as()[100], 0xabcdefu);
	buf.as()[kWordsPerPage * 3] = 0x123456;
	EXPECT_EQ(at.as()[kWordsPerPage * 3], 0x123456u);
}

TEST_F(Attach, SameRangeTwice)
{
	Peer exp;
	uint64_t A;
	int64_t segid;
	export_pages(exp, 2, 16, &A, &segid);
	if (HasFatalFailure())
		return;
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	Attachment a1(xpmem_attach({ apid.id, (off_t)A }, 2 * kPage, nullptr));
	Attachment a2(xpmem_attach({ apid.id, (off_t)A }, 2 * kPage, nullptr));
	ASSERT_TRUE(a1.ok() && a2.ok());
	ASSERT_NE(a1.addr, a2.addr);
	a1.as()[7] = 0x5151;
	EXPECT_EQ(a2.as()[7], 0x5151u);
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.attachments, base_.attachments + 2);
}

}  // namespace
}  // namespace xk
