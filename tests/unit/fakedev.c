// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fakedev.c - see fakedev.h.
 *
 * The test executable links this library ahead of the C library, so the
 * dynamic linker resolves libxpmem's open/ioctl/close/dup3 here; the real
 * functions are found with dlsym(RTLD_NEXT).  A single mutex guards all
 * state; handlers and open delays run outside it so that tests can make
 * threads overlap inside the "kernel".
 */
#define _GNU_SOURCE
/* Define open() itself, not the open64 alias that large-file mode names. */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fakedev.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_FDS 4096
#define MAX_OPENS 256
#define MAX_CALLS 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int armed;
static char fake_path[4096];
static fakedev_handler handler;
static void *handler_ctx;
static unsigned int open_delay_ms;
static int fail_count, fail_errno;
static int opens;
static int open_flags[MAX_OPENS], open_fds[MAX_OPENS];
static int instance[MAX_FDS];	/* fd -> instance, 0: not ours */
static int ncalls;
static struct fakedev_call calls[MAX_CALLS];

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*close_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);

static void *real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();
	return fn;
}

#define REAL(type, name) ((type)real(#name))

static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static int is_fake(const char *path)
{
	int ret;

	pthread_mutex_lock(&lock);
	ret = armed && path && strcmp(path, fake_path) == 0;
	pthread_mutex_unlock(&lock);
	return ret;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An open of the fake path: record it, then maybe fail, else give out a
 * descriptor of /dev/null with the caller's flags (so O_CLOEXEC is real). */
static int fake_open(int flags)
{
	unsigned int delay;
	int fd, slot, err = 0;

	pthread_mutex_lock(&lock);
	slot = opens++;
	if (slot < MAX_OPENS)
		open_flags[slot] = flags;
	delay = open_delay_ms;
	if (fail_count > 0) {
		fail_count--;
		err = fail_errno;
	}
	pthread_mutex_unlock(&lock);

	if (delay)
		sleep_ms(delay);
	if (err) {
		errno = err;
		fd = -1;
	} else {
		fd = REAL(open_fn, open)("/dev/null",
					 flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	}

	pthread_mutex_lock(&lock);
	if (slot < MAX_OPENS)
		open_fds[slot] = fd;
	if (fd >= 0 && fd < MAX_FDS)
		instance[fd] = slot + 1;
	pthread_mutex_unlock(&lock);
	if (fd < 0 && err)
		errno = err;
	return fd;
}

#define OPEN_BODY(real_call)						\
	mode_t mode = 0;						\
	if (needs_mode(flags)) {					\
		va_list ap;						\
		va_start(ap, flags);					\
		mode = (mode_t)va_arg(ap, int);				\
		va_end(ap);						\
	}								\
	if (is_fake(path))						\
		return fake_open(flags);				\
	return real_call

EXPORT int open(const char *path, int flags, ...)
{
	OPEN_BODY(REAL(open_fn, open)(path, flags, mode));
}

EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_BODY(REAL(open_fn, open64)(path, flags, mode));
}

/* Fortified callers pass no mode. */
EXPORT int __open_2(const char *path, int flags)
{
	if (is_fake(path))
		return fake_open(flags);
	return REAL(open_fn, __open_2)(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	if (is_fake(path))
		return fake_open(flags);
	return REAL(open_fn, __open64_2)(path, flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(REAL(openat_fn, openat)(dirfd, path, flags, mode));
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(REAL(openat_fn, openat64)(dirfd, path, flags, mode));
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (is_fake(path))
		return fake_open(flags);
	return REAL(openat_fn, __openat_2)(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	if (is_fake(path))
		return fake_open(flags);
	return REAL(openat_fn, __openat64_2)(dirfd, path, flags);
}

static int instance_locked(int fd)
{
	return fd >= 0 && fd < MAX_FDS ? instance[fd] : 0;
}

/* Bytes each upstream command reads (docs/abi.md), else the size encoded
 * in a sized request. */
static size_t arg_len(unsigned long request)
{
	switch (request) {
	case 0x7800: case 0x7807: case 0x7808:
		return 0;
	case 0x7801: case 0x7805:
		return 40;
	case 0x7803:
		return 32;
	case 0x7802: case 0x7804: case 0x7806:
		return 8;
	default:
		return _IOC_DIR(request) == _IOC_NONE ? 0 : _IOC_SIZE(request);
	}
}

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct fakedev_call call;
	fakedev_handler h;
	va_list ap;
	void *arg;
	void *ctx;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	pthread_mutex_lock(&lock);
	call.instance = instance_locked(fd);
	h = handler;
	ctx = handler_ctx;
	pthread_mutex_unlock(&lock);
	if (!call.instance)
		return REAL(ioctl_fn, ioctl)(fd, request, arg);

	call.request = request;
	call.fd = fd;
	call.argp = arg;
	call.len = arg ? arg_len(request) : 0;
	if (call.len > FAKEDEV_ARG_MAX)
		call.len = FAKEDEV_ARG_MAX;
	memset(call.arg, 0, sizeof(call.arg));
	if (call.len)
		memcpy(call.arg, arg, call.len);

	pthread_mutex_lock(&lock);
	if (ncalls < MAX_CALLS)
		calls[ncalls] = call;
	ncalls++;
	pthread_mutex_unlock(&lock);

	return h ? h(&call, call.len ? arg : NULL, ctx) : 0;
}

EXPORT int close(int fd)
{
	pthread_mutex_lock(&lock);
	if (instance_locked(fd))
		instance[fd] = 0;
	pthread_mutex_unlock(&lock);
	return REAL(close_fn, close)(fd);
}

/* After a successful dup, newfd refers to whatever oldfd refers to. */
static void track_dup(int oldfd, int newfd)
{
	pthread_mutex_lock(&lock);
	if (newfd >= 0 && newfd < MAX_FDS)
		instance[newfd] = instance_locked(oldfd);
	pthread_mutex_unlock(&lock);
}

EXPORT int dup2(int oldfd, int newfd)
{
	int ret = REAL(dup2_fn, dup2)(oldfd, newfd);

	if (ret >= 0)
		track_dup(oldfd, ret);
	return ret;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int ret = REAL(dup3_fn, dup3)(oldfd, newfd, flags);

	if (ret >= 0)
		track_dup(oldfd, ret);
	return ret;
}

EXPORT void fakedev_arm(const char *path)
{
	pthread_mutex_lock(&lock);
	strncpy(fake_path, path, sizeof(fake_path) - 1);
	fake_path[sizeof(fake_path) - 1] = '\0';
	armed = 1;
	handler = NULL;
	handler_ctx = NULL;
	open_delay_ms = 0;
	fail_count = 0;
	fail_errno = 0;
	opens = 0;
	ncalls = 0;
	pthread_mutex_unlock(&lock);
}

EXPORT void fakedev_disarm(void)
{
	int fd;

	pthread_mutex_lock(&lock);
	armed = 0;
	handler = NULL;
	for (fd = 0; fd < MAX_FDS; fd++) {
		if (instance[fd]) {
			instance[fd] = 0;
			REAL(close_fn, close)(fd);
		}
	}
	pthread_mutex_unlock(&lock);
}

EXPORT void fakedev_set_handler(fakedev_handler h, void *ctx)
{
	pthread_mutex_lock(&lock);
	handler = h;
	handler_ctx = ctx;
	pthread_mutex_unlock(&lock);
}

EXPORT void fakedev_set_open_delay_ms(unsigned int ms)
{
	pthread_mutex_lock(&lock);
	open_delay_ms = ms;
	pthread_mutex_unlock(&lock);
}

EXPORT void fakedev_fail_opens(int count, int err)
{
	pthread_mutex_lock(&lock);
	fail_count = count;
	fail_errno = err;
	pthread_mutex_unlock(&lock);
}

EXPORT int fakedev_open_count(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = opens;
	pthread_mutex_unlock(&lock);
	return n;
}

EXPORT int fakedev_open_flags(int i)
{
	int flags = -1;

	pthread_mutex_lock(&lock);
	if (i >= 0 && i < opens && i < MAX_OPENS)
		flags = open_flags[i];
	pthread_mutex_unlock(&lock);
	return flags;
}

EXPORT int fakedev_open_fd(int i)
{
	int fd = -1;

	pthread_mutex_lock(&lock);
	if (i >= 0 && i < opens && i < MAX_OPENS)
		fd = open_fds[i];
	pthread_mutex_unlock(&lock);
	return fd;
}

EXPORT int fakedev_live_fds(void)
{
	int fd, n = 0;

	pthread_mutex_lock(&lock);
	for (fd = 0; fd < MAX_FDS; fd++)
		n += instance[fd] != 0;
	pthread_mutex_unlock(&lock);
	return n;
}

EXPORT int fakedev_instance_of(int fd)
{
	int n;

	pthread_mutex_lock(&lock);
	n = instance_locked(fd);
	pthread_mutex_unlock(&lock);
	return n;
}

EXPORT int fakedev_call_count(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = ncalls;
	pthread_mutex_unlock(&lock);
	return n;
}

EXPORT int fakedev_get_call(int i, struct fakedev_call *out)
{
	int ret = -1;

	pthread_mutex_lock(&lock);
	if (i >= 0 && i < ncalls && i < MAX_CALLS) {
		*out = calls[i];
		ret = 0;
	}
	pthread_mutex_unlock(&lock);
	return ret;
}
