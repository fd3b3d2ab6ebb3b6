// SPDX-License-Identifier: GPL-2.0-only
/*
 * partition_sysfs.c - /sys/kernel/xpmem: the partition layer as the lab and
 * the tests see it without tools (xpmemctl shows the same over netlink).
 *
 *   partitions         one line per known partition (see partitions_show)
 *   ping               write a peer id to PING it; read the last result
 *   doorbells_dropped  doorbells the drop_doorbells injection swallowed
 *   exports            live exports of our segments (tokens peers hold)
 */
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/sysfs.h>

#include "partition.h"
#include "xpmem_internal.h"


static struct kobject *part_kobj;
static DEFINE_MUTEX(ping_lock);		/* the last ping's result */
static char ping_result[64] = "none\n";

/*
 * One line per partition slot in use:
 *   id state epoch hb_age_ms reason window quarantined_pages inflight
 */
static ssize_t partitions_show(struct kobject *k, struct kobj_attribute *a,
			       char *buf)
{
	struct xpmem_partition_info info;
	ssize_t n = 0;
	u32 p;

	for (p = 0; p < xpmem_partition_count(); p++) {
		if (xpmem_partition_info(p, &info) || !info.epoch)
			continue;
		n += sysfs_emit_at(buf, n, "%u %s %u %llu %s %d %llu %u\n", info.id,
				   xpmem_partition_state_name(info.state), info.epoch,
				   info.hb_age_ns / NSEC_PER_MSEC,
				   xpmem_partition_reason_name(info.reason), info.window,
				   info.quarantined, info.inflight);
	}
	return n;
}
static struct kobj_attribute partitions_attr = __ATTR_RO(partitions);

static ssize_t ping_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	ssize_t n;

	mutex_lock(&ping_lock);
	n = sysfs_emit(buf, "%s", ping_result);
	mutex_unlock(&ping_lock);
	return n;
}

/* Writing a peer id PINGs it; the write fails with the round trip's error. */
static ssize_t ping_store(struct kobject *k, struct kobj_attribute *a,
			  const char *buf, size_t count)
{
	u64 rtt = 0;
	u32 peer;
	int err;

	if (kstrtou32(buf, 0, &peer))
		return -EINVAL;
	err = xpmem_partition_ping(peer, &rtt);
	mutex_lock(&ping_lock);
	if (err)
		snprintf(ping_result, sizeof(ping_result), "peer %u error %d\n", peer, err);
	else
		snprintf(ping_result, sizeof(ping_result), "peer %u rtt_ns %llu\n", peer, rtt);
	mutex_unlock(&ping_lock);
	return err ? err : count;
}
static struct kobj_attribute ping_attr = __ATTR(ping, 0600, ping_show, ping_store);

static ssize_t doorbells_dropped_show(struct kobject *k,
				      struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", xpmem_partition_doorbells_dropped());
}
static struct kobj_attribute doorbells_dropped_attr = __ATTR_RO(doorbells_dropped);

static ssize_t exports_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lld\n", (s64)atomic64_read(&xpmem_counters.exports));
}

static struct kobj_attribute exports_attr = __ATTR_RO(exports);

static struct attribute *part_attrs[] = {
	&partitions_attr.attr,
	&ping_attr.attr,
	&doorbells_dropped_attr.attr,
	&exports_attr.attr,
	NULL,
};
static const struct attribute_group part_attr_group = { .attrs = part_attrs };

int xpmem_partition_sysfs_init(void)
{
	int err;

	part_kobj = kobject_create_and_add("xpmem", kernel_kobj);
	if (!part_kobj)
		return -ENOMEM;
	err = sysfs_create_group(part_kobj, &part_attr_group);
	if (err)
		kobject_put(part_kobj);
	return err;
}

void xpmem_partition_sysfs_exit(void)
{
	sysfs_remove_group(part_kobj, &part_attr_group);
	kobject_put(part_kobj);
}
