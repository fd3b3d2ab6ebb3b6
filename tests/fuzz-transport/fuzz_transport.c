// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_transport.c - libFuzzer target for everything in transport/ that
 * reads shared memory a peer can write (I4):
 *   mode 0  region header check on attach (any bytes, any mapping size);
 *   mode 1  message validation and the membership input path;
 *   mode 2  ring consumer and producer given garbage indexes and slots;
 *   mode 3  membership ticks over a partition table the input rewrites;
 *   mode 4  INVALIDATE numbering and the receiver's gap tracker under
 *           dropped, duplicated, reordered and corrupted messages, handling
 *           in any order and restarts of either side: a completion is never
 *           reported for a number the receiver has not handled, with every
 *           number below it (the no-reuse invariant), and everything
 *           completes once the network delivers;
 *   mode 5  reply matching: replies with any rid, offset, incarnation reach
 *           only the request whose rid and incarnation they carry, FAULT
 *           replies only in order, and every successful orphan GET_REPLY
 *           is handed back;
 *   mode 6  the payload checks, behind a header right by construction.
 * Built with -fsanitize=fuzzer,address,undefined; beyond "no crash, no
 * sanitizer report", each mode checks the invariants the code promises
 * (an accepted message is well formed, a pop never returns more than the
 * ring holds, states stay in range) and aborts when one breaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "member.h"
#include "msg.h"
#include "region.h"
#include "ring.h"
#include "rpc.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "broken: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct input {
	const unsigned char *p;
	size_t n;
};

static unsigned char take8(struct input *in)
{
	unsigned char c = 0;

	if (in->n) {
		c = *in->p++;
		in->n--;
	}
	return c;
}

static void take(struct input *in, void *dst, size_t n)
{
	size_t k = n < in->n ? n : in->n;

	memset(dst, 0, n);
	memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
}

static void fuzz_header(struct input *in)
{
	static unsigned char buf[1 << 20] __attribute__((aligned(4096)));
	struct xp_region r;
	size_t n = in->n < sizeof(buf) ? in->n : sizeof(buf);
	u64 mapped;
	int err;

	memset(buf, 0, 8192);
	memcpy(buf, in->p, n);
	/* The claimed mapping size comes from the input too. */
	mapped = (u64)(n + 4096 * (u64)(n ? in->p[0] : 0));
	if (mapped > sizeof(buf))
		mapped = sizeof(buf);
	err = xp_region_attach(&r, buf, mapped);
	CHECK(err >= 0 && err < XP_ATTACH_ERR_NR);
	if (err == XP_ATTACH_OK) {
		CHECK(r.l.size <= mapped);
		CHECK(r.l.comp_off + (u64)r.l.max_parts * r.l.max_parts * XP_COMP_SIZE <= r.l.size);
		/* Every accessor stays inside what was mapped. */
		CHECK((u8 *)(xp_region_comp(&r, r.l.max_parts - 1, r.l.max_parts - 1) + 1) <=
		      buf + mapped);
		CHECK((u8 *)xp_region_ring(&r, r.l.max_parts - 1, r.l.max_parts - 1) +
		      r.l.ring_stride <= buf + mapped);
	}
}

/* A small fabric in static memory for the modes that need one. */
static unsigned char fab[1 << 20] __attribute__((aligned(4096)));
static struct xp_region fr;
static struct xp_member fm;
static struct xp_ring_cons fcons;
static u64 fsent;

static int f_send(void *ctx, u32 peer, struct xp_msg *m)
{
	(void)ctx;
	CHECK(peer < fr.l.max_parts);
	CHECK(m->h.len <= XP_MSG_MAX_PAYLOAD);
	fsent++;
	return 0;
}

static void f_fence(void *ctx, u32 peer, u32 epoch, u32 reason)
{
	(void)ctx;
	(void)epoch;
	CHECK(peer < fr.l.max_parts && peer != fm.cfg.self);
	CHECK(reason <= 0xff);	/* from the table: any byte */
}

static void f_self_fence(void *ctx, u32 epoch, u32 reason)
{
	(void)ctx;
	(void)epoch;
	CHECK(reason == XP_R_SELF_STALE || reason == XP_R_SELF_STALLED);
}

