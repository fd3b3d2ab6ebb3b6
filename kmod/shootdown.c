// SPDX-License-Identifier: GPL-2.0-only
/*
 * shootdown.c - the remote TLB shootdown (DESIGN.md §5.4), called by the
 * owner's interval notifier after the local zap.
 *
 * With no export of the segment it returns at once: the fast path has no
 * cross-partition traffic.  Otherwise it collects the exports with pins in
 * the range (INVAL_BATCH at a time), posts INVALIDATE to every one of them
 * before waiting on any (the wait then costs the slowest peer, not the
 * sum), waits for their completion words with one deadline (inval_ms),
 * re-posting every quarter of it with the same rid, and unpins what was
 * acknowledged.  Completion words are gap-free per channel (rpc.h): a lost
 * INVALIDATE is never acknowledged by a later one.  A peer
 * still silent at the deadline is fenced, which quarantines its pins.
 */
#include <linux/ktime.h>
#include <linux/mm.h>

#include "export_internal.h"
#include "histogram.h"
#include "member.h"
#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

#define INVAL_BATCH 16		/* exports asked at once by one invalidation */

struct inval_target {
	struct xpmem_export *e;		/* referenced */
	u32 peer, epoch;
	u64 rid;			/* numbered once, kept across re-posts */
	u64 resend_at;
	int state;			/* 1 waiting, 0 acknowledged, <0 failed */
};

static int post_invalidate(struct inval_target *t, unsigned long lo,
			   unsigned long hi, u64 deadline)
{
	struct xp_msg m = { };
	int err;

	/* Gap-free per channel (rpc.h): a number taken is always posted. */
	t->rid = xpmem_partition_inval_rid(t->peer, t->epoch, t->rid);
	if (!t->rid)
		return -ECONNRESET;	/* not its live incarnation: fenced */
	m.u.inval.rid = t->rid;
	m.u.inval.token = t->e->token;
	m.u.inval.offset = (u64)lo << PAGE_SHIFT;
	m.u.inval.len = (u64)(hi - lo) << PAGE_SHIFT;
	err = xpmem_partition_post(t->peer, &m, XP_MSG_INVALIDATE, deadline);
	if (!err) {
		t->resend_at = ktime_get_ns() + xpmem_ms_to_ns(READ_ONCE(xpmem_inval_ms)) / 4;
	}
	return err;
}

/*
 * Collects up to INVAL_BATCH exports of @seg with pins in [lo, hi) that are
 * not quarantined, referenced.
 */
static int collect_targets(struct xpmem_segment *seg, unsigned long lo,
			   unsigned long hi, struct inval_target *t)
{
	struct xpmem_export *e;
	unsigned long idx;
	int n = 0;

	lockdep_assert_held(&xpmem_export_lock);
	list_for_each_entry(e, &seg->exports, seg_link) {
		if (e->quarantine || !e->npins)
			continue;
		idx = lo;
		if (!xa_find(&e->pins, &idx, hi - 1, XA_PRESENT))
			continue;
		kref_get(&e->ref);
		t[n].e = e;
		t[n].peer = e->peer;
		t[n].epoch = e->epoch;
		t[n].state = 1;
		t[n].rid = 0;
		if (++n == INVAL_BATCH)
			break;
	}
	return n;
}

/* Non-blockable callers (the OOM reaper): does any live peer pin [lo, hi)? */
static bool pins_in_range(struct xpmem_segment *seg, unsigned long lo,
			  unsigned long hi)
{
	struct xpmem_export *e;
	unsigned long idx;
	bool found = false;

	if (!mutex_trylock(&xpmem_export_lock))
		return true;	/* cannot tell: refuse, the caller retries */
	list_for_each_entry(e, &seg->exports, seg_link) {
		idx = lo;
		if (!e->quarantine && e->npins &&
		    xa_find(&e->pins, &idx, hi - 1, XA_PRESENT)) {
			found = true;
			break;
		}
	}
	mutex_unlock(&xpmem_export_lock);
	return found;
}

/* Waits for every target, re-posting, until all answered or the deadline. */
static void wait_targets(struct inval_target *t, int n, unsigned long lo,
			 unsigned long hi, u64 deadline)
{
	int i, waiting;
	u64 gen, now;

	for (;;) {
		gen = xpmem_partition_gen();
		now = ktime_get_ns();
		waiting = 0;
		for (i = 0; i < n; i++) {
			if (t[i].state != 1)
				continue;
			if (xpmem_partition_inval_done(t[i].peer, t[i].rid, t[i].epoch)) {
				t[i].state = 0;
				continue;
			}
			if (xpmem_partition_live_epoch(t[i].peer) != t[i].epoch) {
				t[i].state = -ECONNRESET;	/* fenced: quarantined */
				continue;
			}
			if (now >= deadline) {
				t[i].state = -ETIMEDOUT;
				continue;
			}
			if (now >= t[i].resend_at && post_invalidate(&t[i], lo, hi, deadline))
				t[i].state = -ETIMEDOUT;
			else
				waiting++;
		}
		if (!waiting)
			return;
		xpmem_partition_nap(gen, min_t(u64, deadline - now, NSEC_PER_MSEC));
	}
}

