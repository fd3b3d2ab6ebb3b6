// SPDX-License-Identifier: GPL-2.0-only
//
// badinput_test.cc - every command with garbage: unknown and foreign ids,
// negative and overflowing sizes, unaligned and kernel addresses, NULL,
// unmapped and read-only argument pointers, unknown command numbers, and a
// seeded random sweep.  Each must return a clear errno, never crash, and
// never leave an object behind (the fixture checks the counters); a result
// that cannot be written back undoes the command.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <set>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

constexpr uint64_t kKernelAddr = 0xffff880000000000ULL;

void *unmapped_arg()
{
	return (void *)free_range(kPage, kPage);
}

class BadInput : public KernelTest {
protected:
	long make(uint64_t vaddr, uint64_t size, int type = XPMEM_IOC_PERMIT_MODE,
		  uint64_t value = 0600)
	{
		struct xpmem_cmd_make m = {};
		m.vaddr = vaddr;
		m.size = size;
		m.permit_type = type;
		m.permit_value = value;
		long r = raw_ioctl(dev(), XPMEM_CMD_MAKE, &m);
		if (r == 0) {
			// Not expected: clean up, the caller reports it.
			struct xpmem_cmd_remove rm = { m.segid };
			raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm);
		}
		return r;
	}

	long attach(int64_t apid, int64_t off, uint64_t size, uint64_t vaddr = 0,
		    int flags = 0)
	{
		struct xpmem_cmd_attach a = {};
		a.apid = apid;
		a.offset = off;
		a.size = size;
		a.vaddr = vaddr;
		a.fd = dev();
		a.flags = flags;
		long r = raw_ioctl(dev(), XPMEM_CMD_ATTACH, &a);
		if (r == 0) {
			struct xpmem_cmd_detach d = { a.vaddr };
			raw_ioctl(dev(), XPMEM_CMD_DETACH, &d);
		}
		return r;
	}

	// A real segment of ours (2 pages) and a permit for it on dev().
	void own_permit(Mapping &m, int64_t *segid, int64_t *apid)
	{
		ASSERT_TRUE(m.ok());
		struct xpmem_cmd_make mk = {};
		mk.vaddr = (uint64_t)m.addr;
		mk.size = m.len;
		mk.permit_type = XPMEM_IOC_PERMIT_MODE;
		mk.permit_value = 0600;
		ASSERT_EQ(raw_ioctl(dev(), XPMEM_CMD_MAKE, &mk), 0);
		*segid = mk.segid;
		struct xpmem_cmd_get g = {};
		g.segid = mk.segid;
		g.flags = XPMEM_IOC_RDWR;
		g.permit_type = XPMEM_IOC_PERMIT_MODE;
		ASSERT_EQ(raw_ioctl(dev(), XPMEM_CMD_GET, &g), 0);
		*apid = g.apid;
	}

	void drop(int64_t segid, int64_t apid)
	{
		struct xpmem_cmd_release r = { apid };
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_RELEASE, &r), 0);
		struct xpmem_cmd_remove rm = { segid };
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), 0);
	}
};

TEST_F(BadInput, MakeRanges)
{
	Mapping m(2 * kPage);
	ASSERT_TRUE(m.ok());
	const uint64_t a = (uint64_t)m.addr;
	const struct { uint64_t vaddr, size; const char *what; } bad[] = {
		{ kKernelAddr, kPage, "kernel address" },
		{ user_top(), kPage, "just above user space" },
		{ user_top() - kPage, 2 * kPage, "runs past user space" },
		{ a, (uint64_t)-4096, "negative size" },
		{ a, (uint64_t)1 << 63, "size 2^63" },
		{ ~0xfffULL, 2 * kPage, "vaddr + size wraps" },
		{ a + 1, kPage, "unaligned vaddr" },
		{ a, 100, "unaligned size" },
		{ a, 0, "size 0" },
	};
	for (auto &b : bad)
		EXPECT_EQ(make(b.vaddr, b.size), -EINVAL) << b.what;
	for (int type : { 0, 2, -1, 0x7fffffff })
		EXPECT_EQ(make(a, kPage, type), -EINVAL) << "permit type " << type;
}

