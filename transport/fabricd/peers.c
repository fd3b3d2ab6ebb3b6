// SPDX-License-Identifier: GPL-2.0-only
/*
 * peers.c - fabricd's side of QEMU's ivshmem-doorbell protocol (docs/lab.md,
 * "fabricd").
 *
 * On accept, in this order, one sendmsg() per message: version 0; the new
 * client's id; -1 with the control region's fd; for every connected peer B
 * its id `vectors` times, each with the proxy eventfd (new -> B); the
 * client's own id `vectors` times with its real eventfds.  Then every peer B
 * that holds no proxies towards the newcomer yet hears of it: the
 * newcomer's id `vectors` times with the proxy eventfds (B -> new).
 *
 * Disconnects are NOT announced by default (--announce-disconnects does):
 * QEMU 7.2 frees a peer's eventfd array when it hears of the disconnect and
 * writes into the freed array when the same id connects again (heap
 * corruption, QEMU aborts).  So the peers keep their proxies towards a
 * partition that went away; fabricd drops (and counts) what they ring while
 * it is gone and forwards to its new eventfds once it is back.  The guests
 * cannot see announcements anyway: liveness comes from heartbeats.
 *
 * Ids: the lowest free id, unless the control socket named the next one
 * (`next ID`); the lab names it before starting each partition's QEMU, so a
 * restarted partition gets its old id back whatever the order of restarts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabricd.h"

void fab_init_parts(struct fabric *f)
{
	unsigned int i, s, v;

	for (i = 0; i < FAB_MAX_PARTS; i++) {
		struct fab_part *p = &f->p[i];

		memset(p, 0, sizeof(*p));
		p->sock = -1;
		for (v = 0; v < FAB_MAX_VECTORS; v++) {
			p->real[v] = -1;
			for (s = 0; s < FAB_MAX_PARTS; s++)
				p->proxy[s][v] = -1;
		}
	}
}

/* One protocol message: a little-endian int64, optionally with one fd. */
static int send_msg(int sock, int64_t val, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int64_t le = (int64_t)htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* Non-blocking: a stopped QEMU must not stall the whole fabric. */
	do
		n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(le) ? 0 : -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int new_efd(void)
{
	return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* Proxies for the pair src -> dst (dst's doorbells as src sees them). */
static int make_proxies(struct fabric *f, unsigned int dst, unsigned int src)
{
	unsigned int v;

	for (v = 0; v < f->vectors; v++)
		if ((f->p[dst].proxy[src][v] = new_efd()) < 0)
			return -1;
	return 0;
}

static int pick_id(struct fabric *f)
{
	unsigned int i;
	int want = f->next_id;

	f->next_id = -1;
	if (want >= 0 && (unsigned int)want < f->parts && f->p[want].sock < 0)
		return want;
	if (want >= 0)
		fab_log("next id %d is taken or out of range: using the lowest free id", want);
	for (i = 0; i < f->parts; i++)
		if (f->p[i].sock < 0)
			return (int)i;
	return -1;
}

void fab_accept(struct fabric *f, int lsock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned int b, v;
	struct fab_part *p;
	int sock, id;

	sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		fab_log("accept: %s", strerror(errno));
		return;
	}
	id = pick_id(f);
	if (id < 0) {
		fab_log("refused a connection: all %u ids are in use", f->parts);
		close(sock);
		return;
	}
	p = &f->p[id];
	p->sock = sock;
	p->pid = getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) ? 0 : cred.pid;
	p->connects++;
	for (v = 0; v < f->vectors; v++)
		if ((p->real[v] = new_efd()) < 0)
			goto fail;
	for (b = 0; b < f->parts; b++) {
		if (b == (unsigned int)id || f->p[b].sock < 0)
			continue;
		if (make_proxies(f, b, id))
			goto fail;
	}

	if (send_msg(sock, 0, -1) || send_msg(sock, id, -1) || send_msg(sock, -1, f->shm_fd))
		goto fail;
	for (b = 0; b < f->parts; b++) {
		if (b == (unsigned int)id || f->p[b].sock < 0)
			continue;
		for (v = 0; v < f->vectors; v++)
			if (send_msg(sock, b, f->p[b].proxy[id][v]))
				goto fail;
	}
	for (v = 0; v < f->vectors; v++)
		if (send_msg(sock, id, p->real[v]))
			goto fail;
	fab_log("connect id %d pid %d (connection %llu)", id, (int)p->pid,
		(unsigned long long)p->connects);

	for (b = 0; b < f->parts; b++) {
		if (b == (unsigned int)id || f->p[b].sock < 0 || p->proxy[b][0] >= 0)
			continue;	/* B still holds its proxies from before */
		if (make_proxies(f, id, b)) {
			fab_log("no eventfds for %u -> %d: %s", b, id, strerror(errno));
			fab_disconnect(f, b, "out of eventfds");
			continue;
		}
		for (v = 0; v < f->vectors; v++)
			if (send_msg(f->p[b].sock, id, p->proxy[b][v])) {
				fab_log("announce %d to %u failed: %s", id, b, strerror(errno));
				fab_disconnect(f, b, "announcement failed");
				break;
			}
	}
	return;
fail:
	fab_log("setup of id %d failed: %s", id, strerror(errno));
	fab_disconnect(f, (unsigned int)id, "setup failed");
}

/*
 * Closes id's socket and eventfds: its real ones and the proxies its QEMU
 * held (id -> B).  The proxies its peers hold (B -> id) stay, unless
 * disconnects are announced (see the top of this file).
 */
void fab_disconnect(struct fabric *f, unsigned int id, const char *why)
{
	struct fab_part *p = &f->p[id];
	unsigned int b, v;

	if (p->sock < 0)
		return;
	close_fd(&p->sock);
	for (v = 0; v < FAB_MAX_VECTORS; v++) {
		close_fd(&p->real[v]);
		for (b = 0; b < FAB_MAX_PARTS; b++) {
			close_fd(&f->p[b].proxy[id][v]);
			if (f->announce_disconnects)
				close_fd(&p->proxy[b][v]);
		}
	}
	fab_log("disconnect id %u pid %d: %s", id, (int)p->pid, why);
	p->pid = 0;
	if (!f->announce_disconnects)
		return;
	for (b = 0; b < f->parts; b++)
		if (f->p[b].sock >= 0 && send_msg(f->p[b].sock, id, -1))
			fab_log("announcing the disconnect of %u to %u failed: %s", id, b,
				strerror(errno));
}

/* src rang dst's vector v (its proxy eventfd was readable). */
void fab_forward(struct fabric *f, unsigned int dst, unsigned int src, unsigned int v)
{
	struct fab_part *d = &f->p[dst];
	uint64_t cnt, one = 1;

	if (read(d->proxy[src][v], &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	f->p[src].rung_by += cnt;
	if (d->drop_to || f->p[src].drop_from) {
		d->dropped += cnt;
		if (f->p[src].drop_from)
			f->p[src].dropped += cnt;
		fab_log("dropped %llu doorbell(s) %u -> %u vector %u",
			(unsigned long long)cnt, src, dst, v);
		return;
	}
	/* The count collapses to one: a doorbell is a hint, not a tally. */
	if (d->real[v] >= 0 && write(d->real[v], &one, sizeof(one)) == sizeof(one))
		d->delivered += cnt;
	else
		d->dropped += cnt;	/* dst is gone: nobody to wake */
}

void fab_close_all(struct fabric *f)
{
	unsigned int i, b, v;

	for (i = 0; i < f->parts; i++)
		fab_disconnect(f, i, "fabricd exiting");
	for (i = 0; i < FAB_MAX_PARTS; i++)
		for (b = 0; b < FAB_MAX_PARTS; b++)
			for (v = 0; v < FAB_MAX_VECTORS; v++)
				close_fd(&f->p[i].proxy[b][v]);
}
