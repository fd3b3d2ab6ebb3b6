// SPDX-License-Identifier: GPL-2.0-only
//
// events.cc - what happens between processes: forked children on inherited
// descriptors (XPMEM_ERRNO_NOPROC) and children doing their own work,
// exporters that exit under an attacher, a region changed while another
// process touches it, descriptors closed with objects alive, dup()s, and
// children that drop root.
//
// Every event is synchronous: the worker reaps its children before it goes
// on, so a descriptor it closes is really the last reference.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"
#include "worker.h"

namespace xf {

namespace {

constexpr int kChildTimeoutS = 120;

// Forks a child that runs fn() and _exit()s with its result.  The counts
// are flushed first, or the child would report its parent's again.
template <typename F> pid_t fork_child(Worker &w, F &&fn)
{
	w.flush();
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(kChildTimeoutS);
		_exit(fn());
	}
	return pid;
}

void reap(Worker &w, pid_t pid, const char *what)
{
	if (pid < 0) {
		w.failf("fork (%s): %s", what, strerror(errno));
		return;
	}
	int st = wait_pid(pid, (kChildTimeoutS + 10) * 1000);
	if (!exited_ok(st))
		w.failf("%s child %d: %s", what, pid, describe_status(st).c_str());
}

bool read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return read(fd, buf, n) == (ssize_t)n;
}

// A small worker in a forked child, on its own descriptor and its own
// board rows, that leaves either cleanly or with everything still alive.
int child_worker(Worker &parent, bool unpriv)
{
	RunConfig cfg = parent.cfg_;
	cfg.writer = parent.cfg_.child_writer;
	cfg.seed = parent.rng_.next();
	cfg.is_child = true;
	cfg.unpriv = unpriv;
	Worker w(cfg);
	if (!w.init())
		return 1;
	w.run(100 + w.rng_.below(1000));
	w.finish(w.rng_.chance(50));
	return 0;
}

}  // namespace

// A forked child shares its parent's descriptors but not its mm: every
// command on them must say XPMEM_ERRNO_NOPROC, whatever the arguments.
void Worker::ev_fork_inherit()
{
	phase_ = "fork (inherited descriptors)";
	pid_t pid = fork_child(*this, [&] {
		count_event(E_FORK_INHERIT);
		for (int fdi = 0; fdi < 2; fdi++) {
			if (fds_[fdi] < 0)
				continue;
			struct xpmem_cmd_make m = { slot_addr(0), kPage,
						    XPMEM_IOC_PERMIT_MODE, 0, 0600, 0 };
			expect(call(fdi, XPMEM_CMD_MAKE, &m), A(O_NOPROC),
			       "MAKE in a child on the parent's descriptor");
			int64_t id = segs_.empty() ? 1 : segs_[0].segid;
			expect(call(fdi, XPMEM_CMD_REMOVE, &id), A(O_NOPROC),
			       "REMOVE of the parent's segment in a child");
			struct xpmem_cmd_get g = { id, XPMEM_IOC_RDWR,
						   XPMEM_IOC_PERMIT_MODE, 0, 0 };
			expect(call(fdi, XPMEM_CMD_GET, &g), A(O_NOPROC),
			       "GET in a child on the parent's descriptor");
			int64_t ap = permits_.empty() ? 1 : permits_[0].apid;
			struct xpmem_cmd_attach c = { ap, 0, kPage, 0, -1, 0 };
			expect(call(fdi, XPMEM_CMD_ATTACH, &c), A(O_NOPROC),
			       "ATTACH of the parent's permit in a child");
			expect(call(fdi, XPMEM_CMD_RELEASE, &ap), A(O_NOPROC),
			       "RELEASE of the parent's permit in a child");
			uint64_t v = atts_.empty() ? 0 : atts_[0].addr;
			expect(call(fdi, XPMEM_CMD_DETACH, &v), A(O_NOPROC),
			       "DETACH in a child on the parent's descriptor");
			expect(call(fdi, XPMEM_CMD_FORK_BEGIN, nullptr), A(O_NOPROC),
			       "FORK_BEGIN in a child on the parent's descriptor");
			long r = call(fdi, XPMEM_CMD_VERSION, nullptr);
			if (r != version_ && r != -XPMEM_ERRNO_NOPROC)
				failf("VERSION in a child: %ld", r);
			struct xpmem_stats st;
			if (!read_stats(fds_[fdi], &st))
				failf("STATS in a child: %s", strerror(errno));
			calls_ += 1;
			// Bad pointers: the missing context may be noticed first.
			expect(call(fdi, XPMEM_CMD_MAKE, nullptr),
			       A(O_NOPROC) | A(O_EFAULT), "MAKE(NULL) in a child");
		}
		// Attachments are not inherited (VM_DONTCOPY).
		if (!atts_.empty()) {
			FaultInfo f = guarded([&] { (void)load(atts_[0].addr); });
			if (f.sig != SIGSEGV)
				failf("a child read its parent's attachment: signal %d", f.sig);
		}
		flush();
		if (!rng_.chance(50))
			return 0;
		count_event(E_FORK_WORKER);
		flush();
		return child_worker(*this, false);
	});
	reap(*this, pid, "fork");
	// The parent's objects are untouched by all that.
	if (!segs_.empty()) {
		struct xpmem_cmd_get g = { segs_[0].segid, XPMEM_IOC_RDONLY,
					   XPMEM_IOC_PERMIT_MODE, 0, 0 };
		if (expect(call(0, XPMEM_CMD_GET, &g), A(O_OK) | A(O_EACCES),
			   "GET of own segment after a child exited") &&
		    g.apid > 0) {
			int64_t a = g.apid;
			expect(call(0, XPMEM_CMD_RELEASE, &a), A(O_OK), "RELEASE");
		}
	}
}

