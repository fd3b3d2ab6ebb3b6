// SPDX-License-Identifier: GPL-2.0-only
//
// board.h - the fuzzer's shared-memory notice board.
//
// Every process of a run (workers and the children they fork) posts the
// segment and permit ids it owns here, so that others use foreign ids: GET
// and ATTACH of other processes' segments, RELEASE/REMOVE of ids they do not
// own.  A segment entry also says where its owner's patterned data lives, so
// that a foreign attacher can tell valid data from garbage.  Each writer owns
// its own rows (no two processes write one entry); readers go through a
// per-entry sequence lock and may see stale entries, which is the point.
//
// The board also carries the call counter that bounds the run, the outcome
// histogram printed at the end, and the failure log.
#ifndef XPMEM_FUZZ_BOARD_H
#define XPMEM_FUZZ_BOARD_H

#include <stdint.h>

#include <atomic>

#include "common.h"
#include "expect.h"

namespace xf {

struct SegInfo {
	int64_t segid;
	uint64_t start;		// source range [start, start + span)
	uint64_t span;
	uint64_t key;		// owner's pattern key (pattern.h); 0: no data
	uint64_t data;		// address of the owner's patterned region
	uint64_t data_len;	// inside the range, or 0
	uint32_t mode;		// permit mode of MAKE
	uint32_t uid;		// owner's effective uid
};

struct SegEntry {
	std::atomic<uint32_t> seq;	// odd while being written
	std::atomic<int64_t> segid;
	std::atomic<uint64_t> start, span, key, data, data_len;
	std::atomic<uint32_t> mode, uid;
};

struct Board {
	static constexpr int kWriters = 32;	// workers, then their children
	static constexpr int kRows = 8;

	SegEntry segs[kWriters][kRows];
	std::atomic<int64_t> apids[kWriters][kRows];

	std::atomic<uint64_t> calls;		// ioctls issued, all processes
	std::atomic<uint64_t> target;		// stop issuing at this count
	std::atomic<int> stop;			// set on deadline
	std::atomic<uint64_t> hist[kCmdClasses][kOutcomes];
	std::atomic<uint64_t> events[kEventKinds];
	std::atomic<uint64_t> busy_us[kActivities];	// time per kind of step
	FailLog log;

	void post_seg(int writer, int row, const SegInfo &si);
	void clear_seg(int writer, int row);
	// A consistent copy of a random non-empty entry, or false.
	bool pick_seg(Rng &rng, SegInfo *out);
	void post_apid(int writer, int row, int64_t apid);
	int64_t pick_apid(Rng &rng);
	bool done() const
	{
		return stop.load(std::memory_order_relaxed) ||
		       calls.load(std::memory_order_relaxed) >=
			       target.load(std::memory_order_relaxed);
	}
};

}  // namespace xf

#endif
