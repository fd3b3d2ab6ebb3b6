// SPDX-License-Identifier: GPL-2.0-only
//
// worker.h - one fuzzing process and everything it knows.
//
// A Worker issues ioctls on its descriptors and keeps an exact model of the
// objects it owns (regions of its own memory, segments, permits,
// attachments), so that most calls have one right answer: the model says
// whether an id is live and whose it is, whether a range is valid, whether a
// page behind an attachment must read back exact data, must raise SIGBUS, or
// may do either because another process changes it concurrently.
//
// The work is split by kind across files:
//   worker.cc        setup, the main loop, call accounting, teardown
//   random_*.cc      random commands and arguments (random.h)
//   structured.cc    plausible make/get/attach/touch/detach/release/remove
//   touch.cc         guarded access to attachments and what it must show
//   churn.cc         munmap/mremap/mprotect/madvise/fork of exported regions
//                    and of attachments
//   events.cc        forked children: inherited descriptors, children that
//                    work, exporters that exit, teardown by close, dup
//   race.cc          a region changed while another process touches it
//
// Memory layout: one PROT_NONE reservation (the arena) holds kSlots region
// slots, an area for MAP_FIXED attachments and a scratch area for random
// MAP_FIXED attaches; nothing else is ever mapped inside it, so a fixed
// attach can never land on the process's own memory.
#ifndef XPMEM_FUZZ_WORKER_H
#define XPMEM_FUZZ_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <unordered_set>
#include <vector>

#include "argbuf.h"
#include "board.h"
#include "common.h"
#include "expect.h"

namespace xf {

struct RunConfig {
	Board *board;
	int writer;		// this process's rows on the board
	int child_writer;	// rows for the children it forks
	uint64_t seed;
	int64_t deadline_ms;	// absolute (now_ms clock)
	bool is_child;		// a forked child worker (smaller, shorter)
	bool unpriv;		// runs as nobody: no CAP_IPC_OWNER
};

// Where region data lives: the state of one exported page of our own.
enum SrcState { SRC_RESERVED, SRC_RW, SRC_RO, SRC_NONE, SRC_ZERO };

struct Region {
	bool live = false;
	uintptr_t addr = 0;
	size_t len = 0;
	uint64_t gen = 0;
	int prot = 0;		// PROT_* now
	bool zero = false;	// MADV_DONTNEED'd: reads as zeros
	int64_t delta = 0;	// moved by mremap: data written for addr + delta
};

enum SegKind { K_REGION, K_SLOT, K_ARENA, K_WHOLE, K_RANDOM };

struct Seg {
	int64_t segid;
	int fdi;		// descriptor it was made on
	uint64_t start, span;
	SegKind kind;
	int row;		// board row, or -1
	uint32_t mode;
};

struct Permit {
	int64_t apid;
	int fdi;
	SegInfo si;		// what we know of its segment
	bool own;		// the segment is ours
	bool rdonly;
	int row;		// board row, or -1
};

struct Att {
	uintptr_t addr;
	size_t len;
	uint64_t src;		// source address behind addr
	int64_t apid;
	int64_t segid;
	bool own;		// segment is ours: strict expectations
	bool rdonly;
	uint64_t key;		// foreign owner's pattern key, 0 if unknown
	int vprot;		// protection of the VMA now
	bool loose;		// its permit is gone: SIGBUS allowed too
	int fixed_slot;		// attach-area slot it occupies, or -1
};

class Worker {
public:
	static constexpr int kSlots = 6;
	static constexpr size_t kSlotSize = 4 << 20;
	static constexpr int kAttSlots = 4;
	static constexpr size_t kScratch = 8 << 20;
	static constexpr size_t kArena = (kSlots + kAttSlots) * kSlotSize + kScratch;
	static constexpr size_t kMaxSegs = 8, kMaxPermits = 8, kMaxAtts = 10;

	explicit Worker(const RunConfig &cfg);
	bool init();
	// Runs until the board says stop, the deadline passes, or max_steps
	// (0: no limit) steps were made.
	void run(uint64_t max_steps);
	// Clean: detach, release, remove everything, checking each; otherwise
	// leave it all to the kernel's teardown at exit.
	void finish(bool clean);

