/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fakedev.h - a fake /dev/xpmem for host tests of libxpmem.
 *
 * libxpmem_fake.so interposes open/openat (and their 64-bit and fortified
 * variants), ioctl, close, dup2 and dup3.  Opens of the armed path are
 * recorded and answered with a descriptor of /dev/null opened with the
 * caller's flags; every ioctl on such a descriptor is recorded (request,
 * descriptor, argument bytes) and answered by a handler the test installs.
 * Everything else goes to the C library untouched.
 *
 * Each open of the fake path is an "instance" numbered from 1, so a test can
 * tell which open a later ioctl went to, also across dup2/dup3.
 */
#ifndef FAKEDEV_H
#define FAKEDEV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FAKEDEV_ARG_MAX 128

struct fakedev_call {
	unsigned long request;
	int fd;
	int instance;		/* which open of the fake path fd refers to */
	void *argp;		/* the pointer the caller passed */
	size_t len;		/* argument bytes recorded from argp */
	unsigned char arg[FAKEDEV_ARG_MAX];
};

/* Answers one ioctl: its return value, with errno set when it returns -1.
 * arg is the caller's live argument (NULL when len is 0), for outputs. */
typedef int (*fakedev_handler)(const struct fakedev_call *call, void *arg,
			       void *ctx);

/* Start intercepting path with fresh records, no handler (every ioctl then
 * returns 0), no delays and no injected failures. */
void fakedev_arm(const char *path);
/* Stop intercepting; close every descriptor still on the fake device. */
void fakedev_disarm(void);

void fakedev_set_handler(fakedev_handler handler, void *ctx);
/* Make each open of the fake path sleep first (to widen races). */
void fakedev_set_open_delay_ms(unsigned int ms);
/* Make the next count opens of the fake path fail with err. */
void fakedev_fail_opens(int count, int err);

int fakedev_open_count(void);
/* Flags and resulting descriptor of the i-th open (0-based). */
int fakedev_open_flags(int i);
int fakedev_open_fd(int i);
/* Descriptors that currently refer to the fake device. */
int fakedev_live_fds(void);
/* Instance fd refers to, 0 if it is not on the fake device. */
int fakedev_instance_of(int fd);

int fakedev_call_count(void);
/* Copy of the i-th recorded ioctl (0-based); 0, or -1 if out of range. */
int fakedev_get_call(int i, struct fakedev_call *out);

#ifdef __cplusplus
}
#endif

#endif /* FAKEDEV_H */
