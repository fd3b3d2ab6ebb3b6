// SPDX-License-Identifier: GPL-2.0-only
/*
 * shootdown.c - the remote TLB shootdown, called by the owner's interval
 * notifier after the local zap (docs/design.md, invariants I1, I2, I7, I8).
 *
 * With no export of the segment it returns at once: the fast path has no
 * cross-partition traffic.  Otherwise it collects the exports with pins in
 * the range, posts INVALIDATE to every one of them before waiting on any
 * (the wait then costs the slowest peer, not the sum), and waits for their
 * completion words, re-posting every quarter of inval_ms with the same rid
 * (completion words are gap-free per channel, rpc.h: a lost INVALIDATE is
 * never acknowledged by a later one).  Each target has
 * its own deadline, its first post + inval_ms: a dead peer among them
 * costs the others nothing, and a healthy peer is never fenced because
 * another one used up the time.  A target silent at its deadline is fenced
 * (that incarnation only), which quarantines its pins; what was
 * acknowledged is unpinned.
 *
 * We run inside the notifier, possibly called from reclaim: the target
 * table is allocated with GFP_NOWAIT, and without memory we fall back to a
 * table on the stack, INVAL_STACK_TARGETS at a time (each target still with
 * its own deadline).
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "export_internal.h"
#include "histogram.h"
#include "member.h"
#include "partition.h"
#include "remote.h"
#include "xpmem_internal.h"
#include "xpmem_trace.h"

#define INVAL_STACK_TARGETS 16	/* targets per round without an allocation */

struct inval_target {
	struct xpmem_export *e;		/* referenced */
	u32 peer, epoch;		/* the incarnation asked */
	u64 rid;			/* numbered once, kept across re-posts */
	u64 deadline;			/* first post + inval_ms */
	u64 resend_at;
	int state;			/* 1 waiting, 0 acknowledged, <0 failed */
};

/*
 * Posts (or re-posts) @t's INVALIDATE without waiting for ring space: a
 * full ring is tried again at the next look, within @t's deadline.
 */
static void post_invalidate(struct inval_target *t, unsigned long lo,
			    unsigned long hi, u64 now)
{
	struct xp_msg m = { };
	int err;

	/* Gap-free per channel (rpc.h): a number taken is always posted. */
	t->rid = xpmem_partition_inval_rid(t->peer, t->epoch, t->rid);
	if (!t->rid) {
		t->state = -ECONNRESET;	/* not its live incarnation: fenced */
		return;
	}
	m.u.inval.rid = t->rid;
	m.u.inval.token = t->e->token;
	m.u.inval.offset = (u64)lo << PAGE_SHIFT;
	m.u.inval.len = (u64)(hi - lo) << PAGE_SHIFT;
	err = xpmem_partition_post(t->peer, &m, XP_MSG_INVALIDATE, now);
	if (!err) {
		t->resend_at = now + xpmem_ms_to_ns(READ_ONCE(xpmem_inval_ms)) / 4;
	} else if (err == -ETIMEDOUT) {
		t->resend_at = now + NSEC_PER_MSEC;	/* ring full: soon again */
	} else {
		t->state = -ECONNRESET;		/* not live (fenced), no fabric */
	}
}

/* Does @e hold pins in [lo, hi) that an invalidation must ask about? */
static bool is_target(struct xpmem_export *e, unsigned long lo, unsigned long hi)
{
	unsigned long idx = lo;

	lockdep_assert_held(&xpmem_export_lock);
	return !e->quarantine && e->npins &&
	       xa_find(&e->pins, &idx, hi - 1, XA_PRESENT);
}

static unsigned int count_targets(struct xpmem_segment *seg, unsigned long lo,
				  unsigned long hi)
{
	struct xpmem_export *e;
	unsigned int n = 0;

	lockdep_assert_held(&xpmem_export_lock);
	list_for_each_entry(e, &seg->exports, seg_link)
		if (is_target(e, lo, hi))
			n++;
	return n;
}

/* Collects up to @cap targets of @seg in [lo, hi), referenced. */
static unsigned int collect_targets(struct xpmem_segment *seg, unsigned long lo,
				    unsigned long hi, struct inval_target *t,
				    unsigned int cap)
{
	struct xpmem_export *e;
	unsigned int n = 0;

	lockdep_assert_held(&xpmem_export_lock);
	list_for_each_entry(e, &seg->exports, seg_link) {
		if (n == cap)
			break;
		if (!is_target(e, lo, hi))
			continue;
		kref_get(&e->ref);
		t[n] = (struct inval_target){ .e = e, .peer = e->peer,
					      .epoch = e->epoch, .state = 1 };
		n++;
	}
	return n;
}

