// SPDX-License-Identifier: GPL-2.0-only
/*
 * lab-host.c - the host side of lab-agent: connects to the UNIX socket that
 * QEMU serves for the agent's virtio-serial port, sends one request and
 * relays the replies.
 *
 * QEMU accepts one connection at a time on that socket, so clients take turns
 * through a lock file.  The client never blocks without a bound: it polls
 * with a short period, notices EOF (QEMU closed the socket: it exited), a
 * QEMU pid that is gone, and its own deadline.
 */
#define _GNU_SOURCE
#include "lab-agent.h"
#include "lab-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define POLL_MS 250
#define PING_RESEND_MS 5000
/* How long past the command's timeout the guest has to report it. */
#define EXEC_SLACK_MS 30000

static const char *const base_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/sh",
	"LANG=C.UTF-8", "TERM=dumb",
};

static int qemu_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int alive = 1;

	if (!pid)
		return 1;
	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	/* A zombie nobody reaped yet still answers kill(0). */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		alive = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

static int take_lock(const struct lab_client *c, uint64_t deadline)
{
	int fd;

	if (!c->lock)
		return 0;
	fd = open(c->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "lab-agent: %s: %s\n", c->lock, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK || (deadline && lab_now_ms() >= deadline) ||
		    !qemu_alive(c->qemu_pid)) {
			fprintf(stderr, "lab-agent: the guest agent stayed busy (lock %s)\n", c->lock);
			return -1;
		}
		usleep(50000);
	}
	return 0; /* held until exit */
}