TEST_F(BadInput, ArgumentPointers)
{
	const unsigned long cmds[] = { XPMEM_CMD_MAKE, XPMEM_CMD_REMOVE,
		XPMEM_CMD_GET, XPMEM_CMD_RELEASE, XPMEM_CMD_ATTACH,
		XPMEM_CMD_DETACH, XPMEM_IOC_STATS };
	for (unsigned long cmd : cmds) {
		EXPECT_EQ(raw_ioctl(dev(), cmd, nullptr), -EFAULT)
			<< "NULL argument, command " << std::hex << cmd;
		EXPECT_EQ(raw_ioctl(dev(), cmd, unmapped_arg()), -EFAULT)
			<< "unmapped argument, command " << std::hex << cmd;
		EXPECT_EQ(raw_ioctl(dev(), cmd, (void *)kKernelAddr), -EFAULT)
			<< "kernel argument, command " << std::hex << cmd;
	}
}

// The kernel writes results back and undoes the command if it cannot.
TEST_F(BadInput, ResultThatCannotBeWrittenBackIsUndone)
{
	Mapping src(2 * kPage);
	ASSERT_TRUE(src.ok());
	Mapping argpage(kPage);
	ASSERT_TRUE(argpage.ok());

	struct xpmem_cmd_make *mk = (struct xpmem_cmd_make *)argpage.addr;
	mk->vaddr = (uint64_t)src.addr;
	mk->size = 2 * kPage;
	mk->permit_type = XPMEM_IOC_PERMIT_MODE;
	mk->permit_value = 0600;
	ASSERT_EQ(mprotect(argpage.addr, kPage, PROT_READ), 0);
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_MAKE, mk), -EFAULT);
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.segments, base_.segments) << "MAKE not undone";

	int64_t segid, apid;
	own_permit(src, &segid, &apid);
	if (HasFatalFailure())
		return;
	ASSERT_EQ(mprotect(argpage.addr, kPage, PROT_READ | PROT_WRITE), 0);
	struct xpmem_cmd_get *g = (struct xpmem_cmd_get *)argpage.addr;
	memset(g, 0, sizeof(*g));
	g->segid = segid;
	g->flags = XPMEM_IOC_RDWR;
	g->permit_type = XPMEM_IOC_PERMIT_MODE;
	ASSERT_EQ(mprotect(argpage.addr, kPage, PROT_READ), 0);
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_GET, g), -EFAULT);
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.permits, base_.permits + 1) << "GET not undone";

	ASSERT_EQ(mprotect(argpage.addr, kPage, PROT_READ | PROT_WRITE), 0);
	struct xpmem_cmd_attach *at = (struct xpmem_cmd_attach *)argpage.addr;
	memset(at, 0, sizeof(*at));
	at->apid = apid;
	at->offset = 0;
	at->size = 2 * kPage;
	at->fd = dev();
	ASSERT_EQ(mprotect(argpage.addr, kPage, PROT_READ), 0);
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_ATTACH, at), -EFAULT);
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.attachments, base_.attachments) << "ATTACH not undone";

	drop(segid, apid);
}

