// SPDX-License-Identifier: GPL-2.0-only
/*
 * common.c - what every role of xpmem-role uses: bounded polling, output
 * lines, the control page, and the partition table in sysfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "role.h"

uint64_t role_deadline(const struct role_opts *o)
{
	return now_ns() + (uint64_t)o->timeout_s * 1000000000ULL;
}

void role_poll(uint64_t deadline, const char *what)
{
	if (now_ns() > deadline)
		bench_die("timed out waiting for %s", what);
	usleep(1000);
}

void role_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

struct role_ctl *ctl_attach(xpmem_segid_t segid, uintptr_t ctl,
			    xpmem_apid_t *apid)
{
	struct xpmem_addr addr;
	struct role_ctl *c;

	*apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, (void *)0600);
	if (*apid < 0)
		bench_die("xpmem_get(%#llx): %s", (unsigned long long)segid,
			  strerror(errno));
	addr.apid = *apid;
	addr.offset = (off_t)ctl;
	c = xpmem_attach(addr, PAGE_SZ, NULL);
	if (c == (void *)-1)
		bench_die("xpmem_attach of the control page: %s",
			  strerror(errno));
	if (ctl_get(&c->magic) != CTL_MAGIC)
		bench_die("the control page at %#lx has no magic (%#llx)",
			  (unsigned long)ctl,
			  (unsigned long long)ctl_get(&c->magic));
	return c;
}

/*
 * One line of /sys/kernel/xpmem/partitions:
 *   id state epoch hb_age_ms reason window [quarantined_pages inflight]
 * (the last two columns came with the remote paths; -1 when absent).
 */
bool part_read(int id, struct part_row *r)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/sys/kernel/xpmem/partitions", "re");

	if (!f)
		bench_die("open /sys/kernel/xpmem/partitions: %s",
			  strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct part_row t = { .quarantined = -1, .inflight = -1 };
		int window, n;

		n = sscanf(line, "%d %15s %llu %llu %23s %d %lld %lld", &t.id,
			   t.state, (unsigned long long *)&t.epoch,
			   (unsigned long long *)&t.hb_age_ms, t.reason,
			   &window, &t.quarantined, &t.inflight);
		if (n >= 5 && t.id == id) {
			*r = t;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}
