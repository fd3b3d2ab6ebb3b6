// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * member.c - membership: join handshake, heartbeats, fencing, epochs.
 *
 * Who writes what in the table (struct xp_part):
 *   owner    heartbeat, window description, its state word when it joins
 *            (JOINING under a new epoch) and goes UP;
 *   anyone   the state word to DEAD (with reason and fencer) - always by a
 *            compare-and-swap against the exact word it judged, so racing
 *            fencers and a rejoin cannot overwrite each other's result.
 * Everything read from the table is checked: an impossible state or an
 * epoch going backwards is counted and ignored.
 */
#include "member.h"

static bool live_state(u32 s)
{
	return s == XP_JOINING || s == XP_UP || s == XP_SUSPECT;
}

static u64 resend_ns(const struct xp_member *m)
{
	return m->cfg.resend_ns ? m->cfg.resend_ns : m->cfg.hb_ns;
}

static void set_view(struct xp_member *m, u32 p, u32 state)
{
	struct xp_peer_view *v = &m->peers[p];
	u32 old = v->state;

	v->state = state;
	if (old != state && m->ops->changed)
		m->ops->changed(m->ctx, p, old, state);
}

int xp_member_init(struct xp_member *m, const struct xp_region *r,
		   const struct xp_member_cfg *cfg,
		   const struct xp_member_ops *ops, void *ctx)
{
	if (cfg->self >= r->l.max_parts || !cfg->hb_ns ||
	    cfg->dead_ns <= cfg->hb_ns || !ops->send || !ops->fence ||
	    !ops->self_fence)
		return -EINVAL;
	xp_memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->ops = ops;
	m->ctx = ctx;
	m->r = r;
	m->nparts = r->l.max_parts;
	m->state = XP_FREE;
	return 0;
}

u64 xp_member_next_seq(struct xp_member *m)
{
	return (u64)m->epoch << 32 | ++m->seq;
}

bool xp_member_peer_live(const struct xp_member *m, u32 peer)
{
	return peer < m->nparts && live_state(m->peers[peer].state);
}

static void send_join(struct xp_member *m, u32 p, u64 now)
{
	struct xp_peer_view *v = &m->peers[p];
	struct xp_msg msg;

	xp_memset(&msg, 0, sizeof(msg));
	msg.u.join.window_pfn = m->cfg.window_pfn;
	msg.u.join.window_pages = m->cfg.window_pages;
	xp_memcpy(msg.u.join.window_tag, m->cfg.window_tag, XP_TAG_SIZE);
	xp_msg_seal(&msg, XP_MSG_JOIN, m->cfg.self, p, m->epoch, v->epoch,
		    xp_member_next_seq(m));
	v->join_sent_ns = now ? now : 1;
	m->ops->send(m->ctx, p, &msg);
}

static void send_ack(struct xp_member *m, u32 p)
{
	struct xp_peer_view *v = &m->peers[p];
	struct xp_msg msg;

	xp_memset(&msg, 0, sizeof(msg));
	msg.u.join_ack.acked_epoch = v->epoch;
	xp_msg_seal(&msg, XP_MSG_JOIN_ACK, m->cfg.self, p, m->epoch, v->epoch,
		    xp_member_next_seq(m));
	m->stats.acks_sent++;
	m->ops->send(m->ctx, p, &msg);
}

/* Our view of @p says incarnation (epoch) is dead: tell the user once. */
static void fenced(struct xp_member *m, u32 p, u32 reason)
{
	struct xp_peer_view *v = &m->peers[p];

	v->reason = reason;
	set_view(m, p, XP_DEAD);
	m->stats.fences++;
	m->ops->fence(m->ctx, p, v->epoch, reason);
}

/* A new incarnation of @p appeared: retire the old one first. */
static void new_incarnation(struct xp_member *m, u32 p, u32 epoch, u32 state,
			    u64 hb, u64 now)
{
	struct xp_peer_view *v = &m->peers[p];

	if (live_state(v->state))
		fenced(m, p, XP_R_REJOINED);
	v->epoch = epoch;
	v->acked = 0;
	v->hb = hb;
	v->hb_seen_ns = now;
	v->join_sent_ns = 0;
	set_view(m, p, state);
	if (state == XP_DEAD)
		v->reason = xp_sword_reason(xp_load_acquire(&xp_region_part(m->r, p)->sword));
	/* A partition drops every old mapping before it takes a new epoch. */
	if (m->ops->joined)
		m->ops->joined(m->ctx, p, epoch);
}

