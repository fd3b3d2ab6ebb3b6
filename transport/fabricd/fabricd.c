// SPDX-License-Identifier: GPL-2.0-only
/*
 * fabricd.c - the lab's fabric server (docs/lab.md, "fabricd").
 *
 * Creates the control region (a file given by --shm, or a memfd), lays it
 * out with the transport core (xp_region_format), listens for QEMU
 * ivshmem-doorbell clients on --socket and for text commands on --control,
 * and forwards doorbells between partitions (see fabricd.h for why they go
 * through here).  One log line per event on stderr, timestamped.  SIGTERM
 * or SIGINT: disconnect everyone, close everything, unlink the sockets, the
 * pid file and the region file, exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fabricd.h"
#include "region.h"

struct ctl_conn {
	int fd;
	size_t used;
	char buf[1024];
};

void fab_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ fabricd: ", when, ts.tv_nsec / 1000000L);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fabricd --socket PATH --control PATH [--shm FILE] [--shm-size BYTES[K|M|G]]\n"
		"               [--parts N] [--vectors N] [--ring-slots N] [--pidfile FILE]\n"
		"               [--announce-disconnects]  (crashes QEMU 7.2 when the id returns)\n"
		"       fabricd --ctl CONTROL-SOCKET [--timeout MS] CMD [ARG]...\n"
		"defaults: --shm-size 4M (a power of two), --parts 8, --vectors 2, --ring-slots 64\n");
}

static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fab_log("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 16)) {
		fab_log("cannot listen on %s: %s", path, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* The control region: created, sized, laid out by the transport core. */
static int make_region(const char *file, unsigned long long size, unsigned int parts,
		       unsigned int slots)
{
	struct xp_layout l;
	void *mem;
	int fd, err;

	if (xp_layout_compute(&l, parts, slots)) {
		fab_log("no layout for --parts %u --ring-slots %u (slots: a power of two, %u..%u)",
			parts, slots, XP_MIN_SLOTS, XP_MAX_SLOTS);
		return -1;
	}
	if (l.size > size) {
		fab_log("--shm-size %llu is too small: the layout needs %llu bytes",
			size, (unsigned long long)l.size);
		return -1;
	}
	fd = file ? open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		  : memfd_create("xpmem-fabric", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		fab_log("cannot create the control region %s: %s", file ? file : "(memfd)",
			strerror(errno));
		return -1;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		fab_log("cannot map the control region: %s", strerror(errno));
		close(fd);
		return -1;
	}
	err = xp_region_format(mem, size, &l);
	munmap(mem, size);
	if (err) {
		fab_log("formatting the control region failed: %d", err);
		close(fd);
		return -1;
	}
	fab_log("control region %s: %llu bytes, layout v%u for %u partitions, %u ring slots (%llu bytes used)",
		file ? file : "(memfd)", size, XP_REGION_VERSION, parts, slots,
		(unsigned long long)l.size);
	return fd;
}

static void ctl_input(struct fabric *f, struct ctl_conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->used, sizeof(c->buf) - 1 - c->used);
	char *nl;

	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->used += (size_t)n;
	c->buf[c->used] = 0;
	while ((nl = memchr(c->buf, '\n', c->used))) {
		size_t len = (size_t)(nl - c->buf) + 1;

		*nl = 0;
		fab_ctl_command(f, c->buf, c->fd);
		memmove(c->buf, c->buf + len, c->used - len);
		c->used -= len;
	}
	if (c->used == sizeof(c->buf) - 1) {
		static const char err[] = "error: line too long\n";

		if (write(c->fd, err, sizeof(err) - 1) < 0)
			fab_log("control: reply lost");
		close(c->fd);
		c->fd = -1;
	}
}

/* What each pollfd slot stands for. */
enum { K_SIG, K_LISTEN, K_CTL_LISTEN, K_CTL, K_PEER, K_PROXY };
struct slot { int kind; unsigned int a, b, v; };