static const struct xp_member_ops f_ops = {
	.send = f_send, .fence = f_fence, .self_fence = f_self_fence,
};

static void fabric(u32 parts, u32 slots, u64 now)
{
	struct xp_layout l;
	struct xp_member_cfg cfg;

	CHECK(xp_layout_compute(&l, parts, slots) == 0);
	CHECK(l.size <= sizeof(fab));
	CHECK(xp_region_format(fab, sizeof(fab), &l) == 0);
	CHECK(xp_region_attach(&fr, fab, sizeof(fab)) == XP_ATTACH_OK);
	memset(&cfg, 0, sizeof(cfg));
	cfg.self = 0;
	cfg.hb_ns = 10;
	cfg.dead_ns = 100;
	CHECK(xp_member_init(&fm, &fr, &cfg, &f_ops, NULL) == 0);
	CHECK(xp_member_join(&fm, now) == 0);
}

static void check_accepted(const struct xp_msg *m)
{
	CHECK(m->h.type > 0 && m->h.type < XP_MSG_TYPE_NR);
	CHECK(m->h.len == xp_msg_payload_len(m->h.type,
		m->h.type == XP_MSG_FAULT_REPLY ? m->u.fault_reply.count : 0));
	CHECK(m->h.csum == xp_msg_csum(m));
	CHECK(m->h.src < fr.l.max_parts && m->h.dst < fr.l.max_parts);
	if (m->h.type == XP_MSG_FAULT)
		CHECK(m->u.fault.npages >= 1 && m->u.fault.npages <= XP_FAULT_MAX_PAGES);
	if (m->h.type == XP_MSG_INVALIDATE || m->h.type == XP_MSG_UNPIN)
		CHECK(m->u.inval.len && !(m->u.inval.offset & 4095) &&
		      m->u.inval.offset + m->u.inval.len > m->u.inval.offset);
	/* A RELEASE names a token or a GET, and carries its own rid. */
	if (m->h.type == XP_MSG_RELEASE || m->h.type == XP_MSG_RELEASE_ACK)
		CHECK((m->u.release.token || m->u.release.get_rid) && m->u.release.rid);
}

static void fuzz_msg(struct input *in)
{
	struct xp_msg_stats st;
	struct xp_msg m;
	int r;

	fabric(3, 2, 1000);
	/* Give peers an epoch so both checked and unchecked paths run. */
	fm.peers[1].epoch = take8(in);
	fm.peers[1].state = take8(in) % XP_STATE_NR;
	take(in, &m, sizeof(m));
	if (take8(in) & 1)	/* half the time, a valid checksum */
		m.h.csum = xp_msg_csum(&m);
	memset(&st, 0, sizeof(st));
	r = xp_member_check(&fm, 1, &m, &st);
	CHECK(r >= 0 && r < XP_REJ_NR);
	CHECK(st.accepted + st.rejected[r] == 1);
	if (r == XP_REJ_OK) {
		check_accepted(&m);
		xp_member_input(&fm, 2000, &m);
		CHECK(fm.peers[1].state < XP_STATE_NR);
	}
}

/*
 * Half the time, the rid a well-behaved peer would send (a request's of its
 * own epoch, a reply's of ours) with the input's number: the payload checks
 * behind the rid are then reached at once.
 */
static void fix_rid(struct xp_msg *m, u32 src_epoch, u32 dst_epoch)
{
	u32 n = (u32)m->h.seq | 1;

	switch (m->h.type) {
	case XP_MSG_PING:
		m->u.ping.rid = (u64)src_epoch << 32 | n;
		break;
	case XP_MSG_PONG:
		m->u.ping.rid = (u64)dst_epoch << 32 | n;
		break;
	case XP_MSG_GET:
		m->u.get.rid = (u64)src_epoch << 32 | n;
		break;
	case XP_MSG_GET_REPLY:
		m->u.get_reply.rid = (u64)dst_epoch << 32 | n;
		break;
	case XP_MSG_FAULT:
		m->u.fault.rid = (u64)src_epoch << 32 | n;
		break;
	case XP_MSG_FAULT_REPLY:
		m->u.fault_reply.rid = (u64)dst_epoch << 32 | n;
		break;
	case XP_MSG_INVALIDATE:
		m->u.inval.rid = (u64)src_epoch << 32 | n;
		break;
	case XP_MSG_RELEASE:
		m->u.release.rid = (u64)src_epoch << 32 | n;
		break;
	case XP_MSG_RELEASE_ACK:
		m->u.release.rid = (u64)dst_epoch << 32 | n;
		break;
	}
}

