// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later
/*
 * region.c - computing, formatting and checking the control-region layout.
 *
 * xp_layout_compute is the one function that turns the parameters into
 * offsets.  Attach never trusts the offsets written in the header: it
 * recomputes the layout from the parameters and requires equality, so a
 * corrupt or foreign header cannot point a partition outside its mapping.
 */
#include "region.h"

XP_BUILD_BUG_ON(sizeof(struct xp_region_hdr) > XP_HDR_SIZE);
XP_BUILD_BUG_ON(sizeof(struct xp_part) != XP_PART_SIZE);
XP_BUILD_BUG_ON(sizeof(struct xp_ring_ctrl) != XP_RING_CTRL_SIZE);
XP_BUILD_BUG_ON(sizeof(struct xp_comp) != XP_COMP_SIZE);

static bool is_pow2(u32 x)
{
	return x && !(x & (x - 1));
}

int xp_layout_compute(struct xp_layout *l, u32 max_parts, u32 ring_slots)
{
	u64 pairs;

	if (max_parts < XP_MIN_PARTS || max_parts > XP_MAX_PARTS ||
	    ring_slots < XP_MIN_SLOTS || ring_slots > XP_MAX_SLOTS ||
	    !is_pow2(ring_slots))
		return -EINVAL;

	/* Bounded above: 256^2 * (128 + 65536 * 128) fits easily in 64 bits. */
	pairs = (u64)max_parts * max_parts;
	l->max_parts = max_parts;
	l->ring_slots = ring_slots;
	l->slot_size = XP_SLOT_SIZE;
	l->part_off = XP_HDR_SIZE;
	l->ring_off = XP_ALIGN_UP(l->part_off + (u64)max_parts * XP_PART_SIZE,
				  XP_PAGE_SIZE);
	l->ring_stride = XP_RING_CTRL_SIZE + (u64)ring_slots * XP_SLOT_SIZE;
	l->comp_off = XP_ALIGN_UP(l->ring_off + pairs * l->ring_stride,
				  XP_PAGE_SIZE);
	l->size = XP_ALIGN_UP(l->comp_off + pairs * XP_COMP_SIZE, XP_PAGE_SIZE);
	return 0;
}

int xp_region_format(void *mem, u64 size, const struct xp_layout *l)
{
	struct xp_region_hdr *h = (struct xp_region_hdr *)mem;

	if (size < l->size)
		return -ENOSPC;
	/* Magic first to zero: a partition attaching meanwhile fails cleanly. */
	xp_write_once(h->magic, 0);
	xp_mb();
	xp_memset((u8 *)mem + sizeof(h->magic), 0, l->size - sizeof(h->magic));
	h->version = XP_REGION_VERSION;
	h->hdr_size = XP_HDR_SIZE;
	h->max_parts = l->max_parts;
	h->ring_slots = l->ring_slots;
	h->slot_size = l->slot_size;
	h->flags = 0;
	h->region_size = l->size;
	h->part_off = l->part_off;
	h->ring_off = l->ring_off;
	h->ring_stride = l->ring_stride;
	h->comp_off = l->comp_off;
	/* Release: whoever sees the magic sees a complete header and zeroes. */
	xp_store_release(&h->magic, XP_REGION_MAGIC);
	return 0;
}

int xp_region_attach(struct xp_region *r, void *mem, u64 size)
{
	const struct xp_region_hdr *hp = (const struct xp_region_hdr *)mem;
	struct xp_region_hdr h;
	struct xp_layout l;
	unsigned int i;

	if (size < XP_HDR_SIZE)
		return XP_ATTACH_TOO_SMALL;
	/* Acquire pairs with the release in format. */
	if (xp_load_acquire(&hp->magic) != XP_REGION_MAGIC)
		return XP_ATTACH_BAD_MAGIC;
	/* Check a private copy: the shared header may change under us. */
	xp_memcpy(&h, hp, sizeof(h));
	if (h.version != XP_REGION_VERSION)
		return XP_ATTACH_BAD_VERSION;
	if (h.hdr_size != XP_HDR_SIZE)
		return XP_ATTACH_BAD_HDR_SIZE;
	if (h.slot_size != XP_SLOT_SIZE ||
	    xp_layout_compute(&l, h.max_parts, h.ring_slots))
		return XP_ATTACH_BAD_PARAMS;
	if (h.part_off != l.part_off || h.ring_off != l.ring_off ||
	    h.ring_stride != l.ring_stride || h.comp_off != l.comp_off ||
	    h.region_size != l.size)
		return XP_ATTACH_BAD_OFFSETS;
	if (h.region_size > size)
		return XP_ATTACH_BAD_SIZE;
	if (h.flags)
		return XP_ATTACH_BAD_RESERVED;
	for (i = 0; i < XP_ARRAY_SIZE(h.reserved); i++)
		if (h.reserved[i])
			return XP_ATTACH_BAD_RESERVED;
	r->base = (u8 *)mem;
	r->l = l;
	return XP_ATTACH_OK;
}

int xp_region_window(const struct xp_region *r, u32 id, struct xp_window *w)
{
	const struct xp_part *e;
	const u64 limit = 1ull << 52;	/* frames of a 64-bit physical space */

	if (id >= r->l.max_parts)
		return -EINVAL;
	e = xp_region_part(r, id);
	w->pfn = xp_read_once(e->window_pfn);
	w->pages = xp_read_once(e->window_pages);
	xp_memcpy(w->tag, e->window_tag, sizeof(w->tag));
	/* Written by the owner, possibly a rogue one: check the copy. */
	if (w->pfn >= limit || w->pages > limit - w->pfn)
		return -EINVAL;
	return 0;
}

const char *xp_attach_strerror(int err)
{
	static const char *const names[XP_ATTACH_ERR_NR] = {
		[XP_ATTACH_OK] = "ok",
		[XP_ATTACH_TOO_SMALL] = "mapping smaller than the header",
		[XP_ATTACH_BAD_MAGIC] = "bad magic (region not formatted)",
		[XP_ATTACH_BAD_VERSION] = "unsupported layout version",
		[XP_ATTACH_BAD_HDR_SIZE] = "bad header size",
		[XP_ATTACH_BAD_PARAMS] = "layout parameters out of range",
		[XP_ATTACH_BAD_OFFSETS] = "offsets differ from the computed layout",
		[XP_ATTACH_BAD_SIZE] = "region larger than the mapping",
		[XP_ATTACH_BAD_RESERVED] = "reserved header fields not zero",
	};

	if (err < 0 || err >= XP_ATTACH_ERR_NR)
		return "unknown error";
	return names[err];
}

const char *xp_state_name(u32 state)
{
	static const char *const names[XP_STATE_NR] = {
		[XP_FREE] = "FREE", [XP_JOINING] = "JOINING", [XP_UP] = "UP",
		[XP_SUSPECT] = "SUSPECT", [XP_DEAD] = "DEAD",
	};

	return state < XP_STATE_NR ? names[state] : "INVALID";
}

const char *xp_reason_name(u32 reason)
{
	static const char *const names[XP_REASON_NR] = {
		[XP_R_NONE] = "none", [XP_R_HEARTBEAT] = "heartbeat",
		[XP_R_TIMEOUT] = "timeout", [XP_R_PROTOCOL] = "protocol",
		[XP_R_SELF_STALE] = "self-stale-epoch",
		[XP_R_SELF_STALLED] = "self-stalled",
		[XP_R_REJOINED] = "rejoined", [XP_R_OPERATOR] = "operator",
		[XP_R_DISCONNECT] = "disconnect",
	};

	return reason < XP_REASON_NR ? names[reason] : "invalid";
}