/* Non-blockable callers (the OOM reaper): does any live peer pin [lo, hi)? */
static bool pins_in_range(struct xpmem_segment *seg, unsigned long lo,
			  unsigned long hi)
{
	struct xpmem_export *e;
	bool found = false;

	if (!mutex_trylock(&xpmem_export_lock))
		return true;	/* cannot tell: refuse, the caller retries */
	list_for_each_entry(e, &seg->exports, seg_link) {
		if (is_target(e, lo, hi)) {
			found = true;
			break;
		}
	}
	mutex_unlock(&xpmem_export_lock);
	return found;
}

/* @t missed its deadline: fence the incarnation it was posted to. */
static void target_timed_out(struct inval_target *t, u64 t0)
{
	t->state = -ETIMEDOUT;
	xpmem_count(timeouts, 1);
	trace_xpmem_timeout(t->peer, XP_MSG_INVALIDATE, ktime_get_ns() - t0);
	/* Its pins, these and all others, go to quarantine. */
	xpmem_partition_fence(t->peer, t->epoch, XP_R_TIMEOUT);
}

/*
 * Waits for every target, each until its own deadline, re-posting what is
 * unanswered every inval_ms/4.
 */
static void wait_targets(struct inval_target *t, unsigned int n,
			 unsigned long lo, unsigned long hi, u64 t0)
{
	unsigned int i, waiting;
	u64 gen, now, next;

	for (;;) {
		gen = xpmem_partition_gen();
		now = ktime_get_ns();
		next = now + NSEC_PER_MSEC;
		waiting = 0;
		for (i = 0; i < n; i++) {
			if (t[i].state != 1)
				continue;
			if (t[i].rid &&
			    xpmem_partition_inval_done(t[i].peer, t[i].rid, t[i].epoch)) {
				t[i].state = 0;
				continue;
			}
			if (xpmem_partition_live_epoch(t[i].peer) != t[i].epoch) {
				t[i].state = -ECONNRESET;	/* fenced: quarantined */
				continue;
			}
			if (now >= t[i].deadline) {
				target_timed_out(&t[i], t0);
				continue;
			}
			if (now >= t[i].resend_at)
				post_invalidate(&t[i], lo, hi, now);
			if (t[i].state != 1)
				continue;
			waiting++;
			next = min3(next, t[i].deadline, t[i].resend_at);
		}
		if (!waiting)
			return;
		now = ktime_get_ns();
		if (next > now)
			xpmem_partition_nap(gen, next - now);
	}
}

static void invalidate_targets(struct xpmem_segment *seg, struct inval_target *t,
			       unsigned int n, unsigned long lo, unsigned long hi)
{
	u64 inval_ns = xpmem_ms_to_ns(READ_ONCE(xpmem_inval_ms));
	u64 t0 = ktime_get_ns(), now;
	unsigned int i;

	/* Fan out first: the wait then costs the slowest peer, not the sum. */
	for (i = 0; i < n; i++) {
		trace_xpmem_remote_invalidate_start(t[i].peer, seg->segid,
						    seg->start + (lo << PAGE_SHIFT),
						    seg->start + (hi << PAGE_SHIFT));
		now = ktime_get_ns();
		t[i].deadline = now + inval_ns;
		post_invalidate(&t[i], lo, hi, now);
	}
	wait_targets(t, n, lo, hi, t0);

	for (i = 0; i < n; i++)
		trace_xpmem_remote_invalidate_end(t[i].peer, seg->segid,
						  seg->start + (lo << PAGE_SHIFT),
						  seg->start + (hi << PAGE_SHIFT),
						  ktime_get_ns() - t0, t[i].state);

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
	struct inval_target on_stack[INVAL_STACK_TARGETS], *t;
	unsigned int want, n, cap;
	bool asked = false;
	u64 t0;

	if (list_empty_careful(&seg->exports))
		return true;	/* the fast path: no cross-partition traffic */
	if (!blockable)
		return !pins_in_range(seg, lo, hi);

	t0 = ktime_get_ns();
	for (;;) {
		mutex_lock(&xpmem_export_lock);
		want = count_targets(seg, lo, hi);
		mutex_unlock(&xpmem_export_lock);
		if (!want)
			break;
		/* Never reclaim here: we may be reclaim's own notifier call. */
		t = want > INVAL_STACK_TARGETS ?
		    kmalloc_array(want, sizeof(*t), GFP_NOWAIT | __GFP_NOWARN) : NULL;
		cap = t ? want : INVAL_STACK_TARGETS;
		if (!t)
			t = on_stack;
		mutex_lock(&xpmem_export_lock);
		n = collect_targets(seg, lo, hi, t, cap);
		mutex_unlock(&xpmem_export_lock);
		if (n) {
			xpmem_count(remote_invalidations, 1);
			invalidate_targets(seg, t, n, lo, hi);
			asked = true;
		}
		if (t != on_stack)
			kfree(t);
		if (!n)
			break;
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