/*
 * Mode 6: a message from a live peer whose header is right by construction
 * (source, destination, both epochs, sequence, a length the header check
 * allows, the checksum), with type, length and payload from the input.  Mode
 * 1 must guess all of those at once before it reaches a payload check; here
 * every input exercises one, so a payload check that lets a malformed
 * message through is found within seconds.
 */
static void fuzz_payload(struct input *in)
{
	struct xp_msg_stats st;
	struct xp_msg m;
	u32 type, len;
	int r;

	fabric(3, 2, 1000);
	fm.peers[1].epoch = 1 + take8(in);
	fm.peers[1].state = XP_UP;
	memset(&m, 0, sizeof(m));
	take(in, &m.u, sizeof(m.u));
	type = 1 + take8(in) % (XP_MSG_TYPE_NR - 1);
	len = xp_msg_payload_len(type, 0);
	if (type == XP_MSG_FAULT_REPLY)	/* any length the header check takes */
		len = XP_FAULT_REPLY_FIXED + 8 * (take8(in) % (XP_FAULT_REPLY_RUNS + 1));
	m.h.type = (u16)type;
	m.h.src = 1;
	m.h.dst = 0;
	m.h.src_epoch = fm.peers[1].epoch;
	m.h.dst_epoch = fm.epoch;
	m.h.seq = (u64)m.h.src_epoch << 32 | take8(in);
	m.h.len = (u16)len;
	m.h.flags = take8(in) & XP_MSGF_ALL;
	if (take8(in) & 1)
		fix_rid(&m, fm.peers[1].epoch, fm.epoch);
	m.h.csum = xp_msg_csum(&m);
	memset(&st, 0, sizeof(st));
	r = xp_member_check(&fm, 1, &m, &st);
	CHECK(r >= 0 && r < XP_REJ_NR);
	CHECK(st.accepted + st.rejected[r] == 1);
	/* The header passes; only the payload may be refused. */
	CHECK(r != XP_REJ_LEN && r != XP_REJ_CSUM && r != XP_REJ_SRC &&
	      r != XP_REJ_DST);
	if (r == XP_REJ_OK) {
		check_accepted(&m);
		xp_member_input(&fm, 2000, &m);
		CHECK(fm.peers[1].state < XP_STATE_NR);
	}
}

static void fuzz_ring(struct input *in)
{
	struct xp_ring_prod prod;
	struct xp_ring_ctrl *ctrl;
	struct xp_msg m;
	u32 head, tail, n, popped = 0;
	int r;

	fabric(2, 8, 1000);
	ctrl = xp_region_ring(&fr, 1, 0);
	xp_ring_cons_init(&fcons, &fr, 1, 0);
	take(in, &head, 4);
	take(in, &tail, 4);
	/* Slots full of input bytes, then impossible or possible indexes. */
	take(in, (u8 *)ctrl + XP_RING_CTRL_SIZE, 8 * XP_SLOT_SIZE);
	ctrl->head = head;
	fcons.tail = tail;
	fcons.head_cache = tail;
	for (n = 0; n < 32; n++) {
		r = xp_ring_pop(&fcons, &m);
		CHECK(r >= -EPROTO && r <= 1);
		if (r == -EPROTO) {
			CHECK(head - tail > 8);
			break;
		}
		if (!r)
			break;
		popped++;
		CHECK(popped <= 8);
		r = xp_member_check(&fm, 1, &m, NULL);
		if (r == XP_REJ_OK)
			check_accepted(&m);
	}
	if (head - tail <= 8)
		CHECK(popped == head - tail);
	/* The producer side against a garbage tail. */
	ctrl = xp_region_ring(&fr, 0, 1);
	take(in, &tail, 4);
	xp_ring_prod_init(&prod, &fr, 0, 1);
	ctrl->tail = tail;
	memset(&m, 0, sizeof(m));
	xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32);
	for (n = 0; n < 16; n++) {
		r = xp_ring_push(&prod, &m);
		CHECK(r == 0 || r == -EAGAIN || r == -EPROTO);
		if (r)
			break;
		/* Never more in flight than slots, by the tail it trusted. */
		CHECK(prod.head - prod.tail_cache <= 8);
	}
}

