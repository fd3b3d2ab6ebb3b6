// SPDX-License-Identifier: GPL-2.0-only
//
// churn.cc - changing memory under attachments.
//
// Exported regions are unmapped, replaced, moved, protected, zapped with
// MADV_DONTNEED, rewritten in place and shared copy-on-write with a forked
// child, and attachments themselves are partly unmapped, moved, shrunk,
// grown and protected.  Afterwards the attachments over the changed range
// are touched at once: the model says exactly what each page must show
// (touch.cc), so a stale page, a missed invalidation or a wrong signal is a
// failure.  The concurrent version of this, with another process touching
// while the region changes, is ev_race (events.cc).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"
#include "worker.h"

namespace xf {

namespace {

int empty_slot(Worker &w)
{
	for (int i = 0; i < Worker::kSlots; i++) {
		int s = (int)((i + w.rng_.below(Worker::kSlots)) % Worker::kSlots);
		if (!w.regions_[s].live)
			return s;
	}
	return -1;
}

bool set_prot(Worker &w, Region &r, int prot)
{
	if (mprotect((void *)r.addr, r.len, prot)) {
		w.failf("mprotect region %#lx: %s", (unsigned long)r.addr, strerror(errno));
		return false;
	}
	r.prot = prot;
	return true;
}

// New contents in place: every attacher must see them, not the old page.
void rewrite_region(Worker &w, Region &r)
{
	if (r.prot != (PROT_READ | PROT_WRITE) &&
	    !set_prot(w, r, PROT_READ | PROT_WRITE))
		return;
	r.gen = w.next_gen_++;
	r.zero = false;
	r.delta = 0;
	fill_region(r.addr, r.len, w.key_, r.gen);
}

// Shares the region copy-on-write with a child that keeps the old pages
// alive, then rewrites it: attachers must follow the parent's new pages.
void fork_and_rewrite(Worker &w, Region &r)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return;
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(30);
		char c;
		close(p[1]);
		(void)!read(p[0], &c, 1);	/* until the parent is done */
		// The child's copy is still the old generation: plain memory.
		_exit(r.prot & PROT_READ && !r.zero &&
		      load(r.addr) != pattern(w.key_, r.addr + r.delta, r.gen) ? 3 : 0);
	}
	close(p[0]);
	if (pid > 0)
		rewrite_region(w, r);
	close(p[1]);
	if (pid > 0) {
		int st = wait_pid(pid, 30000);
		if (!exited_ok(st))
			w.failf("copy-on-write child: %s", describe_status(st).c_str());
	}
}

}  // namespace

