// SPDX-License-Identifier: GPL-2.0-only
//
// slot.h - what the processes of xpmem-stress-mixed share.
//
// Each process owns one slot: a region of its memory, exported, whose
// contents change by generations.  Every word of the region (but the last
// page, the mailbox) is word_value(slot, page, word, generation), so a word
// says where it belongs and how old it is.  The owner announces each change:
//
//   seq     odd while a change is in progress
//   hi      raised to the new generation before the change starts
//   lo      raised to it once the old pages are unreachable from the owner
//           (after the munmap, the rewrite, the copy-on-write break...)
//
// An attacher reads seq and lo, reads the words, then reads hi and seq.  If
// seq did not move and is even, the region was quiet throughout: every word
// must be exactly generation hi, and nothing may fault.  Otherwise a word may
// be zero (remapped, not yet filled) or of a generation in [lo, hi], and the
// access may raise SIGBUS; a word older than lo is stale data, and a word
// that is not ours at all is garbage.  Both are failures.
//
// The mailbox page is written by attachers: word i holds attacher i's latest
// counter.  When a write happened in a quiet period, the attacher records
// (seq, counter); if the owner later finds seq unchanged, the word must hold
// at least that counter: a smaller one is a write that went to a page the
// owner no longer has.
#ifndef XPMEM_STRESS_SLOT_H
#define XPMEM_STRESS_SLOT_H

#include <stdint.h>

#include <atomic>

#include "common.h"

namespace xs {

using xf::kPage;
using xf::kWordsPerPage;

constexpr int kMaxProcs = 16;
constexpr uint64_t kGenBits = 24;
constexpr uint64_t kGenMask = (1ULL << kGenBits) - 1;

inline uint64_t word_value(int slot, uint64_t page, uint64_t word, uint64_t gen)
{
	return 0xa5ULL << 56 | (uint64_t)slot << 48 | (gen & kGenMask) << 24 |
	       (page & 0x7fff) << 9 | word;
}

inline uint64_t word_gen(uint64_t v)
{
	return (v >> 24) & kGenMask;
}

// Right slot, page and word, whatever the generation.
inline bool word_placed(uint64_t v, int slot, uint64_t page, uint64_t word)
{
	return (v & ~(kGenMask << 24)) == word_value(slot, page, word, 0);
}

inline bool gen_between(uint64_t g, uint64_t lo, uint64_t hi)
{
	return ((g - lo) & kGenMask) <= ((hi - lo) & kGenMask);
}

inline uint64_t mail_value(int attacher, uint64_t counter)
{
	return 0xb7ULL << 56 | (uint64_t)attacher << 48 | (counter & 0xffffffffffffULL);
}

struct Slot {
	std::atomic<uint64_t> seq;
	std::atomic<uint64_t> lo, hi;
	std::atomic<int64_t> segid;		// 0 while there is none
	std::atomic<uint64_t> offset;		// of the region in the segment
	std::atomic<uint64_t> npages;		// including the mailbox page
	std::atomic<uint64_t> incarnation;	// owner processes so far
	std::atomic<int> pid;
	// Per attacher: (seq << 32 | counter) of its last quiet mailbox write.
	std::atomic<uint64_t> mail[kMaxProcs];
};

struct Shared {
	Slot slots[kMaxProcs];
	std::atomic<int> stop;
	std::atomic<uint64_t> verified_words, quiet_reads, busy_reads, sigbus;
	std::atomic<uint64_t> transitions[12];
	std::atomic<uint64_t> mail_writes, mail_checked;
	std::atomic<uint64_t> attaches, forks, exits, removes;
	xf::FailLog log;
};

}  // namespace xs

#endif