static void fuzz_table(struct input *in)
{
	u64 now = 1000;
	u32 round, p;

	fabric(4, 2, now);
	for (round = 0; round < 16 && in->n; round++) {
		u8 op = take8(in);

		p = 1 + op % 3;
		if (op & 0x10) {
			u64 w;

			take(in, &w, 8);
			xp_region_part(&fr, p)->sword = w;
		}
		if (op & 0x20)
			xp_region_part(&fr, p)->heartbeat += take8(in);
		if (op & 0x40)	/* scribble over our own entry */
			take(in, &xp_region_part(&fr, 0)->sword, 8);
		now += take8(in) * 3;
		xp_member_tick(&fm, now);
		CHECK(fm.state == XP_JOINING || fm.state == XP_UP || fm.state == XP_DEAD);
		for (p = 0; p < fr.l.max_parts; p++)
			CHECK(fm.peers[p].state < XP_STATE_NR);
	}
}

/* ---- modes 4 and 5: two partitions talking through rpc.c ------------------ */

static struct xp_member ma, mb;		/* a = 0 sends INVALIDATE, b = 1 */
static struct xp_chan ab, ba;

/* Both joined and UP in each other's view, epochs from the input. */
static void pair(u32 ea, u32 eb)
{
	fabric(2, 8, 1000);
	memset(&ma, 0, sizeof(ma));
	memset(&mb, 0, sizeof(mb));
	ma.cfg.self = 0;
	mb.cfg.self = 1;
	ma.r = mb.r = &fr;
	ma.nparts = mb.nparts = 2;
	ma.state = mb.state = XP_UP;
	ma.epoch = ea;
	mb.epoch = eb;
	ma.peers[1].state = XP_UP;
	ma.peers[1].epoch = eb;
	mb.peers[0].state = XP_UP;
	mb.peers[0].epoch = ea;
	xp_chan_init(&ab, &ma, 1, NULL);
	xp_chan_init(&ba, &mb, 0, NULL);
}

static u32 nonzero(u32 e)
{
	return e ? e : 1;
}

#define WIRE 32
#define SENT 600

