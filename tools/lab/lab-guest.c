// SPDX-License-Identifier: GPL-2.0-only
/*
 * lab-guest.c - the agent inside a lab VM ("lab-agent serve").
 *
 * It runs as PID 1 of the guest (the initramfs switches root straight into
 * it), so it also reaps every orphan, and its death panics the guest, which
 * the host notices as QEMU exiting.
 *
 * One command runs at a time, in its own session so that a timeout can kill
 * the whole process group.  A single poll loop moves bytes from the command's
 * stdout/stderr pipes into OUT/ERR frames, and stops reading the pipes while
 * the host is slow to drain the port (back-pressure instead of unbounded
 * buffering).  The EXIT frame is queued only after the pipes reached EOF (or a
 * short grace period after the command exited, for stray grandchildren that
 * keep them open), so output always precedes the status.
 *
 * When the host side of the port closes (client killed, connection lost), the
 * running command is killed: nobody waits for it any more.
 */
#define _GNU_SOURCE
#include "lab-agent.h"
#include "lab-proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_HIGH_WATER (1u << 20) /* stop reading pipes above this much queued output */
#define DRAIN_GRACE_MS 2000       /* pipe EOF wait after the command exited */
#define HUP_RECHECK_MS 100        /* re-probe a disconnected port this often */

struct command {
	pid_t pid; /* 0: none */
	uint64_t id;
	int fd[2]; /* stdout, stderr read ends; -1 once at EOF */
	uint64_t deadline_ms; /* kill when reached; 0: no timeout */
	uint64_t grace_ms;    /* set once reaped */
	int reaped, status, timed_out;
};

static int port = -1;
static int host_up;
static struct lab_buf in, out;
static struct command cmd = { .fd = { -1, -1 } };

static int open_port(const char *name)
{
	char path[512], buf[128];
	uint64_t deadline = lab_now_ms() + 10000;

	/* No udev in the guest: find the port by the name sysfs shows. */
	do {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(buf, sizeof(buf), f) && !strcmp(strtok(buf, "\n"), name)) {
				fclose(f);
				closedir(d);
				snprintf(path, sizeof(path), "/dev/%s", e->d_name);
				return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			}
			fclose(f);
		}
		if (d)
			closedir(d);
		usleep(100000);
	} while (lab_now_ms() < deadline);
	errno = ENODEV;
	return -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void kill_command(void)
{
	if (cmd.pid > 0 && !cmd.reaped) {
		kill(-cmd.pid, SIGKILL);
		kill(cmd.pid, SIGKILL);
	}
}

/* Forget the command: its pid is reaped later by the generic reaper. */
static void drop_command(void)
{
	kill_command();
	close_fd(&cmd.fd[0]);
	close_fd(&cmd.fd[1]);
	cmd.pid = 0;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == cmd.pid && !cmd.reaped) {
			cmd.reaped = 1;
			cmd.status = status;
			cmd.grace_ms = lab_now_ms() + DRAIN_GRACE_MS;
		}
	}
}

static void send_exit(void)
{
	uint32_t p[2];

	if (cmd.timed_out) {
		p[0] = LAB_TIMEDOUT;
		p[1] = 0;
	} else if (WIFSIGNALED(cmd.status)) {
		p[0] = LAB_SIGNALED;
		p[1] = (uint32_t)WTERMSIG(cmd.status);
	} else {
		p[0] = LAB_EXITED;
		p[1] = (uint32_t)WEXITSTATUS(cmd.status);
	}
	lab_buf_frame(&out, LAB_EXIT, cmd.id, p, sizeof(p));
	drop_command();
}

