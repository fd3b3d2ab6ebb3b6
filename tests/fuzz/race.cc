// SPDX-License-Identifier: GPL-2.0-only
//
// race.cc - a region changed while another process touches it.
//
// The worker exports one of its regions and forks a child that attaches it
// and reads (and identity-writes) random pages in a loop, while the worker
// rewrites the region in place, replaces its mapping, protects it, drops
// its pages, moves it away and back, and shares it copy-on-write with a
// grandchild before rewriting it.  Each change is bracketed by a sequence
// count (odd while changing) and announces the generations that may be
// visible: `hi` before it starts, `lo` once the old pages are unreachable.
//
// The child checks each read against that protocol: a read entirely inside
// a quiet period must show exactly the current generation, with no signal;
// a read that overlapped a change may raise SIGBUS or see zeros or any
// generation in [lo before, hi after], but never an older one (a page the
// owner has given up: stale data) and never anything that is not our
// pattern at that address.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "pattern.h"
#include "worker.h"

namespace xf {

namespace {

struct RaceCtl {
	std::atomic<uint64_t> seq;
	std::atomic<uint64_t> lo, hi;
	std::atomic<int> ready, stop;
};

bool gen_in(uint64_t g, uint64_t lo, uint64_t hi)
{
	return ((g - lo) & kGenMask) <= ((hi - lo) & kGenMask);
}

int race_child(Worker &w, RaceCtl *ctl, int64_t segid, uint64_t src0,
	       size_t len, uint64_t seed)
{
	Rng g(seed);
	int fd = open_dev();
	if (fd < 0)
		return 2;
	struct xpmem_cmd_get gc = { segid, XPMEM_IOC_RDWR, XPMEM_IOC_PERMIT_MODE, 0, 0 };
	struct xpmem_cmd_attach ac = {};
	if (xioctl(fd, XPMEM_CMD_GET, &gc)) {
		w.failf("race child: GET %#llx: %s", (unsigned long long)segid,
			strerror(errno));
		return 3;
	}
	ac.apid = gc.apid;
	ac.size = len;
	if (xioctl(fd, XPMEM_CMD_ATTACH, &ac)) {
		w.failf("race child: ATTACH: %s", strerror(errno));
		return 3;
	}
	ctl->ready.store(1);
	size_t npages = len / kPage;
	int failures = 0;
	uint64_t reads = 0;
	while (!ctl->stop.load(std::memory_order_acquire) && failures < 3) {
		size_t pg = g.below(npages);
		uintptr_t at = ac.vaddr + pg * kPage;
		uint64_t src = src0 + pg * kPage;
		size_t offs[3] = { check_off(0), check_off(g.below(8)), check_off(7) };
		uint64_t v[3] = {};
		bool write = g.chance(25);

		uint64_t s1 = ctl->seq.load(std::memory_order_acquire);
		uint64_t lo = ctl->lo.load(std::memory_order_acquire);
		FaultInfo f = guarded([&] {
			for (int i = 0; i < 3; i++)
				v[i] = load(at + offs[i]);
			if (write)
				rewrite(at + offs[1]);
		});
		uint64_t hi = ctl->hi.load(std::memory_order_acquire);
		uint64_t s2 = ctl->seq.load(std::memory_order_acquire);
		bool quiet = s1 == s2 && !(s1 & 1);
		reads++;

		const char *why = nullptr;
		int bad = 0;
		if (quiet && f.sig) {
			why = "a signal while the region was not changing";
		} else if (f.sig && f.sig != SIGBUS) {
			why = "a signal other than SIGBUS";
		} else if (!f.sig) {
			for (int i = 0; i < 3 && !why; i++) {
				uint64_t want = pattern(w.key_, src + offs[i], hi);
				bad = i;
				if (quiet && v[i] != want)
					why = "not the current generation in a quiet period";
				else if (!quiet && v[i] &&
					 !(pattern_matches(w.key_, src + offs[i], v[i]) &&
					   gen_in(v[i] & kGenMask, lo, hi)))
					why = v[i] && pattern_matches(w.key_, src + offs[i], v[i])
						      ? "stale generation" : "foreign data";
			}
		}
		if (why) {
			failures++;
			w.failf("race child page %zu word %zu (source %#llx): %s: signal %d, "
				"read %#llx, generations %llu..%llu, seq %llu..%llu",
				pg, offs[bad] / 8, (unsigned long long)(src + offs[bad]), why,
				f.sig, (unsigned long long)v[bad], (unsigned long long)lo,
				(unsigned long long)hi, (unsigned long long)s1,
				(unsigned long long)s2);
		}
	}
	w.count_event(E_TOUCH, reads);
	w.flush();
	if (g.chance(50)) {
		uint64_t d = ac.vaddr;
		xioctl(fd, XPMEM_CMD_DETACH, &d);
	}
	return failures ? 1 : 0;
}

// One change of the region, announced through ctl.
void race_change(Worker &w, Region &r, RaceCtl *ctl)
{
	uint64_t next = r.gen + 1;
	auto announce = [&] { ctl->hi.store(next, std::memory_order_release); };
	auto retire = [&] { ctl->lo.store(next, std::memory_order_release); };
	auto refill = [&] {
		fill_region(r.addr, r.len, w.key_, next);
		r.gen = next;
	};

	ctl->seq.fetch_add(1, std::memory_order_acq_rel);	/* odd */
	switch (w.rng_.below(6)) {
	case 0:
		announce();
		refill();
		retire();
		break;
	case 1:
		announce();
		if (mmap((void *)r.addr, r.len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			w.failf("race: remap: %s", strerror(errno));
		retire();
		refill();
		break;
	case 2:
		mprotect((void *)r.addr, r.len, PROT_NONE);
		sched_yield();
		mprotect((void *)r.addr, r.len, PROT_READ | PROT_WRITE);
		break;
	case 3:
		announce();
		madvise((void *)r.addr, r.len, MADV_DONTNEED);
		retire();
		refill();
		break;
	case 4: {
		int to = -1;
		for (int i = 0; i < Worker::kSlots; i++)
			if (!w.regions_[i].live)
				to = i;
		if (to < 0)
			break;
		uintptr_t away = w.slot_addr(to) + (r.addr & (Worker::kSlotSize - 1));
		void *p = mremap((void *)r.addr, r.len, r.len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, (void *)away);
		if (p == MAP_FAILED) {
			w.failf("race: mremap away: %s", strerror(errno));
			break;
		}
		sched_yield();
		p = mremap((void *)away, r.len, r.len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)r.addr);
		if (p == MAP_FAILED)
			w.failf("race: mremap back: %s", strerror(errno));
		w.reserve(away, r.len);
		break;
	}
	default: {
		// The grandchild keeps the old pages alive, copy-on-write;
		// our rewrite must take the attacher to the new ones.
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC))
			break;
		fflush(nullptr);
		pid_t pid = fork();
		if (pid == 0) {
			child_setup(30);
			char c;
			close(pfd[1]);
			(void)!read(pfd[0], &c, 1);
			_exit(0);
		}
		close(pfd[0]);
		announce();
		refill();
		retire();
		close(pfd[1]);
		if (pid > 0) {
			int st = wait_pid(pid, 30000);
			if (!exited_ok(st))
				w.failf("race: copy-on-write child: %s", describe_status(st).c_str());
		}
		break;
	}
	}
	ctl->seq.fetch_add(1, std::memory_order_acq_rel);	/* even */
}

}  // namespace

