// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmem-bench - single-kernel measurements of xpmem against the other ways
 * processes share data, printed as tables of medians and ratios from one
 * run, followed by the project's goals judged on those numbers.
 *
 *   1. copy bandwidth: cached attachment vs process_vm_readv vs a shared
 *      buffer (two copies) vs local memcpy          (copy.c)
 *   2. attach + first touch per MiB, 4 KiB and THP sources, vs first touch
 *      of local memory                              (attach.c)
 *   3. munmap of an exported region with 0, 1 and 4 attachers (unmap.c)
 *
 * Exit status: 0 when everything ran (a missed goal is a result, not an
 * error); 1 on any error, including wrong data; 3 if the run outlived its
 * time bound.  Runs where /dev/xpmem exists (inside the lab VM); see
 * docs/benchmark.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void on_alarm(int sig)
{
	static const char msg[] = "xpmem-bench: error: the run exceeded its "
				  "time bound\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xpmem-bench [--quick] [--reps N] [--json FILE]\n"
		"  --quick      fewer samples, sizes up to 16 MiB (smoke run)\n"
		"  --reps N     timed samples per data point (default 21, "
		"quick 5)\n"
		"  --json FILE  also write the results as JSON\n");
}

static void parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "reps", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int reps = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o->quick = true;
			break;
		case 'r':
			reps = (int)strtol(optarg, &end, 10);
			if (*end || reps < 1 || reps > 1000) {
				fprintf(stderr, "xpmem-bench: --reps wants "
					"1..1000\n");
				exit(2);
			}
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	o->reps = reps ? reps : o->quick ? 5 : 21;
	o->max_copy = o->quick ? 16 * MiB : 64 * MiB;
	o->sample_ms = o->quick ? 10 : 50;
	o->attach_len = o->quick ? 16 * MiB : 64 * MiB;
	o->unmap_len = o->quick ? 16 * MiB : 64 * MiB;
	o->ncpus = cpus_allowed();
}

/*
 * Every worker has exited by now; the module tears a process's objects
 * down when its last reference goes, which may trail waitpid() a little.
 * Anything still alive after that is a leak, and an error.
 */
static void check_nothing_left(const struct xpmem_stats *before)
{
	struct xpmem_stats s;

	for (int i = 0; i < 200; i++) {
		s = xpmem_counters();
		if (s.segments == before->segments &&
		    s.permits == before->permits &&
		    s.attachments == before->attachments &&
		    s.pinned_pages == before->pinned_pages)
			break;
		usleep(10000);
	}
	printf("\nModule objects after the run: %llu segments, %llu permits, "
	       "%llu attachments,\n%llu pinned pages (before: %llu, %llu, %llu, "
	       "%llu)\n", (unsigned long long)s.segments,
	       (unsigned long long)s.permits,
	       (unsigned long long)s.attachments,
	       (unsigned long long)s.pinned_pages,
	       (unsigned long long)before->segments,
	       (unsigned long long)before->permits,
	       (unsigned long long)before->attachments,
	       (unsigned long long)before->pinned_pages);
	if (s.segments != before->segments || s.permits != before->permits ||
	    s.attachments != before->attachments ||
	    s.pinned_pages != before->pinned_pages)
		bench_die("xpmem objects or pins left behind after the run");
}

int main(int argc, char **argv)
{
	struct bench_opts o = { 0 };
	static struct bench_results r;

	parse(argc, argv, &o);
	/* The bound of the whole run, in this process and (re-armed after
	 * fork) in every worker. */
	bench_alarm_s = o.quick ? 600 : 3600;
	signal(SIGALRM, on_alarm);
	alarm(bench_alarm_s);

	report_header(&o);
	struct xpmem_stats before = xpmem_counters();
	bench_copy(&o, &r.copy);
	report_copy(&o, &r.copy);
	bench_attach(&o, &r.attach);
	report_attach(&r.attach);
	bench_unmap(&o, &r.unmap);
	report_unmap(&r.unmap);
	report_goals(&r);
	check_nothing_left(&before);
	if (o.json)
		report_json(&o, &r, o.json);
	return 0;
}
