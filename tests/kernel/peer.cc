// SPDX-License-Identifier: GPL-2.0-only
//
// peer.cc - the peer process: fork, optional privilege drop, and the command
// loop that runs each Op in the child.
#include "peer.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

namespace xk {

namespace {

struct Request {
	uint32_t op;
	uint32_t pad;
	uint64_t a, b, c, d, e;
};

int g_lifetime_s = 120;

Reply result(int64_t ret)
{
	Reply r;

	r.ret = ret;
	r.err = ret == -1 ? errno : 0;
	return r;
}

// AnonHugePages (kB) of the smaps entry that contains addr, or -1.
int64_t thp_kb(uint64_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	bool inside = false;
	int64_t kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			inside = addr >= lo && addr < hi;
			continue;
		}
		long v;
		if (inside && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb;
}

Reply run(const Request &q, bool *quit)
{
	Reply r;

	switch ((Op)q.op) {
	case Op::Ping:
		return result(getpid());
	case Op::Mmap: {
		int prot = PROT_READ | PROT_WRITE;
		if (q.c & kMapNone)
			prot = PROT_NONE;
		else if (q.c & kMapReadOnly)
			prot = PROT_READ;
		void *p = ::mmap((void *)q.a, q.b, prot,
				 MAP_PRIVATE | MAP_ANONYMOUS |
				 ((q.c & kMapFixed) ? MAP_FIXED : 0), -1, 0);
		if (p == MAP_FAILED)
			return result(-1);
		if ((q.c & kMapHuge) && madvise(p, q.b, MADV_HUGEPAGE) != 0)
			return result(-1);
		return result((int64_t)(uintptr_t)p);
	}
	case Op::Munmap:
		return result(munmap((void *)q.a, q.b));
	case Op::Reserve: {
		uintptr_t a = free_range(q.a, q.b);
		if (!a)
			return result(-1);
		return result((int64_t)a);
	}
	case Op::Fill:
		fill_pages((void *)q.a, q.b, q.c, q.d != 0);
		return result(0);
	case Op::Check: {
		uint64_t found = 0;
		int64_t idx = check_pages((const void *)q.a, q.b, q.c, q.d != 0,
					  &found);
		r.ret = idx < 0 ? 0 : -1;
		r.val = (uint64_t)idx;
		r.val2 = found;
		return r;
	}
	case Op::FillWord:
		fill_word((void *)q.a, q.b, q.c, q.d);
		return result(0);
	case Op::CheckWord: {
		uint64_t found = 0;
		int64_t idx = check_word((const void *)q.a, q.b, q.c, q.d, &found);
		r.ret = idx < 0 ? 0 : -1;
		r.val = (uint64_t)idx;
		r.val2 = found;
		return r;
	}
	case Op::Make:
		return result(xpmem_make((void *)q.a, q.b, XPMEM_PERMIT_MODE,
					 (void *)q.c));
	case Op::Remove:
		return result(xpmem_remove((xpmem_segid_t)q.a));
	case Op::Get:
		return result(xpmem_get((xpmem_segid_t)q.a, (int)q.b,
					XPMEM_PERMIT_MODE, (void *)q.c));
	case Op::Release:
		return result(xpmem_release((xpmem_apid_t)q.a));
	case Op::Attach: {
		struct xpmem_addr addr = { (xpmem_apid_t)q.a, (off_t)q.b };
		void *p = xpmem_attach(addr, q.c, (void *)q.d);
		return result(p == (void *)-1 ? -1 : (int64_t)(uintptr_t)p);
	}
	case Op::Detach:
		return result(xpmem_detach((void *)q.a));
	case Op::Read:
		r.ret = 0;
		r.val = *(volatile uint64_t *)q.a;
		return r;
	case Op::Write:
		*(volatile uint64_t *)q.a = q.b;
		return result(0);
	case Op::Mprotect:
		return result(mprotect((void *)q.a, q.b, (int)q.c));
	case Op::Madvise:
		return result(madvise((void *)q.a, q.b, (int)q.c));
	case Op::Mremap: {
		void *p = mremap((void *)q.a, q.b, q.c, (int)q.d, (void *)q.e);
		return result(p == MAP_FAILED ? -1 : (int64_t)(uintptr_t)p);
	}
	case Op::ThpKb:
		r.ret = 0;
		r.val = (uint64_t)thp_kb(q.a);
		return r;
	case Op::Version:
		return result(xpmem_version());
	case Op::Sleeper: {
		pid_t pid = fork();
		if (pid == 0) {
			// No parent-death signal: it must outlive us; its
			// own alarm bounds it (alarms are not inherited).
			prctl(PR_SET_PDEATHSIG, 0);
			alarm((unsigned)scaled_s(g_lifetime_s));
			for (;;)
				pause();
		}
		return result(pid);
	}
	case Op::Exit:
		*quit = true;
		return result(0);
	}
	errno = ENOSYS;
	return result(-1);
}

[[noreturn]] void serve(int sock, const PeerOptions &o)
{
	Reply hello;

	g_lifetime_s = o.lifetime_s;
	hello.ret = 0;
	if (o.drop) {
		// Order matters: groups and gid while still root, uid last.
		if (setgroups(0, nullptr) || setgid(o.gid) || setuid(o.uid)) {
			hello = result(-1);
		} else {
			// A credential change clears the parent-death signal.
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			// An unprivileged process must be able to use the
			// device; report it here rather than let a later
			// EACCES pass for a permission check.
			if (xpmem_version() < 0) {
				hello = result(-1);
				hello.val = 1;
			}
		}
	}
	if (send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello))
		_exit(1);
	if (hello.ret != 0)
		_exit(1);

