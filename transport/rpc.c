// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * rpc.c - request ids, reply matching, orphans, INVALIDATE numbering and
 * its gap-free completion word (rpc.h).
 *
 * Completion word ordering: the receiver stores its epoch, then the seq
 * with release; the sender loads the seq with acquire, then the epoch.  A
 * sender that sees the new seq therefore sees the epoch stored with it (or
 * a later one, which then fails the incarnation check: safe side).
 */
#include "rpc.h"
#include "chan.h"

void xp_rpc_init(struct xp_rpc *t)
{
	xp_memset(t, 0, sizeof(*t));
}

u64 *xp_msg_rid(struct xp_msg *m, u32 type)
{
	switch (type) {
	case XP_MSG_PING:
	case XP_MSG_PONG:
		return &m->u.ping.rid;
	case XP_MSG_GET:
		return &m->u.get.rid;
	case XP_MSG_GET_REPLY:
		return &m->u.get_reply.rid;
	case XP_MSG_FAULT:
		return &m->u.fault.rid;
	case XP_MSG_FAULT_REPLY:
		return &m->u.fault_reply.rid;
	case XP_MSG_INVALIDATE:
		return &m->u.inval.rid;
	case XP_MSG_RELEASE:
	case XP_MSG_RELEASE_ACK:
		return &m->u.release.rid;
	}
	return NULL;
}

static u32 reply_type_of(u32 type)
{
	switch (type) {
	case XP_MSG_PING:
		return XP_MSG_PONG;
	case XP_MSG_GET:
		return XP_MSG_GET_REPLY;
	case XP_MSG_FAULT:
		return XP_MSG_FAULT_REPLY;
	}
	return 0;
}

/* The next n of a counter: never 0, which no rid uses. */
static u32 next_n(u32 *counter)
{
	if (!++*counter)
		++*counter;
	return *counter;
}

int xp_rpc_begin(struct xp_rpc *t, struct xp_req *rq, struct xp_chan *ch,
		 struct xp_msg *msg, u32 type, u64 resend_ns, u64 deadline_ns)
{
	struct xp_member *m = ch->m;
	u32 reply = reply_type_of(type);

	if (!reply)
		return -EINVAL;
	if (!xp_member_peer_live(m, ch->peer))
		return -ESRCH;
	rq->peer = ch->peer;
	rq->type = type;
	rq->reply_type = reply;
	rq->peer_epoch = xp_member_peer_epoch(m, ch->peer);
	rq->rid = xp_rid(m->epoch, next_n(&ch->rpc.req_n));
	*xp_msg_rid(msg, type) = rq->rid;
	rq->offset = 0;
	rq->end = 0;
	if (type == XP_MSG_FAULT) {
		rq->offset = msg->u.fault.offset;
		rq->end = rq->offset + ((u64)msg->u.fault.npages << XP_PAGE_SHIFT);
	}
	rq->resend_ns = resend_ns ? resend_ns : 1;
	rq->deadline_ns = deadline_ns;
	rq->next_post_ns = 0;
	rq->posts = 0;
	rq->done = 0;
	rq->status = 0;
	/* At the head: a table walk finds the newest first (no matter). */
	rq->prev = NULL;
	rq->next = t->head;
	if (t->head)
		t->head->prev = rq;
	t->head = rq;
	t->inflight[rq->peer]++;
	return 0;
}

int xp_rpc_post(struct xp_req *rq, struct xp_chan *ch, struct xp_msg *msg,
		u64 now)
{
	int err;

	/* The rid is fixed at begin: a re-post is the same request. */
	*xp_msg_rid(msg, rq->type) = rq->rid;
	err = xp_chan_send(ch, msg, rq->type, now);
	if (err)
		return err;
	/* Sealed with the peer's epoch we know now: that one answers. */
	rq->peer_epoch = msg->h.dst_epoch;
	rq->posts++;
	rq->next_post_ns = now + rq->resend_ns;
	return 0;
}

int xp_rpc_due(const struct xp_req *rq, u64 now)
{
	return !rq->done && now >= rq->next_post_ns;
}

u64 xp_rpc_next_event(const struct xp_req *rq)
{
	return rq->next_post_ns < rq->deadline_ns ? rq->next_post_ns :
						    rq->deadline_ns;
}

void xp_rpc_end(struct xp_rpc *t, struct xp_req *rq)
{
	if (rq->prev)
		rq->prev->next = rq->next;
	else
		t->head = rq->next;
	if (rq->next)
		rq->next->prev = rq->prev;
	rq->prev = rq->next = NULL;
	t->inflight[rq->peer]--;
}

