/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * region.h - layout of the fabric's control region.
 *
 * One shared memory window that every partition maps (in the lab: BAR2 of
 * the ivshmem-doorbell device, created by fabricd).  From offset 0:
 *
 *   header        struct xp_region_hdr, one page: magic, version, layout
 *                 parameters and the offsets below (checked on attach)
 *   partitions    max_parts x struct xp_part (128 B each): state word,
 *                 heartbeat, published window description
 *   rings         max_parts^2 rings, ring (src,dst) at ring_off +
 *                 (src * max_parts + dst) * ring_stride: a control block
 *                 (head and tail in separate cache lines) then ring_slots
 *                 slots of slot_size bytes.  Diagonal rings are unused.
 *   completions   max_parts^2 words of one cache line each, word
 *                 (writer,reader) at comp_off + (writer * max_parts + reader)
 *                 * 64: the writer completed the reader's requests.
 *
 * Every size derives from (max_parts, ring_slots) through xp_layout_compute;
 * nothing else in the code computes an offset.  Everything here lives in
 * memory a rogue partition can write: readers check what they read.
 */
#ifndef XP_REGION_H
#define XP_REGION_H

#include "xp_port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XP_REGION_MAGIC		0x4241464d454d5058ull	/* "XPMEMFAB" (LE) */
/*
 * 2: messages carry request ids, FAULT_REPLY's fixed part is 32 bytes, the
 * completion word acknowledges INVALIDATE only (rpc.h).  3: RELEASE
 * carries a rid and is acknowledged by RELEASE_ACK.  A build of another
 * version refuses the region: its messages would not parse.
 */
#define XP_REGION_VERSION	3u
#define XP_HDR_SIZE		4096u
#define XP_SLOT_SIZE		128u	/* bytes per ring slot (one message) */
#define XP_PART_SIZE		128u
#define XP_COMP_SIZE		64u
#define XP_RING_CTRL_SIZE	128u
#define XP_MIN_PARTS		2u
#define XP_MAX_PARTS		256u	/* ids fit in a byte of the state word */
#define XP_MIN_SLOTS		2u
#define XP_MAX_SLOTS		65536u

/* Partition states, as written in the table (and in a local view). */
enum xp_state {
	XP_FREE = 0,		/* never joined */
	XP_JOINING = 1,
	XP_UP = 2,
	XP_SUSPECT = 3,		/* local view only: heartbeat late */
	XP_DEAD = 4,
	XP_STATE_NR
};

/* Why a partition was fenced (recorded in its state word). */
enum xp_reason {
	XP_R_NONE = 0,
	XP_R_HEARTBEAT = 1,	/* heartbeat did not move for dead_ms */
	XP_R_TIMEOUT = 2,	/* missed a request deadline (inval_ms...) */
	XP_R_PROTOCOL = 3,	/* wrote corrupt ring indexes or messages */
	XP_R_SELF_STALE = 4,	/* fenced itself: found a stale epoch */
	XP_R_SELF_STALLED = 5,	/* fenced itself: did not run for dead_ms */
	XP_R_REJOINED = 6,	/* came back under a new epoch */
	XP_R_OPERATOR = 7,	/* forced from outside (xpmemctl, fabricd) */
	XP_R_DISCONNECT = 8,	/* fabric reported it gone */
	XP_REASON_NR
};

/* The region header; fabricd writes it, everyone checks it on attach. */
struct xp_region_hdr {
	u64 magic;		/* written last, with release order */
	u32 version;
	u32 hdr_size;
	u32 max_parts;
	u32 ring_slots;
	u32 slot_size;
	u32 flags;		/* 0 */
	u64 region_size;	/* bytes the layout needs */
	u64 part_off;
	u64 ring_off;
	u64 ring_stride;
	u64 comp_off;
	u64 reserved[6];	/* 0 */
};

/*
 * One partition-table entry.  The state word packs
 *   epoch (bits 63..32) | fenced_by (31..24) | reason (23..16) | state (7..0)
 * so a fence is one compare-and-swap that succeeds only against the epoch
 * the fencer saw: a fence of an old incarnation cannot hit a new one.
 */
