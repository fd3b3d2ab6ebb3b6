// SPDX-License-Identifier: GPL-2.0-only
//
// fault_test.cc - the attachment fault path, measured with the module's
// counters: one fault maps a window of pages (batching), a THP source is
// mapped with a PMD (where the kernel has special PMDs) in one fault, and a
// read-only source page is never writable through an attachment (also after
// the exporter makes it read-only later).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <fstream>
#include <string>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

constexpr size_t k2M = 2 * kMiB;

class Fault : public KernelTest {
protected:
	struct xpmem_stats now()
	{
		struct xpmem_stats s = {};
		EXPECT_TRUE(read_stats(&s));
		return s;
	}
};

TEST_F(Fault, OneFaultMapsManyPages)
{
	constexpr size_t kPages = 64;
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPages * kPage);
	ASSERT_NE(A, 0u);
	// Every source page present and written.
	ASSERT_EQ(exp.call(Op::Fill, A, kPages, 61).ret, 0);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	Attachment at(xpmem_attach({ apid.id, (off_t)A }, kPages * kPage, nullptr));
	ASSERT_TRUE(at.ok()) << strerror(errno);

	struct xpmem_stats s0 = now();
	EXPECT_EQ(at.as()[0], pattern(61, 0, 0));
	struct xpmem_stats s1 = now();
	EXPECT_EQ(s1.faults - s0.faults, 1u) << "one touch, one fault";
	EXPECT_GT(s1.pages_mapped - s0.pages_mapped, 1u)
		<< "a fault mapped only the page touched (no batching)";

	uint64_t found = 0;
	int64_t bad = check_pages(at.addr, kPages, 61, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 61, found);
	struct xpmem_stats s2 = now();
	EXPECT_LT(s2.faults - s0.faults, kPages)
		<< "every page faulted on its own";
	printf("64 pages read: %llu faults, %llu pages mapped\n",
	       (unsigned long long)(s2.faults - s0.faults),
	       (unsigned long long)(s2.pages_mapped - s0.pages_mapped));
}

std::string thp_setting()
{
	std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
	std::string s;
	std::getline(f, s);
	return s;
}

// The module's read-only map_pmds parameter.
bool map_pmds()
{
	std::ifstream f("/sys/module/xpmem/parameters/map_pmds");
	std::string v;
	std::getline(f, v);
	EXPECT_TRUE(v == "Y" || v == "N") << "map_pmds: '" << v << "'";
	return v == "Y";
}

TEST_F(Fault, TransparentHugePageIsMappedInOneFault)
{
	std::string thp = thp_setting();
	if (thp.empty() || thp.find("[never]") != std::string::npos)
		GTEST_SKIP() << "THP disabled in this kernel: '" << thp << "'";

	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	Reply res = exp.call(Op::Reserve, k2M, k2M);
	ASSERT_TRUE(res.ok());
	uint64_t A = (uint64_t)res.ret;
	ASSERT_EQ(exp.mmap(k2M, kMapFixed | kMapHuge, A), A);
	ASSERT_EQ(exp.call(Op::Fill, A, k2M / kPage, 62).ret, 0);
	Reply kb = exp.call(Op::ThpKb, A);
	ASSERT_TRUE(kb.ok());
	if ((int64_t)kb.val < 2048)
		GTEST_SKIP() << "the guest gave no THP to a 2 MiB-aligned "
				"MADV_HUGEPAGE region (AnonHugePages "
			     << (int64_t)kb.val << " kB, THP '" << thp << "')";
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);

	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	// A 2 MiB-aligned place for the attachment, so that a PMD fits.
	uintptr_t where = free_range(k2M, k2M);
	ASSERT_NE(where, 0u);
	Attachment at(xpmem_attach({ apid.id, (off_t)A }, k2M, (void *)where));
	ASSERT_TRUE(at.ok()) << strerror(errno);
	ASSERT_EQ((uintptr_t)at.addr % k2M, 0u) << "attachment not 2 MiB aligned";

	// PMDs only where the kernel's PMDs can be special (GUP-fast refuses
	// those: gup_test.cc); elsewhere one fault maps the 512 PTEs.
	bool pmds = map_pmds();
	struct xpmem_stats s0 = now();
	EXPECT_EQ(at.as()[0], pattern(62, 0, 0));
	struct xpmem_stats s1 = now();
	if (pmds)
		EXPECT_GE(s1.pmds_mapped - s0.pmds_mapped, 1u)
			<< "THP source mapped with 4 KiB pages";
	else
		EXPECT_EQ(s1.pmds_mapped - s0.pmds_mapped, 0u)
			<< "a PMD mapped although the kernel has no special PMDs";
	EXPECT_EQ(s1.faults - s0.faults, 1u);

	uint64_t found = 0;
	int64_t bad = check_pages(at.addr, k2M / kPage, 62, false, &found);
	EXPECT_EQ(bad, -1) << describe_mismatch(bad, 62, found);
	struct xpmem_stats s2 = now();
	EXPECT_EQ(s2.faults - s0.faults, 1u) << "pages of the PMD faulted again";

	at.as()[kWordsPerPage * 300 + 5] = 0x6262;
	Reply rd = exp.call(Op::Read, A + 300 * kPage + 40);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0x6262u);
}