static void finish(struct xp_req *rq, int status)
{
	rq->status = status;
	xp_write_once(rq->done, 1);
}

/* Pages a (checked) FAULT_REPLY covers. */
static u64 reply_pages(const struct xp_fault_reply *f)
{
	u64 pages = 0;
	u32 i;

	for (i = 0; i < f->count && i < XP_FAULT_REPLY_RUNS; i++)
		pages += xp_run_pages(f->runs[i]);
	return pages;
}

static int answers(const struct xp_req *rq, u32 peer, const struct xp_msg *m,
		   u64 rid)
{
	if (rq->done || rq->peer != peer || rq->reply_type != m->h.type ||
	    rq->rid != rid || rq->peer_epoch != m->h.src_epoch)
		return 0;
	/* Replies of one FAULT arrive in order; a duplicate never continues. */
	if (m->h.type == XP_MSG_FAULT_REPLY &&
	    m->u.fault_reply.offset != rq->offset)
		return 0;
	return 1;
}

static void orphan(struct xp_chan *ch, const struct xp_msg *m, u64 now)
{
	if (m->h.type == XP_MSG_GET_REPLY && !m->u.get_reply.status) {
		/* An export made for nobody: hand its token back, until acked. */
		xp_rpc_release(ch, m->u.get_reply.token, m->h.src_epoch, now);
		ch->rpc.stats.orphans_released++;
	} else {
		ch->rpc.stats.orphans_dropped++;
	}
}

struct xp_req *xp_rpc_reply(struct xp_rpc *t, struct xp_chan *ch,
			    const struct xp_msg *m, u64 now)
{
	const u64 *ridp = xp_msg_rid((struct xp_msg *)m, m->h.type);
	struct xp_req *rq;

	if (m->h.type != XP_MSG_PONG && m->h.type != XP_MSG_GET_REPLY &&
	    m->h.type != XP_MSG_FAULT_REPLY)
		return NULL;
	for (rq = t->head; rq; rq = rq->next)
		if (answers(rq, ch->peer, m, *ridp))
			break;
	if (!rq) {
		orphan(ch, m, now);
		return NULL;
	}
	ch->rpc.stats.replies++;
	switch (m->h.type) {
	case XP_MSG_GET_REPLY:
		finish(rq, m->u.get_reply.status);
		break;
	case XP_MSG_PONG:
		finish(rq, 0);
		break;
	case XP_MSG_FAULT_REPLY: {
		const struct xp_fault_reply *f = &m->u.fault_reply;

		rq->status = f->status;
		rq->offset += reply_pages(f) << XP_PAGE_SHIFT;
		if (f->status || (f->flags & XP_FAULTF_LAST) || rq->offset >= rq->end)
			finish(rq, f->status);
		break;
	}
	}
	return rq;
}

u32 xp_rpc_fail(struct xp_rpc *t, u32 peer, int err)
{
	struct xp_req *rq;
	u32 n = 0;

	for (rq = t->head; rq; rq = rq->next)
		if (!rq->done && (peer == XP_RPC_ALL || rq->peer == peer)) {
			finish(rq, err);
			n++;
		}
	return n;
}

/* ---- RELEASE: re-posted until acknowledged --------------------------------- */

static u64 rel_resend(const struct xp_chan *ch)
{
	return ch->rpc.rel_resend_ns ? ch->rpc.rel_resend_ns : XP_REL_RESEND_NS;
}

/*
 * The incarnation that made the exports is still the one we see live, and
 * a GET rid named is still of our epoch: else the exports are gone already.
 */
static int rel_current(const struct xp_chan *ch, const struct xp_rel *r)
{
	return xp_member_peer_live(ch->m, ch->peer) &&
	       xp_member_peer_epoch(ch->m, ch->peer) == r->peer_epoch &&
	       (!r->get_rid || xp_rid_epoch(r->get_rid) == ch->m->epoch);
}

/* Posts @r now (same rid every time); a full ring waits for the next tick. */
static void rel_post(struct xp_chan *ch, struct xp_rel *r, u64 now)
{
	struct xp_msg m;

	xp_memset(&m, 0, sizeof(m));
	m.u.release.token = r->token;
	m.u.release.rid = r->rid;
	m.u.release.get_rid = r->get_rid;
	r->posts++;
	r->next_post_ns = now + rel_resend(ch);
	xp_chan_send(ch, &m, XP_MSG_RELEASE, now);
}

