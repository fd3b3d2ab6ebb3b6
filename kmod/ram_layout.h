/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ram_layout.h - where a partition's frame lies in its RAM file, which is
 * what a peer window onto that partition shows.
 *
 * A partition publishes the end of its RAM in frames (window_pages: frames
 * from 0, holes included); a peer's window onto it is as large as its RAM
 * file, which holds the RAM in ascending guest-physical order without the
 * holes.  QEMU's pc and q35 machines leave one hole, below 4 GiB (the PCI
 * hole): RAM that does not fit below it (from 3.5 GiB of RAM on pc) starts
 * at 4 GiB.  So frame F is at offset F below the hole and F - hole above
 * 4 GiB, where hole = published end - window pages.  A frame in the hole,
 * past the end, or a hole that cannot end at 4 GiB is refused (false).
 *
 * The owner's tag page is allocated from ZONE_NORMAL, which on x86-64 is
 * above 4 GiB whenever there is RAM there: a peer that finds the tag
 * through this translation (identify_window) has checked it too.
 */
#ifndef XPMEM_RAM_LAYOUT_H
#define XPMEM_RAM_LAYOUT_H

#include <linux/types.h>

#define XPMEM_4G_PFN (1ULL << (32 - PAGE_SHIFT))

static inline bool xpmem_ram_file_pfn(u64 pfn, u64 ram_end, u64 file_pages,
				      u64 *offset)
{
	u64 hole = ram_end > file_pages ? ram_end - file_pages : 0;

	if (pfn >= ram_end || hole > XPMEM_4G_PFN ||
	    (hole && ram_end <= XPMEM_4G_PFN))
		return false;
	if (hole && pfn >= XPMEM_4G_PFN)
		pfn -= hole;
	else if (hole && pfn >= XPMEM_4G_PFN - hole)
		return false;		/* in the hole: no RAM there */
	if (pfn >= file_pages)
		return false;
	*offset = pfn;
	return true;
}

#endif /* XPMEM_RAM_LAYOUT_H */