static void invalidate_batch(struct xpmem_segment *seg, struct inval_target *t,
			     int n, unsigned long lo, unsigned long hi, u64 deadline)
{
	u64 t0 = ktime_get_ns();
	int i;

	/* Fan out first: the wait then costs the slowest peer, not the sum. */
	for (i = 0; i < n; i++) {
		trace_xpmem_remote_invalidate_start(t[i].peer, seg->segid,
						    seg->start + (lo << PAGE_SHIFT),
						    seg->start + (hi << PAGE_SHIFT));
		if (post_invalidate(&t[i], lo, hi, deadline))
			t[i].state = xpmem_partition_live_epoch(t[i].peer) == t[i].epoch ?
				     -ETIMEDOUT : -ECONNRESET;
	}
	wait_targets(t, n, lo, hi, deadline);

	for (i = 0; i < n; i++) {
		if (t[i].state == -ETIMEDOUT) {
			xpmem_count(timeouts, 1);
			trace_xpmem_timeout(t[i].peer, XP_MSG_INVALIDATE,
					    ktime_get_ns() - t0);
			/* Its pins, these and all others, go to quarantine. */
			xpmem_partition_fence(t[i].peer, t[i].epoch, XP_R_TIMEOUT);
		}
		trace_xpmem_remote_invalidate_end(t[i].peer, seg->segid,
						  seg->start + (lo << PAGE_SHIFT),
						  seg->start + (hi << PAGE_SHIFT),
						  ktime_get_ns() - t0, t[i].state);
	}

	mutex_lock(&xpmem_export_lock);
	for (i = 0; i < n; i++) {
		/* Fenced meanwhile without our timeout: quarantine it here. */
		if (t[i].state && !t[i].e->quarantine) {
			t[i].e->quarantine |= QUAR_PEER;
			trace_xpmem_quarantine_add(t[i].peer, t[i].e->npins);
		}
		if (!t[i].state)
			xpmem_export_unpin(t[i].e, lo, hi);
	}
	mutex_unlock(&xpmem_export_lock);
	for (i = 0; i < n; i++)
		xpmem_export_put(t[i].e);
}

bool xpmem_export_invalidate(struct xpmem_segment *seg, unsigned long start,
			     unsigned long end, bool blockable)
{
	unsigned long lo = (start - seg->start) >> PAGE_SHIFT;
	unsigned long hi = (end - seg->start + PAGE_SIZE - 1) >> PAGE_SHIFT;
	struct inval_target t[INVAL_BATCH];
	u64 t0, deadline;
	bool asked = false;
	int n;

	if (list_empty_careful(&seg->exports))
		return true;	/* the fast path: no cross-partition traffic */
	if (!blockable)
		return !pins_in_range(seg, lo, hi);

	t0 = ktime_get_ns();
	deadline = t0 + xpmem_ms_to_ns(READ_ONCE(xpmem_inval_ms));
	for (;;) {
		mutex_lock(&xpmem_export_lock);
		n = collect_targets(seg, lo, hi, t);
		mutex_unlock(&xpmem_export_lock);
		if (!n)
			break;
		xpmem_count(remote_invalidations, 1);
		invalidate_batch(seg, t, n, lo, hi, deadline);
		asked = true;
	}
	/* Only shootdowns that asked some peer: fan-out to last answer. */
	if (asked)
		xpmem_hist_record(XPMEM_HIST_REMOTE_SHOOTDOWN, ktime_get_ns() - t0);
	return true;
}

/* The segment is being removed: every peer drops it, then its exports go. */
void xpmem_export_segment_gone(struct xpmem_segment *seg)
{
	struct xpmem_export *e, *next;
	LIST_HEAD(gone);

	mutex_lock(&xpmem_export_lock);
	seg->exports_closed = true;
	mutex_unlock(&xpmem_export_lock);
	if (list_empty_careful(&seg->exports))
		return;
	xpmem_export_invalidate(seg, seg->start, seg->end, true);

	mutex_lock(&xpmem_export_lock);
	list_for_each_entry_safe(e, next, &seg->exports, seg_link) {
		if (e->quarantine)
			continue;	/* kept until its peer comes back */
		xpmem_export_unlink(e);
		list_add(&e->seg_link, &gone);
	}
	mutex_unlock(&xpmem_export_lock);
	list_for_each_entry_safe(e, next, &gone, seg_link)
		xpmem_export_put(e);
}