TEST_F(BadInput, UnknownAndForeignIds)
{
	Mapping m(2 * kPage);
	int64_t segid, apid;
	own_permit(m, &segid, &apid);
	if (HasFatalFailure())
		return;

	// Ids of another process.
	Peer other;
	ASSERT_TRUE(other.started()) << other.why();
	uint64_t B = other.mmap(kPage);
	int64_t their_seg = other.make(B, kPage, 0666);
	ASSERT_GT(their_seg, 0);
	Reply g = other.call(Op::Get, (uint64_t)their_seg, XPMEM_RDWR, 0);
	ASSERT_GT(g.ret, 0);
	int64_t their_apid = g.ret;

	struct xpmem_cmd_remove rm = { their_seg };
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), -EPERM);
	struct xpmem_cmd_release rl = { their_apid };
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_RELEASE, &rl), -EPERM);
	long r = attach(their_apid, 0, kPage);
	EXPECT_TRUE(r == -EPERM || r == -ENOENT) << "attach through a foreign "
		"permit: " << r;

	// Ids nobody has, and ids that are not ids.
	for (int64_t id : { (int64_t)0x00003fffdeadbeefLL, (int64_t)0x7fffffffffffffffLL }) {
		rm.segid = id;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), -ENOENT) << id;
		rl.apid = id;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_RELEASE, &rl), -ENOENT) << id;
		EXPECT_EQ(attach(id, 0, kPage), -ENOENT) << id;
		struct xpmem_cmd_get gg = {};
		gg.segid = id;
		gg.flags = XPMEM_IOC_RDWR;
		gg.permit_type = XPMEM_IOC_PERMIT_MODE;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_GET, &gg), -ENOENT) << id;
	}
	for (int64_t id : { (int64_t)0, (int64_t)-1, (int64_t)INT64_MIN }) {
		rm.segid = id;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), -EINVAL) << id;
		rl.apid = id;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_RELEASE, &rl), -EINVAL) << id;
		struct xpmem_cmd_get gg = {};
		gg.segid = id;
		gg.flags = XPMEM_IOC_RDWR;
		gg.permit_type = XPMEM_IOC_PERMIT_MODE;
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_GET, &gg), -EINVAL) << id;
		long ra = attach(id, 0, kPage);
		EXPECT_TRUE(ra == -EINVAL || ra == -ENOENT) << id << ": " << ra;
	}
	// A segid is not an apid and the other way round (unless they
	// collide by chance, which random 48-bit ids do not).
	EXPECT_EQ(attach(segid, 0, kPage), -ENOENT);
	rm.segid = apid;
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_REMOVE, &rm), -ENOENT);

	drop(segid, apid);
	EXPECT_EQ(other.call(Op::Release, (uint64_t)their_apid).ret, 0);
	EXPECT_EQ(other.call(Op::Remove, (uint64_t)their_seg).ret, 0);
}

TEST_F(BadInput, AttachSizesAndAddresses)
{
	Mapping m(2 * kPage);
	int64_t segid, apid;
	own_permit(m, &segid, &apid);
	if (HasFatalFailure())
		return;
	const struct { int64_t off; uint64_t size; const char *what; } bad[] = {
		{ 0, 0, "size 0" },
		{ 0, (uint64_t)-4096, "negative size" },
		{ 0, (uint64_t)1 << 63, "size 2^63" },
		{ -4096, kPage, "negative offset" },
		{ INT64_MIN, kPage, "offset INT64_MIN" },
		{ 0x7ffffffffffff000LL, 2 * kPage, "offset + size wraps" },
		{ 100, kPage, "unaligned offset" },
		{ kPage, 2 * kPage, "past the segment" },
	};
	for (auto &b : bad)
		EXPECT_EQ(attach(apid, b.off, b.size), -EINVAL) << b.what;

	// MAP_FIXED at addresses no user mapping can have.
	long r = attach(apid, 0, kPage, kKernelAddr, MAP_FIXED);
	EXPECT_TRUE(r == -EINVAL || r == -ENOMEM) << "MAP_FIXED kernel: " << r;
	r = attach(apid, 0, kPage, user_top() - 8 * kPage - kPage / 2, MAP_FIXED);
	EXPECT_EQ(r, -EINVAL) << "MAP_FIXED unaligned";
	// Without MAP_FIXED a bad hint is only a hint.
	struct xpmem_cmd_attach a = {};
	a.apid = apid;
	a.size = kPage;
	a.vaddr = kKernelAddr;
	a.fd = dev();
	r = raw_ioctl(dev(), XPMEM_CMD_ATTACH, &a);
	if (r == 0) {
		EXPECT_LT(a.vaddr, user_top()) << "mapped at the kernel hint";
		struct xpmem_cmd_detach d = { a.vaddr };
		EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_DETACH, &d), 0);
	} else {
		EXPECT_TRUE(r == -EINVAL || r == -ENOMEM) << r;
	}

	// DETACH of addresses with no attachment.
	struct xpmem_cmd_detach d = { kKernelAddr };
	r = raw_ioctl(dev(), XPMEM_CMD_DETACH, &d);
	EXPECT_TRUE(r == 0 || r == -EINVAL) << "detach kernel address: " << r;
	d.vaddr = (uint64_t)m.addr + 3;
	EXPECT_EQ(raw_ioctl(dev(), XPMEM_CMD_DETACH, &d), -EINVAL)
		<< "detach inside an anonymous mapping";

	drop(segid, apid);
}

