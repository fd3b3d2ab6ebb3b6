// SPDX-License-Identifier: GPL-2.0-only
//
// fork_test.cc - fork and descriptors: copy-on-write after the exporter
// forks, in both directions; a forked child's inherited descriptor (errno
// 2004 raw, the library reopens); and that neither a child's exit nor the
// close of a duplicate descriptor tears down its owner's state.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

class Fork : public KernelTest {};

// The exporter (this process) forks after the attacher has mapped its pages
// for writing.  From then on the exporter's writes must reach the attacher,
// the attacher's writes must reach the exporter, and the forked child must
// keep the pre-fork contents: the fork's write protection has to zap the
// attacher's PTEs, or the attacher would write into the page the child now
// shares.
TEST_F(Fork, CopyOnWriteBothWays)
{
	constexpr size_t kPages = 4;
	Mapping buf(kPages * kPage);
	ASSERT_TRUE(buf.ok());
	fill_pages(buf.addr, kPages, 21);
	Segment seg(make_whole());
	ASSERT_GT(seg.id, 0);
	volatile uint64_t *b = (volatile uint64_t *)buf.addr;
	const uint64_t B = (uint64_t)buf.addr;

	Peer att;
	ASSERT_TRUE(att.started()) << att.why();
	Reply g = att.call(Op::Get, (uint64_t)seg.id, XPMEM_RDWR, 0666);
	ASSERT_GT(g.ret, 0);
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, B, kPages * kPage, 0);
	ASSERT_TRUE(a.ok()) << strerror((int)a.err);
	const uint64_t P = (uint64_t)a.ret;
	Reply c = att.call(Op::Check, P, kPages, 21);
	ASSERT_EQ(c.ret, 0) << describe_mismatch((int64_t)c.val, 21, c.val2);
	// Writable PTEs in the attacher on every page before the fork.
	for (size_t pg = 0; pg < kPages; pg++)
		ASSERT_EQ(att.call(Op::Write, P + pg * kPage, 0xa0 + pg).ret, 0);
	for (size_t pg = 0; pg < kPages; pg++)
		ASSERT_EQ(b[pg * kWordsPerPage], 0xa0 + pg);

	Peer child;	// fork: shares every page of buf copy-on-write
	ASSERT_TRUE(child.started()) << child.why();

	// Attacher writes after the fork: the exporter sees it, the child not.
	ASSERT_EQ(att.call(Op::Write, P + 8, 0xb1).ret, 0);
	EXPECT_EQ(b[1], 0xb1u) << "exporter misses the attacher's write";
	Reply rc = child.call(Op::Read, B + 8);
	ASSERT_TRUE(rc.ok());
	EXPECT_EQ(rc.val, pattern(21, 0, 1)) << "the forked child saw the "
		"attacher's post-fork write: it went into the shared page";

	// Exporter writes after the fork: the attacher sees it, the child not.
	b[kWordsPerPage + 1] = 0xc1;
	Reply ra = att.call(Op::Read, P + kPage + 8);
	ASSERT_TRUE(ra.ok());
	EXPECT_EQ(ra.val, 0xc1u) << "attacher misses the exporter's post-fork write";
	rc = child.call(Op::Read, B + kPage + 8);
	ASSERT_TRUE(rc.ok());
	EXPECT_EQ(rc.val, pattern(21, 1, 1));

	// The attacher reads a page the exporter has not written since the
	// fork, then the exporter writes it: the attacher follows.
	ra = att.call(Op::Read, P + 2 * kPage + 16);
	ASSERT_TRUE(ra.ok());
	EXPECT_EQ(ra.val, pattern(21, 2, 2));
	b[2 * kWordsPerPage + 2] = 0xd1;
	ra = att.call(Op::Read, P + 2 * kPage + 16);
	ASSERT_TRUE(ra.ok());
	EXPECT_EQ(ra.val, 0xd1u);

	// The child's own writes stay in the child.
	ASSERT_EQ(child.call(Op::Write, B + 3 * kPage + 24, 0xe1).ret, 0);
	ra = att.call(Op::Read, P + 3 * kPage + 24);
	ASSERT_TRUE(ra.ok());
	EXPECT_EQ(ra.val, pattern(21, 3, 3)) << "the child's write leaked";
	EXPECT_EQ(b[3 * kWordsPerPage + 3], pattern(21, 3, 3));
	// And the pre-fork writes are still in every copy.
	rc = child.call(Op::Read, B + 3 * kPage);
	ASSERT_TRUE(rc.ok());
	EXPECT_EQ(rc.val, 0xa3u);
	ra = att.call(Op::Read, P + 3 * kPage);
	ASSERT_TRUE(ra.ok());
	EXPECT_EQ(ra.val, 0xa3u);
}