/*
 * Our own (re)join reads @p's entry afresh.  What changed since our last
 * look goes through the same callbacks as at run time: an incarnation we
 * saw live and that is gone (new epoch, or DEAD) is fenced, a new epoch is
 * announced (joined).  Without this, a peer that rejoined while we were
 * fenced kept what we quarantined for its old incarnation until it rejoined
 * again.
 */
static void resync_peer(struct xp_member *m, u32 p, u32 ep, u32 st, u32 reason,
			u64 hb, u64 now)
{
	struct xp_peer_view *v = &m->peers[p];
	bool changed = ep != v->epoch;

	if (live_state(v->state) && (changed || !live_state(st)))
		fenced(m, p, changed ? XP_R_REJOINED :
			     st == XP_DEAD ? reason : XP_R_NONE);
	v->epoch = ep;
	v->state = st;
	v->reason = st == XP_DEAD ? reason : XP_R_NONE;
	v->acked = 0;
	v->hb = hb;
	v->hb_seen_ns = now;
	v->join_sent_ns = 0;
	/* A partition drops every old mapping before it takes a new epoch. */
	if (changed && ep && m->ops->joined)
		m->ops->joined(m->ctx, p, ep);
}

int xp_member_join(struct xp_member *m, u64 now)
{
	struct xp_part *me = xp_region_part(m->r, m->cfg.self);
	unsigned int tries;
	u32 p, epoch = 0;

	/* Publish the window before the state word says JOINING. */
	xp_write_once(me->window_pfn, m->cfg.window_pfn);
	xp_write_once(me->window_pages, m->cfg.window_pages);
	xp_memcpy(me->window_tag, m->cfg.window_tag, XP_TAG_SIZE);
	for (tries = 0; tries < 16; tries++) {
		u64 w = xp_load_acquire(&me->sword);

		epoch = xp_epoch_next(xp_sword_epoch(w));
		/* Full barrier (cmpxchg): window and heartbeat before it. */
		if (xp_cmpxchg64(&me->sword, w, xp_sword(epoch, m->cfg.self, 0,
							 XP_JOINING)) == w)
			break;
	}
	if (tries == 16)
		return -EBUSY;
	m->stats.joins++;
	m->epoch = epoch;
	m->seq = 0;
	m->state = XP_JOINING;
	m->hb = xp_read_once(me->heartbeat) + 1;
	xp_write_once(me->heartbeat, m->hb);
	m->last_hb_ns = now;
	m->last_tick_ns = now;

	/* Fresh view of everyone; live peers get our JOIN now. */
	for (p = 0; p < m->nparts; p++) {
		struct xp_part *e = xp_region_part(m->r, p);
		u64 w = xp_load_acquire(&e->sword);
		u32 st = xp_sword_state(w);

		if (p == m->cfg.self)
			continue;
		if (st >= XP_STATE_NR || st == XP_SUSPECT) {
			m->stats.bad_entries++;
			st = XP_FREE;
		}
		resync_peer(m, p, xp_sword_epoch(w), st, xp_sword_reason(w),
			    xp_read_once(e->heartbeat), now);
		if (live_state(st))
			send_join(m, p, now);
	}
	return 0;
}

/* Throw away our incarnation and take a new one. */
static void self_fence(struct xp_member *m, u32 reason, u64 now)
{
	struct xp_part *me = xp_region_part(m->r, m->cfg.self);
	u64 w = xp_load_acquire(&me->sword);

	/* Record it if the table still shows us alive under our epoch. */
	if (xp_sword_epoch(w) == m->epoch && xp_sword_state(w) != XP_DEAD)
		xp_cmpxchg64(&me->sword, w, xp_sword(m->epoch, m->cfg.self,
						     reason, XP_DEAD));
	m->stats.self_fences++;
	m->state = XP_DEAD;
	m->ops->self_fence(m->ctx, m->epoch, reason);
	xp_member_join(m, now);
}