// An exporter that exits while we are attached: from then on every touch
// raises SIGBUS (never the dead process's data), its segment is gone, and
// our permit and attachment can still be released and detached.
void Worker::ev_exporter_exit()
{
	phase_ = "exporter exit";
	struct Info {
		int64_t segid;
		uint64_t addr, len, key, offset;
	} info;
	int to_child[2], from_child[2];
	bool racing = rng_.chance(40);
	uint64_t child_seed = rng_.next();

	if (pipe2(to_child, O_CLOEXEC))
		return;
	if (pipe2(from_child, O_CLOEXEC)) {
		close(to_child[0]);
		close(to_child[1]);
		return;
	}
	pid_t pid = fork_child(*this, [&]() -> int {
		close(to_child[1]);
		close(from_child[0]);
		Rng g(child_seed);
		int fd = open_dev();
		if (fd < 0)
			return 2;
		bool huge = g.chance(25);
		size_t len = huge ? kHugePage : kPage * (1 + g.below(32));
		void *p = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 3;
		uintptr_t a = ((uintptr_t)p + kHugePage - 1) & ~(kHugePage - 1);
		if (huge)
			madvise((void *)a, len, MADV_HUGEPAGE);
		uint64_t key = mix64(child_seed) | 1;
		fill_region(a, len, key, 1);
		bool whole = g.chance(30);
		struct xpmem_cmd_make m = { whole ? 0 : a, whole ? UINT64_MAX : len,
					    XPMEM_IOC_PERMIT_MODE, 0, 0600, 0 };
		if (ioctl(fd, XPMEM_CMD_MAKE, &m))
			return 4;
		if (g.chance(50)) {
			SegInfo si = { m.segid, m.vaddr, whole ? user_top() : len,
				       key, a, len, 0600, 0 };
			b_->post_seg(cfg_.child_writer, 0, si);
		}
		Info in = { m.segid, a, len, key, whole ? a : 0 };
		if (write(from_child[1], &in, sizeof(in)) != sizeof(in))
			return 5;
		if (racing) {
			usleep(1000 * g.below(30));
		} else {
			char c;
			(void)!read(to_child[0], &c, 1);
		}
		return 0;	/* exit with the segment alive */
	});
	close(to_child[0]);
	close(from_child[1]);
	bool got = pid > 0 && read_full(from_child[0], &info, sizeof(info), 30000);
	close(from_child[0]);
	if (!got) {
		close(to_child[1]);
		reap(*this, pid, "exporter");
		if (pid > 0)
			failf("the exporter child sent nothing");
		return;
	}
	count_event(E_EXPORTER_EXIT);

	struct xpmem_cmd_get g = { info.segid, XPMEM_IOC_RDWR, XPMEM_IOC_PERMIT_MODE, 0, 0 };
	long r = call(0, XPMEM_CMD_GET, &g);
	if (!expect(r, racing ? A(O_OK) | A(O_ENOENT) : A(O_OK),
		    "GET of a live exporter's segment") || r) {
		close(to_child[1]);
		reap(*this, pid, "exporter");
		return;
	}
	struct xpmem_cmd_attach c = { g.apid, (int64_t)info.offset, info.len, 0, -1, 0 };
	r = call(0, XPMEM_CMD_ATTACH, &c);
	bool attached = expect(r, racing ? A(O_OK) | A(O_ENOENT) : A(O_OK),
			       "ATTACH of a live exporter's segment") && r == 0;
	size_t npages = info.len / kPage;
	auto pass = [&](bool must_fault, bool *faulted) {
		for (size_t pg = 0; pg < npages; pg++) {
			uintptr_t at = c.vaddr + pg * kPage;
			uint64_t src = info.addr + pg * kPage;
			uint64_t v = 0;
			FaultInfo f = guarded([&] { v = load(at); rewrite(at + check_off(3)); });
			count_event(E_TOUCH);
			if (f.sig == SIGBUS) {
				*faulted = true;
				continue;
			}
			if (f.sig || must_fault || *faulted) {
				failf("page %zu of an exporter %s: signal %d, read %#llx",
				      pg, *faulted || must_fault ? "that is gone" : "alive",
				      f.sig, (unsigned long long)v);
				return false;
			}
			if (v != pattern(info.key, src, 1)) {
				failf("page %zu of a live exporter: %#llx, want %#llx", pg,
				      (unsigned long long)v,
				      (unsigned long long)pattern(info.key, src, 1));
				return false;
			}
		}
		return true;
	};
	bool faulted = false;
	if (attached) {
		if (racing) {
			// Touch while it exits on its own: data, then SIGBUS
			// once it is gone, and never data again.
			for (int i = 0; i < 1000 && pass(false, &faulted); i++) {
				int st;
				if (waitpid(pid, &st, WNOHANG) == pid) {
					pid = -2;
					if (!exited_ok(st))
						failf("exporter: %s", describe_status(st).c_str());
					break;
				}
			}
		} else {
			pass(false, &faulted);
		}
	}
	close(to_child[1]);	/* let it exit */
	if (pid != -2)
		reap(*this, pid, "exporter");
	if (attached) {
		faulted = false;
		pass(true, &faulted);
	}
	// Its segment died with it (the exit has run its file's release).
	struct xpmem_cmd_get g2 = { info.segid, XPMEM_IOC_RDWR, XPMEM_IOC_PERMIT_MODE, 0, 0 };
	r = call(0, XPMEM_CMD_GET, &g2);
	expect(r, A(O_ENOENT), "GET of an exited exporter's segment");
	if (r == 0) {
		int64_t a = g2.apid;
		call(0, XPMEM_CMD_RELEASE, &a);
	}
	struct xpmem_cmd_attach c2 = { g.apid, (int64_t)info.offset, info.len, 0, -1, 0 };
	r = call(0, XPMEM_CMD_ATTACH, &c2);
	expect(r, A(O_ENOENT), "ATTACH of an exited exporter's segment");
	if (attached) {
		uint64_t v = c.vaddr + kPage * rng_.below(npages);
		expect(call(0, XPMEM_CMD_DETACH, &v), A(O_OK), "DETACH after exporter exit");
	}
	int64_t a = g.apid;
	expect(call(0, XPMEM_CMD_RELEASE, &a), A(O_OK), "RELEASE after exporter exit");
}

