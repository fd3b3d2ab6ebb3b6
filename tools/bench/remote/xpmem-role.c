// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmem-role - one process of a cross-partition scenario (see role.h).
 *
 *   xpmem-role hold|shootdown|victim|share --len MIB [--slots MASK]
 *              [--reps N] [--part P] [--go]
 *   xpmem-role attach --segid S --ctl A --data A --len MIB --slot S
 *              [--keep] [--write]
 *   xpmem-role first-touch --segid S --ctl A --data A --len MIB --reps N
 *   xpmem-role poke --segid S --ctl A
 *   xpmem-role watch --part P --until dead|rejoined [--epoch E]
 *
 * Common: --timeout S bounds every wait (default 300) and, three times
 * over, the whole run.  Output: lines "word key=value ...", and for the
 * measuring roles one "result {json}" line.  Exit status 0, or 1 with a
 * message on stderr.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "role.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: xpmem-role ROLE [OPTIONS]  (roles: hold shootdown victim share\n"
		"       attach first-touch poke watch; see tools/bench/remote/xpmem-role.c)\n");
	exit(2);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (!*s || *end)
		bench_die("not a number: %s", s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "len", required_argument, 0, 'l' },
		{ "reps", required_argument, 0, 'r' },
		{ "timeout", required_argument, 0, 't' },
		{ "segid", required_argument, 0, 's' },
		{ "ctl", required_argument, 0, 'c' },
		{ "data", required_argument, 0, 'd' },
		{ "slot", required_argument, 0, 'S' },
		{ "slots", required_argument, 0, 'M' },
		{ "part", required_argument, 0, 'p' },
		{ "keep", no_argument, 0, 'k' },
		{ "write", no_argument, 0, 'w' },
		{ "go", no_argument, 0, 'g' },
		{ "until", required_argument, 0, 'u' },
		{ "epoch", required_argument, 0, 'e' },
		{ 0, 0, 0, 0 },
	};
	struct role_opts o = { .len = 16 * MiB, .reps = 7, .timeout_s = 300,
			       .part = -1, .until = "dead" };
	int c;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	o.role = argv[1];
	bench_role = o.role;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.len = num(optarg) * MiB; break;
		case 'r': o.reps = (int)num(optarg); break;
		case 't': o.timeout_s = (int)num(optarg); break;
		case 's': o.segid = (xpmem_segid_t)num(optarg); break;
		case 'c': o.ctl = (uintptr_t)num(optarg); break;
		case 'd': o.data = (uintptr_t)num(optarg); break;
		case 'S': o.slot = (int)num(optarg); break;
		case 'M': o.slots = num(optarg); break;
		case 'p': o.part = (int)num(optarg); break;
		case 'k': o.keep = true; break;
		case 'w': o.write = true; break;
		case 'g': o.go = true; break;
		case 'u': o.until = optarg; break;
		case 'e': o.epoch = num(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || o.len == 0 || o.reps < 1 || o.timeout_s < 1 ||
	    o.slot < 0 || o.slot >= CTL_SLOTS || o.slots >> CTL_SLOTS)
		usage();
	bench_alarm_s = 3 * (unsigned int)o.timeout_s;
	alarm(bench_alarm_s);

	if (!strcmp(o.role, "hold") || !strcmp(o.role, "shootdown") ||
	    !strcmp(o.role, "victim") || !strcmp(o.role, "share")) {
		if ((!strcmp(o.role, "victim") && o.part < 0) ||
		    (!strcmp(o.role, "share") && !o.slots))
			usage();
		return role_exporter(&o);
	}
	if (!strcmp(o.role, "watch")) {
		if (o.part < 0 || (strcmp(o.until, "dead") &&
				   strcmp(o.until, "rejoined")))
			usage();
		return role_watch(&o);
	}
	if (!o.segid || !o.ctl)
		usage();
	if (!strcmp(o.role, "poke"))
		return role_poke(&o);
	if (!o.data)
		usage();
	if (!strcmp(o.role, "attach"))
		return role_attach(&o);
	if (!strcmp(o.role, "first-touch"))
		return role_first_touch(&o);
	usage();
}
