// SPDX-License-Identifier: GPL-2.0-only
//
// faultretry_test.cc - the local fault's retry (issue 10, defect 1).
//
// When the owner's mmap_lock is contended, a fault drops the attacher's
// mmap_lock, waits for the owner's and lets the core retry.  From the moment
// the attacher's lock is gone, nothing keeps the attachment or its segment
// alive: another thread may detach, release its permit, and the owner may
// remove the segment, which is then freed.  The fault must not touch the
// segment afterwards.  The window is made reproducible with the module's
// injection point inject_fault_wait_ms: a first fault takes the contended
// path and sleeps that long after dropping the attacher's lock.
//
// A use of the freed segment shows as a KASAN report on the debug kernel,
// and as an oops on the stock one booted with init_on_free=1 (the freed
// segment reads as zeroes); the suite's kernel-log check fails either.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

constexpr const char *kInject = "/sys/module/xpmem/parameters/inject_fault_wait_ms";

constexpr unsigned kWaitMs = 7000;

bool set_inject(unsigned ms)
{
	std::ofstream f(kInject);
	f << ms << "\n";
	f.flush();
	return f.good();
}

class FaultRetry : public KernelTest {
protected:
	void TearDown() override
	{
		set_inject(0);
		KernelTest::TearDown();
	}
};

TEST_F(FaultRetry, SegmentFreedWhileTheFaultWaitsForTheOwner)
{
	Peer exp;
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t A = exp.mmap(kPage);
	ASSERT_NE(A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, A, 1, 71).ret, 0);
	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	ASSERT_GT(apid, 0);
	void *at = xpmem_attach({ apid, (off_t)A }, kPage, nullptr);
	ASSERT_NE(at, (void *)-1) << strerror(errno);

	ASSERT_TRUE(set_inject(kWaitMs)) << "no injection point " << kInject;
	std::atomic<bool> done{ false };
	uint64_t seen = 1;
	std::thread reader([&] {
		seen = *(volatile uint64_t *)at;	// faults, waits unlocked
		done = true;
	});
	usleep(400 * 1000);
	EXPECT_FALSE(done) << "the fault did not wait: no contended path taken";

	// While the fault sleeps without the attacher's mmap_lock: everything
	// that held the segment goes.  Anonymous memory takes the attachment's
	// place, so that the retried access finds something to read.
	ASSERT_EQ(xpmem_detach(at), 0);
	void *anon = mmap(at, kPage, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(anon, at);
	ASSERT_EQ(xpmem_release(apid), 0);
	ASSERT_EQ(exp.call(Op::Remove, (uint64_t)segid).ret, 0);
	// The segment is freed by kfree_rcu, whose batches this kernel drains
	// within 5 s: the fault sleeps past that.

	reader.join();
	EXPECT_TRUE(done);
	EXPECT_EQ(seen, 0u) << "the retried access read the anonymous page";
	munmap(anon, kPage);
	set_inject(0);

	// The module still works.
	ASSERT_EQ(exp.call(Op::Fill, A, 1, 72).ret, 0);
	int64_t segid2 = exp.make_whole();
	ASSERT_GT(segid2, 0);
	Permit p2(xpmem_get(segid2, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(p2.id, 0);
	Attachment at2(xpmem_attach({ p2.id, (off_t)A }, kPage, nullptr));
	ASSERT_TRUE(at2.ok());
	EXPECT_EQ(at2.as()[0], pattern(72, 0, 0));
}

}  // namespace
}  // namespace xk
