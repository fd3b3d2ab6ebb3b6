// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * msg.c - sealing and validating messages.
 *
 * xp_msg_check is the gate between peer-written bytes and the rest of the
 * system (I4): it runs on a private copy (the ring copies a slot out before
 * anyone looks at it, so a peer cannot change a field after it was checked),
 * checks the header, then the payload of the type, and returns the first
 * reason found.  The checks are cheap integer tests; the checksum catches
 * torn or scribbled slots, the structural checks catch a peer that computes
 * a valid checksum over nonsense.
 */
#include "msg.h"
#include "epoch.h"

XP_BUILD_BUG_ON(sizeof(struct xp_msg_hdr) != XP_MSG_HDR_SIZE);
XP_BUILD_BUG_ON(sizeof(struct xp_msg) != XP_SLOT_SIZE);
XP_BUILD_BUG_ON(sizeof(struct xp_fault_reply) >
		XP_FAULT_REPLY_FIXED + 8 * XP_FAULT_REPLY_RUNS);

#define PFN_LIMIT	(1ull << 52)	/* frames of a 64-bit physical space */
#define MAX_ERRNO	4095

static const u16 fixed_len[XP_MSG_TYPE_NR] = {
	[XP_MSG_PING] = sizeof(struct xp_ping),
	[XP_MSG_PONG] = sizeof(struct xp_ping),
	[XP_MSG_JOIN] = sizeof(struct xp_join),
	[XP_MSG_JOIN_ACK] = sizeof(struct xp_join_ack),
	[XP_MSG_GET] = sizeof(struct xp_get),
	[XP_MSG_GET_REPLY] = sizeof(struct xp_get_reply),
	[XP_MSG_FAULT] = sizeof(struct xp_fault),
	[XP_MSG_FAULT_REPLY] = XP_FAULT_REPLY_FIXED,
	[XP_MSG_INVALIDATE] = sizeof(struct xp_inval),
	[XP_MSG_INVALIDATE_DONE] = sizeof(struct xp_inval_done),
	[XP_MSG_UNPIN] = sizeof(struct xp_inval),
	[XP_MSG_RELEASE] = sizeof(struct xp_release),
	[XP_MSG_RELEASE_ACK] = sizeof(struct xp_release),
};

u32 xp_msg_payload_len(u32 type, u32 count)
{
	if (type == 0 || type >= XP_MSG_TYPE_NR)
		return 0;
	if (type == XP_MSG_FAULT_REPLY) {
		if (count > XP_FAULT_REPLY_RUNS)
			return 0;
		return XP_FAULT_REPLY_FIXED + 8 * count;
	}
	return fixed_len[type];
}

/*
 * A 32-bit multiplicative hash over 32-bit words, the csum word counted as
 * zero.  Integer only (no FPU, no tables) so it is cheap in both worlds;
 * lengths are always multiples of 8, so words never straddle the end.
 */
u32 xp_msg_csum(const struct xp_msg *m)
{
	const u8 *p = (const u8 *)m;
	u32 len = m->h.len;
	u32 n, i, h = 0x811c9dc5u;

	if (len > XP_MSG_MAX_PAYLOAD)
		len = XP_MSG_MAX_PAYLOAD;
	n = (XP_MSG_HDR_SIZE + len) / 4;
	for (i = 0; i < n; i++) {
		u32 w;

		if (i == 7)	/* offsetof(struct xp_msg_hdr, csum) / 4 */
			w = 0;
		else
			xp_memcpy(&w, p + 4 * i, 4);
		h = (h ^ w) * 0x01000193u;
		h ^= h >> 15;
	}
	return h;
}

int xp_msg_seal(struct xp_msg *m, u32 type, u32 src, u32 dst, u32 src_epoch,
		u32 dst_epoch, u64 seq)
{
	u32 len;

	if (type == XP_MSG_FAULT_REPLY)
		len = xp_msg_payload_len(type, m->u.fault_reply.count);
	else
		len = xp_msg_payload_len(type, 0);
	if (!len)
		return -EINVAL;
	m->h.type = (u16)type;
	m->h.src = (u16)src;
	m->h.dst = (u16)dst;
	m->h.src_epoch = src_epoch;
	m->h.dst_epoch = dst_epoch;
	m->h.seq = seq;
	m->h.len = (u16)len;
	m->h.reserved = 0;
	m->h.flags &= XP_MSGF_ALL;
	m->h.csum = xp_msg_csum(m);
	return 0;
}

static int check_range(u64 offset, u64 len)
{
	if ((offset | len) & (XP_PAGE_SIZE - 1))
		return XP_REJ_ALIGN;
	if (!len || offset + len < offset)
		return XP_REJ_RANGE;
	return XP_REJ_OK;
}

/*
 * A request's rid is of its sender's epoch; a reply's of ours (an answer to
 * an older incarnation of ours is stale).  n = 0 is never used.
 */
