// SPDX-License-Identifier: GPL-2.0-only
/*
 * watch.c - `watch`: follows one partition's row of this partition's table
 * (/sys/kernel/xpmem/partitions) every millisecond and prints a line at
 * every change of state, epoch, reason or quarantined pages, with the time
 * since the watch began; ends when the condition of --until holds:
 *
 *   dead      the partition is DEAD; also prints how long after its last
 *             heartbeat that was seen (the time of the last heartbeat is
 *             now - hb_age_ms, from the rows read while it still beat);
 *   rejoined  UP under an epoch above --epoch, with no page quarantined.
 *
 * The host cannot time a guest event on its own clock to better than the
 * lab's relay delay; these guest-side times are the kernel's own view.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "role.h"

int role_watch(const struct role_opts *o)
{
	bool dead = !strcmp(o->until, "dead");
	uint64_t start = now_ns(), deadline = role_deadline(o);
	uint64_t last_hb = 0;	/* ns, this clock; 0: never seen beating */
	struct part_row prev = { .id = -1 }, r;

	for (;;) {
		uint64_t now = now_ns();
		bool have = part_read(o->part, &r);

		if (have && (prev.id < 0 || strcmp(r.state, prev.state) ||
			     r.epoch != prev.epoch ||
			     strcmp(r.reason, prev.reason) ||
			     r.quarantined != prev.quarantined)) {
			role_say("%s part=%d state=%s epoch=%llu reason=%s "
				 "quarantined=%lld inflight=%lld at_ms=%.1f",
				 prev.id < 0 ? "watching" : "change", o->part,
				 r.state, (unsigned long long)r.epoch,
				 r.reason, r.quarantined, r.inflight,
				 (now - start) / 1e6);
			prev = r;
		}
		if (have && strcmp(r.state, "DEAD")) {
			uint64_t hb = now - r.hb_age_ms * 1000000ULL;

			if (hb > last_hb)
				last_hb = hb;
		}
		if (have && dead && !strcmp(r.state, "DEAD")) {
			role_say("dead part=%d reason=%s at_ms=%.1f "
				 "after_hb_ms=%.1f", o->part, r.reason,
				 (now - start) / 1e6,
				 last_hb ? (now - last_hb) / 1e6 : -1.0);
			return 0;
		}
		if (have && !dead && !strcmp(r.state, "UP") &&
		    r.epoch != o->epoch && r.quarantined <= 0) {
			role_say("rejoined part=%d epoch=%llu at_ms=%.1f",
				 o->part, (unsigned long long)r.epoch,
				 (now - start) / 1e6);
			return 0;
		}
		role_poll(deadline, "the partition's state");
	}
}