	for (;;) {
		struct pollfd pfd = { sock, POLLIN, 0 };
		// A test that went away without telling us: give up at
		// our lifetime, like the alarm does.
		if (poll(&pfd, 1, scaled_ms((int64_t)o.lifetime_s * 1000)) <= 0)
			_exit(2);
		Request q;
		ssize_t n = recv(sock, &q, sizeof(q), 0);
		if (n != sizeof(q))
			_exit(n == 0 ? 0 : 3);
		bool quit = false;
		Reply r = run(q, &quit);
		if (send(sock, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r))
			_exit(4);
		if (quit)
			_exit(0);
	}
}

}  // namespace

Peer::Peer(const PeerOptions &opts)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		why_ = std::string("socketpair: ") + strerror(errno);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid_ = fork();
	if (pid_ < 0) {
		why_ = std::string("fork: ") + strerror(errno);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid_ == 0) {
		close(sv[0]);
		child_setup(opts.lifetime_s);
		serve(sv[1], opts);
	}
	close(sv[1]);
	sock_ = sv[0];

	struct pollfd pfd = { sock_, POLLIN, 0 };
	Reply hello;
	if (poll(&pfd, 1, scaled_ms(20000)) != 1 ||
	    recv(sock_, &hello, sizeof(hello), 0) != sizeof(hello)) {
		why_ = "peer did not start";
		return;
	}
	if (hello.ret != 0) {
		char buf[200];
		snprintf(buf, sizeof(buf),
			 "peer as uid %u gid %u: %s failed: %s",
			 (unsigned)opts.uid, (unsigned)opts.gid,
			 hello.val ? "xpmem_version() (cannot use /dev/xpmem)"
				   : "dropping privileges",
			 strerror((int)hello.err));
		why_ = buf;
		return;
	}
	started_ = true;
}

Peer::~Peer()
{
	if (pid_ > 0 && !reaped_) {
		if (started_ && sock_ >= 0) {
			Request q = {};
			q.op = (uint32_t)Op::Exit;
			send(sock_, &q, sizeof(q), MSG_NOSIGNAL);
		}
		wait(3000);
	}
	if (sock_ >= 0)
		close(sock_);
}

bool Peer::post(Op op, uint64_t a, uint64_t b, uint64_t c, uint64_t d,
		uint64_t e)
{
	Request q = {};

	if (!started_ || sock_ < 0)
		return false;
	q.op = (uint32_t)op;
	q.a = a;
	q.b = b;
	q.c = c;
	q.d = d;
	q.e = e;
	last_op_ = q.op;
	return send(sock_, &q, sizeof(q), MSG_NOSIGNAL) == sizeof(q);
}

Reply Peer::collect(int timeout_ms)
{
	Reply r;

	r.ret = -1;
	if (!started_ || sock_ < 0) {
		r.err = ESRCH;
		return r;
	}
	struct pollfd pfd = { sock_, POLLIN, 0 };
	timeout_ms = scaled_ms(timeout_ms);
	int n = poll(&pfd, 1, timeout_ms);
	if (n == 0) {
		fprintf(stderr, "peer %d: no answer to op %u in %d ms\n",
			pid_, last_op_, timeout_ms);
		r.err = ETIMEDOUT;
		// A late answer would desynchronise later calls: end it.
		kill_now();
		started_ = false;
		return r;
	}
	if (n < 0 || recv(sock_, &r, sizeof(r), 0) != sizeof(r)) {
		r.ret = -1;
		r.err = EPIPE;	// the peer died during the call
	}
	return r;
}

Reply Peer::call(Op op, uint64_t a, uint64_t b, uint64_t c, uint64_t d,
		 uint64_t e, int timeout_ms)
{
	if (!post(op, a, b, c, d, e)) {
		Reply r;
		r.ret = -1;
		r.err = started_ ? EPIPE : ESRCH;
		return r;
	}
	return collect(timeout_ms);
}

int Peer::wait(int timeout_ms)
{
	if (pid_ <= 0 || reaped_)
		return -1;
	int status = wait_pid(pid_, timeout_ms);
	reaped_ = true;
	return status;
}

void Peer::kill_now()
{
	if (pid_ > 0 && !reaped_) {
		kill(pid_, SIGKILL);
		wait(5000);
	}
}

void share_pages(Peer &exp, Peer &att, size_t npages, uint64_t seed,
		 SharedPages *out)
{
	ASSERT_TRUE(exp.started()) << exp.why();
	ASSERT_TRUE(att.started()) << att.why();
	out->A = exp.mmap(npages * kPage);
	ASSERT_NE(out->A, 0u);
	ASSERT_EQ(exp.call(Op::Fill, out->A, npages, seed).ret, 0);
	out->segid = exp.make_whole();
	ASSERT_GT(out->segid, 0);
	Reply g = att.call(Op::Get, (uint64_t)out->segid, XPMEM_RDWR, 0666);
	ASSERT_GT(g.ret, 0) << strerror((int)g.err);
	out->apid = g.ret;
	Reply a = att.call(Op::Attach, (uint64_t)g.ret, out->A, npages * kPage, 0);
	ASSERT_TRUE(a.ok()) << strerror((int)a.err);
	out->P = (uint64_t)a.ret;
	Reply c = att.call(Op::Check, out->P, npages, seed);
	ASSERT_EQ(c.ret, 0) << (c.err ? strerror((int)c.err) :
		describe_mismatch((int64_t)c.val, seed, c.val2));
}

}  // namespace xk
