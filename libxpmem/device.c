// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * device.c - the one descriptor of /dev/xpmem that the library owns.
 *
 * The device is opened lazily, by the first call that needs it, so that a
 * program linked with libxpmem but never using it does not create a kernel
 * context.  Opening happens under a mutex so that threads racing on the
 * first call open it once.  After that, callers read the descriptor without
 * locking.
 *
 * A forked child inherits the descriptor but not its parent's context: the
 * kernel answers XPMEM_ERRNO_NOPROC.  The library then opens the device again
 * and moves the new file onto the same descriptor number with dup3(), so
 * that a concurrent caller still holding the number uses either the old or
 * the new file, never an unrelated one that reused the number.  A generation
 * counter makes threads that failed on the same old file reopen it once
 * between them.
 *
 * The mutex is held across fork() (pthread_atfork) so that a child never
 * inherits it locked by a thread that does not exist in the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xpmem.h"
#include "xpmem_internal.h"

#define DEFAULT_DEVICE "/dev/xpmem"

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int dev_fd = -1;
/* Bumped (under dev_lock) each time a new file is installed on dev_fd. */
static atomic_uint dev_gen;

static void lock_before_fork(void)
{
	pthread_mutex_lock(&dev_lock);
}

static void unlock_after_fork(void)
{
	pthread_mutex_unlock(&dev_lock);
}

/* Registering handlers opens nothing, so laziness is kept.  glibc drops them
 * again if the library is unloaded. */
__attribute__((constructor)) static void register_fork_handlers(void)
{
	pthread_atfork(lock_before_fork, unlock_after_fork, unlock_after_fork);
}

/* XPMEM_DEVICE overrides the path (tests point it at a fake device).  Ignored
 * in set-user-id programs: they must not be steered to another file. */
static const char *device_path(void)
{
	const char *path = secure_getenv("XPMEM_DEVICE");

	return path && *path ? path : DEFAULT_DEVICE;
}

static int open_device(void)
{
	return open(device_path(), O_RDWR | O_CLOEXEC);
}

/* The descriptor, opened if needed, and the generation it was read in. */
static int dev_get(unsigned int *gen)
{
	int fd, err = 0;

	*gen = atomic_load_explicit(&dev_gen, memory_order_acquire);
	fd = atomic_load_explicit(&dev_fd, memory_order_acquire);
	if (fd >= 0)
		return fd;

	pthread_mutex_lock(&dev_lock);
	fd = atomic_load_explicit(&dev_fd, memory_order_relaxed);
	if (fd < 0) {
		/* A failed open is not remembered: the next call tries again. */
		fd = open_device();
		if (fd >= 0)
			atomic_store_explicit(&dev_fd, fd, memory_order_release);
		else
			err = errno;
	}
	*gen = atomic_load_explicit(&dev_gen, memory_order_relaxed);
	pthread_mutex_unlock(&dev_lock);
	if (fd < 0)
		errno = err;
	return fd;
}

/* Install a fresh file on the descriptor unless another thread already did
 * since generation seen_gen.  0, or -1 with errno set. */
static int dev_reopen(unsigned int seen_gen)
{
	int fd, nfd, ret = 0, err = 0;

	pthread_mutex_lock(&dev_lock);
	if (atomic_load_explicit(&dev_gen, memory_order_relaxed) != seen_gen)
		goto out_unlock;

	nfd = open_device();
	if (nfd < 0) {
		err = errno;
		ret = -1;
		goto out_unlock;
	}
	fd = atomic_load_explicit(&dev_fd, memory_order_relaxed);
	if (dup3(nfd, fd, O_CLOEXEC) < 0) {
		err = errno;
		ret = -1;
	} else {
		atomic_store_explicit(&dev_gen, seen_gen + 1,
				      memory_order_release);
	}
	close(nfd);
out_unlock:
	pthread_mutex_unlock(&dev_lock);
	if (ret < 0)
		errno = err;
	return ret;
}

int xpmem_dev_open(void)
{
	unsigned int gen;

	return dev_get(&gen) < 0 ? -1 : 0;
}

int xpmem_dev_ioctl(unsigned int cmd, void *arg, int32_t *fd_field)
{
	int attempt, fd, ret = -1;
	unsigned int gen;

	for (attempt = 0; attempt < 2; attempt++) {
		fd = dev_get(&gen);
		if (fd < 0)
			return -1;
		if (fd_field)
			*fd_field = fd;
		ret = ioctl(fd, (unsigned long)cmd, arg);
		if (ret >= 0 || errno != XPMEM_ERRNO_NOPROC || attempt > 0)
			break;
		if (dev_reopen(gen) < 0)
			return -1;
	}
	return ret;
}

XPMEM_EXPORT int xpmem_init(void)
{
	return xpmem_dev_open();
}

/* cmd is an int for compatibility; ioctl numbers are 32-bit unsigned, so go
 * through unsigned int to keep sized numbers (bit 31 set) from being sign
 * extended. */
XPMEM_EXPORT int xpmem_ioctl(int cmd, void *arg)
{
	return xpmem_dev_ioctl((unsigned int)cmd, arg, NULL);
}
