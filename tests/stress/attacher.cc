// SPDX-License-Identifier: GPL-2.0-only
//
// attacher.cc - the attacher side: get and attach the other processes'
// slots, follow them across new segments and new owners, verify every word
// of the pages read against the generation protocol (slot.h), write the
// owners' mailboxes, detach or munmap (whole or in part), and fork children
// that attach on their own.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "proc.h"

namespace xs {

void Proc::drop(View &v, bool by_munmap)
{
	if (v.addr) {
		int r = by_munmap ? munmap((void *)v.addr, v.npages * kPage)
				  : xpmem_detach((void *)(v.addr + kPage * rng_.below(v.npages)));
		if (r)
			failf("%s of an attachment: %s", by_munmap ? "munmap" : "xpmem_detach",
			      strerror(errno));
	}
	// The permit may outlive its segment; releasing it always works.
	if (v.apid > 0 && xpmem_release(v.apid))
		failf("xpmem_release(%#llx): %s", (unsigned long long)v.apid, strerror(errno));
	uint64_t counter = v.counter;
	v = View();
	v.counter = counter;
}

// Brings the view of slot s up to its current segment.  False when there
// is nothing to attach right now.
bool Proc::refresh(int s, View &v)
{
	Slot &sl = sh_->slots[s];
	uint64_t s1 = sl.seq.load(std::memory_order_acquire);
	int64_t segid = sl.segid.load(std::memory_order_acquire);
	uint64_t offset = sl.offset.load(), npages = sl.npages.load();
	if (sl.seq.load(std::memory_order_acquire) != s1 || (s1 & 1) || segid <= 0)
		return v.segid > 0;	/* busy: keep what we have */
	if (v.segid == segid)
		return true;

	drop(v, rng_.chance(30));
	bool rdonly = rng_.chance(20);
	xpmem_apid_t apid = xpmem_get(segid, rdonly ? XPMEM_RDONLY : XPMEM_RDWR,
				      XPMEM_PERMIT_MODE, (void *)0600);
	if (apid <= 0) {
		// Only if the segment went away meanwhile.
		if (errno != ENOENT || sl.segid.load() == segid)
			failf("xpmem_get(slot %d, %#llx): %s", s, (unsigned long long)segid,
			      strerror(errno));
		return false;
	}
	// The whole region, or a part (with or without the mailbox).
	size_t first = 0, n = npages;
	if (rng_.chance(40)) {
		first = rng_.below(npages);
		n = 1 + rng_.below(npages - first);
	}
	struct xpmem_addr a = { apid, (off_t)(offset + first * kPage) };
	void *p = xpmem_attach(a, n * kPage, nullptr);
	if (p == (void *)-1) {
		if (errno != ENOENT || sl.segid.load() == segid)
			failf("xpmem_attach(slot %d): %s", s, strerror(errno));
		xpmem_release(apid);
		return false;
	}
	sh_->attaches++;
	v.segid = segid;
	v.apid = apid;
	v.addr = (uintptr_t)p;
	v.first = first;
	v.npages = n;
	v.mailbox = first + n == npages;
	v.rdonly = rdonly;
	return true;
}

// Reads pages of the view under the protocol of slot.h.  Data pages are
// checked word by word; the mailbox page only for its tag.
void Proc::verify(int s, View &v, bool all)
{
	Slot &sl = sh_->slots[s];
	size_t npages = sl.npages.load();
	size_t data_pages = v.mailbox ? v.npages - 1 : v.npages;
	if (!data_pages)
		return;
	size_t lo_pg = all ? 0 : rng_.below(data_pages);
	size_t hi_pg = all ? data_pages : std::min(data_pages, lo_pg + 1 + rng_.below(4));
	(void)npages;

	for (size_t pg = lo_pg; pg < hi_pg; pg++) {
		const volatile uint64_t *w = (const volatile uint64_t *)(v.addr + pg * kPage);
		size_t rpg = v.first + pg;	/* page of the region */
		uint64_t s1 = sl.seq.load(std::memory_order_acquire);
		int64_t seg1 = sl.segid.load(std::memory_order_acquire);
		uint64_t lo = sl.lo.load(std::memory_order_acquire);
		static thread_local uint64_t buf[kWordsPerPage];
		xf::FaultInfo f = xf::guarded([&] {
			for (size_t i = 0; i < kWordsPerPage; i++)
				buf[i] = w[i];
		});
		uint64_t hi = sl.hi.load(std::memory_order_acquire);
		uint64_t s2 = sl.seq.load(std::memory_order_acquire);
		bool quiet = s1 == s2 && !(s1 & 1);
		bool current = seg1 == v.segid;
		quiet ? sh_->quiet_reads++ : sh_->busy_reads++;
		if (f.sig == SIGBUS)
			sh_->sigbus++;

		const char *why = nullptr;
		size_t bad = 0;
		if (f.sig && f.sig != SIGBUS) {
			why = "a signal other than SIGBUS";
		} else if (quiet && !current) {
			// Its segment is gone (removed, or its owner exited).
			if (f.sig != SIGBUS)
				why = "an attachment of a removed segment did not raise SIGBUS";
		} else if (quiet && f.sig) {
			why = "SIGBUS while the slot was quiet";
		} else if (!f.sig) {
			for (size_t i = 0; i < kWordsPerPage && !why; i++) {
				uint64_t x = buf[i];
				bad = i;
				if (quiet && x != word_value(s, rpg, i, hi))
					why = "not the current generation in a quiet period";
				else if (!quiet && x && !word_placed(x, s, rpg, i))
					why = "a word that does not belong there (garbage)";
				else if (!quiet && x && !gen_between(word_gen(x), lo, hi))
					why = "a generation the owner had given up (stale data)";
			}
			sh_->verified_words += kWordsPerPage;
		}
		if (why) {
			failf("slot %d page %zu word %zu via %#lx: %s: signal %d, read %#llx "
			      "(want gen %llu..%llu, seq %llu..%llu, segment %#llx, ours %#llx)",
			      s, rpg, bad, (unsigned long)(v.addr + pg * kPage), why, f.sig,
			      (unsigned long long)buf[bad], (unsigned long long)lo,
			      (unsigned long long)hi, (unsigned long long)s1,
			      (unsigned long long)s2, (unsigned long long)seg1,
			      (unsigned long long)v.segid);
			return;
		}
	}
}

// Writes our counter into our word of the slot's mailbox; a write in a
// quiet period is recorded for the owner to find.
void Proc::write_mail(int s, View &v)
{
	Slot &sl = sh_->slots[s];
	uintptr_t at = v.addr + (v.npages - 1) * kPage + idx_ * sizeof(uint64_t);
	uint64_t c = ++v.counter;

	uint64_t s1 = sl.seq.load(std::memory_order_acquire);
	int64_t seg1 = sl.segid.load(std::memory_order_acquire);
	xf::FaultInfo f = xf::guarded([&] { xf::store(at, mail_value(idx_, c)); });
	uint64_t s2 = sl.seq.load(std::memory_order_acquire);
	sh_->mail_writes++;
	bool quiet = s1 == s2 && !(s1 & 1) && seg1 == v.segid;
	if (v.rdonly) {
		if (f.sig != SIGSEGV)
			failf("a write through a read-only attachment of slot %d: signal %d",
			      s, f.sig);
		return;
	}
	if (f.sig && quiet)
		failf("mailbox write to slot %d in a quiet period: signal %d", s, f.sig);
	if (!f.sig && quiet)
		sl.mail[idx_].store((s1 & 0xffffffff) << 32 | (c & 0xffffffff),
				    std::memory_order_release);
}

// A child that attaches on its own: the library finds its inherited
// descriptor refused (XPMEM_ERRNO_NOPROC) and opens its own.
void Proc::fork_reader(int s)
{
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		xf::child_setup(60);
		// Attachments are not inherited.
		for (auto &v : views_)
			if (v.addr) {
				xf::FaultInfo f = xf::guarded([&] { (void)xf::load(v.addr); });
				if (f.sig != SIGSEGV)
					failf("a child read its parent's attachment: signal %d", f.sig);
				break;
			}
		for (auto &v : views_)
			v = View();
		if (refresh(s, views_[s])) {
			verify(s, views_[s], true);
			if (rng_.chance(50))
				drop(views_[s], false);
		}
		_exit(0);	/* with or without its attachment */
	}
	if (pid < 0)
		return;
	sh_->forks++;
	int st = xf::wait_pid(pid, 90000);
	if (!xf::exited_ok(st))
		failf("reader child: %s", xf::describe_status(st).c_str());
}

