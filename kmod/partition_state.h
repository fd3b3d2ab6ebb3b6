/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * partition_state.h - the partition layer's state, shared by partition.c
 * (membership, threads, dispatch) and partition_request.c (posting,
 * requests and their replies, waits).  Not for the rest of the module:
 * partition.h is its interface.
 */
#ifndef XPMEM_PARTITION_STATE_H
#define XPMEM_PARTITION_STATE_H

#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "chan.h"
#include "fabric.h"
#include "member.h"
#include "partition.h"
#include "region.h"
#include "rpc.h"

/* Messages from one peer waiting for one of its service threads. */
struct msg_queue {
	spinlock_t lock;
	struct xp_msg *slot;		/* [cap], cap a power of two */
	u32 cap, head, tail;		/* free running */
	wait_queue_head_t wq;
	struct task_struct *task;
};

struct peer_thread {
	struct task_struct *task;	/* the poller */
	u64 fsvc_dropped;		/* GET/FAULT dropped: queue full */
	u64 fsvc_inline;		/* UNPIN/RELEASE the poller served */
	wait_queue_head_t wq;
	atomic_t kicked;
	u32 id;
	struct msg_queue inval;		/* INVALIDATE, PING */
	struct msg_queue fsvc;		/* GET, FAULT, UNPIN, RELEASE */
};

struct partition_state {
	/*
	 * The fabric mutex: every core call.  Nothing under it may enter
	 * reclaim (no GFP_KERNEL, no memremap/vmalloc): reclaim can run an
	 * exporter's notifier, whose shootdown takes this mutex to post
	 * INVALIDATE.  Allocate before taking it, or GFP_NOWAIT.
	 */
	struct mutex lock;
	/*
	 * Outside the fabric mutex (life -> lock): the layer's life, init,
	 * exit, the device's unbind and re-bind (partition.c, "unbind").
	 */
	struct mutex life;
	bool detached;			/* under life: the device went */
	bool leaving;			/* under lock: no core call any more */
	struct xp_region region;
	bool attached;
	bool joined;
	struct xp_member *member;
	struct xp_chan *chans;		/* [region.l.max_parts] */
	struct peer_thread *peers;	/* [region.l.max_parts] */
	u32 nparts;
	u32 self;
	struct xp_doorbell db;
	struct task_struct *rescan;
	wait_queue_head_t completion_wq;	/* every doorbell */
	atomic64_t doorbell_gen;		/* counts them, for naps */
	wait_queue_head_t reply_wq;		/* every delivered reply */
	struct xp_rpc rpc;			/* requests awaiting a reply */
	const struct xpmem_partition_ops *ops;	/* the segment layer */
	bool self_quarantine;		/* our exports wait for our rejoin */
	struct page *tag_page;
	u8 tag[XP_TAG_SIZE];
	int window_of[XPMEM_FABRIC_MAX_PARTITIONS];	/* peer -> window */
	u64 ram_end[XPMEM_FABRIC_MAX_PARTITIONS];	/* its published RAM end */
	u64 fence_time_ns[XPMEM_FABRIC_MAX_PARTITIONS];	/* boottime */
};

extern struct partition_state part;

/* partition_request.c, under part.lock */
void xpmem_requests_fail(u32 peer);
void xpmem_requests_deliver(u32 peer, const struct xp_msg *m);

#endif /* XPMEM_PARTITION_STATE_H */