void xp_member_leave(struct xp_member *m, u32 reason)
{
	struct xp_part *me;
	u64 w;

	if (m->state == XP_FREE)
		return;		/* never joined: nothing to announce */
	me = xp_region_part(m->r, m->cfg.self);
	w = xp_load_acquire(&me->sword);
	/* Only our own incarnation's word: a fence meanwhile stays. */
	if (xp_sword_epoch(w) == m->epoch && xp_sword_state(w) != XP_DEAD)
		xp_cmpxchg64(&me->sword, w, xp_sword(m->epoch, m->cfg.self,
						     reason, XP_DEAD));
	m->state = XP_DEAD;
}

static void tick_peer(struct xp_member *m, u32 p, u64 now)
{
	struct xp_part *e = xp_region_part(m->r, p);
	struct xp_peer_view *v = &m->peers[p];
	u64 w = xp_load_acquire(&e->sword);
	u64 hb = xp_read_once(e->heartbeat);
	u32 st = xp_sword_state(w), ep = xp_sword_epoch(w);

	if (st >= XP_STATE_NR || st == XP_SUSPECT ||
	    (xp_epoch_before(ep, v->epoch) && st != XP_FREE)) {
		/* Garbage or an epoch rolling back: judge by heartbeat only. */
		m->stats.bad_entries++;
		st = v->state == XP_SUSPECT ? XP_UP : v->state;
		ep = v->epoch;
	}
	if (st == XP_FREE)
		return;
	if (ep != v->epoch) {
		new_incarnation(m, p, ep, st, hb, now);
		return;
	}
	if (v->state == XP_DEAD || v->state == XP_FREE)
		return;		/* stays so until a new epoch */
	if (st == XP_DEAD) {
		fenced(m, p, xp_sword_reason(w));
		return;
	}
	if (hb != v->hb) {
		v->hb = hb;
		v->hb_seen_ns = now;
		set_view(m, p, st);
		return;
	}
	if (now - v->hb_seen_ns >= m->cfg.dead_ns) {
		/* Only the word we judged: a rejoin meanwhile wins. */
		if (xp_cmpxchg64(&e->sword, w, xp_sword(ep, m->cfg.self,
				 XP_R_HEARTBEAT, XP_DEAD)) == w)
			fenced(m, p, XP_R_HEARTBEAT);
		return;
	}
	if (now - v->hb_seen_ns >= m->cfg.dead_ns / 2)
		set_view(m, p, XP_SUSPECT);
	else
		set_view(m, p, st);
}

static void join_progress(struct xp_member *m, u64 now)
{
	struct xp_part *me = xp_region_part(m->r, m->cfg.self);
	bool all = true;
	u32 p;

	for (p = 0; p < m->nparts; p++) {
		struct xp_peer_view *v = &m->peers[p];

		if (p == m->cfg.self || !live_state(v->state) ||
		    v->acked == m->epoch)
			continue;
		all = false;
		if (!v->join_sent_ns || now - v->join_sent_ns >= resend_ns(m))
			send_join(m, p, now);
	}
	if (all) {
		u64 w = xp_sword(m->epoch, m->cfg.self, 0, XP_JOINING);

		if (xp_cmpxchg64(&me->sword, w, xp_sword(m->epoch, m->cfg.self,
							  0, XP_UP)) == w) {
			m->state = XP_UP;
			m->stats.ups++;
		}
		/* else: fenced meanwhile; the next tick self-fences. */
	}
}

void xp_member_tick(struct xp_member *m, u64 now)
{
	struct xp_part *me = xp_region_part(m->r, m->cfg.self);
	u64 w;
	u32 p;

	if (m->state == XP_FREE)
		return;
	/*
	 * Time never goes back here: the differences below are unsigned, and
	 * a tick older than the last one would read as a stall of 2^64 ns (we
	 * would fence ourselves, and peers whose heartbeat we saw meanwhile).
	 */
	if (now < m->last_tick_ns)
		now = m->last_tick_ns;
	if (m->state == XP_DEAD) {	/* an earlier rejoin failed: retry */
		xp_member_join(m, now);
		if (m->state == XP_DEAD)
			return;
	}
	/* Self check first, before a heartbeat could hide a stall. */
	w = xp_load_acquire(&me->sword);
	if (xp_sword_epoch(w) != m->epoch || xp_sword_state(w) == XP_DEAD) {
		self_fence(m, XP_R_SELF_STALE, now);
		return;
	}
	if (now - m->last_tick_ns >= m->cfg.dead_ns) {
		self_fence(m, XP_R_SELF_STALLED, now);
		return;
	}
	m->last_tick_ns = now;
	if (now - m->last_hb_ns >= m->cfg.hb_ns) {
		xp_write_once(me->heartbeat, ++m->hb);
		m->last_hb_ns = now;
	}
	for (p = 0; p < m->nparts; p++)
		if (p != m->cfg.self)
			tick_peer(m, p, now);
	if (m->state == XP_JOINING)
		join_progress(m, now);
}

