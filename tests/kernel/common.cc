// SPDX-License-Identifier: GPL-2.0-only
//
// common.cc - device access, patterns, bounded process helpers and the
// counter-checking fixture shared by every kernel test.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace xk {

int dev()
{
	static int fd = -2;

	if (fd == -2)
		fd = open(kDevPath, O_RDWR | O_CLOEXEC);
	return fd;
}

long raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

bool read_stats(struct xpmem_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	if (dev() < 0)
		return false;
	return ioctl(dev(), XPMEM_IOC_STATS, out) == 0;
}

void put_u64(unsigned char *buf, size_t off, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		buf[off + i] = (unsigned char)(v >> (8 * i));
}

void put_u32(unsigned char *buf, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		buf[off + i] = (unsigned char)(v >> (8 * i));
}

uint64_t get_u64(const unsigned char *buf, size_t off)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | buf[off + i];
	return v;
}

static const size_t kSparseWords[] = { 0, 257, kWordsPerPage - 1 };

void fill_pages(void *p, size_t npages, uint64_t seed, bool sparse)
{
	volatile uint64_t *w = (volatile uint64_t *)p;

	for (size_t pg = 0; pg < npages; pg++, w += kWordsPerPage) {
		if (sparse) {
			for (size_t i : kSparseWords)
				w[i] = pattern(seed, pg, i);
		} else {
			for (size_t i = 0; i < kWordsPerPage; i++)
				w[i] = pattern(seed, pg, i);
		}
	}
}

int64_t check_pages_from(const void *p, size_t page0, size_t npages,
			 uint64_t seed, bool sparse, uint64_t *found)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;

	for (size_t i = 0; i < npages; i++, w += kWordsPerPage) {
		uint64_t pg = page0 + i;
		if (sparse) {
			for (size_t j : kSparseWords) {
				uint64_t v = w[j];
				if (v != pattern(seed, pg, j)) {
					if (found)
						*found = v;
					return (int64_t)(i * kWordsPerPage + j);
				}
			}
			continue;
		}
		for (size_t j = 0; j < kWordsPerPage; j++) {
			uint64_t v = w[j];
			if (v != pattern(seed, pg, j)) {
				if (found)
					*found = v;
				return (int64_t)(i * kWordsPerPage + j);
			}
		}
	}
	return -1;
}

int64_t check_pages(const void *p, size_t npages, uint64_t seed, bool sparse,
		    uint64_t *found)
{
	return check_pages_from(p, 0, npages, seed, sparse, found);
}

std::string describe_mismatch(int64_t idx, uint64_t seed, uint64_t found,
			      size_t page0)
{
	char buf[200];
	uint64_t pg = (uint64_t)idx / kWordsPerPage, w = (uint64_t)idx % kWordsPerPage;

	snprintf(buf, sizeof(buf),
		 "page %llu word %llu: expected %#llx, found %#llx",
		 (unsigned long long)pg, (unsigned long long)w,
		 (unsigned long long)pattern(seed, page0 + pg, w),
		 (unsigned long long)found);
	return buf;
}

void fill_word(void *p, size_t npages, size_t word, uint64_t seed)
{
	volatile uint64_t *w = (volatile uint64_t *)p;

	for (size_t pg = 0; pg < npages; pg++)
		w[pg * kWordsPerPage + word] = pattern(seed, pg, word);
}

int64_t check_word(const void *p, size_t npages, size_t word, uint64_t seed,
		   uint64_t *found)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;

	for (size_t pg = 0; pg < npages; pg++) {
		uint64_t v = w[pg * kWordsPerPage + word];
		if (v != pattern(seed, pg, word)) {
			if (found)
				*found = v;
			return (int64_t)(pg * kWordsPerPage + word);
		}
	}
	return -1;
}

uintptr_t free_range(size_t len, size_t align)
{
	void *p = mmap(nullptr, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	munmap(p, len + align);
	return a;
}

void *map_anon(size_t len, uintptr_t fixed)
{
	return mmap((void *)fixed, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
}

Mapping::Mapping(size_t l, uintptr_t fixed) : len(l)
{
	addr = map_anon(l, fixed);
}

Mapping::~Mapping()
{
	if (addr != MAP_FAILED)
		munmap(addr, len);
}

bool killed_by(int status, int sig)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

pid_t spawn(const std::function<int()> &fn, int timeout_s)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(timeout_s);
		_exit(fn());
	}
	return pid;
}

int run_child(const std::function<int()> &fn, int timeout_s)
{
	pid_t pid = spawn(fn, timeout_s);

	if (pid < 0)
		return -1;
	return wait_pid(pid, (timeout_s + 5) * 1000);
}

void child_fail(const char *file, int line, const char *what)
{
	int e = errno;

	fprintf(stderr, "[child %d] %s:%d: check failed: %s (errno %d: %s)\n",
		getpid(), file, line, what, e, strerror(e));
	_exit(1);
}

bool wait_stats(const std::function<bool(const struct xpmem_stats &)> &pred,
		int timeout_ms, struct xpmem_stats *last)
{
	int64_t deadline = now_ms() + scaled_ms(timeout_ms);

	for (;;) {
		bool ok = read_stats(last);
		if (ok && pred(*last))
			return true;
		if (now_ms() >= deadline)
			return false;
		usleep(10000);
	}
}

void KernelTest::SetUp()
{
	ASSERT_EQ(access(kDevPath, F_OK), 0)
		<< kDevPath << " does not exist: these tests need xpmem.ko "
		   "loaded (run them inside the lab VM: tests/run --suite kernel)";
	ASSERT_GE(dev(), 0) << "open " << kDevPath << ": " << strerror(errno);
	ASSERT_TRUE(read_stats(&base_))
		<< "XPMEM_IOC_STATS: " << strerror(errno);
	have_base_ = true;
}

void KernelTest::TearDown()
{
	if (!have_base_)
		return;
	const struct xpmem_stats b = base_;
	struct xpmem_stats now = {};
	// Our own process may have gained a context during the test (it keeps
	// it until exit); everything else must be back where it was.
	bool back = wait_stats([&](const struct xpmem_stats &s) {
		return s.segments == b.segments && s.permits == b.permits &&
		       s.attachments == b.attachments && s.pinned_pages == 0 &&
		       s.contexts <= b.contexts + 1;
	}, 3000, &now);
	EXPECT_TRUE(back) << "xpmem objects left behind after the test:\n"
			  << "  at SetUp: " << format_stats(b) << "\n"
			  << "  now:      " << format_stats(now);
}

}  // namespace xk