TEST_F(Fork, InheritedDescriptorGivesNoproc)
{
	// Give this process a context on dev() and through the library.
	ASSERT_GE(raw_ioctl(dev(), XPMEM_CMD_VERSION, nullptr), 0);
	ASSERT_GE(xpmem_version(), 0);
	Mapping buf(kPage);
	ASSERT_TRUE(buf.ok());
	fill_pages(buf.addr, 1, 22);
	Segment seg(xpmem_make(buf.addr, kPage, XPMEM_PERMIT_MODE, (void *)0666));
	ASSERT_GT(seg.id, 0);

	int st = run_child([&]() {
		struct xpmem_cmd_make mk = {};
		mk.vaddr = (uint64_t)buf.addr;
		mk.size = kPage;
		mk.permit_type = XPMEM_IOC_PERMIT_MODE;
		mk.permit_value = 0600;
		CHILD_CHECK(raw_ioctl(dev(), XPMEM_CMD_MAKE, &mk) == -XPMEM_ERRNO_NOPROC);
		struct xpmem_cmd_get g = {};
		g.segid = seg.id;
		g.flags = XPMEM_IOC_RDWR;
		g.permit_type = XPMEM_IOC_PERMIT_MODE;
		CHILD_CHECK(raw_ioctl(dev(), XPMEM_CMD_GET, &g) == -XPMEM_ERRNO_NOPROC);
		struct xpmem_cmd_remove rm = { seg.id };
		CHILD_CHECK(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm) == -XPMEM_ERRNO_NOPROC);

		// The library reopens and goes on.
		xpmem_segid_t mine = xpmem_make(buf.addr, kPage, XPMEM_PERMIT_MODE,
						(void *)0600);
		CHILD_CHECK(mine > 0);
		xpmem_apid_t apid = xpmem_get(seg.id, XPMEM_RDWR,
					      XPMEM_PERMIT_MODE, nullptr);
		CHILD_CHECK(apid > 0);
		void *p = xpmem_attach({ apid, 0 }, kPage, nullptr);
		CHILD_CHECK(p != (void *)-1);
		CHILD_CHECK(check_pages(p, 1, 22) == -1);
		CHILD_CHECK(xpmem_detach(p) == 0);
		CHILD_CHECK(xpmem_release(apid) == 0);
		CHILD_CHECK(xpmem_remove(mine) == 0);
		// Our parent's segment is not ours to remove.
		CHILD_CHECK(xpmem_remove(seg.id) == -1 && errno == EPERM);

		// A descriptor of its own works raw.
		int fd = open(kDevPath, O_RDWR | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		mk.segid = 0;
		CHILD_CHECK(raw_ioctl(fd, XPMEM_CMD_MAKE, &mk) == 0 && mk.segid > 0);
		rm.segid = mk.segid;
		CHILD_CHECK(raw_ioctl(fd, XPMEM_CMD_REMOVE, &rm) == 0);
		return 0;
	});
	EXPECT_TRUE(exited_ok(st)) << describe_status(st);
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1) << "parent's segment lost";
}

// A child exiting closes its copies of our descriptors (->flush runs for
// each): that must not tear down our segments, permits or attachments.
TEST_F(Fork, ChildExitTearsNothingDown)
{
	Mapping buf(2 * kPage);
	ASSERT_TRUE(buf.ok());
	fill_pages(buf.addr, 2, 23);
	Segment seg(make_whole());
	ASSERT_GT(seg.id, 0);
	Permit apid(xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr));
	ASSERT_GT(apid.id, 0);
	Attachment at(xpmem_attach({ apid.id, (off_t)buf.addr }, 2 * kPage, nullptr));
	ASSERT_TRUE(at.ok());
	struct xpmem_stats before, after;
	ASSERT_TRUE(read_stats(&before));

	int st = run_child([]() { return 0; });
	ASSERT_TRUE(exited_ok(st));
	st = run_child([]() {
		close(dev());
		return 0;
	});
	ASSERT_TRUE(exited_ok(st));

	ASSERT_TRUE(read_stats(&after));
	EXPECT_EQ(after.segments, before.segments);
	EXPECT_EQ(after.permits, before.permits);
	EXPECT_EQ(after.attachments, before.attachments);
	EXPECT_EQ(check_pages(at.addr, 2, 23), -1);
	buf.as()[5] = 0x55;
	EXPECT_EQ(at.as()[5], 0x55u) << "attachment no longer coherent";
	Permit again(xpmem_get(seg.id, XPMEM_RDONLY, XPMEM_PERMIT_MODE, nullptr));
	EXPECT_GT(again.id, 0) << strerror(errno);
}

TEST_F(Fork, ClosingADuplicateTearsNothingDown)
{
	Mapping buf(kPage);
	ASSERT_TRUE(buf.ok());
	fill_pages(buf.addr, 1, 24);
	struct xpmem_cmd_make mk = {};
	mk.vaddr = (uint64_t)buf.addr;
	mk.size = kPage;
	mk.permit_type = XPMEM_IOC_PERMIT_MODE;
	mk.permit_value = 0600;
	ASSERT_EQ(raw_ioctl(dev(), XPMEM_CMD_MAKE, &mk), 0);

	int dup_fd = dup(dev());
	ASSERT_GE(dup_fd, 0);
	ASSERT_EQ(close(dup_fd), 0);
	// A second open of the device by the same process, used and closed.
	int other = open(kDevPath, O_RDWR | O_CLOEXEC);
	ASSERT_GE(other, 0);
	EXPECT_GE(raw_ioctl(other, XPMEM_CMD_VERSION, nullptr), 0);
	ASSERT_EQ(close(other), 0);

	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments + 1) << "segment torn down by close";
	struct xpmem_cmd_get g = {};
	g.segid = mk.segid;
	g.flags = XPMEM_IOC_RDWR;
	g.permit_type = XPMEM_IOC_PERMIT_MODE;
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_GET, &g), 0);
	struct xpmem_cmd_attach a = {};
	a.apid = g.apid;
	a.size = kPage;
	a.fd = dev();
	ASSERT_EQ(raw_ioctl(dev(), XPMEM_CMD_ATTACH, &a), 0);
	EXPECT_EQ(check_pages((void *)a.vaddr, 1, 24), -1);

	struct xpmem_cmd_detach d = { a.vaddr };
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_DETACH, &d), 0);
	struct xpmem_cmd_release r = { g.apid };
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_RELEASE, &r), 0);
	struct xpmem_cmd_remove rm = { mk.segid };
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), 0);
}

}  // namespace
}  // namespace xk