struct xp_part {
	u64 sword;
	u64 heartbeat;		/* owner increments every hb_ms */
	u64 window_pfn;		/* owner's published peer-window description */
	u64 window_pages;
	u8 window_tag[16];	/* also written at the start of its own RAM */
	u64 reserved[10];
};

struct xp_ring_ctrl {
	u32 head;		/* producer writes (free-running) */
	u8 pad0[XP_CACHELINE - 4];
	u32 tail;		/* consumer writes (free-running) */
	u8 pad1[XP_CACHELINE - 4];
};

/*
 * Completion word (writer,reader): the writer completed the reader's
 * requests up to seq.  seq carries the requester's epoch in its upper 32
 * bits; epoch is the writer's epoch.  Written epoch first, seq last
 * (release); read seq first (acquire).
 */
struct xp_comp {
	u64 seq;
	u32 epoch;
	u32 reserved;
	u8 pad[XP_COMP_SIZE - 16];
};

/* The layout computed from its two parameters (local memory, trusted). */
struct xp_layout {
	u32 max_parts;
	u32 ring_slots;
	u32 slot_size;
	u64 part_off;
	u64 ring_off;
	u64 ring_stride;
	u64 comp_off;
	u64 size;
};

/* An attached region: local, trusted copy of the checked layout. */
struct xp_region {
	u8 *base;
	struct xp_layout l;
};

/* Results of xp_region_attach (0 = ok). */
enum xp_attach_err {
	XP_ATTACH_OK = 0,
	XP_ATTACH_TOO_SMALL,	/* mapping smaller than a header */
	XP_ATTACH_BAD_MAGIC,	/* not formatted (yet) */
	XP_ATTACH_BAD_VERSION,
	XP_ATTACH_BAD_HDR_SIZE,
	XP_ATTACH_BAD_PARAMS,	/* max_parts/ring_slots/slot_size out of range */
	XP_ATTACH_BAD_OFFSETS,	/* offsets differ from the computed layout */
	XP_ATTACH_BAD_SIZE,	/* region_size larger than the mapping */
	XP_ATTACH_BAD_RESERVED,
	XP_ATTACH_ERR_NR
};

static inline u64 xp_sword(u32 epoch, u32 by, u32 reason, u32 state)
{
	return (u64)epoch << 32 | (u64)(by & 0xff) << 24 |
	       (u64)(reason & 0xff) << 16 | (state & 0xff);
}
static inline u32 xp_sword_epoch(u64 w) { return (u32)(w >> 32); }
static inline u32 xp_sword_by(u64 w) { return (u32)(w >> 24) & 0xff; }
static inline u32 xp_sword_reason(u64 w) { return (u32)(w >> 16) & 0xff; }
static inline u32 xp_sword_state(u64 w) { return (u32)w & 0xff; }

/* A partition's published peer-window description (checked copy). */
struct xp_window {
	u64 pfn;
	u64 pages;
	u8 tag[16];
};

int xp_layout_compute(struct xp_layout *l, u32 max_parts, u32 ring_slots);
/*
 * Copy partition @id's window description out of the table: 0, or -EINVAL
 * when the range is impossible (beyond 2^52 frames, or overflowing).
 */
int xp_region_window(const struct xp_region *r, u32 id, struct xp_window *w);
int xp_region_format(void *mem, u64 size, const struct xp_layout *l);
int xp_region_attach(struct xp_region *r, void *mem, u64 size);
const char *xp_attach_strerror(int err);
const char *xp_state_name(u32 state);
const char *xp_reason_name(u32 reason);

static inline struct xp_part *xp_region_part(const struct xp_region *r, u32 id)
{
	return (struct xp_part *)(r->base + r->l.part_off + (u64)id * XP_PART_SIZE);
}

static inline struct xp_ring_ctrl *xp_region_ring(const struct xp_region *r,
						  u32 src, u32 dst)
{
	return (struct xp_ring_ctrl *)(r->base + r->l.ring_off +
		((u64)src * r->l.max_parts + dst) * r->l.ring_stride);
}

static inline struct xp_comp *xp_region_comp(const struct xp_region *r,
					     u32 writer, u32 reader)
{
	return (struct xp_comp *)(r->base + r->l.comp_off +
		((u64)writer * r->l.max_parts + reader) * XP_COMP_SIZE);
}

#ifdef __cplusplus
}
#endif

#endif /* XP_REGION_H */