static int rel_add(struct xp_chan *ch, u64 token, u64 get_rid, u32 peer_epoch,
		   u64 now)
{
	struct xp_rpc_chan *c = &ch->rpc;
	struct xp_rel *r = NULL, once;
	u32 i;

	for (i = 0; i < XP_REL_SLOTS && !r; i++)
		if (!c->rel[i].rid)
			r = &c->rel[i];
	if (!r)
		r = &once;	/* every slot awaits an ack: best effort */
	r->token = token;
	r->get_rid = get_rid;
	r->peer_epoch = peer_epoch;
	r->posts = 0;
	if (!rel_current(ch, r)) {
		c->stats.rel_moot++;
		return -ESRCH;
	}
	r->rid = xp_rid(ch->m->epoch, next_n(&c->req_n));
	rel_post(ch, r, now);
	if (r == &once) {
		c->stats.rel_untracked++;
		return -ENOSPC;
	}
	c->stats.rel_posted++;
	return 0;
}

int xp_rpc_release(struct xp_chan *ch, u64 token, u32 peer_epoch, u64 now)
{
	return token ? rel_add(ch, token, 0, peer_epoch, now) : -EINVAL;
}

int xp_rpc_get_settle(struct xp_chan *ch, const struct xp_req *rq, u64 keep,
		      u64 now)
{
	int answered = rq->done && !rq->status;

	/* Posted once: the owner made at most the one export we got. */
	if (rq->type != XP_MSG_GET || !rq->posts || (rq->posts == 1 && rq->done))
		return 0;
	return rel_add(ch, answered ? keep : 0, rq->rid, rq->peer_epoch, now);
}

void xp_rpc_tick(struct xp_chan *ch, u64 now)
{
	struct xp_rpc_chan *c = &ch->rpc;
	struct xp_rel *r;
	u32 i;

	for (i = 0; i < XP_REL_SLOTS; i++) {
		r = &c->rel[i];
		if (!r->rid)
			continue;
		if (!rel_current(ch, r)) {
			r->rid = 0;	/* its exports went with that incarnation */
			c->stats.rel_moot++;
		} else if (now >= r->next_post_ns && r->posts >= XP_REL_MAX_POSTS) {
			r->rid = 0;	/* live, yet never answers: its loss */
			c->stats.rel_abandoned++;
		} else if (now >= r->next_post_ns) {
			c->stats.rel_reposts++;
			rel_post(ch, r, now);
		}
	}
}

u32 xp_rpc_releases_pending(const struct xp_chan *ch)
{
	u32 i, n = 0;

	for (i = 0; i < XP_REL_SLOTS; i++)
		n += ch->rpc.rel[i].rid != 0;
	return n;
}

int xp_rpc_release_rx(struct xp_chan *ch, const struct xp_msg *m, u64 now)
{
	struct xp_msg r;

	xp_memset(&r, 0, sizeof(r));
	r.u.release = m->u.release;	/* echoed whole */
	ch->rpc.stats.rel_acks_sent++;
	return xp_chan_send(ch, &r, XP_MSG_RELEASE_ACK, now);
}

int xp_rpc_release_acked(struct xp_chan *ch, const struct xp_msg *m)
{
	const struct xp_release *a = &m->u.release;
	struct xp_rel *r;
	u32 i;

	for (i = 0; i < XP_REL_SLOTS; i++) {
		r = &ch->rpc.rel[i];
		if (r->rid && r->rid == a->rid && r->token == a->token &&
		    r->get_rid == a->get_rid && r->peer_epoch == m->h.src_epoch) {
			r->rid = 0;
			ch->rpc.stats.rel_acked++;
			return 1;
		}
	}
	return 0;	/* a duplicate ack, or for a slot given up */
}

/* ---- INVALIDATE: sender ---------------------------------------------------- */

u64 xp_rpc_inval_rid(struct xp_chan *ch, u32 peer_epoch)
{
	struct xp_rpc_chan *c = &ch->rpc;
	struct xp_member *m = ch->m;

	if (!peer_epoch || !xp_member_peer_live(m, ch->peer) ||
	    xp_member_peer_epoch(m, ch->peer) != peer_epoch)
		return 0;
	/* A new pair of incarnations: its receiver starts its tracker at 0. */
	if (c->tx_self != m->epoch || c->tx_peer != peer_epoch) {
		c->tx_self = m->epoch;
		c->tx_peer = peer_epoch;
		c->tx_n = 0;
	}
	/* 2^32 INVALIDATEs to one incarnation: the window check drops n = 0. */
	return xp_rid(m->epoch, ++c->tx_n);
}

