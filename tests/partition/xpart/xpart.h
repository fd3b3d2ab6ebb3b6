// SPDX-License-Identifier: GPL-2.0-only
//
// xpart.h - what the cross-partition exporter (xpmem-xpart-export) and
// attacher (xpmem-xpart-attach) share.  The two run in different lab
// partitions, so they cannot use pipes or signals: they meet in a control
// page that the exporter makes a segment of and the attacher attaches.
// Both see the same RAM, so aligned 64-bit loads and stores through it are
// coherent; every word has ONE writer (no read-modify-write crosses
// partitions: a single-vCPU TCG guest need not do its atomics with host
// atomics), and every wait on the other side is bounded.
//
// Handshake: each side counts its progress in its own step word; "wait for
// the exporter's step 3" is a bounded poll.  A side that fails says so in
// its failed word, so that the other stops waiting at once and the run
// ends with the first error rather than a timeout.
//
// Output is line-oriented for tests/partition/remote.py: "key value ..."
// facts, then "PASS scenario" or "FAIL scenario: why" and exit status 0/1.
#ifndef XPMEM_XPART_H
#define XPMEM_XPART_H

#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <string>

extern "C" {
#include <xpmem.h>
}

namespace xp {

constexpr size_t kPage = 4096;
constexpr size_t kWords = kPage / sizeof(uint64_t);
constexpr uint64_t kCtlMagic = 0x7870617274637431ULL; // "xpartct1"

// The control page.  exp_* words are written by the exporter only, att_* by
// the attacher only.
struct Ctl {
	uint64_t magic;
	uint64_t pages;			// size of the data segment, pages
	std::atomic<uint64_t> exp_step;
	std::atomic<uint64_t> exp_failed;
	std::atomic<uint64_t> gen;	// race: the generation now in place
	std::atomic<uint64_t> exp_arg;	// a value the exporter hands over
	alignas(64) std::atomic<uint64_t> att_step;
	std::atomic<uint64_t> att_failed;
	std::atomic<uint64_t> att_arg;
};
static_assert(sizeof(Ctl) <= kPage, "the control block is one page");

// The words of a data page: pattern(seed, page, word) is distinct for every
// triple and readable in messages.
inline uint64_t pattern(uint64_t seed, uint64_t page, uint64_t word)
{
	return (seed << 40) | (page << 9) | word;
}
// Sparse fills touch words 0, 257 and 511 only (the 100,000-page run, whose
// attacher stamps word kStampWord).
constexpr size_t kStampWord = 100;
void fill(volatile uint64_t *p, size_t pages, uint64_t seed, bool sparse);
// -1 if all match, else page * 512 + word of the first mismatch (*found).
int64_t check(const volatile uint64_t *p, size_t pages, uint64_t seed,
	      bool sparse, uint64_t *found);
std::string mismatch(int64_t idx, uint64_t seed, uint64_t found);

// The canary the kill-mid-invalidate case leaves in each page: a 64-bit
// value no fill, zero page or pressure program writes.
inline uint64_t canary(uint64_t page)
{
	return 0xC0DE5AFEull << 32 | 0xCA000000u | (uint32_t)page;
}

int64_t now_ms();

// Bounded poll until w >= want.  Fails (false, message set) on timeout or
// when the other side reports failure in *peer_failed.
bool wait_for(const std::atomic<uint64_t> &w, uint64_t want,
	      const std::atomic<uint64_t> &peer_failed, int timeout_ms,
	      const char *what, std::string *err);

// Runs "$XPMEMCTL inject NAME VALUE" (or set, for a tunable): the programs
// arm the injection points themselves at the one moment that matters (e.g.
// after GET, before the first FAULT).  "" = nothing to arm.
bool arm(const std::string &spec, std::string *err);

// Physical frame number of the page at addr (root: /proc/self/pagemap),
// 0 if not present.
uint64_t pfn_of(const void *addr);

// Anonymous RW mapping, optionally MAP_FIXED; MAP_FAILED on failure.
void *map_anon(size_t len, void *fixed = nullptr);

// Line-buffered stdout, so that the host sees each fact as it is printed.
void setup_output();

}  // namespace xp

#endif
