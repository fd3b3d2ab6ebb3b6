// SPDX-License-Identifier: GPL-2.0-only
/*
 * reformat.c - lays out a control region file afresh, for the partition
 * suite's checks of regions a module must refuse.
 *
 *   xpmem-partition-reformat FILE PARTS RING_SLOTS [MARK_ID]
 *
 * Run on the host against the lab's region file (fabricd's --shm, mapped
 * by every partition): formats it for PARTS partition slots with RING_SLOTS
 * slots per ring, and with MARK_ID marks that slot UP under epoch 5 with a
 * moving heartbeat, as a live partition would.  A module that sized its
 * tables from a smaller number than the region's must refuse it, not walk
 * past them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"

int main(int argc, char **argv)
{
	struct xp_layout l;
	struct xp_region r;
	struct stat st;
	void *mem;
	int fd;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: xpmem-partition-reformat FILE PARTS RING_SLOTS [MARK_ID]\n");
		return 2;
	}
	if (xp_layout_compute(&l, atoi(argv[2]), atoi(argv[3]))) {
		fprintf(stderr, "no layout for %s parts, %s ring slots\n", argv[2], argv[3]);
		return 1;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	if ((unsigned long long)st.st_size < l.size) {
		fprintf(stderr, "%s: %lld bytes, the layout needs %llu\n", argv[1],
			(long long)st.st_size, (unsigned long long)l.size);
		return 1;
	}
	mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return perror("mmap"), 1;
	if (xp_region_format(mem, st.st_size, &l) ||
	    xp_region_attach(&r, mem, st.st_size) != XP_ATTACH_OK) {
		fprintf(stderr, "format failed\n");
		return 1;
	}
	if (argc == 5) {
		unsigned int id = atoi(argv[4]);
		struct xp_part *p;

		if (id >= l.max_parts) {
			fprintf(stderr, "slot %u beyond %u\n", id, l.max_parts);
			return 1;
		}
		p = xp_region_part(&r, id);
		p->heartbeat = 1;
		xp_store_release(&p->sword, xp_sword(5, id, 0, XP_UP));
	}
	msync(mem, st.st_size, MS_SYNC);
	printf("formatted %s: %u slots, %u ring slots, %llu bytes%s%s\n", argv[1],
	       l.max_parts, l.ring_slots, (unsigned long long)l.size,
	       argc == 5 ? ", marked UP: " : "", argc == 5 ? argv[4] : "");
	return 0;
}