static void fuzz_inval(struct input *in)
{
	static struct xp_msg wire[WIRE], queue[256];	/* one NEW per round at most */
	static u8 handled[SENT + 1];	/* by b, for the current pair */
	static u64 sent[SENT + 1];	/* rid of n, for the current pair */
	u32 nwire = 0, nqueue = 0, nsent = 0, peer_epoch, i, round;
	struct xp_msg_expect e;

	pair(nonzero((u32)take8(in) << 24 | 1), nonzero((u32)take8(in) << 24 | 2));
	memset(handled, 0, sizeof(handled));
	peer_epoch = mb.epoch;
	for (round = 0; round < 256 && in->n; round++) {
		u8 op = take8(in), k = take8(in);
		struct xp_msg m;

		switch (op % 8) {
		case 0:		/* a new INVALIDATE */
		case 1:
			if (nsent == SENT || nwire == WIRE)
				break;
			memset(&m, 0, sizeof(m));
			m.u.inval.token = 1;
			m.u.inval.len = 4096;
			m.u.inval.rid = xp_rpc_inval_rid(&ab, peer_epoch);
			CHECK(xp_rid_n(m.u.inval.rid) == nsent + 1);
			CHECK(xp_msg_seal(&m, XP_MSG_INVALIDATE, 0, 1, ma.epoch, mb.epoch,
					  xp_rid(ma.epoch, 1)) == 0);
			sent[++nsent] = m.u.inval.rid;
			wire[nwire++] = m;
			break;
		case 2:		/* re-post one not yet done (same rid) */
			if (!nsent || nwire == WIRE)
				break;
			i = 1 + k % nsent;
			if (xp_rpc_inval_done(&ab, sent[i], peer_epoch))
				break;
			memset(&m, 0, sizeof(m));
			m.u.inval.token = 1;
			m.u.inval.len = 4096;
			m.u.inval.rid = sent[i];
			CHECK(xp_msg_seal(&m, XP_MSG_INVALIDATE, 0, 1, ma.epoch, mb.epoch,
					  xp_rid(ma.epoch, 1)) == 0);
			wire[nwire++] = m;
			break;
		case 3:		/* deliver one (any order), maybe keep a copy */
			if (!nwire)
				break;
			i = k % nwire;
			m = wire[i];
			if (op & 0x80)	/* corrupted on the way */
				((u8 *)&m)[XP_MSG_HDR_SIZE + take8(in) % 32] ^= 1 + (k & 0x7f);
			if (!(op & 0x40))	/* else duplicated: stays on the wire */
				wire[i] = wire[--nwire];
			e.src = 0;
			e.dst = 1;
			e.src_epoch = mb.peers[0].epoch;
			e.dst_epoch = mb.epoch;
			e.max_parts = 2;
			if (xp_msg_check(&m, &e, NULL) != XP_REJ_OK)
				break;
			if (xp_rpc_inval_rx(&ba, &m) == XP_INV_NEW) {
				CHECK(nqueue < 256);
				queue[nqueue++] = m;
			}
			break;
		case 4:		/* drop one */
			if (nwire) {
				i = k % nwire;
				wire[i] = wire[--nwire];
			}
			break;
		case 5:		/* b handles one queued (any order) */
			if (!nqueue)
				break;
			i = k % nqueue;
			m = queue[i];
			queue[i] = queue[--nqueue];
			if (m.h.src_epoch == ma.epoch && m.h.dst_epoch == mb.epoch)
				handled[xp_rid_n(m.u.inval.rid)] = 1;
			xp_rpc_inval_handled(&ba, &m);
			break;
		case 6:		/* b restarts: a sees its new epoch */
			mb.epoch = nonzero(mb.epoch + 1 + (k & 3));
			ma.peers[1].epoch = peer_epoch = mb.epoch;
			nsent = 0;
			memset(handled, 0, sizeof(handled));
			break;
		case 7:		/* a restarts (self-fence): channels re-initialised */
			ma.epoch = nonzero(ma.epoch + 1 + (k & 3));
			mb.peers[0].epoch = ma.epoch;
			xp_chan_init(&ab, &ma, 1, NULL);
			nsent = 0;
			memset(handled, 0, sizeof(handled));
			break;
		}
		/* No-reuse: done(n) only when b handled every n' <= n. */
		for (i = 1; i <= nsent; i++) {
			if (!xp_rpc_inval_done(&ab, sent[i], peer_epoch))
				continue;
			for (u32 j = 1; j <= i; j++)
				CHECK(handled[j]);
		}
	}
	/* Liveness: a network that delivers in order completes everything. */
	for (i = 1; i <= nsent; i++) {
		struct xp_msg m;

		if (xp_rpc_inval_done(&ab, sent[i], peer_epoch))
			continue;
		memset(&m, 0, sizeof(m));
		m.u.inval.token = 1;
		m.u.inval.len = 4096;
		m.u.inval.rid = sent[i];
		CHECK(xp_msg_seal(&m, XP_MSG_INVALIDATE, 0, 1, ma.epoch, mb.epoch,
				  xp_rid(ma.epoch, 1)) == 0);
		if (xp_rpc_inval_rx(&ba, &m) == XP_INV_NEW)
			xp_rpc_inval_handled(&ba, &m);
	}
	for (i = 0; i < nqueue; i++)	/* what b had taken but not handled */
		xp_rpc_inval_handled(&ba, &queue[i]);
	for (i = 1; i <= nsent; i++)
		CHECK(xp_rpc_inval_done(&ab, sent[i], peer_epoch));
}