static void child_exec(const char *cwd, char **argv, char **envp, int outw, int errw)
{
	sigset_t all;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setsid();
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (null >= 0)
		dup2(null, 0);
	dup2(outw, 1);
	dup2(errw, 2);
	if (chdir(cwd)) {
		dprintf(2, "lab-agent: cwd %s does not exist in the guest (%s); running in /\n",
			cwd, strerror(errno));
		if (chdir("/"))
			_exit(126);
	}
	/* execvp searches the PATH of our environment: make it the command's one. */
	environ = envp;
	execvp(argv[0], argv);
	dprintf(2, "lab-agent: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Split @n bytes at @p into @count NUL-terminated strings; NULL on malformed input. */
static char **split_strings(const char **p, const char *end, uint32_t count)
{
	char **v;

	if (count > 65536)
		return NULL;
	v = calloc(count + 1, sizeof(*v));
	for (uint32_t i = 0; v && i < count; i++) {
		const char *nul = memchr(*p, '\0', (size_t)(end - *p));

		if (!nul) {
			free(v);
			return NULL;
		}
		v[i] = (char *)*p;
		*p = nul + 1;
	}
	return v;
}

static void start_command(uint64_t id, const char *payload, uint32_t len)
{
	const char *p = payload + 12, *end = payload + len, *cwd;
	uint32_t hdr[3];
	char **argv = NULL, **envp = NULL;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	static const char bad[] = "lab-agent: malformed EXEC request\n";
	uint32_t fail[2] = { LAB_EXITED, 255 };

	if (cmd.pid)
		drop_command(); /* a new request means the old client is gone */
	if (len < 12)
		goto malformed;
	memcpy(hdr, payload, sizeof(hdr));
	cwd = p;
	p = memchr(p, '\0', (size_t)(end - p));
	if (!p)
		goto malformed;
	p++;
	argv = split_strings(&p, end, hdr[1]);
	envp = argv ? split_strings(&p, end, hdr[2]) : NULL;
	if (!argv || !envp || hdr[1] == 0)
		goto malformed;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		goto sysfail;

	memset(&cmd, 0, sizeof(cmd));
	cmd.id = id;
	cmd.pid = fork();
	if (cmd.pid == 0)
		child_exec(cwd, argv, envp, po[1], pe[1]);
	if (cmd.pid < 0) {
		cmd.pid = 0;
		goto sysfail;
	}
	close(po[1]);
	close(pe[1]);
	cmd.fd[0] = po[0];
	cmd.fd[1] = pe[0];
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	cmd.deadline_ms = hdr[0] ? lab_now_ms() + (uint64_t)hdr[0] * 1000 : 0;
	free(argv);
	free(envp);
	return;

sysfail:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	{
		char msg[128];
		int n = snprintf(msg, sizeof(msg), "lab-agent: cannot start: %s\n", strerror(errno));

		lab_buf_frame(&out, LAB_ERR, id, msg, (uint32_t)n);
	}
	goto reply;
malformed:
	lab_buf_frame(&out, LAB_ERR, id, bad, sizeof(bad) - 1);
reply:
	lab_buf_frame(&out, LAB_EXIT, id, fail, sizeof(fail));
	free(argv);
	free(envp);
	cmd.pid = 0;
	cmd.fd[0] = cmd.fd[1] = -1;
}

static void send_pong(uint64_t id)
{
	struct utsname u;
	double up = 0;
	char msg[256];
	FILE *f = fopen("/proc/uptime", "r");
	int n;

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	uname(&u);
	n = snprintf(msg, sizeof(msg), "kernel %s, up %.1f s", u.release, up);
	lab_buf_frame(&out, LAB_PONG, id, msg, (uint32_t)n);
}

static void poweroff(uint64_t id)
{
	uint64_t until = lab_now_ms() + 1000;

	drop_command();
	lab_buf_frame(&out, LAB_ACK, id, NULL, 0);
	while (lab_buf_len(&out) && lab_now_ms() < until) {
		struct pollfd p = { port, POLLOUT, 0 };

		poll(&p, 1, 50);
		if (lab_buf_flush(&out, port))
			break;
	}
	sync();
	reboot(RB_POWER_OFF);
	perror("lab-agent: reboot(POWER_OFF)");
}

static void handle_frames(void)
{
	struct lab_hdr h;
	const char *payload;

	while (lab_buf_next_frame(&in, &h, &payload)) {
		switch (h.type) {
		case LAB_PING:
			send_pong(h.id);
			break;
		case LAB_EXEC:
			start_command(h.id, payload, h.len);
			break;
		case LAB_POWEROFF:
			poweroff(h.id);
			break;
		default:
			break; /* unknown or a reply type: not for us */
		}
		lab_buf_consume(&in, sizeof(h) + h.len);
	}
}

static void read_port(void)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(port, buf, sizeof(buf));

		if (n > 0) {
			lab_buf_append(&in, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break; /* EAGAIN, or 0: the host went away (seen as POLLHUP next) */
	}
	handle_frames();
}

static void read_pipe(int i)
{
	char buf[32768];
	ssize_t n = read(cmd.fd[i], buf, sizeof(buf));

	if (n > 0)
		lab_buf_frame(&out, i ? LAB_ERR : LAB_OUT, cmd.id, buf, (uint32_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		close_fd(&cmd.fd[i]);
}

static void check_timers(void)
{
	uint64_t now = lab_now_ms();

	if (!cmd.pid)
		return;
	if (!cmd.reaped && cmd.deadline_ms && now >= cmd.deadline_ms) {
		kill_command();
		cmd.timed_out = 1;
		cmd.deadline_ms = 0;
	}
	if (cmd.reaped && (now >= cmd.grace_ms || (cmd.fd[0] < 0 && cmd.fd[1] < 0)))
		send_exit();
}

static int poll_timeout(void)
{
	uint64_t now = lab_now_ms(), next = 0;

	if (cmd.pid && !cmd.reaped && cmd.deadline_ms)
		next = cmd.deadline_ms;
	if (cmd.pid && cmd.reaped)
		next = cmd.grace_ms;
	if (!host_up)
		next = next && next < now + HUP_RECHECK_MS ? next : now + HUP_RECHECK_MS;
	if (!next)
		return -1;
	return next > now ? (int)(next - now) : 0;
}

/* Track the host end of the port; a client that left loses its command. */
static void probe_host(void)
{
	struct pollfd p = { port, 0, 0 };

	poll(&p, 1, 0);
	if (p.revents & POLLHUP) {
		if (host_up || cmd.pid) {
			drop_command();
			lab_buf_reset(&out);
		}
		host_up = 0;
	} else {
		host_up = 1;
	}
}

int lab_serve(const char *name)
{
	sigset_t chld;
	int sfd;

	port = open_port(name);
	if (port < 0) {
		fprintf(stderr, "lab-agent: no virtio port named %s: %s\n", name, strerror(errno));
		return 1;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	fprintf(stderr, "lab-agent: serving on port %s\n", name);

	for (;;) {
		struct pollfd p[4];
		int n = 0, ip = -1, io[2] = { -1, -1 };

		probe_host();
		p[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		if (host_up) {
			ip = n;
			p[n++] = (struct pollfd){ port, POLLIN | (lab_buf_len(&out) ? POLLOUT : 0), 0 };
		}
		for (int i = 0; i < 2; i++) {
			if (cmd.pid && cmd.fd[i] >= 0 && lab_buf_len(&out) < OUT_HIGH_WATER) {
				io[i] = n;
				p[n++] = (struct pollfd){ cmd.fd[i], POLLIN, 0 };
			}
		}
		if (poll(p, (nfds_t)n, poll_timeout()) < 0 && errno != EINTR) {
			perror("lab-agent: poll");
			sleep(1);
			continue;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			reap();
		}
		for (int i = 0; i < 2; i++)
			if (io[i] >= 0 && p[io[i]].revents)
				read_pipe(i);
		if (ip >= 0 && (p[ip].revents & POLLIN))
			read_port();
		check_timers();
		if (host_up && lab_buf_len(&out) && lab_buf_flush(&out, port) && errno != ENODEV)
			perror("lab-agent: write to port");
	}
}
