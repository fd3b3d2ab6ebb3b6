// SPDX-License-Identifier: GPL-2.0-only
/*
 * rogue.c - a partition gone rogue, for the partition suite.
 *
 *   xpmem-partition-rogue SECONDS
 *   xpmem-partition-rogue SECONDS REGION-FILE ID
 *
 * Run as root in a partition of the lab: maps the control region (the
 * doorbell device's BAR2) through /dev/mem — write-back, as the module maps
 * it: the sysfs resource2 file asks for uncached and PAT refuses — finds this partition's own
 * outgoing rings (control words and slots) and the completion words it
 * writes, and fills them with random bytes over and over for SECONDS.  The
 * other partitions must drop what they read there, fence it, and carry on.
 *
 * The second form does the same on the host, to partition ID's rings, in
 * fabricd's region file (the memory behind every partition's BAR2): for a
 * guest kernel without /dev/mem (the lab's debug kernel).  The readers
 * cannot tell who wrote the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "region.h"

#define DOORBELL_DEV "/sys/bus/pci/devices/0000:00:08.0"

static unsigned long long rnd_state;

static unsigned long long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void scribble(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		unsigned long long v = rnd();

		memcpy(p + i, &v, 8);
	}
}

/* BAR2's physical start: the third line of the device's resource file. */
static unsigned long long bar2_start(void)
{
	FILE *f = fopen(DOORBELL_DEV "/resource", "r");
	unsigned long long start = 0, end, flags;
	int line;

	for (line = 0; f && line < 3; line++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = 0;
	if (f)
		fclose(f);
	return start;
}

static unsigned int read_self(void)
{
	FILE *f = fopen(DOORBELL_DEV "/xpmem_self_id", "r");
	unsigned int id = ~0u;

	if (!f || fscanf(f, "%u", &id) != 1)
		id = ~0u;
	if (f)
		fclose(f);
	return id;
}

/* The region file on the host, mapped shared as fabricd maps it. */
static unsigned char *map_region_file(const char *path, size_t *len)
{
	struct stat st;
	void *mem;
	int fd = open(path, O_RDWR);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "rogue: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "rogue: mmap %s: %s\n", path, strerror(errno));
		return NULL;
	}
	*len = st.st_size;
	return mem;
}

/* The guest's BAR2 through /dev/mem, and this partition's id. */
static unsigned char *map_bar2(size_t *len, unsigned int *self)
{
	unsigned long long start = bar2_start();
	struct stat st;
	void *mem;
	int fd;

	*self = read_self();
	if (*self == ~0u || !start || stat(DOORBELL_DEV "/resource2", &st)) {
		fprintf(stderr, "rogue: no doorbell device with xpmem bound\n");
		return NULL;
	}
	fd = open("/dev/mem", O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "rogue: /dev/mem: %s\n", strerror(errno));
		return NULL;
	}
	mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)start);
	close(fd);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "rogue: mmap /dev/mem at %#llx: %s\n", start,
			strerror(errno));
		return NULL;
	}
	*len = st.st_size;
	return mem;
}

int main(int argc, char **argv)
{
	struct xp_region r;
	unsigned char *mem;
	unsigned int self, dst, rounds = 0;
	size_t len;
	time_t end;
	int err;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s SECONDS [REGION-FILE ID]\n", argv[0]);
		return 2;
	}
	if (argc == 4) {
		self = atoi(argv[3]);
		mem = map_region_file(argv[2], &len);
	} else {
		mem = map_bar2(&len, &self);
	}
	if (!mem)
		return 1;
	err = xp_region_attach(&r, mem, len);
	if (err) {
		fprintf(stderr, "rogue: control region: %s\n", xp_attach_strerror(err));
		return 1;
	}
	if (self >= r.l.max_parts) {
		fprintf(stderr, "rogue: partition %u: the region has %u slots\n", self,
			r.l.max_parts);
		return 1;
	}
	rnd_state = (unsigned long long)time(NULL) * 2654435761u | 1;
	end = time(NULL) + atoi(argv[1]);
	while (time(NULL) < end) {
		for (dst = 0; dst < r.l.max_parts; dst++) {
			if (dst == self)
				continue;
			scribble((unsigned char *)xp_region_ring(&r, self, dst),
				 r.l.ring_stride);
			scribble((unsigned char *)xp_region_comp(&r, self, dst),
				 XP_COMP_SIZE);
		}
		rounds++;
		usleep(1000);
	}
	printf("rogue: partition %u scribbled its rings and completion words %u times\n",
	       self, rounds);
	return 0;
}
