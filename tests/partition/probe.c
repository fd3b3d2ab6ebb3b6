// SPDX-License-Identifier: GPL-2.0-only
/*
 * probe.c - xpmem-partition-probe: what the partition suite runs inside a
 * lab partition to look at its fabric devices without a driver, through
 * sysfs (config space, resourceN mmaps) and /proc/self/pagemap.
 *
 *   devices           one line per ivshmem device (1af4:1110):
 *                     "dev ADDR doorbell|plain bar2 SIZE msix 0|1 ivpos N"
 *                     (ivpos only for the doorbell device: its IVPosition)
 *   hold SECONDS MARKER
 *                     allocates a page, prints "phys 0x..." (its physical
 *                     address), then waits until MARKER appears at its start
 *                     (exit 0, "seen") or the time is up (exit 1)
 *   write ADDR OFFSET MARKER
 *                     writes MARKER at OFFSET of device ADDR's BAR2 (a peer
 *                     window) and reads it back
 *   ring ADDR PEER VECTOR COUNT
 *                     writes the doorbell register COUNT times
 *
 * Exit status: 0 done, 1 the check failed, 2 usage or system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SYSPCI "/sys/bus/pci/devices"

static int read_hex(const char *dev, const char *file, unsigned long *v)
{
	char path[256];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), SYSPCI "/%s/%s", dev, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lx", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Memory decoding must be on to touch a BAR; no driver turned it on. */
static void enable(const char *dev)
{
	char path[256];
	unsigned long on = 0;
	int fd;

	if (!read_hex(dev, "enable", &on) && on)
		return;
	snprintf(path, sizeof(path), SYSPCI "/%s/enable", dev);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			perror("enable");
		close(fd);
	}
}

/* Maps BAR `bar` of dev; *len gets the BAR's size. */
static void *map_bar(const char *dev, int bar, size_t *len)
{
	char path[256];
	struct stat st;
	void *p;
	int fd;

	enable(dev);
	snprintf(path, sizeof(path), SYSPCI "/%s/resource%d", dev, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "probe: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len < 4096 ? 4096 : *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "probe: mmap %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return p;
}

/* Walks the config space capability list for MSI-X (id 0x11). */
static int has_msix(const char *dev)
{
	unsigned char cfg[256];
	char path[256];
	unsigned int pos, n;
	int fd;
	ssize_t got;

	snprintf(path, sizeof(path), SYSPCI "/%s/config", dev);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	got = read(fd, cfg, sizeof(cfg));
	close(fd);
	if (got < 64 || !(cfg[6] & 0x10))	/* status: capability list */
		return 0;
	for (pos = cfg[0x34] & ~3u, n = 0; pos >= 0x40 && pos < (unsigned int)got && n < 48;
	     pos = cfg[pos + 1] & ~3u, n++)
		if (cfg[pos] == 0x11)
			return 1;
	return 0;
}

static int is_ivshmem(const char *dev)
{
	unsigned long v, d;

	return !read_hex(dev, "vendor", &v) && !read_hex(dev, "device", &d) &&
	       v == 0x1af4 && d == 0x1110;
}

static int cmd_devices(void)
{
	FILE *ls = popen("ls " SYSPCI, "r");
	char dev[128];
	int n = 0;

	if (!ls)
		return 2;
	while (fscanf(ls, "%127s", dev) == 1) {
		size_t len = 0;
		int msix;

		if (!is_ivshmem(dev))
			continue;
		msix = has_msix(dev);
		if (msix) {
			volatile uint32_t *regs = map_bar(dev, 0, &len);

			printf("dev %s doorbell msix 1 ivpos %d", dev, regs ? (int)regs[2] : -1);
		} else {
			printf("dev %s plain msix 0", dev);
		}
		{
			char path[256];
			struct stat st;

			snprintf(path, sizeof(path), SYSPCI "/%s/resource2", dev);
			printf(" bar2 %lld\n", stat(path, &st) ? -1LL : (long long)st.st_size);
		}
		n++;
	}
	pclose(ls);
	return n ? 0 : 1;
}

static int cmd_hold(int secs, const char *marker)
{
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t ent;
	char *page;
	int fd;
	time_t end = time(NULL) + secs;

	page = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || mlock(page, (size_t)ps)) {
		perror("probe: page");
		return 2;
	}
	memset(page, 0, (size_t)ps);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &ent, 8, (off_t)((uintptr_t)page / (uintptr_t)ps * 8)) != 8 ||
	    !(ent >> 63) || !(ent & ((1ULL << 55) - 1))) {
		fprintf(stderr, "probe: no physical address for the page\n");
		return 2;
	}
	printf("phys 0x%llx\n", (unsigned long long)((ent & ((1ULL << 55) - 1)) * (uint64_t)ps));
	fflush(stdout);
	while (time(NULL) < end) {
		if (!memcmp((const volatile char *)page, marker, strlen(marker))) {
			printf("seen\n");
			return 0;
		}
		usleep(20000);
	}
	printf("not seen within %d s\n", secs);
	return 1;
}

static int cmd_write(const char *dev, unsigned long long off, const char *marker)
{
	size_t len = 0, n = strlen(marker);
	volatile char *w = map_bar(dev, 2, &len);
	size_t i;

	if (!w)
		return 2;
	if (off + n > len) {
		fprintf(stderr, "probe: offset 0x%llx beyond the %zu-byte window\n", off, len);
		return 2;
	}
	for (i = 0; i < n; i++)
		w[off + i] = marker[i];
	for (i = 0; i < n; i++)
		if (w[off + i] != marker[i]) {
			printf("read back differs at %zu\n", i);
			return 1;
		}
	printf("written %zu bytes at 0x%llx of %s\n", n, off, dev);
	return 0;
}

static int cmd_ring(const char *dev, unsigned int peer, unsigned int vec, unsigned int count)
{
	size_t len = 0;
	volatile uint32_t *regs = map_bar(dev, 0, &len);
	unsigned int i;

	if (!regs)
		return 2;
	for (i = 0; i < count; i++) {
		regs[3] = peer << 16 | vec;
		usleep(20000);	/* separate eventfd writes: each is counted */
	}
	printf("rang %u times\n", count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "devices"))
		return cmd_devices();
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return cmd_hold(atoi(argv[2]), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
	if (argc == 6 && !strcmp(argv[1], "ring"))
		return cmd_ring(argv[2], (unsigned int)atoi(argv[3]), (unsigned int)atoi(argv[4]),
				(unsigned int)atoi(argv[5]));
	fprintf(stderr, "usage: xpmem-partition-probe devices | hold SECONDS MARKER |\n"
			"       write ADDR OFFSET MARKER | ring ADDR PEER VECTOR COUNT\n");
	return 2;
}