// Closing a descriptor with objects alive tears down its context: its
// segments are removed (attachments of them raise SIGBUS), its permits are
// gone; the other descriptor's objects are untouched.
void Worker::ev_teardown()
{
	phase_ = "teardown";
	if (fds_[1] < 0) {
		fds_[1] = open_dev();
		if (fds_[1] < 0)
			failf("open a second descriptor: %s", strerror(errno));
		return;
	}
	int k = rng_.chance(70) ? 1 : 0;
	count_event(E_TEARDOWN);
	std::vector<int64_t> dead_segs, dead_apids;
	for (auto &s : segs_)
		if (s.fdi == k)
			dead_segs.push_back(s.segid);
	for (auto &p : permits_)
		if (p.fdi == k)
			dead_apids.push_back(p.apid);
	close(fds_[k]);
	fds_[k] = -1;
	for (int64_t id : dead_segs)
		forget_seg(id);
	for (int64_t id : dead_apids)
		forget_permit(id);
	if (k == 0) {
		fds_[0] = fds_[1];	/* keep slot 0 always open */
		fds_[1] = -1;
		for (auto &s : segs_)
			s.fdi = 0;
		for (auto &p : permits_)
			p.fdi = 0;
	}
	for (int64_t id : dead_segs) {
		struct xpmem_cmd_get g = { id, XPMEM_IOC_RDWR, XPMEM_IOC_PERMIT_MODE, 0, 0 };
		expect(call(0, XPMEM_CMD_GET, &g), A(O_ENOENT),
		       "GET of a segment whose descriptor was closed");
		for (size_t a = 0; a < atts_.size(); a++)
			if (atts_[a].segid == id)
				touch_att(a, rng_.chance(30));
	}
	for (int64_t id : dead_apids) {
		int64_t a = id;
		expect(call(0, XPMEM_CMD_RELEASE, &a), A(O_ENOENT),
		       "RELEASE of a permit whose descriptor was closed");
	}
	if (rng_.chance(50)) {
		fds_[1] = open_dev();
		if (fds_[1] < 0)
			failf("reopen: %s", strerror(errno));
	}
}

