// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats.c - module-wide counters and XPMEM_IOC_STATS.
 *
 * Object counters go up when an object is created and down when it is
 * freed, so all of them read zero when nothing uses xpmem; the tests check
 * that after every case and the module checks it at unload.
 */
#include <linux/kernel.h>
#include <linux/uaccess.h>

#include "xpmem_internal.h"

struct xpmem_counters xpmem_counters;

static_assert(sizeof(struct xpmem_stats) >= XPMEM_STATS_SIZE_V1);

#define READ_COUNTER(name) ((u64)atomic64_read(&xpmem_counters.name))

int xpmem_cmd_stats(void __user *arg)
{
	struct xpmem_stats st = { .size = sizeof(st) };
	u32 size;

	if (get_user(size, (u32 __user *)arg))
		return -EFAULT;
	if (size < XPMEM_STATS_SIZE_V1)
		return -EINVAL;

	st.contexts = READ_COUNTER(contexts);
	st.segments = READ_COUNTER(segments);
	st.permits = READ_COUNTER(permits);
	st.attachments = READ_COUNTER(attachments);
	st.pinned_pages = READ_COUNTER(pinned_pages);
	st.faults = READ_COUNTER(faults);
	st.pages_mapped = READ_COUNTER(pages_mapped);
	st.pmds_mapped = READ_COUNTER(pmds_mapped);
	st.fault_retries = READ_COUNTER(fault_retries);
	st.sigbus = READ_COUNTER(sigbus);
	st.invalidations = READ_COUNTER(invalidations);
	st.invalidations_refused = READ_COUNTER(invalidations_refused);

	if (copy_to_user(arg, &st, min_t(size_t, size, sizeof(st))))
		return -EFAULT;
	return 0;
}

/* True when no object is left; reports what is left otherwise. */
bool xpmem_stats_check_idle(void)
{
	u64 left = READ_COUNTER(contexts) + READ_COUNTER(segments) +
		   READ_COUNTER(permits) + READ_COUNTER(attachments) +
		   READ_COUNTER(pinned_pages);

	if (left)
		pr_err("xpmem: leaked at unload: %llu contexts, %llu segments, %llu permits, %llu attachments, %llu pinned pages\n",
		       READ_COUNTER(contexts), READ_COUNTER(segments),
		       READ_COUNTER(permits), READ_COUNTER(attachments),
		       READ_COUNTER(pinned_pages));
	return !left;
}
