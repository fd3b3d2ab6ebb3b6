// SPDX-License-Identifier: GPL-2.0-only
//
// expect.cc - outcome and command names, classification of command numbers.
#include "expect.h"

#include <errno.h>
#include <linux/ioctl.h>

extern "C" {
#include <xpmem_ioctl.h>
}

namespace xf {

Outcome outcome_of(long ret)
{
	if (ret >= 0)
		return O_OK;
	switch (-ret) {
	case EINVAL: return O_EINVAL;
	case ENOENT: return O_ENOENT;
	case EACCES: return O_EACCES;
	case EPERM: return O_EPERM;
	case EFAULT: return O_EFAULT;
	case ENOMEM: return O_ENOMEM;
	case ENOTTY: return O_ENOTTY;
	case XPMEM_ERRNO_NOPROC: return O_NOPROC;
	case EINTR: return O_EINTR;
	default: return O_OTHER;
	}
}

const char *outcome_name(Outcome o)
{
	static const char *const names[kOutcomes] = {
		"ok", "EINVAL", "ENOENT", "EACCES", "EPERM", "EFAULT",
		"ENOMEM", "ENOTTY", "NOPROC", "EINTR", "other",
	};
	return o < kOutcomes ? names[o] : "?";
}

const char *cmd_name(CmdClass c)
{
	static const char *const names[kCmdClasses] = {
		"VERSION", "MAKE", "REMOVE", "GET", "RELEASE", "ATTACH",
		"DETACH", "FORK_BEGIN", "FORK_END", "STATS", "unknown",
	};
	return c < kCmdClasses ? names[c] : "?";
}

const char *event_name(EventKind e)
{
	static const char *const names[kEventKinds] = {
		"touches", "touch SIGBUS", "touch SIGSEGV",
		"children on inherited fd", "children working",
		"exporters exited under attacher", "churn races",
		"region churns", "attachment munmap/mremap/mprotect",
		"descriptor teardowns", "unprivileged children",
	};
	return e < kEventKinds ? names[e] : "?";
}

const char *activity_name(Activity a)
{
	static const char *const names[kActivities] = {
		"random calls", "structured steps", "churn", "events (forks, exits)",
	};
	return a < kActivities ? names[a] : "?";
}

CmdClass classify(unsigned long cmd)
{
	cmd &= 0xffffffffUL;	/* the kernel sees an unsigned int */
	if (_IOC_TYPE(cmd) == 'x' && _IOC_NR(cmd) == XPMEM_IOC_STATS_NR &&
	    _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE))
		return C_STATS;
	switch (cmd) {
	case XPMEM_CMD_VERSION: return C_VERSION;
	case XPMEM_CMD_MAKE: return C_MAKE;
	case XPMEM_CMD_REMOVE: return C_REMOVE;
	case XPMEM_CMD_GET: return C_GET;
	case XPMEM_CMD_RELEASE: return C_RELEASE;
	case XPMEM_CMD_ATTACH: return C_ATTACH;
	case XPMEM_CMD_DETACH: return C_DETACH;
	case XPMEM_CMD_FORK_BEGIN: return C_FORK_BEGIN;
	case XPMEM_CMD_FORK_END: return C_FORK_END;
	default: return C_UNKNOWN;
	}
}

}  // namespace xf
