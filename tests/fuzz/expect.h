// SPDX-License-Identifier: GPL-2.0-only
//
// expect.h - what an ioctl may return, and the accounting of every call.
//
// Each call the fuzzer makes is classified (which command) and its result
// mapped to an Outcome.  The caller states which outcomes are acceptable for
// that call (an Allowed mask); anything else, including a success that
// should have been a failure, is recorded as a test failure with the call's
// arguments.  The masks are built from the ABI (docs/abi.md):
// e.g. an unaligned MAKE must be EINVAL, a foreign id is EPERM or ENOENT,
// a forked child on its parent's descriptor gets XPMEM_ERRNO_NOPROC.
#ifndef XPMEM_FUZZ_EXPECT_H
#define XPMEM_FUZZ_EXPECT_H

#include <stdint.h>

namespace xf {

enum Outcome : unsigned {
	O_OK,
	O_EINVAL,
	O_ENOENT,
	O_EACCES,
	O_EPERM,
	O_EFAULT,
	O_ENOMEM,
	O_ENOTTY,
	O_NOPROC,
	O_EINTR,
	O_OTHER,
	kOutcomes
};

enum CmdClass : unsigned {
	C_VERSION,
	C_MAKE,
	C_REMOVE,
	C_GET,
	C_RELEASE,
	C_ATTACH,
	C_DETACH,
	C_FORK_BEGIN,
	C_FORK_END,
	C_STATS,
	C_UNKNOWN,
	kCmdClasses
};

// Things the fuzzer did besides ioctls, counted for the summary.
enum EventKind : unsigned {
	E_TOUCH,		// guarded accesses to attachments
	E_TOUCH_SIGBUS,
	E_TOUCH_SIGSEGV,
	E_FORK_INHERIT,		// children checking the parent's descriptor
	E_FORK_WORKER,		// children doing their own work
	E_EXPORTER_EXIT,	// exporters that exited under an attacher
	E_RACE,			// region churn raced against a touching child
	E_CHURN,		// munmap/mremap/mprotect of exported regions
	E_ATT_VMA,		// munmap/mremap/mprotect of attachments
	E_TEARDOWN,		// descriptors closed with objects alive
	E_UNPRIV,		// children that dropped root
	kEventKinds
};

// What a worker's step was, for the time accounting.
enum Activity : unsigned { T_RANDOM, T_STRUCTURED, T_CHURN, T_EVENT, kActivities };
const char *activity_name(Activity a);

typedef unsigned Allowed;
constexpr Allowed A(Outcome o) { return 1u << o; }
constexpr Allowed A_NONE = 0;
// An id that names no live object of the caller: never success.  Ids are
// positive; zero and negative ones are malformed (EINVAL) as well.
constexpr Allowed bad_id(int64_t id)
{
	return A(O_ENOENT) | A(O_EPERM) | (id <= 0 ? A(O_EINVAL) : 0);
}

Outcome outcome_of(long ret);
const char *outcome_name(Outcome o);
const char *cmd_name(CmdClass c);
const char *event_name(EventKind e);
CmdClass classify(unsigned long cmd);

}  // namespace xf

#endif