static int connect_agent(const struct lab_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lab-agent: socket path too long: %s\n", c->socket);
		return -1;
	}
	strcpy(sa.sun_path, c->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "lab-agent: cannot connect to %s: %s (is the lab VM up?)\n",
			c->socket, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_frame(int fd, uint16_t type, uint64_t id, const void *p, uint32_t len)
{
	struct lab_buf b = { 0 };
	int ret;

	lab_buf_frame(&b, type, id, p, len);
	ret = write_all(fd, b.data, lab_buf_len(&b));
	free(b.data);
	return ret;
}

/*
 * Wait for the next frame carrying @id.  Returns 1 with the frame at the head
 * of @in, 0 on deadline, -1 when the connection or QEMU is gone.
 * @resend, if not 0, is a request type sent again every PING_RESEND_MS.
 */
static int next_frame(const struct lab_client *c, int fd, struct lab_buf *in, uint64_t id,
		      uint64_t deadline, struct lab_hdr *h, const char **payload, uint16_t resend)
{
	uint64_t next_send = lab_now_ms() + PING_RESEND_MS;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char buf[65536];
		ssize_t n;

		while (lab_buf_next_frame(in, h, payload)) {
			if (h->id == id)
				return 1;
			lab_buf_consume(in, sizeof(*h) + h->len); /* an earlier client's */
		}
		if (deadline && lab_now_ms() >= deadline)
			return 0;
		if (!qemu_alive(c->qemu_pid)) {
			fprintf(stderr, "lab-agent: QEMU (pid %d) is gone\n", (int)c->qemu_pid);
			return -1;
		}
		if (resend && lab_now_ms() >= next_send) {
			if (send_frame(fd, resend, id, NULL, 0))
				goto lost;
			next_send = lab_now_ms() + PING_RESEND_MS;
		}
		if (poll(&p, 1, POLL_MS) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			lab_buf_append(in, buf, (size_t)n);
		else if (n == 0 || errno != EINTR)
			goto lost;
	}
lost:
	fprintf(stderr, "lab-agent: connection to the guest lost (QEMU exited?)\n");
	return -1;
}

int lab_ping(const struct lab_client *c)
{
	uint64_t id = lab_random_id();
	uint64_t deadline = c->timeout_s ? lab_now_ms() + c->timeout_s * 1000ull : 0;
	struct lab_buf in = { 0 };
	struct lab_hdr h;
	const char *payload;
	int fd, r;

	if (take_lock(c, deadline) || (fd = connect_agent(c)) < 0)
		return LAB_EXIT_LOST;
	if (send_frame(fd, LAB_PING, id, NULL, 0))
		return LAB_EXIT_LOST;
	while ((r = next_frame(c, fd, &in, id, deadline, &h, &payload, LAB_PING)) == 1) {
		if (h.type == LAB_PONG) {
			printf("%.*s\n", (int)h.len, payload);
			return 0;
		}
		lab_buf_consume(&in, sizeof(h) + h.len);
	}
	if (r == 0)
		fprintf(stderr, "lab-agent: no answer from the guest agent within %u s\n", c->timeout_s);
	return r == 0 ? LAB_EXIT_TIMEOUT : LAB_EXIT_LOST;
}

int lab_poweroff(const struct lab_client *c)
{
	uint64_t id = lab_random_id();
	uint64_t deadline = lab_now_ms() + (c->timeout_s ? c->timeout_s : 10) * 1000ull;
	struct lab_buf in = { 0 };
	struct lab_hdr h;
	const char *payload;
	int fd, r;

	if (take_lock(c, deadline) || (fd = connect_agent(c)) < 0)
		return LAB_EXIT_LOST;
	if (send_frame(fd, LAB_POWEROFF, id, NULL, 0))
		return LAB_EXIT_LOST;
	/* The guest acknowledges, then powers off; losing the connection is also fine. */
	r = next_frame(c, fd, &in, id, deadline, &h, &payload, 0);
	return r == 0 ? LAB_EXIT_TIMEOUT : 0;
}

static void put_string(struct lab_buf *b, const char *s)
{
	lab_buf_append(b, s, strlen(s) + 1);
}

static int build_exec(struct lab_buf *b, const struct lab_client *c, char **argv)
{
	char cwd[PATH_MAX];
	uint32_t hdr[3] = { c->timeout_s, 0, 0 };

	if (c->cwd)
		snprintf(cwd, sizeof(cwd), "%s", c->cwd);
	else if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	while (argv[hdr[1]])
		hdr[1]++;
	hdr[2] = (uint32_t)(sizeof(base_env) / sizeof(base_env[0]) + (size_t)c->nenv);
	lab_buf_append(b, hdr, sizeof(hdr));
	put_string(b, cwd);
	for (uint32_t i = 0; i < hdr[1]; i++)
		put_string(b, argv[i]);
	for (size_t i = 0; i < sizeof(base_env) / sizeof(base_env[0]); i++)
		put_string(b, base_env[i]);
	for (int i = 0; i < c->nenv; i++)
		put_string(b, c->env[i]);
	if (lab_buf_len(b) > LAB_MAX_PAYLOAD) {
		fprintf(stderr, "lab-agent: command line too long (%zu bytes)\n", lab_buf_len(b));
		return -1;
	}
	return 0;
}

int lab_exec(const struct lab_client *c, char **argv)
{
	uint64_t id = lab_random_id();
	uint64_t deadline = c->timeout_s ?
		lab_now_ms() + c->timeout_s * 1000ull + EXEC_SLACK_MS : 0;
	struct lab_buf req = { 0 }, in = { 0 };
	int out_ok[2] = { 1, 1 };
	struct lab_hdr h;
	const char *payload;
	int fd, r;

	signal(SIGPIPE, SIG_IGN); /* a closed stdout must not hide the exit status */
	if (build_exec(&req, c, argv))
		return LAB_EXIT_LOST;
	if (take_lock(c, deadline) || (fd = connect_agent(c)) < 0)
		return LAB_EXIT_LOST;
	if (send_frame(fd, LAB_EXEC, id, req.data, (uint32_t)lab_buf_len(&req))) {
		fprintf(stderr, "lab-agent: cannot send the request: %s\n", strerror(errno));
		return LAB_EXIT_LOST;
	}
	while ((r = next_frame(c, fd, &in, id, deadline, &h, &payload, 0)) == 1) {
		uint32_t st[2];

		switch (h.type) {
		case LAB_OUT:
		case LAB_ERR: {
			int i = h.type == LAB_ERR;

			if (out_ok[i] && write_all(i ? 2 : 1, payload, h.len))
				out_ok[i] = 0;
			break;
		}
		case LAB_EXIT:
			if (h.len < sizeof(st))
				break;
			memcpy(st, payload, sizeof(st));
			if (st[0] == LAB_TIMEDOUT) {
				fprintf(stderr, "lab-agent: %s: timed out after %u s, killed\n",
					argv[0], c->timeout_s);
				return LAB_EXIT_TIMEOUT;
			}
			if (st[0] == LAB_SIGNALED)
				return 128 + (int)st[1];
			return (int)(st[1] & 0xff);
		default:
			break;
		}
		lab_buf_consume(&in, sizeof(h) + h.len);
	}
	if (r == 0) {
		fprintf(stderr, "lab-agent: %s: the guest did not report within %u s\n",
			argv[0], c->timeout_s + EXEC_SLACK_MS / 1000);
		return LAB_EXIT_TIMEOUT;
	}
	return LAB_EXIT_LOST;
}
