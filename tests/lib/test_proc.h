// SPDX-License-Identifier: GPL-2.0-only
//
// test_proc.h - process and counter helpers shared by the programs that run in
// the lab VM (the kernel, fuzz and stress suites): bounded waits for
// children, how a child ended, the top of user space, the module's counters
// as text.  Every wait here has a deadline.
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
// For a freshly forked child: dies with its parent, no core dumps (expected
// SIGBUS/SIGSEGV deaths must not litter core files), alarm(timeout_s).
void child_setup(int timeout_s);
// waitpid() bounded by timeout_ms; on timeout the child is SIGKILLed,
// reaped, and -1 is returned.
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