void Worker::ev_race()
{
	phase_ = "race";
	int ri = -1;
	for (int i = 0; i < kSlots; i++)
		if (regions_[i].live && (ri < 0 || rng_.chance(50)))
			ri = i;
	if (ri < 0)
		return;
	Region &r = regions_[ri];
	if (r.prot != (PROT_READ | PROT_WRITE) || r.zero || r.delta) {
		if (mprotect((void *)r.addr, r.len, PROT_READ | PROT_WRITE))
			return;
		r.prot = PROT_READ | PROT_WRITE;
		r.gen = next_gen_++;
		r.zero = false;
		r.delta = 0;
		fill_region(r.addr, r.len, key_, r.gen);
	}
	struct xpmem_cmd_make m = { r.addr, r.len, XPMEM_IOC_PERMIT_MODE, 0, 0600, 0 };
	if (!expect(call(0, XPMEM_CMD_MAKE, &m), A(O_OK), "MAKE for a race"))
		return;
	count_event(E_RACE);

	RaceCtl *ctl = (RaceCtl *)mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		int64_t id = m.segid;
		call(0, XPMEM_CMD_REMOVE, &id);
		return;
	}
	new (ctl) RaceCtl();
	ctl->lo.store(r.gen);
	ctl->hi.store(r.gen);
	uint64_t seed = rng_.next();
	size_t len = r.len;
	uint64_t src0 = r.addr;
	flush();	/* or the child would count our calls again */
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(120);
		_exit(race_child(*this, ctl, m.segid, src0, len, seed));
	}
	if (pid > 0) {
		int64_t t0 = now_ms();
		while (!ctl->ready.load() && now_ms() - t0 < 20000)
			usleep(1000);
		int64_t end = now_ms() + 100 + (int64_t)rng_.below(300);
		while (ctl->ready.load() && now_ms() < end) {
			race_change(*this, r, ctl);
			usleep(rng_.below(2000));
		}
		ctl->stop.store(1, std::memory_order_release);
		int st = wait_pid(pid, 60000);
		if (!exited_ok(st))
			failf("race child: %s", describe_status(st).c_str());
	}
	next_gen_ = std::max(next_gen_, r.gen + 1);
	munmap(ctl, kPage);
	int64_t id = m.segid;
	expect(call(0, XPMEM_CMD_REMOVE, &id), A(O_OK), "REMOVE after a race");
	touch_atts_over(r.addr, r.len);
}

}  // namespace xf