static int check_rid(u64 rid, u32 epoch)
{
	return ((u32)(rid >> 32) == epoch && (u32)rid) ? XP_REJ_OK : XP_REJ_SEQ;
}

static int check_status(s32 status)
{
	return (status > 0 || status < -MAX_ERRNO) ? XP_REJ_VALUE : XP_REJ_OK;
}

static int check_payload(const struct xp_msg *m, const struct xp_msg_expect *e)
{
	unsigned int i;
	u64 pages;
	u32 ep;
	int r;

	switch (m->h.type) {
	case XP_MSG_PING:
		return check_rid(m->u.ping.rid, m->h.src_epoch);
	case XP_MSG_PONG:
		return check_rid(m->u.ping.rid, e->dst_epoch);
	case XP_MSG_JOIN: {
		const struct xp_join *j = &m->u.join;

		if (j->window_pfn >= PFN_LIMIT || j->window_pages > PFN_LIMIT ||
		    j->window_pfn + j->window_pages > PFN_LIMIT)
			return XP_REJ_RANGE;
		return XP_REJ_OK;
	}
	case XP_MSG_JOIN_ACK:
		if (m->u.join_ack.reserved)
			return XP_REJ_RESERVED;
		/* An ack is for the epoch we are joining under, nothing else. */
		if (m->u.join_ack.acked_epoch != e->dst_epoch)
			return XP_REJ_DST_EPOCH;
		return XP_REJ_OK;
	case XP_MSG_GET:
		if (m->u.get.reserved)
			return XP_REJ_RESERVED;
		if (m->u.get.flags != 1 && m->u.get.flags != 2)
			return XP_REJ_FLAGS;
		if (m->u.get.segid <= 0)
			return XP_REJ_VALUE;
		return check_rid(m->u.get.rid, m->h.src_epoch);
	case XP_MSG_GET_REPLY: {
		const struct xp_get_reply *g = &m->u.get_reply;

		if (g->reserved)
			return XP_REJ_RESERVED;
		if (check_status(g->status) || g->segid <= 0)
			return XP_REJ_VALUE;
		if (check_rid(g->rid, e->dst_epoch))
			return XP_REJ_SEQ;
		if (g->status)
			return (g->token || g->size) ? XP_REJ_VALUE : XP_REJ_OK;
		if (!g->token)
			return XP_REJ_VALUE;
		if (g->size & (XP_PAGE_SIZE - 1))
			return XP_REJ_ALIGN;
		return g->size ? XP_REJ_OK : XP_REJ_RANGE;
	}
	case XP_MSG_FAULT: {
		const struct xp_fault *f = &m->u.fault;

		if (f->flags & ~XP_FAULTF_WRITE)
			return XP_REJ_FLAGS;
		if (!f->npages || f->npages > XP_FAULT_MAX_PAGES)
			return XP_REJ_COUNT;
		if (check_rid(f->rid, m->h.src_epoch))
			return XP_REJ_SEQ;
		return check_range(f->offset, (u64)f->npages << XP_PAGE_SHIFT);
	}
	case XP_MSG_FAULT_REPLY: {
		const struct xp_fault_reply *f = &m->u.fault_reply;

		if (m->h.len != xp_msg_payload_len(XP_MSG_FAULT_REPLY, f->count))
			return XP_REJ_COUNT;
		if (f->flags & ~(XP_FAULTF_WRITE | XP_FAULTF_LAST))
			return XP_REJ_FLAGS;
		if (check_status(f->status))
			return XP_REJ_VALUE;
		if (check_rid(f->rid, e->dst_epoch))
			return XP_REJ_SEQ;
		if (f->status && f->count)
			return XP_REJ_COUNT;
		if (f->offset & (XP_PAGE_SIZE - 1))
			return XP_REJ_ALIGN;
		for (i = 0, pages = 0; i < f->count; i++) {
			if (xp_run_pfn(f->runs[i]) + xp_run_pages(f->runs[i]) > PFN_LIMIT)
				return XP_REJ_VALUE;
			pages += xp_run_pages(f->runs[i]);
		}
		/* No more than one FAULT may ask for, and no wrap. */
		if (pages > XP_FAULT_MAX_PAGES)
			return XP_REJ_COUNT;
		if (f->offset + (pages << XP_PAGE_SHIFT) < f->offset)
			return XP_REJ_RANGE;
		return XP_REJ_OK;
	}
	case XP_MSG_INVALIDATE:
		if (check_rid(m->u.inval.rid, m->h.src_epoch))
			return XP_REJ_SEQ;
		return check_range(m->u.inval.offset, m->u.inval.len);
	case XP_MSG_UNPIN:
		if (m->u.inval.rid)
			return XP_REJ_RESERVED;	/* no answer, no rid */
		return check_range(m->u.inval.offset, m->u.inval.len);
	case XP_MSG_INVALIDATE_DONE:
		/* Completes one of our requests: of our current epoch only. */
		r = (u32)(m->u.inval_done.acked_seq >> 32) == e->dst_epoch;
		return r ? XP_REJ_OK : XP_REJ_SEQ;
	case XP_MSG_RELEASE:
	case XP_MSG_RELEASE_ACK:
		if (!m->u.release.token && !m->u.release.get_rid)
			return XP_REJ_VALUE;
		/* RELEASE is a request, its ACK the answer (an older us: stale). */
		ep = m->h.type == XP_MSG_RELEASE ? m->h.src_epoch : e->dst_epoch;
		if (m->u.release.get_rid && check_rid(m->u.release.get_rid, ep))
			return XP_REJ_SEQ;
		return check_rid(m->u.release.rid, ep);
	}
	return XP_REJ_TYPE;
}