void Worker::churn_region()
{
	phase_ = "region churn";
	int ri = -1;
	for (int tries = 0; tries < 4 && ri < 0; tries++) {
		int s = (int)rng_.below(kSlots);
		if (regions_[s].live)
			ri = s;
	}
	if (ri < 0)
		return;
	Region &r = regions_[ri];
	uintptr_t old = r.addr;
	size_t len = r.len;
	count_event(E_CHURN);
	// Forking costs most in the VM: the copy-on-write case is the rarest.
	unsigned op = (unsigned)rng_.below(33);
	op = op < 32 ? op / 4 : 8;
	trace("churn region %d %#lx+%#zx prot %d op %u", ri, (unsigned long)r.addr, r.len,
	      r.prot, op);

	switch (op) {
	case 0:		/* munmap: a hole */
		if (munmap((void *)r.addr, r.len))
			failf("munmap region: %s", strerror(errno));
		r.live = false;
		touch_atts_over(old, len);
		reserve(old, len);
		return;
	case 1:		/* a fresh mapping in its place */
		if (mmap((void *)r.addr, r.len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
			failf("remapping region: %s", strerror(errno));
			return;
		}
		r.prot = PROT_READ | PROT_WRITE;
		rewrite_region(*this, r);
		break;
	case 2:
		set_prot(*this, r, PROT_NONE);
		break;
	case 3:
		set_prot(*this, r, PROT_READ);
		break;
	case 4:
	case 5:
		rewrite_region(*this, r);
		break;
	case 6: {	/* move it to another slot */
		int to = empty_slot(*this);
		if (to < 0)
			return;
		uintptr_t dst = slot_addr(to) + (r.addr - slot_addr(ri));
		void *p = mremap((void *)r.addr, r.len, r.len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, (void *)dst);
		if (p == MAP_FAILED) {
			failf("mremap region: %s", strerror(errno));
			return;
		}
		reserve(old, len);
		regions_[to] = r;
		regions_[to].addr = dst;
		regions_[to].delta = r.delta + (int64_t)(old - dst);
		r.live = false;
		touch_atts_over(old, len);
		touch_atts_over(dst, len);
		return;
	}
	case 7:		/* drop the pages: zeros from now on */
		if (madvise((void *)r.addr, r.len, MADV_DONTNEED))
			failf("MADV_DONTNEED: %s", strerror(errno));
		else
			r.zero = true;
		break;
	default:
		fork_and_rewrite(*this, r);
		break;
	}
	if (rng_.chance(60))
		touch_atts_over(r.addr, r.len);
}

void Worker::churn_att()
{
	phase_ = "attachment churn";
	if (atts_.empty())
		return;
	size_t ai = rng_.below(atts_.size());
	Att &a = atts_[ai];
	size_t npages = a.len / kPage;
	count_event(E_ATT_VMA);
	unsigned op = (unsigned)rng_.below(6);
	trace("churn att %#lx+%#zx src %#llx vprot %d op %u", (unsigned long)a.addr, a.len,
	      (unsigned long long)a.src, a.vprot, op);

	switch (op) {
	case 0: {	/* punch a hole: two attachments remain */
		if (npages < 3)
			break;
		size_t hole = 1 + rng_.below(npages - 2);
		uintptr_t h = a.addr + hole * kPage;
		if (munmap((void *)h, kPage)) {
			failf("munmap inside an attachment: %s", strerror(errno));
			break;
		}
		FaultInfo f = guarded([&] { (void)load(h); });
		if (f.sig != SIGSEGV)
			failf("read of a hole punched in an attachment: signal %d", f.sig);
		if (a.fixed_slot >= 0)
			reserve(h, kPage);
		Att tail = a;
		tail.addr = h + kPage;
		tail.src = a.src + (hole + 1) * kPage;
		tail.len = a.len - (hole + 1) * kPage;
		a.len = hole * kPage;
		atts_.push_back(tail);
		touch_att(ai, rng_.chance(30));
		touch_att(atts_.size() - 1, rng_.chance(30));
		break;
	}
	case 1: {	/* move it */
		void *to;
		int slot = -1;
		if (a.fixed_slot >= 0) {
			for (int i = 0; i < kAttSlots; i++)
				if (!att_slot_used_[i])
					slot = i;
			if (slot < 0 || a.len > kSlotSize)
				break;
			// Within the slot, or it would run into the next one.
			uintptr_t off = a.addr & (kHugePage - 1);
			if (off + a.len > kSlotSize)
				off = 0;
			to = (void *)(att_slot_addr(slot) + off);
		} else {
			to = mmap(nullptr, a.len, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (to == MAP_FAILED)
				break;
		}
		void *p = mremap((void *)a.addr, a.len, a.len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (p == MAP_FAILED) {
			// Moving a VM_PFNMAP mapping may be refused; the
			// attachment must then be where it was, intact.
			if (slot < 0)
				munmap(to, a.len);
			else
				reserve(att_slot_addr(slot), kSlotSize);
			touch_att(ai, false);
			break;
		}
		uintptr_t from = a.addr;
		int from_slot = a.fixed_slot;
		a.addr = (uintptr_t)p;
		a.fixed_slot = slot;
		if (slot >= 0)
			att_slot_used_[slot] = true;
		if (from_slot >= 0) {
			bool still = false;
			for (size_t j = 0; j < atts_.size(); j++)
				if (j != ai && atts_[j].fixed_slot == from_slot)
					still = true;
			if (!still) {
				reserve(att_slot_addr(from_slot), kSlotSize);
				att_slot_used_[from_slot] = false;
			} else {
				reserve(from, a.len);
			}
		}
		touch_att(ai, rng_.chance(50));
		break;
	}
	case 2: {	/* attachments never grow */
		void *p = mremap((void *)a.addr, a.len, a.len + kPage, 0);
		if (p != MAP_FAILED) {
			failf("mremap grew attachment %#lx from %#zx", (unsigned long)a.addr, a.len);
			munmap((void *)(a.addr + a.len), kPage);
		}
		break;
	}
	case 3: {	/* ... but may shrink */
		if (npages < 2)
			break;
		size_t keep = (1 + rng_.below(npages - 1)) * kPage;
		void *p = mremap((void *)a.addr, a.len, keep, 0);
		if (p == MAP_FAILED) {
			failf("mremap shrinking an attachment: %s", strerror(errno));
			break;
		}
		if (a.fixed_slot >= 0)
			reserve(a.addr + keep, a.len - keep);
		a.len = keep;
		touch_att(ai, rng_.chance(30));
		break;
	}
	case 4: {	/* protection */
		int prot = rng_.chance(30) ? PROT_NONE
			 : (a.vprot & PROT_WRITE) || a.rdonly ? PROT_READ
			 : PROT_READ | PROT_WRITE;
		int r = mprotect((void *)a.addr, a.len, prot);
		if (a.rdonly && (prot & PROT_WRITE)) {
			if (r == 0 || errno != EACCES)
				failf("mprotect(PROT_WRITE) of a read-only attachment: %s",
				      r ? strerror(errno) : "succeeded");
			break;
		}
		if (r) {
			failf("mprotect(%d) of an attachment: %s", prot, strerror(errno));
			break;
		}
		a.vprot = prot;
		touch_att(ai, true);
		if (prot == PROT_NONE && !mprotect((void *)a.addr, a.len, PROT_READ))
			a.vprot = PROT_READ;
		break;
	}
	default:
		if (a.rdonly && rng_.chance(50)) {
			if (mprotect((void *)a.addr, a.len, PROT_READ | PROT_WRITE) == 0 ||
			    errno != EACCES)
				failf("a read-only attachment became writable");
			else
				touch_att(ai, true);
		} else {
			touch_att(ai, true);
		}
		break;
	}
}

}  // namespace xf