	// ---- accounting (worker.cc) ----
	long call(int fdi, unsigned long cmd, void *arg);
	long call_fd(int fd, unsigned long cmd, void *arg);
	// Records a failure unless outcome_of(ret) is in `allowed`.
	bool expect(long ret, Allowed allowed, const char *fmt, ...)
		__attribute__((format(printf, 4, 5)));
	void failf(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	// Notes one operation in a small ring, printed with the first failure
	// of the process: what led there.
	void trace(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	void count_event(EventKind e, uint64_t n = 1) { events_[e] += n; }
	void flush();

	// ---- the model (worker.cc) ----
	Seg *find_seg(int64_t segid);
	Permit *find_permit(int64_t apid);
	bool seg_dead(int64_t segid) const { return dead_segs_.count(segid); }
	bool permit_dead(int64_t apid) const { return dead_apids_.count(apid); }
	void forget_seg(int64_t segid);		// it is gone: removed or torn down
	void forget_permit(int64_t apid);
	void remember(std::vector<int64_t> &list, int64_t id);
	void drop_att(size_t i);		// after detach/munmap of atts_[i]
	int fd(int fdi) const { return fds_[fdi]; }
	int pick_fdi();
	bool in_arena(uintptr_t a, size_t len = 1) const;
	bool overlaps_att(uintptr_t a, size_t len) const;
	uintptr_t slot_addr(int i) const { return arena_ + i * kSlotSize; }
	uintptr_t att_slot_addr(int i) const { return arena_ + (kSlots + i) * kSlotSize; }
	uintptr_t scratch() const { return arena_ + (kSlots + kAttSlots) * kSlotSize; }
	// Puts PROT_NONE back over [a, a + len) inside the arena.
	void reserve(uintptr_t a, size_t len);
	// State of our own source page at src; for present data, the
	// generation and the address it was written for.
	SrcState src_state(uint64_t src, uint64_t *gen, uint64_t *data_addr) const;
	bool src_writable(uint64_t src) const;

	// ---- random_calls.cc ----
	void random_call();
	void refill_ro_page();

	// ---- structured.cc ----
	void structured_step();
	void map_region(int slot);
	bool make_seg(SegKind kind, int fdi);
	bool remove_seg(size_t i);
	bool get_permit(int64_t segid, const SegInfo &si, bool own, bool rdonly);
	bool release_permit(size_t i);
	bool attach(size_t pi);
	bool detach(size_t ai);

	// ---- touch.cc ----
	void touch_att(size_t ai, bool write);
	// Every page behind own attachments overlapping [src, src + len).
	void touch_atts_over(uint64_t src, size_t len);
	void describe(uintptr_t at, uint64_t src);

	// ---- churn.cc ----
	void churn_region();
	void churn_att();

	// ---- events.cc ----
	void event();
	void ev_fork_inherit();
	void ev_exporter_exit();
	void ev_race();
	void ev_teardown();
	void ev_dup_close();
	void ev_unprivileged();

	RunConfig cfg_;
	Board *b_;
	Rng rng_;
	uint64_t key_;			// pattern key of our regions
	int fds_[2] = { -1, -1 };
	ArgBuf args_;
	uintptr_t arena_ = 0;
	Region regions_[kSlots];
	std::vector<Seg> segs_;
	std::vector<Permit> permits_;
	std::vector<Att> atts_;
	bool att_slot_used_[kAttSlots] = {};
	std::unordered_set<int64_t> dead_segs_, dead_apids_, foreign_ids_;
	std::vector<int64_t> dead_seg_list_, dead_apid_list_;	// samples
	uint64_t next_gen_ = 1;
	long version_ = -1;
	int seg_rows_ = 0, apid_rows_ = 0;	// round-robin board rows
	uint64_t steps_ = 0;

	// Local counts, added to the board by flush().
	uint64_t calls_ = 0, flushed_calls_ = 0;
	uint64_t hist_[kCmdClasses][kOutcomes] = {};
	uint64_t events_[kEventKinds] = {};
	uint64_t busy_us_[kActivities] = {};
	const char *phase_ = "";	// what the worker is doing, for messages
	static constexpr int kTrace = 24;
	char trace_[kTrace][112] = {};
	unsigned trace_next_ = 0;
	bool trace_dumped_ = false;
};

// Entry point of a worker process (the gtest parent forks it).
int worker_main(const RunConfig &cfg);

}  // namespace xf

#endif
