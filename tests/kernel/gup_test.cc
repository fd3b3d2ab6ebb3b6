// SPDX-License-Identifier: GPL-2.0-only
//
// gup_test.cc - system calls that take references to user pages (get_user_
// pages, its lockless "GUP-fast" walk first) on an attachment (issue 10,
// defect 3): futex(FUTEX_WAIT), an O_DIRECT read into it, vmsplice of it.
//
// An attachment is a VM_PFNMAP mapping: the slow GUP path refuses it, and
// its PTEs are special, which GUP-fast refuses.  A PMD made by
// vmf_insert_pfn_pmd() is special only on kernels that have special PMDs;
// elsewhere GUP-fast took it like any huge page: references to the owner's
// pages behind the notifier's back for a local THP source, a dereference of
// a nonexistent memmap for a remote one (an oops).  So an attachment must
// answer these calls the same whatever its source's page size: cleanly
// (EFAULT), or working, never differently for a THP source, and never with
// a kernel error (the suite checks the log).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

constexpr size_t k2M = 2 * kMiB;
constexpr uint64_t kSeed = 0x6b;

// 0 or the errno of the call.
int futex_wait(void *addr, uint32_t val)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	long r = syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, nullptr, 0);

	return r < 0 ? errno : 0;
}

int vmsplice_of(void *addr, size_t len)
{
	int p[2];
	if (pipe(p))
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, (int)len);
	struct iovec iov = { addr, len };
	ssize_t n = vmsplice(p[1], &iov, 1, 0);
	int err = n < 0 ? errno : 0;
	close(p[0]);
	close(p[1]);
	return err;
}

// An O_DIRECT read of a file into addr; 0 or the errno.  The file is this
// program (on the host's tree, 9p): its first bytes are the ELF magic.
int odirect_read(void *addr, size_t len)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_DIRECT);
	if (fd < 0)
		return -1;	// no O_DIRECT here: reported by the caller
	ssize_t n = pread(fd, addr, len, 0);
	int err = n < 0 ? errno : 0;
	close(fd);
	return err;
}

struct Results {
	int futex, vmsplice, odirect;
};

std::string describe(const Results &r)
{
	auto e = [](int v) { return v ? std::string(strerror(v)) : std::string("ok"); };
	return "futex: " + e(r.futex) + ", vmsplice: " + e(r.vmsplice) +
	       ", O_DIRECT read: " + e(r.odirect);
}

class Gup : public KernelTest {
protected:
	// The owner maps a 2 MiB aligned region (THP if @huge and the guest
	// gives one), fills it and exports everything; we attach it at a
	// 2 MiB aligned address (a PMD fits) and run the calls on it.
	void run(bool huge, Results *out, bool *got_thp)
	{
		Peer exp;
		ASSERT_TRUE(exp.started()) << exp.why();
		Reply res = exp.call(Op::Reserve, k2M, k2M);
		ASSERT_TRUE(res.ok());
		uint64_t A = (uint64_t)res.ret;
		ASSERT_EQ(exp.mmap(k2M, kMapFixed | (huge ? kMapHuge : 0), A), A);
		if (!huge)	// no THP: 4 KiB pages for sure
			ASSERT_EQ(exp.call(Op::Madvise, A, k2M, MADV_NOHUGEPAGE).ret, 0);
		ASSERT_EQ(exp.call(Op::Fill, A, k2M / kPage, kSeed).ret, 0);
		Reply kb = exp.call(Op::ThpKb, A);
		ASSERT_TRUE(kb.ok());
		*got_thp = (int64_t)kb.val >= 2048;
		int64_t segid = exp.make_whole();
		ASSERT_GT(segid, 0);
		Permit apid(xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
		ASSERT_GT(apid.id, 0);
		uintptr_t where = free_range(k2M, k2M);
		ASSERT_NE(where, 0u);
		Attachment at(xpmem_attach({ apid.id, (off_t)A }, k2M, (void *)where));
		ASSERT_TRUE(at.ok()) << strerror(errno);
		volatile uint64_t *w = at.as<volatile uint64_t>();
		ASSERT_EQ(w[0], pattern(kSeed, 0, 0));	// mapped (a PMD if any)

		out->futex = futex_wait(at.addr, (uint32_t)w[0]);
		if (out->futex == ETIMEDOUT || out->futex == EAGAIN)
			out->futex = 0;		// it waited: it worked
		out->vmsplice = vmsplice_of(at.addr, 64 * 1024);
		// Into the second half, whose pattern is checked again after.
		out->odirect = odirect_read((char *)at.addr + kMiB, 64 * 1024);
		ASSERT_NE(out->odirect, -1) << "O_DIRECT open of /proc/self/exe: "
					    << strerror(errno);
		if (out->odirect == 0) {
			EXPECT_EQ(memcmp((char *)at.addr + kMiB, "\177ELF", 4), 0)
				<< "the O_DIRECT read did not land in the attachment";
			Reply rd = exp.call(Op::Read, A + kMiB);
			ASSERT_TRUE(rd.ok());
			EXPECT_EQ(rd.val, w[kMiB / 8]) << "the owner sees other data";
		}
		// The first half is intact, through the attachment and the owner.
		uint64_t found = 0;
		int64_t bad = check_pages(at.addr, kMiB / kPage, kSeed, false, &found);
		EXPECT_EQ(bad, -1) << describe_mismatch(bad, kSeed, found);
		Reply c = exp.call(Op::Check, A, kMiB / kPage, kSeed);
		EXPECT_EQ(c.ret, 0) << describe_mismatch((int64_t)c.val, kSeed, c.val2);
	}
};

bool clean(int err)
{
	return err == 0 || err == EFAULT;
}

TEST_F(Gup, SameAnswerForFourKiBAndHugePageSources)
{
	Results small = {}, big = {};
	bool thp = false, none = false;

	run(false, &small, &none);
	if (HasFatalFailure())
		return;
	run(true, &big, &thp);
	if (HasFatalFailure())
		return;
	printf("4 KiB source: %s\nTHP source%s: %s\n", describe(small).c_str(),
	       thp ? "" : " (the guest gave no THP)", describe(big).c_str());
	EXPECT_FALSE(none) << "the 4 KiB source got a huge page";
	EXPECT_TRUE(clean(small.futex) && clean(small.vmsplice) && clean(small.odirect))
		<< describe(small);
	EXPECT_TRUE(clean(big.futex) && clean(big.vmsplice) && clean(big.odirect))
		<< describe(big);
	if (!thp)
		GTEST_SKIP() << "no THP in the guest: the huge-page half did not run";
	EXPECT_EQ(big.futex, small.futex) << "futex differs on a THP source";
	EXPECT_EQ(big.vmsplice, small.vmsplice) << "vmsplice differs on a THP source";
	EXPECT_EQ(big.odirect, small.odirect) << "O_DIRECT differs on a THP source";
}

// The module says whether it maps PMDs (map_pmds, read-only): only where
// the kernel's PMDs can be special.  The THP fault test follows it.
TEST_F(Gup, ModuleSaysWhetherItMapsPmds)
{
	std::ifstream f("/sys/module/xpmem/parameters/map_pmds");
	std::string v;
	std::getline(f, v);
	EXPECT_TRUE(v == "Y" || v == "N") << "map_pmds: '" << v << "'";
}

}  // namespace
}  // namespace xk
