// SPDX-License-Identifier: LGPL-2.1-or-later
/* doorbell_host.c - eventfd and futex doorbells (see doorbell_host.h). */
#define _GNU_SOURCE
#include "doorbell_host.h"

#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static int efd_ring(void *ctx, u32 peer, u32 vector)
{
	struct xp_efd_doorbell *d = ctx;
	u64 one = 1;

	(void)vector;
	if (peer >= d->nparts || d->fds[peer] < 0)
		return -EINVAL;
	/* EAGAIN means the counter is saturated: already rung. */
	if (write(d->fds[peer], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int ms_until(u64 deadline_ns)
{
	u64 now = xp_clock_ns();
	u64 ms;

	if (now >= deadline_ns)
		return 0;
	ms = (deadline_ns - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int efd_wait(void *ctx, u64 deadline_ns)
{
	struct xp_efd_doorbell *d = ctx;
	struct pollfd pfd = { .fd = d->fds[d->self], .events = POLLIN };
	u64 v;

	for (;;) {
		if (read(pfd.fd, &v, sizeof(v)) == sizeof(v))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, ms_until(deadline_ns)) < 0)
			return -errno;
		if (!(pfd.revents & POLLIN) && xp_clock_ns() >= deadline_ns)
			return -ETIMEDOUT;
	}
}

const struct xp_doorbell_ops xp_efd_doorbell_ops = {
	.ring = efd_ring,
	.wait = efd_wait,
};

int xp_efd_doorbell_create(struct xp_efd_doorbell *d, u32 nparts)
{
	u32 p;

	if (nparts > XP_MAX_PARTS)
		return -EINVAL;
	d->nparts = nparts;
	for (p = 0; p < XP_MAX_PARTS; p++)
		d->fds[p] = -1;
	for (p = 0; p < nparts; p++) {
		d->fds[p] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->fds[p] < 0) {
			int err = -errno;

			xp_efd_doorbell_close(d);
			return err;
		}
	}
	return 0;
}

void xp_efd_doorbell_close(struct xp_efd_doorbell *d)
{
	u32 p;

	for (p = 0; p < d->nparts; p++) {
		if (d->fds[p] >= 0)
			close(d->fds[p]);
		d->fds[p] = -1;
	}
}

static long futex(u32 *uaddr, int op, u32 val, const struct timespec *ts)
{
	/* Shared futexes: the words live in a MAP_SHARED region. */
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static int futex_ring(void *ctx, u32 peer, u32 vector)
{
	struct xp_futex_doorbell *d = ctx;

	(void)vector;
	if (peer >= d->nparts)
		return -EINVAL;
	__atomic_fetch_add(&d->words[peer], 1, __ATOMIC_RELEASE);
	if (futex(&d->words[peer], FUTEX_WAKE, INT_MAX, NULL) < 0)
		return -errno;
	return 0;
}

static int futex_wait(void *ctx, u64 deadline_ns)
{
	struct xp_futex_doorbell *d = ctx;
	u32 *w = &d->words[d->self];

	for (;;) {
		u32 v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
		u64 now = xp_clock_ns(), left;
		struct timespec ts;

		if (v != d->seen) {
			d->seen = v;
			return 0;
		}
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		left = deadline_ns - now;
		ts.tv_sec = (time_t)(left / 1000000000u);
		ts.tv_nsec = (long)(left % 1000000000u);
		/* Sleeps only if the word still holds v: no lost ring. */
		if (futex(w, FUTEX_WAIT, v, &ts) < 0 && errno != EAGAIN &&
		    errno != ETIMEDOUT && errno != EINTR)
			return -errno;
	}
}

const struct xp_doorbell_ops xp_futex_doorbell_ops = {
	.ring = futex_ring,
	.wait = futex_wait,
};
