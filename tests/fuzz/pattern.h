// SPDX-License-Identifier: GPL-2.0-only
//
// pattern.h - the data exported regions hold, so attachers can tell valid
// data from stale or foreign pages.
//
// Every word of a region holds a tag of its owner's key (bits 63..48), a
// hash of (key, the address the word was written at) (bits 47..16) and the
// region's generation (bits 15..0).  The owner checks its own attachments
// exactly: a page of another process, of another region, the same page seen
// at another address (a frame reused elsewhere) or of an older generation
// all fail.  A region moved with mremap keeps the data written for its old
// address; the owner's model accounts for that.  Foreign attachers, whose
// view changes under them, check the owner's tag only, or accept zero (a
// region remapped and not yet filled).
#ifndef XPMEM_FUZZ_PATTERN_H
#define XPMEM_FUZZ_PATTERN_H

#include <stdint.h>

#include "common.h"

namespace xf {

constexpr uint64_t kGenMask = 0xffff;

inline uint64_t key_tag(uint64_t key)
{
	return mix64(key) >> 48;
}

inline uint64_t pattern(uint64_t key, uint64_t addr, uint64_t gen)
{
	return key_tag(key) << 48 | (mix64(key ^ addr) & 0xffffffff0000ULL) |
	       (gen & kGenMask);
}

// Right owner and address, any generation.
inline bool pattern_matches(uint64_t key, uint64_t addr, uint64_t v)
{
	return (v & ~kGenMask) == (pattern(key, addr, 0) & ~kGenMask);
}

// Right owner, whatever the address.
inline bool tag_matches(uint64_t key, uint64_t v)
{
	return v >> 48 == key_tag(key);
}

// Only these words of each page carry data (and are checked): spread over
// the page, so a page that is only partly right is still caught, and cheap
// enough to rewrite megabytes often in the VM.  The stress test checks
// every word.
constexpr size_t kCheckWords[] = { 0, 73, 146, 219, 292, 365, 438, 511 };
constexpr size_t kNumCheckWords = sizeof(kCheckWords) / sizeof(kCheckWords[0]);

inline size_t check_off(size_t i)
{
	return kCheckWords[i % kNumCheckWords] * sizeof(uint64_t);
}

// Writes generation gen over the checked words of [addr, addr + len); the
// other words stay zero.
inline void fill_region(uintptr_t addr, size_t len, uint64_t key, uint64_t gen)
{
	for (uintptr_t pg = addr; pg < addr + len; pg += kPage)
		for (size_t w : kCheckWords)
			store(pg + w * 8, pattern(key, pg + w * 8, gen));
}

}  // namespace xf

#endif