static void fuzz_reply(struct input *in)
{
	static struct xp_req rq[4];
	struct xp_msg req[4];
	struct xp_rpc t;
	u32 i, round, n = 0;
	u64 released = 0;

	pair(nonzero(take8(in) << 8 | 3), nonzero(take8(in) << 8 | 4));
	xp_rpc_init(&t);
	for (i = 0; i < 4; i++) {
		u32 type = (take8(in) & 1) ? XP_MSG_FAULT : XP_MSG_GET;

		memset(&req[i], 0, sizeof(req[i]));
		if (type == XP_MSG_FAULT) {
			req[i].u.fault.token = 5;
			req[i].u.fault.offset = (u64)(take8(in) & 3) << 12;
			req[i].u.fault.npages = 1 + (take8(in) & 15);
		} else {
			req[i].u.get.segid = 42;
			req[i].u.get.flags = 1;
		}
		CHECK(xp_rpc_begin(&t, &rq[i], &ab, &req[i], type, 10, 100) == 0);
		CHECK(xp_rpc_post(&rq[i], &ab, &req[i], 0) == 0 ||
		      rq[i].peer_epoch == mb.epoch);
	}
	for (round = 0; round < 64 && in->n; round++) {
		u8 op = take8(in);
		struct xp_msg m;
		struct xp_req *got, before[4];
		u64 rid;

		memset(&m, 0, sizeof(m));
		i = op & 3;
		/* A rid: one of ours, or anything (a lying or confused peer). */
		if (op & 4)
			take(in, &rid, 8);
		else
			rid = rq[i].rid;
		if (op & 8) {
			m.h.type = XP_MSG_FAULT_REPLY;
			m.u.fault_reply.rid = rid;
			m.u.fault_reply.offset = (u64)(take8(in) & 15) << 12;
			m.u.fault_reply.count = 1;
			m.u.fault_reply.runs[0] = xp_run(take8(in), 1 + (take8(in) & 3));
			m.u.fault_reply.flags = take8(in) & 3;
		} else {
			m.h.type = XP_MSG_GET_REPLY;
			m.u.get_reply.rid = rid;
			m.u.get_reply.token = 100 + round;
			m.u.get_reply.status = (op & 0x10) ? -13 : 0;
		}
		m.h.src_epoch = (op & 0x20) ? mb.epoch + 1 : mb.epoch;
		memcpy(before, rq, sizeof(before));
		n = ab.rpc.stats.orphans_released;
		got = xp_rpc_reply(&t, &ab, &m, 0);
		if (got) {
			u32 g = (u32)(got - rq);

			CHECK(g < 4);
			CHECK(!before[g].done);
			CHECK(got->rid == rid && got->reply_type == m.h.type);
			CHECK(got->peer_epoch == m.h.src_epoch);
			if (m.h.type == XP_MSG_FAULT_REPLY)
				CHECK(m.u.fault_reply.offset == before[g].offset);
		} else if (m.h.type == XP_MSG_GET_REPLY && !m.u.get_reply.status) {
			CHECK(ab.rpc.stats.orphans_released == n + 1);
			released++;
		}
		/* Nobody else moved. */
		for (i = 0; i < 4; i++)
			if (&rq[i] != got)
				CHECK(!memcmp(&before[i], &rq[i], sizeof(rq[i])));
		if (op & 0x40 && !(op & 0x80)) {
			i = take8(in) & 3;
			if (rq[i].prev || rq[i].next || t.head == &rq[i])
				xp_rpc_end(&t, &rq[i]);
		}
	}
	CHECK(ab.rpc.stats.orphans_released == released);
	(void)xp_rpc_fail(&t, XP_RPC_ALL, -ECONNRESET);
	for (i = 0; i < 4; i++)
		if (rq[i].prev || rq[i].next || t.head == &rq[i])
			xp_rpc_end(&t, &rq[i]);
	CHECK(t.head == NULL && t.inflight[1] == 0);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct input in = { data, size };

	switch (take8(&in) % 7) {
	case 0:
		fuzz_header(&in);
		break;
	case 1:
		fuzz_msg(&in);
		break;
	case 2:
		fuzz_ring(&in);
		break;
	case 3:
		fuzz_table(&in);
		break;
	case 4:
		fuzz_inval(&in);
		break;
	case 5:
		fuzz_reply(&in);
		break;
	case 6:
		fuzz_payload(&in);
		break;
	}
	return 0;
}
