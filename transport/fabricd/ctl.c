// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl.c - fabricd's control socket: one text command per line, answered by
 * zero or more data lines and then exactly one "ok" or "error: WHY" line.
 *
 *   drop-to P on|off     drop doorbells rung towards P
 *   drop-from P on|off   drop doorbells P rings
 *   cut P                disconnect P (its QEMU sees the server go away; the
 *                        peers see P disconnect)
 *   next P               the next connection gets id P (if free then)
 *   stats                one line per id: "id P connected 0|1 pid N
 *                        connects N rung N delivered N dropped N
 *                        drop-to 0|1 drop-from 0|1"
 *
 * The client mode (fabricd --ctl SOCKET CMD...) sends one command, prints
 * the reply without its final "ok" and exits 0 on ok, 1 on error, 2 when the
 * socket cannot be reached or does not answer in time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fabricd.h"

static void reply(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	/* Control clients are short-lived and read at once; a short write
	 * only loses a reply to a client that stopped listening. */
	if (write(out, buf, (size_t)n) < 0)
		return;
}

static int parse_id(struct fabric *f, const char *s, unsigned int *id)
{
	char *end;
	unsigned long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v >= f->parts)
		return -1;
	*id = (unsigned int)v;
	return 0;
}

static int parse_onoff(const char *s, bool *on)
{
	if (s && !strcmp(s, "on"))
		*on = true;
	else if (s && !strcmp(s, "off"))
		*on = false;
	else
		return -1;
	return 0;
}

void fab_ctl_command(struct fabric *f, char *line, int out)
{
	char *argv[4] = { 0 }, *save = NULL, *tok;
	unsigned int id, i;
	int argc = 0;
	bool on;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 4;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (tok) {
		reply(out, "error: too many words\n");
		return;
	}
	if (!argc) {
		reply(out, "error: empty command\n");
		return;
	}
	if (!strcmp(argv[0], "stats") && argc == 1) {
		for (i = 0; i < f->parts; i++) {
			struct fab_part *p = &f->p[i];

			reply(out, "id %u connected %d pid %d connects %llu rung %llu delivered %llu dropped %llu drop-to %d drop-from %d\n",
			      i, p->sock >= 0, (int)p->pid, (unsigned long long)p->connects,
			      (unsigned long long)p->rung_by, (unsigned long long)p->delivered,
			      (unsigned long long)p->dropped, p->drop_to, p->drop_from);
		}
		reply(out, "ok\n");
		return;
	}
	if ((!strcmp(argv[0], "drop-to") || !strcmp(argv[0], "drop-from")) && argc == 3) {
		if (parse_id(f, argv[1], &id) || parse_onoff(argv[2], &on)) {
			reply(out, "error: usage: %s P on|off (P < %u)\n", argv[0], f->parts);
			return;
		}
		if (argv[0][5] == 't')
			f->p[id].drop_to = on;
		else
			f->p[id].drop_from = on;
		fab_log("control: %s %u %s", argv[0], id, on ? "on" : "off");
		reply(out, "ok\n");
		return;
	}
	if (!strcmp(argv[0], "cut") && argc == 2) {
		if (parse_id(f, argv[1], &id)) {
			reply(out, "error: usage: cut P (P < %u)\n", f->parts);
			return;
		}
		if (f->p[id].sock < 0) {
			reply(out, "error: %u is not connected\n", id);
			return;
		}
		fab_disconnect(f, id, "cut by the control socket");
		reply(out, "ok\n");
		return;
	}
	if (!strcmp(argv[0], "next") && argc == 2) {
		if (parse_id(f, argv[1], &id)) {
			reply(out, "error: usage: next P (P < %u)\n", f->parts);
			return;
		}
		if (f->p[id].sock >= 0) {
			reply(out, "error: %u is connected\n", id);
			return;
		}
		f->next_id = (int)id;
		fab_log("control: next connection gets id %u", id);
		reply(out, "ok\n");
		return;
	}
	reply(out, "error: unknown command or wrong arguments: %s (commands: stats, drop-to P on|off, drop-from P on|off, cut P, next P)\n",
	      argv[0]);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int fab_ctl_client(const char *path, int argc, char **argv, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cmd[512] = "", buf[4096], acc[65536];
	size_t used = 0;
	long deadline = now_ms() + timeout_ms;
	int s, i;

	for (i = 0; i < argc; i++) {
		if (strlen(cmd) + strlen(argv[i]) + 2 >= sizeof(cmd)) {
			fprintf(stderr, "fabricd: command too long\n");
			return 2;
		}
		if (i)
			strcat(cmd, " ");
		strcat(cmd, argv[i]);
	}
	strcat(cmd, "\n");
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fabricd: socket path too long: %s\n", path);
		return 2;
	}
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "fabricd: cannot reach %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (write(s, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		fprintf(stderr, "fabricd: cannot send to %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		long left = deadline - now_ms();
		char *last;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			fprintf(stderr, "fabricd: no answer from %s within %d ms\n", path, timeout_ms);
			return 2;
		}
		n = read(s, buf, sizeof(buf));
		if (n <= 0) {
			fprintf(stderr, "fabricd: %s closed without a final ok/error line\n", path);
			return 2;
		}
		if (used + (size_t)n >= sizeof(acc)) {
			fprintf(stderr, "fabricd: reply too long\n");
			return 2;
		}
		memcpy(acc + used, buf, (size_t)n);
		used += (size_t)n;
		acc[used] = 0;
		if (used == 0 || acc[used - 1] != '\n')
			continue;
		/* The reply ends with its last complete line: ok or error. */
		acc[used - 1] = 0;
		last = strrchr(acc, '\n');
		last = last ? last + 1 : acc;
		if (!strcmp(last, "ok")) {
			fwrite(acc, 1, (size_t)(last - acc), stdout);
			return 0;
		}
		if (!strncmp(last, "error: ", 7)) {
			fwrite(acc, 1, (size_t)(last - acc), stdout);
			fprintf(stderr, "fabricd: %s\n", last);
			return 1;
		}
		acc[used - 1] = '\n';
	}
}