int xp_rpc_inval_current(const struct xp_chan *ch, u64 rid, u32 peer_epoch)
{
	const struct xp_member *m = ch->m;

	return xp_rid_n(rid) && xp_rid_epoch(rid) == m->epoch &&
	       ch->rpc.tx_self == m->epoch && ch->rpc.tx_peer == peer_epoch;
}

int xp_rpc_inval_done(const struct xp_chan *ch, u64 rid, u32 peer_epoch)
{
	const struct xp_member *m = ch->m;
	u64 got = xp_load_acquire(&ch->comp_in->seq);
	u32 ep = xp_read_once(ch->comp_in->epoch);

	/* Numbered for this pair of incarnations, and both still current. */
	if (!xp_rpc_inval_current(ch, rid, peer_epoch))
		return 0;
	if (ep != peer_epoch || xp_member_peer_epoch(m, ch->peer) != peer_epoch ||
	    !xp_member_peer_live(m, ch->peer))
		return 0;
	return xp_rid_epoch(got) == m->epoch && xp_rid_n(got) >= xp_rid_n(rid);
}

/* ---- INVALIDATE: receiver -------------------------------------------------- */

static int bit_test(const u64 *map, u32 n)
{
	n %= XP_INV_WINDOW;
	return (map[n / 64] >> (n % 64)) & 1;
}

static void bit_set(u64 *map, u32 n)
{
	n %= XP_INV_WINDOW;
	map[n / 64] |= 1ull << (n % 64);
}

static void bit_clear(u64 *map, u32 n)
{
	n %= XP_INV_WINDOW;
	map[n / 64] &= ~(1ull << (n % 64));
}

/* The sender or we have a new epoch: numbering restarts at 1. */
static void rx_track(struct xp_chan *ch, u32 src_epoch)
{
	struct xp_rpc_chan *c = &ch->rpc;

	if (c->rx_self == ch->m->epoch && c->rx_src == src_epoch)
		return;
	c->rx_self = ch->m->epoch;
	c->rx_src = src_epoch;
	c->rx_done = 0;
	xp_memset(c->rx_queued, 0, sizeof(c->rx_queued));
	xp_memset(c->rx_handled, 0, sizeof(c->rx_handled));
}

static void publish(struct xp_chan *ch)
{
	struct xp_rpc_chan *c = &ch->rpc;

	xp_write_once(ch->comp_out->epoch, c->rx_self);
	/* Release: the epoch (and the zaps done) before the seq. */
	xp_store_release(&ch->comp_out->seq, xp_rid(c->rx_src, c->rx_done));
	xp_chan_ring(ch);
}

int xp_rpc_inval_rx(struct xp_chan *ch, const struct xp_msg *m)
{
	struct xp_rpc_chan *c = &ch->rpc;
	u32 n = xp_rid_n(m->u.inval.rid);

	rx_track(ch, m->h.src_epoch);
	if (n <= c->rx_done) {
		c->stats.inv_dup++;
		publish(ch);	/* its word or its doorbell was lost */
		return XP_INV_DUP;
	}
	if (n - c->rx_done > XP_INV_WINDOW) {
		c->stats.inv_beyond++;
		return XP_INV_BEYOND;
	}
	if (bit_test(c->rx_handled, n) || bit_test(c->rx_queued, n)) {
		c->stats.inv_busy++;
		return XP_INV_BUSY;
	}
	bit_set(c->rx_queued, n);
	c->stats.inv_new++;
	return XP_INV_NEW;
}

void xp_rpc_inval_handled(struct xp_chan *ch, const struct xp_msg *m)
{
	struct xp_rpc_chan *c = &ch->rpc;
	u32 n = xp_rid_n(m->u.inval.rid);

	/* Both incarnations as tracked: else it predates a restart. */
	if (c->rx_self != ch->m->epoch || m->h.dst_epoch != c->rx_self ||
	    c->rx_src != m->h.src_epoch || n <= c->rx_done || n - c->rx_done > XP_INV_WINDOW ||
	    !bit_test(c->rx_queued, n))
		return;		/* from before a restart of the tracker */
	bit_set(c->rx_handled, n);
	while (bit_test(c->rx_handled, c->rx_done + 1)) {
		c->rx_done++;
		bit_clear(c->rx_handled, c->rx_done);
		bit_clear(c->rx_queued, c->rx_done);
	}
	publish(ch);
}
