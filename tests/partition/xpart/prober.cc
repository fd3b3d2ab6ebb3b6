// SPDX-License-Identifier: GPL-2.0-only
//
// prober.cc - see prober.h.
#include "prober.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_proc.h"

namespace xp {
namespace {

struct Cmd {
	uint64_t op;	// 1 read, 2 exit
	uint64_t page, word;
};
struct Reply {
	int64_t err;	// 0 or an errno (start only)
	uint64_t value;
};

bool put(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n;
}

// Reads exactly n bytes within timeout_ms: 1 done, 0 end of file, -1 timeout
// or error.
int get(int fd, void *p, size_t n, int timeout_ms)
{
	int64_t deadline = xt::now_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		int64_t left = deadline - xt::now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = { fd, POLLIN, 0 };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t k = ::read(fd, (char *)p + got, n - got);
		if (k == 0)
			return 0;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += k;
	}
	return 1;
}

[[noreturn]] void child(int in, int out, xpmem_segid_t segid, size_t pages, int life_s)
{
	Reply r = {};

	xt::child_setup(life_s);
	signal(SIGBUS, SIG_DFL);	// the death the parent is looking for
	// A forked child has no XPMEM context: the library opens its own.
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	void *at = (void *)-1;
	if (apid < 0)
		r.err = errno;
	else if ((at = xpmem_attach({ apid, 0 }, pages * kPage, nullptr)) == (void *)-1)
		r.err = errno;
	put(out, &r, sizeof(r));
	if (r.err)
		_exit(2);
	const volatile uint64_t *base = (const volatile uint64_t *)at;
	Cmd c;
	while (get(in, &c, sizeof(c), life_s * 1000) == 1 && c.op == 1) {
		r.value = base[c.page * kWords + c.word];
		put(out, &r, sizeof(r));
	}
	xpmem_detach(at);
	xpmem_release(apid);
	_exit(0);
}

}  // namespace

Prober::~Prober()
{
	stop();
}

bool Prober::start(xpmem_segid_t segid, size_t pages, int life_s, std::string *err)
{
	int a[2], b[2];

	signal(SIGPIPE, SIG_IGN);	// a dead child must not take us along
	if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC)) {
		*err = std::string("pipe: ") + strerror(errno);
		return false;
	}
	fflush(nullptr);
	pid_ = fork();
	if (pid_ < 0) {
		*err = std::string("fork: ") + strerror(errno);
		return false;
	}
	if (pid_ == 0) {
		close(a[1]);
		close(b[0]);
		child(a[0], b[1], segid, pages, life_s);
	}
	close(a[0]);
	close(b[1]);
	to_ = a[1];
	from_ = b[0];
	Reply r;
	int g = get(from_, &r, sizeof(r), 30000);
	if (g == 1 && r.err == 0)
		return true;
	if (g == 1)
		*err = std::string("the prober's get/attach failed: ") + strerror((int)r.err);
	else {
		reap(g == 0 ? 5000 : 0);
		*err = "the prober did not attach: " + how();
	}
	stop();
	return false;
}

bool Prober::reap(int timeout_ms)
{
	if (pid_ < 0)
		return true;
	status_ = xt::wait_pid(pid_, timeout_ms);	// kills at the deadline
	pid_ = -1;
	return status_ != -1;
}

Prober::Result Prober::read(size_t page, size_t word, uint64_t *v, int timeout_ms)
{
	Cmd c = { 1, page, word };
	Reply r;

	if (pid_ < 0)
		return kDied;
	if (!put(to_, &c, sizeof(c))) {
		reap(5000);
		return kDied;
	}
	int g = get(from_, &r, sizeof(r), timeout_ms);
	if (g == 1) {
		*v = r.value;
		return kValue;
	}
	if (g == 0) {	// end of file: the child died reading
		reap(5000);
		return kDied;
	}
	reap(0);
	return kTimeout;
}

bool Prober::died_of(int sig) const
{
	return status_ != -1 && WIFSIGNALED(status_) && WTERMSIG(status_) == sig;
}

std::string Prober::how() const
{
	return xt::describe_status(status_);
}

void Prober::stop()
{
	if (pid_ >= 0) {
		Cmd c = { 2, 0, 0 };
		put(to_, &c, sizeof(c));
		reap(10000);
	}
	if (to_ >= 0)
		close(to_);
	if (from_ >= 0)
		close(from_);
	to_ = from_ = -1;
}

}  // namespace xp