TEST_F(Fault, ReadOnlySourceIsNeverWritable)
{
	Peer exp, att;
	ASSERT_TRUE(exp.started() && att.started());
	uint64_t A = exp.mmap(kPage, kMapReadOnly);
	ASSERT_NE(A, 0u);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDWR, 0);
	ASSERT_GT(g.ret, 0);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, kPage, 0);
	ASSERT_TRUE(a.ok());
	Reply rd = att.call(Op::Read, (uint64_t)a.ret);
	ASSERT_TRUE(rd.ok()) << "reading a read-only source";
	EXPECT_EQ(rd.val, 0u);

	Reply w = att.call(Op::Write, (uint64_t)a.ret, 0xbad);
	EXPECT_FALSE(w.ok()) << "wrote through to a read-only source page";
	int st = att.wait();
	EXPECT_TRUE(killed_by(st, SIGBUS) || killed_by(st, SIGSEGV))
		<< describe_status(st);
	rd = exp.call(Op::Read, A);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0u) << "the read-only page was modified";
}

// A page first read through the attachment is mapped read-only (the owner's
// untouched page is the zero page); atomics on it then go through
// pfn_mkwrite, which drops the PTE for the access to fault again as a write.
// They must complete (a remote attachment once looped here: its retried
// atomic faulted as a read).  A hang ends with the suite's timeout.
TEST_F(Fault, AtomicOnAPageFirstReadCompletes)
{
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPage);
	ASSERT_NE(A, 0u);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	Attachment at(xpmem_attach({ apid.id, (off_t)A }, kPage, nullptr));
	ASSERT_TRUE(at.ok()) << strerror(errno);

	uint64_t *w = at.as();
	EXPECT_EQ(__atomic_load_n(&w[0], __ATOMIC_ACQUIRE), 0u);
	for (int i = 0; i < 100; i++)
		__atomic_fetch_add(&w[1], 1, __ATOMIC_SEQ_CST);
	EXPECT_EQ(__atomic_exchange_n(&w[2], 7, __ATOMIC_SEQ_CST), 0u);
	Reply rd = exp.call(Op::Read, A + 8);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 100u) << "the owner does not see the attacher's atomics";
}

TEST_F(Fault, SourceMadeReadOnlyLaterIsNotWritable)
{
	Peer exp, att;
	ASSERT_TRUE(exp.started() && att.started());
	uint64_t A = exp.mmap(kPage);
	ASSERT_NE(A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, A, 1, 63).ret, 0);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDWR, 0);
	ASSERT_GT(g.ret, 0);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, kPage, 0);
	ASSERT_TRUE(a.ok());
	// A writable PTE in the attacher first.
	ASSERT_EQ(att.call(Op::Write, (uint64_t)a.ret, 0x6363).ret, 0);
	ASSERT_EQ(exp.call(Op::Mprotect, A, kPage, PROT_READ).ret, 0);

	Reply rd = att.call(Op::Read, (uint64_t)a.ret);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, 0x6363u);
	Reply w = att.call(Op::Write, (uint64_t)a.ret + 8, 0xbad);
	EXPECT_FALSE(w.ok()) << "wrote after the exporter made the page read-only";
	int st = att.wait();
	EXPECT_TRUE(killed_by(st, SIGBUS) || killed_by(st, SIGSEGV))
		<< describe_status(st);
	rd = exp.call(Op::Read, A + 8);
	ASSERT_TRUE(rd.ok());
	EXPECT_EQ(rd.val, pattern(63, 0, 1)) << "read-only page modified";
}

}  // namespace
}  // namespace xk