static int check(const struct xp_msg *m, const struct xp_msg_expect *e)
{
	const struct xp_msg_hdr *h = &m->h;
	u32 type = h->type;

	if (type == 0 || type >= XP_MSG_TYPE_NR)
		return XP_REJ_TYPE;
	if (type == XP_MSG_FAULT_REPLY) {
		if (h->len < XP_FAULT_REPLY_FIXED ||
		    h->len > XP_FAULT_REPLY_FIXED + 8 * XP_FAULT_REPLY_RUNS ||
		    (h->len - XP_FAULT_REPLY_FIXED) % 8)
			return XP_REJ_LEN;
	} else if (h->len != fixed_len[type]) {
		return XP_REJ_LEN;
	}
	if (h->flags & ~XP_MSGF_ALL)
		return XP_REJ_FLAGS;
	if (h->reserved)
		return XP_REJ_RESERVED;
	if (h->csum != xp_msg_csum(m))
		return XP_REJ_CSUM;
	if (h->src != e->src || h->src >= e->max_parts || h->src == h->dst)
		return XP_REJ_SRC;
	if (h->dst != e->dst || h->dst >= e->max_parts)
		return XP_REJ_DST;
	if (!h->src_epoch)
		return XP_REJ_SRC_EPOCH;
	if (type == XP_MSG_JOIN) {
		/* A join announces a new incarnation: never an older one. */
		if (xp_epoch_before(h->src_epoch, e->src_epoch))
			return XP_REJ_SRC_EPOCH;
	} else if (e->src_epoch && h->src_epoch != e->src_epoch) {
		return XP_REJ_SRC_EPOCH;
	}
	if (h->dst_epoch != e->dst_epoch)
		return XP_REJ_DST_EPOCH;
	if ((u32)(h->seq >> 32) != h->src_epoch)
		return XP_REJ_SEQ;
	return check_payload(m, e);
}

int xp_msg_check(const struct xp_msg *m, const struct xp_msg_expect *e,
		 struct xp_msg_stats *st)
{
	int r = check(m, e);

	if (st) {
		if (r == XP_REJ_OK)
			st->accepted++;
		else
			st->rejected[r]++;
	}
	return r;
}

const char *xp_msg_type_name(u32 type)
{
	static const char *const names[XP_MSG_TYPE_NR] = {
		[XP_MSG_PING] = "PING", [XP_MSG_PONG] = "PONG",
		[XP_MSG_JOIN] = "JOIN", [XP_MSG_JOIN_ACK] = "JOIN_ACK",
		[XP_MSG_GET] = "GET", [XP_MSG_GET_REPLY] = "GET_REPLY",
		[XP_MSG_FAULT] = "FAULT", [XP_MSG_FAULT_REPLY] = "FAULT_REPLY",
		[XP_MSG_INVALIDATE] = "INVALIDATE",
		[XP_MSG_INVALIDATE_DONE] = "INVALIDATE_DONE",
		[XP_MSG_UNPIN] = "UNPIN", [XP_MSG_RELEASE] = "RELEASE",
		[XP_MSG_RELEASE_ACK] = "RELEASE_ACK",
	};

	return (type && type < XP_MSG_TYPE_NR) ? names[type] : "INVALID";
}

const char *xp_rej_name(u32 rej)
{
	static const char *const names[XP_REJ_NR] = {
		[XP_REJ_OK] = "ok", [XP_REJ_TYPE] = "type", [XP_REJ_LEN] = "len",
		[XP_REJ_SRC] = "src", [XP_REJ_DST] = "dst",
		[XP_REJ_FLAGS] = "flags", [XP_REJ_RESERVED] = "reserved",
		[XP_REJ_CSUM] = "csum", [XP_REJ_SRC_EPOCH] = "src_epoch",
		[XP_REJ_DST_EPOCH] = "dst_epoch", [XP_REJ_SEQ] = "seq",
		[XP_REJ_ALIGN] = "align", [XP_REJ_RANGE] = "range",
		[XP_REJ_COUNT] = "count", [XP_REJ_VALUE] = "value",
		[XP_REJ_RING] = "ring",
	};

	return rej < XP_REJ_NR ? names[rej] : "invalid";
}
