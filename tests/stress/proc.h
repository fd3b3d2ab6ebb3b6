// SPDX-License-Identifier: GPL-2.0-only
//
// proc.h - one process of xpmem-stress-mixed: the owner of one slot (owner.cc)
// and an attacher of all the others (attacher.cc), alternating.  Processes
// use libxpmem, as MPI libraries do.
#ifndef XPMEM_STRESS_PROC_H
#define XPMEM_STRESS_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "slot.h"

extern "C" {
#include <xpmem.h>
}

namespace xs {

// Transitions of a slot, as counted in Shared::transitions.
enum Transition {
	TR_REWRITE, TR_REMAP, TR_PROTECT, TR_DONTNEED, TR_FORK_COW, TR_NEW_SEGMENT,
	TR_MOVE, TR_EXIT, TR_IDLE, kTransitions
};
const char *transition_name(int t);

// What one process knows of its attachment of another slot.
struct View {
	int64_t segid = 0;
	int64_t apid = 0;
	uintptr_t addr = 0;
	size_t first = 0;	// first region page it shows
	size_t npages = 0;
	bool mailbox = false;	// it includes the mailbox page
	bool rdonly = false;
	uint64_t counter = 0;	// mailbox writes so far
};

class Proc {
public:
	Proc(Shared *sh, int idx, int nprocs, uint64_t seed, int64_t deadline_ms);
	int run();

	void failf(const char *fmt, ...) __attribute__((format(printf, 2, 3)));

	// ---- owner.cc ----
	bool owner_start();
	void owner_step();
	void owner_check_mail();
	[[noreturn]] void owner_exit();
	void begin(bool new_gen);
	void end();
	void fill(uint64_t gen);
	bool make_segment();

	// ---- attacher.cc ----
	void attacher_step();
	bool refresh(int s, View &v);
	void drop(View &v, bool by_munmap);
	void verify(int s, View &v, bool all);
	void write_mail(int s, View &v);
	void fork_reader(int s);
	void cleanup(bool clean);

	Shared *sh_;
	Slot *me_;
	int idx_, nprocs_;
	xf::Rng rng_;
	int64_t deadline_;

	// the owned region: data pages then the mailbox page
	uintptr_t region_ = 0;
	size_t npages_ = 0;
	bool huge_ = false;
	uintptr_t spare_ = 0;	// reserved room to move the region into
	int64_t segid_ = 0;
	bool whole_ = false;	// segment is the whole address space
	uint64_t gen_ = 0;

	View views_[kMaxProcs];
};

// The body of a forked process; returns its exit status.
int proc_main(Shared *sh, int idx, int nprocs, uint64_t seed, int64_t deadline_ms);

}  // namespace xs

#endif
