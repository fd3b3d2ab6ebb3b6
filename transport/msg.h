/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * msg.h - the messages partitions exchange through the rings.
 *
 * A message fills at most one ring slot (XP_SLOT_SIZE bytes): a 32-byte
 * header and a typed payload whose length is fixed by its type (FAULT_REPLY
 * alone has a bounded variable tail).  All fields are little-endian host
 * order (every partition of a fabric has the same architecture).
 *
 * A received message is untrusted: xp_msg_check validates every field of a
 * private copy against what the receiver knows (which ring it came from,
 * the epochs), and a failure is returned as a reason and counted.
 * docs/wire-protocol.md is the prose version of this file.
 */
#ifndef XP_MSG_H
#define XP_MSG_H

#include "xp_port.h"
#include "region.h"

#ifdef __cplusplus
extern "C" {
#endif

enum xp_msg_type {
	XP_MSG_PING = 1,
	XP_MSG_PONG,
	XP_MSG_JOIN,
	XP_MSG_JOIN_ACK,
	XP_MSG_GET,
	XP_MSG_GET_REPLY,
	XP_MSG_FAULT,
	XP_MSG_FAULT_REPLY,
	XP_MSG_INVALIDATE,
	XP_MSG_INVALIDATE_DONE,
	XP_MSG_UNPIN,
	XP_MSG_RELEASE,
	XP_MSG_RELEASE_ACK,
	XP_MSG_TYPE_NR
};

/* Header flags. */
#define XP_MSGF_DOORBELL	0x1	/* sender wants a doorbell back */
#define XP_MSGF_ALL		XP_MSGF_DOORBELL

struct xp_msg_hdr {
	u16 type;
	u16 flags;
	u16 src;
	u16 dst;
	u32 src_epoch;		/* sender's epoch */
	u32 dst_epoch;		/* receiver's epoch as the sender knows it */
	u64 seq;		/* sender's epoch << 32 | counter */
	u16 len;		/* payload bytes */
	u16 reserved;		/* 0 */
	u32 csum;		/* xp_msg_csum over header (csum = 0) + payload */
};

#define XP_MSG_HDR_SIZE		32u
#define XP_MSG_MAX_PAYLOAD	(XP_SLOT_SIZE - XP_MSG_HDR_SIZE)
#define XP_FAULT_MAX_PAGES	512u	/* pages one FAULT may ask for */
#define XP_FAULT_REPLY_RUNS	8u	/* frame runs one FAULT_REPLY carries */
#define XP_TAG_SIZE		16u

/*
 * rid: the request id (rpc.h): requester's epoch << 32 | n, n != 0, kept
 * across re-posts; a reply echoes its request's.
 */
struct xp_ping {		/* PING and PONG */
	u64 rid;		/* PONG: the PING's */
	u64 t_ns;		/* sender's clock, echoed back */
};

struct xp_join {
	u64 window_pfn;
	u64 window_pages;
	u8 window_tag[XP_TAG_SIZE];
};

struct xp_join_ack {
	u32 acked_epoch;	/* the joiner's epoch being acknowledged */
	u32 reserved;
};

struct xp_get {
	s64 segid;
	u32 flags;		/* XPMEM_RDONLY / XPMEM_RDWR */
	u32 uid;
	u32 gid;
	u32 reserved;
	u64 rid;
};

struct xp_get_reply {
	s64 segid;
	u64 token;		/* remote access token; 0 when status != 0 */
	s32 status;		/* 0 or -errno */
	u32 reserved;
	u64 size;		/* segment size in bytes, page multiple */
	u64 rid;		/* the GET's */
};

struct xp_fault {
	u64 token;
	u64 offset;		/* byte offset in the segment, page aligned */
	u32 npages;		/* 1..XP_FAULT_MAX_PAGES */
	u32 flags;		/* XP_FAULTF_WRITE */
	u64 rid;
};
#define XP_FAULTF_WRITE		0x1	/* FAULT: for writing; reply: writable */
#define XP_FAULTF_LAST		0x2	/* FAULT_REPLY: the last of its reply */

/*
 * A FAULT_REPLY covers the pages from offset on with runs of contiguous
 * frames, in order: a run is its first frame number (bits 51..0) and its
 * length minus one (bits 63..52), so a 2 MiB page travels as one entry.
 */
struct xp_fault_reply {
	u64 token;
	u64 offset;
	s32 status;		/* 0 or -errno; count = 0 unless 0 */
	u16 count;		/* runs: 0..XP_FAULT_REPLY_RUNS */
	u16 flags;		/* XP_FAULTF_WRITE, XP_FAULTF_LAST */
	u64 rid;		/* the FAULT's */
	u64 runs[XP_FAULT_REPLY_RUNS];	/* only count are sent */
};
#define XP_FAULT_REPLY_FIXED	32u
#define XP_RUN_PFN_BITS		52
#define XP_RUN_MAX_PAGES	4096u

static inline u64 xp_run(u64 pfn, u32 pages)
{
	return pfn | ((u64)(pages - 1) << XP_RUN_PFN_BITS);
}

static inline u64 xp_run_pfn(u64 run)
{
	return run & ((1ull << XP_RUN_PFN_BITS) - 1);
}

static inline u32 xp_run_pages(u64 run)
{
	return (u32)(run >> XP_RUN_PFN_BITS) + 1;
}

struct xp_inval {		/* INVALIDATE and UNPIN */
	u64 token;
	u64 offset;		/* page aligned */
	u64 len;		/* bytes, page multiple, > 0 */
	u64 rid;		/* INVALIDATE: its own numbering (rpc.h); UNPIN: 0 */
};

struct xp_inval_done {
	u64 acked_seq;		/* seq of the INVALIDATE completed */
};

/*
 * RELEASE and RELEASE_ACK (which echoes the RELEASE).  get_rid 0: drop the
 * export @token.  get_rid != 0 (a GET's rid): drop every export made for
 * that GET except @token (0: all of them): what re-posts of a GET made
 * beyond the answer kept, or all a GET given up made (rpc.h).
 */
struct xp_release {
	u64 token;
	u64 rid;		/* the RELEASE's own (rpc.h) */
	u64 get_rid;
};

struct xp_msg {
	struct xp_msg_hdr h;
	union {
		struct xp_ping ping;
		struct xp_join join;
		struct xp_join_ack join_ack;
		struct xp_get get;
		struct xp_get_reply get_reply;
		struct xp_fault fault;
		struct xp_fault_reply fault_reply;
		struct xp_inval inval;
		struct xp_inval_done inval_done;
		struct xp_release release;
		u8 raw[XP_MSG_MAX_PAYLOAD];
	} u;
};

/* Why a message was rejected; each counted in struct xp_msg_stats. */
enum xp_rej {
	XP_REJ_OK = 0,
	XP_REJ_TYPE,		/* unknown type */
	XP_REJ_LEN,		/* length does not match the type */
	XP_REJ_SRC,		/* src differs from the ring's producer */
	XP_REJ_DST,		/* dst differs from the ring's consumer */
	XP_REJ_FLAGS,		/* unknown header or payload flag */
	XP_REJ_RESERVED,	/* reserved field not zero */
	XP_REJ_CSUM,
	XP_REJ_SRC_EPOCH,	/* stale sender epoch */
	XP_REJ_DST_EPOCH,	/* addressed to an older incarnation of us */
	XP_REJ_SEQ,		/* seq epoch bits differ from src_epoch */
	XP_REJ_ALIGN,		/* offset or length not page aligned */
	XP_REJ_RANGE,		/* empty range or offset + len overflows */
	XP_REJ_COUNT,		/* count out of bounds */
	XP_REJ_VALUE,		/* other field out of range (status, segid) */
	XP_REJ_RING,		/* ring indexes corrupt (counted by the ring user) */
	XP_REJ_NR
};

struct xp_msg_stats {
	u64 accepted;
	u64 rejected[XP_REJ_NR];
};

/*
 * What the receiver expects: the ring tells src and dst; src_epoch is the
 * sender's current epoch as the receiver knows it (0: do not check, e.g.
 * before it is known), dst_epoch is the receiver's own epoch.  JOIN is the
 * one message allowed to carry a src_epoch newer than known.
 */
struct xp_msg_expect {
	u32 src;
	u32 dst;
	u32 src_epoch;
	u32 dst_epoch;
	u32 max_parts;
};

u32 xp_msg_csum(const struct xp_msg *m);
/* Fills the header (len from the type, csum last). Returns 0 or -EINVAL. */
int xp_msg_seal(struct xp_msg *m, u32 type, u32 src, u32 dst, u32 src_epoch,
		u32 dst_epoch, u64 seq);
/* Payload length for a type (FAULT_REPLY: for a given count); 0: unknown. */
u32 xp_msg_payload_len(u32 type, u32 count);
/* XP_REJ_OK or the reason; counts the result in @st when not NULL. */
int xp_msg_check(const struct xp_msg *m, const struct xp_msg_expect *e,
		 struct xp_msg_stats *st);
const char *xp_msg_type_name(u32 type);
const char *xp_rej_name(u32 rej);

#ifdef __cplusplus
}
#endif

#endif /* XP_MSG_H */