static int run(struct fabric *f, int sigfd, int lsock, int csock)
{
	static struct pollfd pfd[4 + FAB_MAX_CTL + FAB_MAX_PARTS * (1 + FAB_MAX_PARTS * FAB_MAX_VECTORS)];
	static struct slot what[sizeof(pfd) / sizeof(pfd[0])];
	struct ctl_conn ctl[FAB_MAX_CTL];
	unsigned int i, s, v;
	int n, k;

	for (i = 0; i < FAB_MAX_CTL; i++)
		ctl[i].fd = -1;
	for (;;) {
		n = 0;
#define ADD(fd_, kind_, a_, b_, v_) do { \
	pfd[n] = (struct pollfd){ .fd = (fd_), .events = POLLIN }; \
	what[n++] = (struct slot){ (kind_), (a_), (b_), (v_) }; } while (0)
		ADD(sigfd, K_SIG, 0, 0, 0);
		ADD(lsock, K_LISTEN, 0, 0, 0);
		ADD(csock, K_CTL_LISTEN, 0, 0, 0);
		for (i = 0; i < FAB_MAX_CTL; i++)
			if (ctl[i].fd >= 0)
				ADD(ctl[i].fd, K_CTL, i, 0, 0);
		for (i = 0; i < f->parts; i++) {
			if (f->p[i].sock >= 0)
				ADD(f->p[i].sock, K_PEER, i, 0, 0);
			/* Also towards a partition that is gone: drop and count. */
			for (s = 0; s < f->parts; s++)
				for (v = 0; v < f->vectors; v++)
					if (f->p[i].proxy[s][v] >= 0)
						ADD(f->p[i].proxy[s][v], K_PROXY, i, s, v);
		}
#undef ADD
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fab_log("poll: %s", strerror(errno));
			return 1;
		}
		for (k = 0; k < n; k++) {
			struct slot *w = &what[k];

			if (!pfd[k].revents)
				continue;
			switch (w->kind) {
			case K_SIG: {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
					fab_log("signal %u: shutting down", si.ssi_signo);
					for (i = 0; i < FAB_MAX_CTL; i++)
						if (ctl[i].fd >= 0)
							close(ctl[i].fd);
					return 0;
				}
				break;
			}
			case K_LISTEN:
				fab_accept(f, lsock);
				break;
			case K_CTL_LISTEN: {
				int c = accept4(csock, NULL, NULL, SOCK_CLOEXEC);

				if (c < 0)
					break;
				for (i = 0; i < FAB_MAX_CTL && ctl[i].fd >= 0; i++)
					;
				if (i == FAB_MAX_CTL) {
					static const char busy[] = "error: too many control connections\n";

					if (write(c, busy, sizeof(busy) - 1) < 0)
						fab_log("control: reply lost");
					close(c);
					break;
				}
				ctl[i].fd = c;
				ctl[i].used = 0;
				break;
			}
			case K_CTL:
				if (ctl[w->a].fd >= 0)
					ctl_input(f, &ctl[w->a]);
				break;
			case K_PEER: {
				char junk[64];
				ssize_t got;

				/* Clients never send: readable means gone (or noise). */
				if (f->p[w->a].sock < 0)
					break;
				got = read(f->p[w->a].sock, junk, sizeof(junk));
				if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
					fab_disconnect(f, w->a, "connection closed");
				break;
			}
			case K_PROXY:
				/* Stale slot: the pair may have gone in this round. */
				if (f->p[w->a].proxy[w->b][w->v] == pfd[k].fd)
					fab_forward(f, w->a, w->b, w->v);
				break;
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, 0, 's' },
		{ "control", required_argument, 0, 'c' },
		{ "shm", required_argument, 0, 'm' },
		{ "shm-size", required_argument, 0, 'S' },
		{ "parts", required_argument, 0, 'p' },
		{ "vectors", required_argument, 0, 'v' },
		{ "ring-slots", required_argument, 0, 'r' },
		{ "pidfile", required_argument, 0, 'P' },
		{ "ctl", required_argument, 0, 'C' },
		{ "timeout", required_argument, 0, 't' },
		{ "announce-disconnects", no_argument, 0, 'A' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	const char *sock_path = NULL, *ctl_path = NULL, *shm = NULL, *pidfile = NULL,
		   *client = NULL;
	unsigned long long size = 4ull << 20, parts = 8, vectors = 2, slots = 64, tmo = 10000;
	static struct fabric f;
	sigset_t mask;
	int o, sigfd, lsock, csock, rc;

	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock_path = optarg; break;
		case 'c': ctl_path = optarg; break;
		case 'm': shm = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'C': client = optarg; break;
		case 'S': if (parse_size(optarg, &size)) goto bad; break;
		case 'p': if (parse_size(optarg, &parts)) goto bad; break;
		case 'v': if (parse_size(optarg, &vectors)) goto bad; break;
		case 'r': if (parse_size(optarg, &slots)) goto bad; break;
		case 't': if (parse_size(optarg, &tmo)) goto bad; break;
		case 'A': f.announce_disconnects = true; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (client) {
		if (optind >= argc)
			goto bad;
		return fab_ctl_client(client, argc - optind, argv + optind, (int)tmo);
	}
	if (!sock_path || !ctl_path || optind != argc)
		goto bad;
	if (parts < 2 || parts > FAB_MAX_PARTS || vectors < 1 || vectors > FAB_MAX_VECTORS) {
		fab_log("--parts must be 2..%d and --vectors 1..%d", FAB_MAX_PARTS, FAB_MAX_VECTORS);
		return 2;
	}
	/* QEMU maps the region as a PCI BAR: its size must be a power of two. */
	if (size < 4096 || (size & (size - 1))) {
		fab_log("--shm-size must be a power of two of at least 4096");
		return 2;
	}

	f.parts = (unsigned int)parts;
	f.vectors = (unsigned int)vectors;
	f.next_id = -1;
	fab_init_parts(&f);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	f.shm_fd = make_region(shm, size, f.parts, (unsigned int)slots);
	if (sigfd < 0 || f.shm_fd < 0)
		return 1;
	lsock = listen_on(sock_path);
	csock = lsock < 0 ? -1 : listen_on(ctl_path);
	if (csock < 0) {
		if (lsock >= 0)
			unlink(sock_path);
		if (shm)
			unlink(shm);
		return 1;
	}
	if (pidfile) {
		FILE *pf = fopen(pidfile, "w");

		if (!pf || fprintf(pf, "%d\n", (int)getpid()) < 0 || fclose(pf)) {
			fab_log("cannot write %s", pidfile);
			rc = 1;
			goto out;
		}
	}
	fab_log("listening on %s (control %s), %u ids, %u vectors, pid %d", sock_path,
		ctl_path, f.parts, f.vectors, (int)getpid());
	rc = run(&f, sigfd, lsock, csock);
	fab_close_all(&f);
out:
	close(lsock);
	close(csock);
	close(f.shm_fd);
	unlink(sock_path);
	unlink(ctl_path);
	if (shm)
		unlink(shm);
	if (pidfile)
		unlink(pidfile);
	fab_log("exit %d", rc);
	return rc;
bad:
	usage(stderr);
	return 2;
}
