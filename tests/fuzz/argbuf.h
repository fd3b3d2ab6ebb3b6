// SPDX-License-Identifier: GPL-2.0-only
//
// argbuf.h - where the fuzzer's ioctl arguments live.
//
// Four pages: an inaccessible guard, a read-write page, a read-only page and
// another guard.  An argument pointer is chosen from one of these classes,
// and the class says what the kernel can do with it: read and write it
// (RW), read it only (RO: a command that writes a result back must fail with
// EFAULT and undo itself), or not even read it (NULL, kernel addresses,
// guard pages, a structure that runs off the end of the read-write page
// into the guard), or read all of it but write only part (a structure that
// starts at the end of the read-write page and runs into the read-only one:
// whether the result can be written back depends on where its field lies).
// Unaligned pointers are as valid as aligned ones.
#ifndef XPMEM_FUZZ_ARGBUF_H
#define XPMEM_FUZZ_ARGBUF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

namespace xf {

struct ArgPtr {
	unsigned char *p;
	bool readable;		// the whole argument can be read
	unsigned char *wr_lo;	// [wr_lo, wr_hi) can be written
	unsigned char *wr_hi;
	const char *kind;	// for failure messages

	// Can the kernel write `len` bytes at offset `off` of the argument?
	bool writable(size_t off, size_t len) const
	{
		return readable && p + off >= wr_lo && p + off + len <= wr_hi;
	}
};

class ArgBuf {
public:
	bool init();
	// A pointer for an argument of `size` bytes; the caller fills it (RW)
	// or reads what is there (RO) before the call.
	ArgPtr pick(Rng &rng, size_t size);
	// Always a fully usable RW pointer.
	ArgPtr rw(Rng &rng, size_t size);
	// Rewrites the read-only page with `fill` (called now and then, so RO
	// arguments are sometimes plausible structures).
	template <typename F> void refill_ro(F &&fill);
	unsigned char *ro_page() { return ro_; }

private:
	bool set_ro(bool ro);
	unsigned char *base_ = nullptr;
	unsigned char *rw_ = nullptr;
	unsigned char *ro_ = nullptr;
};

template <typename F> void ArgBuf::refill_ro(F &&fill)
{
	if (set_ro(false)) {
		fill(ro_);
		set_ro(true);
	}
}

}  // namespace xf

#endif