void Proc::attacher_step()
{
	if (nprocs_ < 2)
		return;
	int s = (int)rng_.below(nprocs_ - 1);
	if (s >= idx_)
		s++;
	View &v = views_[s];
	if (!refresh(s, v))
		return;
	unsigned r = (unsigned)rng_.below(100);
	if (r < 60) {
		verify(s, v, rng_.chance(15));
	} else if (r < 80) {
		if (v.mailbox)
			write_mail(s, v);
		verify(s, v, false);
	} else if (r < 90) {
		drop(v, rng_.chance(40));
	} else if (r < 95 && v.npages >= 3) {
		// A hole in the middle: both sides keep working.
		size_t h = 1 + rng_.below(v.npages - 2);
		if (munmap((void *)(v.addr + h * kPage), kPage))
			failf("munmap inside an attachment: %s", strerror(errno));
		// The part before the hole still shows the slot.
		View head = v;
		head.npages = h;
		head.mailbox = false;
		verify(s, head, true);
		// Then unmap the rest: a munmap over the hole is fine.
		if (munmap((void *)v.addr, v.npages * kPage))
			failf("munmap of an attachment: %s", strerror(errno));
		v.addr = 0;
		drop(v, false);
	} else if (r >= 95) {
		fork_reader(s);
	}
}

void Proc::cleanup(bool clean)
{
	if (!clean)
		return;
	for (auto &v : views_)
		drop(v, false);
	if (segid_ > 0) {
		me_->segid.store(0);
		if (xpmem_remove(segid_))
			failf("xpmem_remove at cleanup: %s", strerror(errno));
		segid_ = 0;
	}
}

}  // namespace xs
