// SPDX-License-Identifier: GPL-2.0-only
/*
 * pressure.c - xpmem-xpart-pressure: allocate and write most of this
 * partition's available memory, then free it.  remote.py runs it in the
 * owner's partition after a peer died mid-invalidate: if the module had
 * freed the quarantined pages, the page allocator would hand them out here
 * and the writes (or the zeroing before them) would wipe the canaries the
 * host then looks for in the RAM file.
 *
 *   xpmem-xpart-pressure [RESERVE_MIB]   (default 48: leave that much)
 *
 * Prints "pressure_mib N ms T"; exit 0, or 2 on a system error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static long available_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	long reserve = argc > 1 ? atol(argv[1]) : 48, avail = available_kib(), t0 = now_ms();
	const size_t chunk = 16 << 20;

	if (avail < 0) {
		fprintf(stderr, "xpmem-xpart-pressure: no MemAvailable in /proc/meminfo\n");
		return 2;
	}
	long mib = avail / 1024 - reserve, done = 0;
	/* Chunk by chunk, so that a refused mmap ends the run early rather
	 * than failing it: what counts is having taken most free pages. */
	for (; done + 16 <= mib; done += 16) {
		uint64_t *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			break;
		for (size_t i = 0; i < chunk / 8; i += 512)
			p[i] = 0x5052455353555245ull ^ i;	/* "PRESSURE" */
	}
	printf("pressure_mib %ld of %ld available ms %ld\n", done, avail / 1024, now_ms() - t0);
	return done > 0 ? 0 : 2;
}
