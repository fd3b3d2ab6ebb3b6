// SPDX-License-Identifier: GPL-2.0-only
/*
 * monitor.c - `monitor`: prints the "events" group's messages (partition
 * state changes, fences) as they come, until SIGINT/SIGTERM or --timeout.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_event(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_PART_A_MAX + 1];
	struct ctl *c = data;
	struct record r = { 0 };
	uint8_t cmd = nl_cmd(nlh);

	nl_parse(nlh, tb, XPMEM_PART_A_MAX);
	if (cmd == XPMEM_CMD_EVENT_PARTITION) {
		rec_str(&r, "event", "partition");
		rec_u64(&r, "id", nl_u32(tb[XPMEM_PART_A_ID]));
		rec_str(&r, "state",
			part_state_name(nl_u32(tb[XPMEM_PART_A_STATE])));
		rec_u64(&r, "epoch", nl_u64(tb[XPMEM_PART_A_EPOCH]));
	} else if (cmd == XPMEM_CMD_EVENT_FENCE) {
		rec_str(&r, "event", "fence");
		rec_u64(&r, "id", nl_u32(tb[XPMEM_PART_A_ID]));
		rec_u64(&r, "epoch", nl_u64(tb[XPMEM_PART_A_EPOCH]));
		rec_str(&r, "reason", fence_reason_name(
			nl_u32(tb[XPMEM_PART_A_LAST_FENCE_REASON])));
		rec_u64(&r, "time_ns",
			nl_u64(tb[XPMEM_PART_A_LAST_FENCE_TIME_NS]));
		rec_u64(&r, "quarantined_pages",
			nl_u64(tb[XPMEM_PART_A_QUARANTINED_PAGES]));
	} else {
		return MNL_CB_OK;	/* a newer event: skip it */
	}
	if (c->json) {
		print_json_object(stdout, &r);
	} else {
		int i;

		for (i = 0; i < r.n; i++)
			printf("%s%s=%s", i ? " " : "", r.f[i].key, r.f[i].text);
	}
	putchar('\n');
	fflush(stdout);
	return MNL_CB_OK;
}

int cmd_monitor(struct ctl *c, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec t0, now;
	uint64_t timeout_ms = 0;
	struct pollfd pfd;
	int err;

	if (wants_help(argc, argv) || argc == 2 || argc > 3 ||
	    (argc == 3 && (strcmp(argv[1], "--timeout") ||
			   parse_u64(argv[2], &timeout_ms)))) {
		printf("usage: xpmemctl [--json] monitor [--timeout SECONDS]\n"
		       "Prints partition state changes and fences as they happen,\n"
		       "one line (or JSON object) each, until interrupted.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	timeout_ms *= 1000;
	err = nl_join_events(&c->nl);
	if (err)
		return ctl_error(c, err, "joining the events group");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = mnl_socket_get_fd(c->nl.sock);
	pfd.events = POLLIN;
	while (!stop) {
		int n = poll(&pfd, 1, 200);

		if (n < 0 && errno != EINTR)
			return ctl_error(c, -errno, "monitor");
		if (n > 0) {
			err = nl_recv_events(&c->nl, on_event, c);
			if (err && err != -EINTR)
				return ctl_error(c, err, "monitor");
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_ms &&
		    (uint64_t)((now.tv_sec - t0.tv_sec) * 1000 +
			       (now.tv_nsec - t0.tv_nsec) / 1000000) >= timeout_ms)
			break;
	}
	return EXIT_OK;
}
