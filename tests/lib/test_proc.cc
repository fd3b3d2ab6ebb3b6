// SPDX-License-Identifier: GPL-2.0-only
//
// test_proc.cc - see test_proc.h.
#include "test_proc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace xt {

constexpr uint64_t kPage = 4096;

int64_t now_ms()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int time_scale()
{
	static int scale;

	if (!scale) {
		const char *v = getenv("XPMEM_TEST_TIME_SCALE");
		char *end;
		long n = 1;

		if (v && *v) {
			errno = 0;
			n = strtol(v, &end, 10);
			if (errno || *end || n < 1 || n > 1000) {
				fprintf(stderr, "XPMEM_TEST_TIME_SCALE='%s': not an "
					"integer from 1 to 1000\n", v);
				exit(2);
			}
		}
		scale = (int)n;
	}
	return scale;
}

static int clamp_int(int64_t v)
{
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

int scaled_ms(int64_t ms)
{
	return clamp_int(ms * time_scale());
}

int scaled_s(int64_t s)
{
	return clamp_int(s * time_scale());
}

void child_setup(int timeout_s)
{
	struct rlimit nocore = { 0, 0 };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setrlimit(RLIMIT_CORE, &nocore);
	alarm(timeout_s > 0 ? (unsigned)scaled_s(timeout_s) : 0);
}

int wait_pid(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_ms() + scaled_ms(timeout_ms);
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			break;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

std::string describe_status(int status)
{
	char buf[96];

	if (status == -1)
		return "timed out (killed by the test)";
	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status %#x", status);
	return buf;
}

bool exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

uint64_t user_top()
{
	static uint64_t top;

	if (!top) {
		// Addresses above 47 bits exist only with 5-level paging.
		void *hi = (void *)(1ULL << 50);
		void *p = mmap(hi, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			       MAP_FIXED_NOREPLACE, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, kPage);
		top = p == hi ? (1ULL << 56) - kPage : (1ULL << 47) - kPage;
	}
	return top;
}

std::string format_stats(const struct xpmem_stats &s)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "contexts=%llu segments=%llu permits=%llu attachments=%llu "
		 "pinned_pages=%llu faults=%llu pages_mapped=%llu pmds_mapped=%llu "
		 "fault_retries=%llu sigbus=%llu invalidations=%llu",
		 (unsigned long long)s.contexts, (unsigned long long)s.segments,
		 (unsigned long long)s.permits, (unsigned long long)s.attachments,
		 (unsigned long long)s.pinned_pages, (unsigned long long)s.faults,
		 (unsigned long long)s.pages_mapped,
		 (unsigned long long)s.pmds_mapped,
		 (unsigned long long)s.fault_retries,
		 (unsigned long long)s.sigbus,
		 (unsigned long long)s.invalidations);
	return buf;
}

}  // namespace xt