TEST_F(BadInput, UnknownCommandNumbers)
{
	unsigned char arg[256] = {};
	const unsigned long cmds[] = {
		0x7809, 0x780a, 0x78ff, 0x7880, 0x7700, 0x1234, 0,
		_IOWR('x', 0x81, struct xpmem_stats),
		_IOWR('x', 0xff, uint64_t),
		_IOR('x', 0x80, struct xpmem_stats),	// STATS with the wrong direction
		_IOWR('x', 0x80, uint64_t),		// STATS with the wrong size
	};
	for (unsigned long cmd : cmds) {
		long r = raw_ioctl(dev(), cmd, arg);
		EXPECT_TRUE(r == -ENOTTY || r == -EINVAL)
			<< "command " << std::hex << cmd << ": " << std::dec << r;
	}
	// The two upstream commands nobody uses: anything clear.
	for (unsigned long cmd : { (unsigned long)XPMEM_CMD_FORK_BEGIN,
				   (unsigned long)XPMEM_CMD_FORK_END }) {
		long r = raw_ioctl(dev(), cmd, nullptr);
		EXPECT_TRUE(r == 0 || r == -ENOTTY || r == -EINVAL)
			<< "command " << std::hex << cmd << ": " << std::dec << r;
	}
}

// Seeded random commands with random bytes, in a child: only errnos from
// the documented set may come back, the child must not die, and whatever
// it created goes away with it.  MAP_FIXED is masked out of ATTACH flags so
// that a random address cannot replace the child's own code or stack.
TEST_F(BadInput, RandomSweep)
{
	Mapping m(4 * kPage);
	ASSERT_TRUE(m.ok());
	int st = run_child([&]() {
		int fd = open(kDevPath, O_RDWR | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		const std::set<long> allowed = { 0, -EINVAL, -ENOENT, -EFAULT,
			-EPERM, -EACCES, -ENOMEM, -ENOTTY };
		// Ids that exist, so that the sweep also reaches past lookups.
		struct xpmem_cmd_make mk = {};
		mk.vaddr = (uint64_t)m.addr;
		mk.size = 4 * kPage;
		mk.permit_type = XPMEM_IOC_PERMIT_MODE;
		mk.permit_value = 0600;
		CHILD_CHECK(raw_ioctl(fd, XPMEM_CMD_MAKE, &mk) == 0);
		struct xpmem_cmd_get g = {};
		g.segid = mk.segid;
		g.flags = XPMEM_IOC_RDWR;
		g.permit_type = XPMEM_IOC_PERMIT_MODE;
		CHILD_CHECK(raw_ioctl(fd, XPMEM_CMD_GET, &g) == 0);

		unsigned seed = 20240101;
		for (int i = 0; i < 5000; i++) {
			uint64_t buf[8];
			for (auto &w : buf) {
				w = ((uint64_t)rand_r(&seed) << 33) ^
				    ((uint64_t)rand_r(&seed) << 11) ^ rand_r(&seed);
				switch (rand_r(&seed) % 8) {
				case 0: w = mk.segid; break;
				case 1: w = g.apid; break;
				case 2: w = (uint64_t)m.addr + (w % 8) * kPage; break;
				case 3: w &= 0xffff; break;
				default: break;
				}
			}
			unsigned long cmd = 0x7801 + rand_r(&seed) % 6;
			if (cmd == XPMEM_CMD_ATTACH) {
				struct xpmem_cmd_attach at;
				memcpy(&at, buf, sizeof(at));
				at.flags &= ~MAP_FIXED;
				memcpy(buf, &at, sizeof(at));
			}
			long r = raw_ioctl(fd, cmd, buf);
			if (!allowed.count(r)) {
				fprintf(stderr, "iteration %d: command %#lx -> %ld\n",
					i, cmd, r);
				return 1;
			}
		}
		return 0;	// exit tears down whatever the sweep made
	}, 120);
	EXPECT_TRUE(exited_ok(st)) << describe_status(st);
}

}  // namespace
}  // namespace xk