int xp_member_check(struct xp_member *m, u32 src, const struct xp_msg *msg,
		    struct xp_msg_stats *st)
{
	struct xp_msg_expect e;
	int r;

	e.src = src;
	e.dst = m->cfg.self;
	e.dst_epoch = m->epoch;
	e.max_parts = m->nparts;
	e.src_epoch = src < m->nparts ? m->peers[src].epoch : 0;
	r = xp_msg_check(msg, &e, NULL);
	/* Only a JOIN may come from a partition we do not see alive. */
	if (r == XP_REJ_OK && msg->h.type != XP_MSG_JOIN &&
	    (!live_state(m->peers[src].state) ||
	     (m->state != XP_JOINING && m->state != XP_UP)))
		r = XP_REJ_SRC_EPOCH;
	if (r == XP_REJ_SRC_EPOCH || r == XP_REJ_DST_EPOCH)
		m->stats.stale_msgs++;
	if (st) {
		if (r == XP_REJ_OK)
			st->accepted++;
		else
			st->rejected[r]++;
	}
	return r;
}

int xp_member_input(struct xp_member *m, u64 now, const struct xp_msg *msg)
{
	u32 p = msg->h.src;
	struct xp_peer_view *v;

	if (msg->h.type != XP_MSG_JOIN && msg->h.type != XP_MSG_JOIN_ACK)
		return 0;
	if (p >= m->nparts || p == m->cfg.self ||
	    (m->state != XP_JOINING && m->state != XP_UP))
		return 1;
	v = &m->peers[p];
	if (msg->h.type == XP_MSG_JOIN_ACK) {
		if (msg->h.src_epoch == v->epoch && live_state(v->state) &&
		    m->state == XP_JOINING) {
			v->acked = m->epoch;
			join_progress(m, now);
		} else {
			m->stats.stale_msgs++;
		}
		return 1;
	}
	/* JOIN */
	if (xp_epoch_before(msg->h.src_epoch, v->epoch) ||
	    (msg->h.src_epoch == v->epoch && v->state == XP_DEAD)) {
		/* An incarnation we fenced must rejoin under a new epoch. */
		m->stats.stale_msgs++;
		return 1;
	}
	if (msg->h.src_epoch != v->epoch)
		new_incarnation(m, p, msg->h.src_epoch, XP_JOINING,
				xp_read_once(xp_region_part(m->r, p)->heartbeat),
				now);
	/* The old incarnation's mappings are gone (fence returned): ack. */
	send_ack(m, p);
	return 1;
}

int xp_member_fence(struct xp_member *m, u32 peer, u32 epoch, u32 reason,
		    u64 now)
{
	struct xp_part *e;
	struct xp_peer_view *v;
	u64 w;

	(void)now;
	if (peer >= m->nparts || peer == m->cfg.self)
		return -EINVAL;
	v = &m->peers[peer];
	/* Only the incarnation that was judged: a newer one did nothing. */
	if (!live_state(v->state) || v->epoch != epoch)
		return -ESRCH;
	e = xp_region_part(m->r, peer);
	w = xp_load_acquire(&e->sword);
	if (xp_sword_epoch(w) == v->epoch && xp_sword_state(w) != XP_DEAD)
		xp_cmpxchg64(&e->sword, w, xp_sword(v->epoch, m->cfg.self,
						    reason, XP_DEAD));
	/* Fenced in our view whatever the table says now. */
	fenced(m, peer, reason);
	return 0;
}
