// SPDX-License-Identifier: GPL-2.0-only
//
// owner.cc - the owner side of a slot: a region exported with xpmem_make
// (half the time the whole address space, as MPI libraries export it) and
// changed under its attachers by generations (slot.h explains the protocol):
// rewritten in place, replaced, protected, dropped with MADV_DONTNEED,
// shared copy-on-write with a forked child and then rewritten, moved away
// and back, re-exported under a new segment id, or abandoned by exiting.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

namespace xs {

const char *transition_name(int t)
{
	static const char *const n[kTransitions] = {
		"rewrite in place", "munmap + new mapping", "mprotect NONE and back",
		"MADV_DONTNEED", "fork, copy-on-write, rewrite", "new segment id",
		"mremap away and back", "owner exit", "idle",
	};
	return t >= 0 && t < kTransitions ? n[t] : "?";
}

void Proc::fill(uint64_t gen)
{
	size_t data = npages_ - 1;

	for (size_t pg = 0; pg < data; pg++) {
		volatile uint64_t *w = (volatile uint64_t *)(region_ + pg * kPage);
		for (size_t i = 0; i < kWordsPerPage; i++)
			w[i] = word_value(idx_, pg, i, gen);
	}
}

// A change starts: attachers stop expecting exact data.
void Proc::begin(bool new_gen)
{
	me_->seq.fetch_add(1, std::memory_order_acq_rel);
	if (new_gen)
		me_->hi.store(gen_ + 1, std::memory_order_release);
}

// ... and ends: the current generation is all there is.
void Proc::end()
{
	me_->lo.store(gen_, std::memory_order_release);
	me_->hi.store(gen_, std::memory_order_release);
	me_->seq.fetch_add(1, std::memory_order_acq_rel);
}

bool Proc::make_segment()
{
	whole_ = rng_.chance(50);
	segid_ = whole_ ? xpmem_make(nullptr, XPMEM_MAXADDR_SIZE, XPMEM_PERMIT_MODE,
				     (void *)0600)
			: xpmem_make((void *)region_, npages_ * kPage, XPMEM_PERMIT_MODE,
				     (void *)0666);
	if (segid_ <= 0) {
		failf("xpmem_make: %s", strerror(errno));
		segid_ = 0;
		return false;
	}
	me_->offset.store(whole_ ? region_ : 0);
	me_->npages.store(npages_);
	me_->segid.store(segid_, std::memory_order_release);
	return true;
}

static void *map_fixed(uintptr_t at, size_t len, int prot)
{
	return mmap((void *)at, len, prot,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (prot ? 0 : MAP_NORESERVE),
		    -1, 0);
}

// A fresh owner of the slot: a new region and segment, continuing the
// slot's generations (attachers may still hold pages of the last owner...
// which must raise SIGBUS now that it is gone).
bool Proc::owner_start()
{
	huge_ = rng_.chance(20);
	npages_ = huge_ ? 512 + 1 : 8 + rng_.below(57);
	size_t len = npages_ * kPage;
	// Room for the region, its move target, and 2 MiB alignment.
	void *p = mmap(nullptr, 2 * len + 4 * xf::kHugePage, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		failf("reserving the region: %s", strerror(errno));
		return false;
	}
	region_ = ((uintptr_t)p + xf::kHugePage - 1) & ~(xf::kHugePage - 1);
	spare_ = (region_ + len + 2 * xf::kHugePage - 1) & ~(xf::kHugePage - 1);
	if (map_fixed(region_, len, PROT_READ | PROT_WRITE) == MAP_FAILED) {
		failf("mapping the region: %s", strerror(errno));
		return false;
	}
	if (huge_)
		madvise((void *)region_, len, MADV_HUGEPAGE);

	gen_ = me_->hi.load() + 1;
	fill(gen_);
	me_->lo.store(gen_);
	me_->hi.store(gen_);
	for (int i = 0; i < kMaxProcs; i++)
		me_->mail[i].store(0);
	if (!make_segment())
		return false;
	me_->pid.store(getpid());
	me_->incarnation.fetch_add(1);
	// The slot stays odd (busy) from the last owner's exit until now.
	if (me_->seq.load() & 1)
		me_->seq.fetch_add(1, std::memory_order_acq_rel);
	return true;
}

[[noreturn]] void Proc::owner_exit()
{
	sh_->transitions[TR_EXIT]++;
	sh_->exits++;
	begin(false);
	me_->segid.store(0, std::memory_order_release);
	// With or without cleaning up: the exit must tear everything down.
	if (rng_.chance(50))
		cleanup(true);
	_exit(0);
}

// A child that keeps the old pages of the region alive (copy-on-write)
// while we rewrite it: attachers must follow our new pages, not its old.
static pid_t fork_keeper(Proc &p, int *pipe_w)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		xf::child_setup(60);
		close(fds[1]);
		char c;
		(void)!read(fds[0], &c, 1);
		// Its copy is still the old generation.
		uint64_t v = *(volatile uint64_t *)p.region_;
		_exit(v == word_value(p.idx_, 0, 0, p.gen_ - 1) ? 0 : 3);
	}
	close(fds[0]);
	*pipe_w = fds[1];
	return pid;
}

