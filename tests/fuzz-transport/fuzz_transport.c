// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_transport.c - libFuzzer target for everything in transport/ that
 * reads shared memory a peer can write (I4):
 *   mode 0  region header check on attach (any bytes, any mapping size);
 *   mode 1  message validation and the membership input path;
 *   mode 2  ring consumer and producer given garbage indexes and slots;
 *   mode 3  membership ticks over a partition table the input rewrites.
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

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct input in = { data, size };

	switch (take8(&in) & 3) {
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
	}
	return 0;
}
