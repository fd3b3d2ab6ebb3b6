// SPDX-License-Identifier: GPL-2.0-only
//
// foreign_test.cc - invalidations raised by a task other than the exporter
// count too.  A page of the exporter's can change without the exporter doing
// anything: another process writing into it through process_vm_writev()
// (what a debugger does) breaks a copy-on-write share in the exporter's mm.
// The attachment must follow, or the attacher keeps reading the old page.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>

#include <vector>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Foreign : public KernelTest {};

// Writes seed's pattern over npages at addr in process pid, from this task.
static bool write_remote(pid_t pid, uint64_t addr, size_t npages, uint64_t seed)
{
	std::vector<uint64_t> buf(npages * kWordsPerPage);
	fill_pages(buf.data(), npages, seed);
	struct iovec local = { buf.data(), npages * kPage };
	struct iovec remote = { (void *)addr, npages * kPage };
	return process_vm_writev(pid, &local, 1, &remote, 1, 0) ==
	       (ssize_t)(npages * kPage);
}

TEST_F(Foreign, WriteByAnotherProcessBreaksCowAndTheAttachmentFollows)
{
	constexpr size_t kPages = 8;
	Peer exp, att;
	ASSERT_TRUE(exp.started()) << exp.why();
	ASSERT_TRUE(att.started()) << att.why();

	uint64_t A = exp.mmap(kPages * kPage);
	ASSERT_NE(A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, A, kPages, 1).ret, 0);
	// A sleeping child shares the pages copy-on-write: read-only in the
	// exporter, so the attacher maps them read-only too.
	Reply sl = exp.call(Op::Sleeper);
	ASSERT_TRUE(sl.ok()) << strerror((int)sl.err);
	// The sleeper holds the exporter's descriptor: it must not outlive us.
	struct KillAtEnd {
		pid_t pid;
		~KillAtEnd() { kill(pid, SIGKILL); }
	} sleeper{ (pid_t)sl.ret };

	int64_t segid = exp.make_whole();
	ASSERT_GT(segid, 0);
	Reply g = att.call(Op::Get, (uint64_t)segid, XPMEM_RDWR, 0666);
	ASSERT_GT(g.ret, 0) << strerror((int)g.err);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, A, kPages * kPage, 0);
	ASSERT_TRUE(a.ok()) << strerror((int)a.err);
	uint64_t P = (uint64_t)a.ret;
	Reply c = att.call(Op::Check, P, kPages, 1);
	ASSERT_EQ(c.ret, 0) << describe_mismatch((int64_t)c.val, 1, c.val2);

	// This test process, neither exporter nor attacher, writes.
	ASSERT_TRUE(write_remote(exp.pid(), A, kPages, 2)) << strerror(errno);

	c = exp.call(Op::Check, A, kPages, 2);
	ASSERT_EQ(c.ret, 0) << "exporter: "
			    << describe_mismatch((int64_t)c.val, 2, c.val2);
	c = att.call(Op::Check, P, kPages, 2);
	EXPECT_EQ(c.ret, 0) << "attacher still sees the pre-write pages: "
			    << describe_mismatch((int64_t)c.val, 2, c.val2);

	EXPECT_TRUE(att.call(Op::Detach, P).ok());
	EXPECT_TRUE(att.call(Op::Release, (uint64_t)g.ret).ok());
	EXPECT_TRUE(exp.call(Op::Remove, (uint64_t)segid).ok());
}

}  // namespace
}  // namespace xk