void Proc::owner_step()
{
	size_t len = npages_ * kPage;
	int t = (int)rng_.below(kTransitions + 6);

	if (t >= kTransitions)
		t = TR_IDLE;
	if (t == TR_EXIT && !rng_.chance(15))
		t = TR_IDLE;
	sh_->transitions[t]++;

	switch (t) {
	case TR_REWRITE:
		begin(true);
		gen_++;
		fill(gen_);
		end();
		break;
	case TR_REMAP:
		begin(true);
		gen_++;
		if (map_fixed(region_, len, PROT_READ | PROT_WRITE) == MAP_FAILED)
			failf("remapping the region: %s", strerror(errno));
		if (huge_)
			madvise((void *)region_, len, MADV_HUGEPAGE);
		me_->lo.store(gen_, std::memory_order_release);	/* old pages gone */
		fill(gen_);
		end();
		break;
	case TR_PROTECT:
		begin(false);
		mprotect((void *)region_, len, PROT_NONE);
		usleep(rng_.below(2000));
		if (mprotect((void *)region_, len, PROT_READ | PROT_WRITE))
			failf("mprotect back: %s", strerror(errno));
		end();
		break;
	case TR_DONTNEED:
		begin(true);
		gen_++;
		madvise((void *)region_, len, MADV_DONTNEED);
		me_->lo.store(gen_, std::memory_order_release);
		fill(gen_);
		end();
		break;
	case TR_FORK_COW: {
		int w = -1;
		begin(true);
		gen_++;
		pid_t pid = fork_keeper(*this, &w);
		fill(gen_);
		me_->lo.store(gen_, std::memory_order_release);
		end();
		usleep(rng_.below(3000));	/* attachers run while it lives */
		if (w >= 0)
			close(w);
		if (pid > 0) {
			int st = xf::wait_pid(pid, 60000);
			if (!xf::exited_ok(st))
				failf("copy-on-write keeper: %s", xf::describe_status(st).c_str());
		}
		break;
	}
	case TR_NEW_SEGMENT:
		begin(false);
		me_->segid.store(0, std::memory_order_release);
		if (xpmem_remove(segid_))
			failf("xpmem_remove(%#llx): %s", (unsigned long long)segid_, strerror(errno));
		sh_->removes++;
		make_segment();
		end();
		break;
	case TR_MOVE: {
		begin(false);
		void *p = mremap((void *)region_, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				 (void *)spare_);
		if (p == MAP_FAILED) {
			failf("mremap away: %s", strerror(errno));
		} else {
			usleep(rng_.below(2000));
			p = mremap((void *)spare_, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				   (void *)region_);
			if (p == MAP_FAILED)
				failf("mremap back: %s", strerror(errno));
			map_fixed(spare_, len, PROT_NONE);
		}
		end();
		break;
	}
	case TR_EXIT:
		owner_exit();
	default:
		owner_check_mail();
		usleep(rng_.below(3000));
		break;
	}
}

// Between changes: every quiet mailbox write recorded for the current seq
// must be there (or a later one of the same attacher).
void Proc::owner_check_mail()
{
	uint64_t seq = me_->seq.load(std::memory_order_acquire);
	const volatile uint64_t *mail =
		(const volatile uint64_t *)(region_ + (npages_ - 1) * kPage);

	for (int a = 0; a < nprocs_; a++) {
		uint64_t rec = me_->mail[a].load(std::memory_order_acquire);
		uint64_t v = mail[a];
		bool tagged = v == 0 || (v >> 48) == (0xb7ULL << 8 | (uint64_t)a);
		if (!tagged) {
			failf("mailbox word %d of slot %d holds %#llx", a, idx_,
			      (unsigned long long)v);
			continue;
		}
		if (rec && (rec >> 32) == (seq & 0xffffffff)) {
			sh_->mail_checked++;
			if ((v & 0xffffffffULL) < (rec & 0xffffffffULL) || !v)
				failf("attacher %d wrote %llu into slot %d's mailbox in a quiet "
				      "period (seq %llu), the owner reads %#llx: the write went "
				      "to a page the owner does not have", a,
				      (unsigned long long)(rec & 0xffffffff), idx_,
				      (unsigned long long)seq, (unsigned long long)v);
		}
	}
	for (size_t i = nprocs_; i < kWordsPerPage; i++)
		if (mail[i]) {
			failf("mailbox word %zu of slot %d is %#llx, nobody writes it", i,
			      idx_, (unsigned long long)mail[i]);
			break;
		}
}

}  // namespace xs
