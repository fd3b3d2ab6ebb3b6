// SPDX-License-Identifier: GPL-2.0-only
//
// nesting_test.cc - zapping attachments raises the attachers' own notifiers,
// and attachers export their whole address space (attachments included).
// Two ways that once went wrong, kept here as regressions:
//   - an attachment covering its own source range (a process attaching its
//     own whole-address-space segment at the source address): unmapping it
//     recursed without end and overflowed the kernel stack;
//   - a process changing the protection of a region it also has attached
//     while another process attaches and detaches the same region: the
//     nested zap read-locked one mapping's i_mmap_rwsem inside itself and
//     deadlocked against the detach's queued write lock (unkillable tasks).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

namespace xk {
namespace {

class Nesting : public KernelTest {};

int64_t raw_get(int fd, int64_t segid)
{
	struct xpmem_cmd_get g = {};
	g.segid = segid;
	g.flags = XPMEM_IOC_RDWR;
	g.permit_type = XPMEM_IOC_PERMIT_MODE;
	return ioctl(fd, XPMEM_CMD_GET, &g) ? -1 : g.apid;
}

uint64_t raw_attach(int fd, int64_t apid, uint64_t off, uint64_t vaddr, int flags)
{
	struct xpmem_cmd_attach a = {};
	a.apid = apid;
	a.offset = (int64_t)off;
	a.size = kPage;
	a.vaddr = vaddr;
	a.fd = fd;
	a.flags = flags;
	return ioctl(fd, XPMEM_CMD_ATTACH, &a) ? 0 : a.vaddr;
}

int64_t raw_make_whole(int fd)
{
	struct xpmem_cmd_make m = {};
	m.size = UINT64_MAX;
	m.permit_type = XPMEM_IOC_PERMIT_MODE;
	m.permit_value = 0600;
	return ioctl(fd, XPMEM_CMD_MAKE, &m) ? -1 : m.segid;
}

TEST_F(Nesting, AttachmentCoveringItsOwnSourceDetaches)
{
	int st = run_child([] {
		int fd = open(kDevPath, O_RDWR);
		CHILD_CHECK(fd >= 0);
		void *r = map_anon(kPage);
		CHILD_CHECK(r != MAP_FAILED);
		int64_t segid = raw_make_whole(fd);
		CHILD_CHECK(segid > 0);
		int64_t apid = raw_get(fd, segid);
		CHILD_CHECK(apid > 0);
		// Replaces the source page by an attachment of itself.
		uint64_t a = raw_attach(fd, apid, (uintptr_t)r, (uintptr_t)r, MAP_FIXED);
		CHILD_CHECK(a == (uintptr_t)r);
		struct xpmem_cmd_detach d = { a };
		CHILD_CHECK(ioctl(fd, XPMEM_CMD_DETACH, &d) == 0);
		return 0;
	}, 60);
	EXPECT_TRUE(exited_ok(st)) << describe_status(st);
}

TEST_F(Nesting, ProtectionChangesUnderASelfAttachmentWhileAPeerDetaches)
{
	constexpr long kIters = 20000;
	int st = run_child([] {
		int fd = open(kDevPath, O_RDWR);
		CHILD_CHECK(fd >= 0);
		int64_t segid = raw_make_whole(fd);
		CHILD_CHECK(segid > 0);
		char *r = (char *)map_anon(kPage);
		CHILD_CHECK(r != MAP_FAILED);
		r[0] = 1;
		CHILD_CHECK(raw_attach(fd, raw_get(fd, segid), (uintptr_t)r, 0, 0) != 0);
		pid_t q = spawn([segid, r] {
			int qfd = open(kDevPath, O_RDWR);
			CHILD_CHECK(qfd >= 0);
			int64_t apid = raw_get(qfd, segid);
			CHILD_CHECK(apid > 0);
			for (long i = 0; i < kIters; i++) {
				uint64_t a = raw_attach(qfd, apid, (uintptr_t)r, 0, 0);
				CHILD_CHECK(a != 0);
				struct xpmem_cmd_detach d = { a };
				CHILD_CHECK(ioctl(qfd, XPMEM_CMD_DETACH, &d) == 0);
			}
			return 0;
		}, 240);
		CHILD_CHECK(q > 0);
		for (long i = 0; i < kIters; i++) {
			CHILD_CHECK(mprotect(r, kPage, PROT_READ) == 0);
			CHILD_CHECK(mprotect(r, kPage, PROT_READ | PROT_WRITE) == 0);
		}
		int qs = wait_pid(q, 240000);
		CHILD_CHECK(exited_ok(qs));
		return 0;
	}, 300);
	EXPECT_TRUE(exited_ok(st)) << describe_status(st);
}

}  // namespace
}  // namespace xk