// A dup()ed descriptor is the same context; closing it tears nothing down.
void Worker::ev_dup_close()
{
	phase_ = "dup/close";
	int d = dup(fds_[0]);
	if (d < 0)
		return;
	int64_t segid = 0;
	for (auto &s : segs_)
		if (s.fdi == 0)
			segid = s.segid;
	struct xpmem_cmd_get g = { segid, XPMEM_IOC_RDONLY, XPMEM_IOC_PERMIT_MODE, 0, 0 };
	long r = call_fd(d, XPMEM_CMD_GET, &g);
	Allowed al = segid ? A(O_OK) | (cfg_.unpriv ? A(O_EACCES) : 0)
			   : A(O_ENOENT) | A(O_EINVAL);	/* 0 is no id at all */
	expect(r, al, "GET through a dup()ed descriptor");
	close(d);
	if (r == 0) {
		// The permit belongs to the context, not to the closed number.
		int64_t a = g.apid;
		expect(call(0, XPMEM_CMD_RELEASE, &a), A(O_OK),
		       "RELEASE after closing the dup() it was got through");
	}
	for (auto &s : segs_) {
		if (s.fdi != 0)
			continue;
		struct xpmem_cmd_get g2 = { s.segid, XPMEM_IOC_RDONLY, XPMEM_IOC_PERMIT_MODE, 0, 0 };
		r = call(0, XPMEM_CMD_GET, &g2);
		expect(r, A(O_OK) | (cfg_.unpriv ? A(O_EACCES) : 0),
		       "GET of own segment after closing a dup()");
		if (r == 0) {
			int64_t a = g2.apid;
			expect(call(0, XPMEM_CMD_RELEASE, &a), A(O_OK), "RELEASE");
		}
		break;
	}
}

// A child that gives up root: GET then obeys the segments' modes exactly.
void Worker::ev_unprivileged()
{
	phase_ = "unprivileged child";
	if (cfg_.unpriv)
		return;
	pid_t pid = fork_child(*this, [&]() -> int {
		if (setgroups(0, nullptr) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			return 0;	/* not root: nothing to drop */
		// Changing credentials cleared these; /proc/self/maps needs
		// the process dumpable.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_DUMPABLE, 1);
		count_event(E_UNPRIV);
		flush();
		return child_worker(*this, true);
	});
	reap(*this, pid, "unprivileged");
}

void Worker::event()
{
	const char *saved = phase_;
	unsigned ev = (unsigned)rng_.below(cfg_.is_child ? 3 : 8);

	trace("event %u", ev);
	switch (ev) {
	case 0:
		ev_teardown();
		break;
	case 1:
		ev_dup_close();
		break;
	case 2:
		ev_exporter_exit();
		break;
	case 3:
	case 4:
		ev_fork_inherit();
		break;
	case 5:
	case 6:
		ev_race();
		break;
	default:
		ev_unprivileged();
		break;
	}
	phase_ = saved;
}

}  // namespace xf
