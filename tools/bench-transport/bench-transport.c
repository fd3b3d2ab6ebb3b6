// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-transport - host benchmark of the transport core: processes stand
 * in for partitions over one MAP_SHARED control region (the core is the
 * same code xpmem.ko runs).  Prints markdown tables of medians and judges
 * the goals of docs/transport.md; numbers are reported, never asserted.
 *
 *   bench-transport [--quick] [--only rtt|tput|fanout|fence]
 *                   [--dead-ms N] [--hb-ms N]
 */
#include "bt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: bench-transport [--quick] [--only rtt|tput|fanout|fence] "
			"[--dead-ms N] [--hb-ms N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	u64 dead_ms = 1000, hb_ms = 100;
	bool quick = false;
	double load[3] = { 0, 0, 0 };
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--dead-ms") && i + 1 < argc)
			dead_ms = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--hb-ms") && i + 1 < argc)
			hb_ms = strtoull(argv[++i], NULL, 0);
		else
			usage();
	}
	if (!hb_ms || dead_ms <= hb_ms)
		usage();
	getloadavg(load, 3);
	printf("# bench-transport: %d CPUs, %d NUMA node(s)%s, load average %.2f\n",
	       bt_ncpus(), bt_numa_nodes(),
	       bt_numa_nodes() > 1 ? " (partition i on node i mod nodes)" : " (no placement)",
	       load[0]);
	if (bt_ncpus() < 2)
		printf("\nOnly one CPU: both partitions share it; spin numbers are meaningless.\n");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!only || !strcmp(only, "rtt"))
		bench_rtt(quick ? 2000 : 20000);
	if (!only || !strcmp(only, "tput"))
		bench_throughput(quick ? 1000000 : 4000000);
	if (!only || !strcmp(only, "fanout"))
		bench_fanout(quick ? 200 : 5000);
	if (!only || !strcmp(only, "fence"))
		bench_fence(quick ? 3 : 10, quick ? 200 : dead_ms, quick ? 20 : hb_ms);
	return 0;
}
