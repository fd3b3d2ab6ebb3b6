// SPDX-License-Identifier: GPL-2.0-only
//
// argbuf.cc - argument pointers of every class (see argbuf.h).
#include "argbuf.h"

#include <sys/mman.h>

namespace xf {

bool ArgBuf::init()
{
	void *p = mmap(nullptr, 4 * kPage, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return false;
	base_ = (unsigned char *)p;
	rw_ = base_ + kPage;
	ro_ = base_ + 2 * kPage;
	if (mprotect(rw_, kPage, PROT_READ | PROT_WRITE))
		return false;
	return set_ro(true);
}

bool ArgBuf::set_ro(bool ro)
{
	return mprotect(ro_, kPage, ro ? PROT_READ : PROT_READ | PROT_WRITE) == 0;
}

ArgPtr ArgBuf::rw(Rng &rng, size_t size)
{
	size_t room = kPage - size;
	size_t off = rng.chance(70) ? rng.below(room / 8 + 1) * 8 : rng.below(room + 1);

	return { rw_ + off, true, rw_, rw_ + kPage, "rw" };
}

static ArgPtr bad(unsigned char *p, const char *kind)
{
	return { p, false, nullptr, nullptr, kind };
}

ArgPtr ArgBuf::pick(Rng &rng, size_t size)
{
	static const uint64_t kernel[] = {
		0xffff888000000000ULL, 0xffffffff81000000ULL,
		0xffffffffff600000ULL,	/* vsyscall page */
		0x8000000000000000ULL, 0xffffffffffffffffULL - 7,
		0x0100000000000000ULL,	/* above user space, 4 or 5 levels */
	};
	unsigned r = (unsigned)rng.below(100);

	if (r < 4)
		return bad(nullptr, "NULL");
	if (r < 6)
		return bad((unsigned char *)(uintptr_t)(1 + rng.below(kPage - 1)),
			   "low");
	if (r < 10) {
		uint64_t k = kernel[rng.below(sizeof(kernel) / sizeof(kernel[0]))];
		return bad((unsigned char *)(uintptr_t)k, "kernel");
	}
	if (r < 13) {
		unsigned char *g = rng.chance(50) ? base_ : base_ + 3 * kPage;
		return bad(g + rng.below(kPage - 8), "guard");
	}
	if (r < 15 && size > 1) {
		// Runs off the read-only page into the upper guard.
		size_t in = 1 + rng.below(size - 1);
		return bad(ro_ + kPage - in, "ro-guard");
	}
	if (r < 18 && size > 1) {
		// Readable throughout, writable only below the RO page.
		size_t in = 1 + rng.below(size - 1);
		return { ro_ - in, true, rw_, ro_, "rw-ro" };
	}
	if (r < 28) {
		size_t off = rng.below(kPage - size + 1);
		if (rng.chance(70))
			off &= ~(size_t)7;
		return { ro_ + off, true, nullptr, nullptr, "ro" };
	}
	return rw(rng, size);
}

}  // namespace xf
