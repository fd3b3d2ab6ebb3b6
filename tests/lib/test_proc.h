// SPDX-License-Identifier: GPL-2.0-only
//
// test_proc.h - process and counter helpers shared by the programs that run in
// the lab VM (the kernel, fuzz and stress suites): bounded waits for
// children, how a child ended, the top of user space, the module's counters
// as text.  Every wait here has a deadline, scaled by time_scale().
#ifndef XPMEM_TEST_PROC_H
#define XPMEM_TEST_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include <string>

extern "C" {
#include <xpmem_ioctl.h>
}

namespace xt {

// CLOCK_MONOTONIC in milliseconds.
int64_t now_ms();
// How many times longer than on the stock kernel a wait may take here:
// XPMEM_TEST_TIME_SCALE, which tests/run sets to XPMEM_DEBUG_TIME_SCALE (4)
// on the debug kernel (KASAN, lockdep and kmemleak make the same work many
// times slower); 1 when unset.  A value that is not an integer from 1 to
// 1000 ends the program with status 2: a typo must not pass as 1.
// Bounds on waits (for a child, a reply, counters, progress) are scaled by
// it; what a check asserts never is.
int time_scale();
// ms and s times time_scale(), clamped to what an int holds.
int scaled_ms(int64_t ms);
int scaled_s(int64_t s);
// For a freshly forked child: dies with its parent, no core dumps (expected
// SIGBUS/SIGSEGV deaths must not litter core files), alarm(timeout_s
// scaled; 0: none).
void child_setup(int timeout_s);
// waitpid() bounded by timeout_ms (scaled); on timeout the child is
// SIGKILLed, reaped, and -1 is returned.
int wait_pid(pid_t pid, int timeout_ms);
// "exited with N", "killed by signal N (name)", "timed out (killed)".
std::string describe_status(int status);
bool exited_ok(int status);
// The end of user space: 2^47 - 4096 with 4-level page tables, 2^56 - 4096
// with 5-level ones (QEMU's "max" CPU has LA57).  Probed, not assumed.
uint64_t user_top();
// XPMEM_IOC_STATS counters as "name=value ..." for failure messages.
std::string format_stats(const struct xpmem_stats &s);

}  // namespace xt

#endif
