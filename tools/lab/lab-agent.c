// SPDX-License-Identifier: GPL-2.0-only
/*
 * lab-agent - runs commands inside a lab VM on behalf of the host.
 *
 *   lab-agent serve [PORT-NAME]                      guest side (PID 1 of the VM)
 *   lab-agent ping     --socket S [OPTIONS]          host side: wait for the agent
 *   lab-agent exec     --socket S [OPTIONS] -- CMD   host side: run CMD in the guest
 *   lab-agent poweroff --socket S [OPTIONS]          host side: power the guest off
 *
 * Host options: --pid QEMU-PID (fail fast when it dies), --lock FILE (take
 * turns with other clients), --timeout S (0: none), --cwd DIR, --env K=V.
 * exec exits with the command's status, 128+N when killed by signal N, 124 on
 * timeout and 255 when the guest could not be reached or died.
 * The wire format is in lab-proto.h, the lab as a whole in docs/lab.md.
 */
#include "lab-agent.h"
#include "lab-proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: lab-agent serve [PORT-NAME]\n"
	      "       lab-agent ping|poweroff --socket PATH [--pid PID] [--lock FILE] [--timeout S]\n"
	      "       lab-agent exec --socket PATH [--pid PID] [--lock FILE] [--timeout S]\n"
	      "                      [--cwd DIR] [--env K=V]... -- CMD [ARG]...\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "lock", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cwd", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lab_client c = { .timeout_s = 600 };
	const char *mode;
	int o;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "serve"))
		return lab_serve(argc > 2 ? argv[2] : LAB_PORT_NAME);
	if (!strcmp(mode, "--help") || !strcmp(mode, "-h")) {
		usage(stdout);
		return 0;
	}
	c.env = calloc((size_t)argc, sizeof(*c.env));
	optind = 2;
	while ((o = getopt_long(argc, argv, "+s:p:l:t:c:e:h", opts, NULL)) != -1) {
		switch (o) {
		case 's': c.socket = optarg; break;
		case 'p': c.qemu_pid = (pid_t)atoi(optarg); break;
		case 'l': c.lock = optarg; break;
		case 't': c.timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': c.cwd = optarg; break;
		case 'e':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "lab-agent: --env wants K=V, got %s\n", optarg);
				return 2;
			}
			c.env[c.nenv++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!c.socket) {
		fprintf(stderr, "lab-agent: --socket is required\n");
		return 2;
	}
	if (!strcmp(mode, "ping"))
		return lab_ping(&c);
	if (!strcmp(mode, "poweroff"))
		return lab_poweroff(&c);
	if (!strcmp(mode, "exec")) {
		if (optind >= argc) {
			fprintf(stderr, "lab-agent: exec needs a command\n");
			return 2;
		}
		return lab_exec(&c, argv + optind);
	}
	usage(stderr);
	return 2;
}
