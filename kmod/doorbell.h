/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * doorbell.h - how this partition wakes a peer's threads, whatever carries
 * the wake-up.  Rings, completion words, heartbeats and data stay in shared
 * memory; a doorbell only says "look now", and the rescan thread looks
 * anyway every poll period, so a lost or impossible doorbell costs latency,
 * never correctness.
 *
 * Transports, chosen per fabric by xpmem.ko's doorbell= parameter:
 *   msix  the ivshmem doorbell device (fabric.c), rung by a register write;
 *   rdma  a zero-length SEND_WITH_IMM on an RC queue pair per peer, from the
 *         provider module xpmem_rdma.ko (doorbell_rdma.c).  xpmem.ko finds
 *         it with symbol_get, so it has no link dependency on ib_core and
 *         loads where no RDMA stack exists; until the provider is there,
 *         and for a peer whose connection is down, doorbells are polled;
 *   poll  no doorbell: the rescan thread's period is the wake-up.
 */
#ifndef XPMEM_DOORBELL_H
#define XPMEM_DOORBELL_H

#include <linux/types.h>

struct module;

#include "uapi/xpmem_netlink.h"

/* Kinds: the uapi's enum xpmem_part_doorbell, as netlink reports them. */
#define XPMEM_DB_POLL	XPMEM_DOORBELL_POLL
#define XPMEM_DB_MSIX	XPMEM_DOORBELL_MSIX
#define XPMEM_DB_RDMA	XPMEM_DOORBELL_RDMA

#define XPMEM_DB_MAX_PEERS	64	/* = XPMEM_FABRIC_MAX_PARTITIONS */
#define XPMEM_DB_ANY_PEER	0xffff	/* "who rang" unknown: wake every peer */

/* ---- xpmem.ko's side (doorbell.c) ------------------------------------------ */

/* Softirq or hard-irq context: wake the thread(s) serving @from. */
typedef void (*xpmem_doorbell_handler)(unsigned int from, void *data);

/* Called by the partition layer: start and stop the chosen transport. */
int xpmem_doorbell_start(u32 self, xpmem_doorbell_handler fn, void *data);
void xpmem_doorbell_stop(void);
/* Ring @peer, saying we (@self) rang.  Never sleeps.  0 or -errno. */
int xpmem_doorbell_ring(u32 peer, u32 self);
/* The doorbell our rings to @peer take now (enum xpmem_part_doorbell). */
u32 xpmem_doorbell_kind(u32 peer);
const char *xpmem_doorbell_kind_name(u32 kind);
/* Period of the rescan thread, which is also the polling fallback. */
unsigned long xpmem_doorbell_poll_jiffies(unsigned int hb_ms);

/* ---- a provider module's side ---------------------------------------------- */

/* What xpmem.ko offers a provider while it runs. */
struct xpmem_doorbell_host {
	u32 self;
	/* Any context (softirq): partition @from rang us. */
	void (*rang)(unsigned int from);
	/* Process context, may sleep: is @peer a live member (worth a connection)? */
	bool (*peer_live)(u32 peer);
};

struct xpmem_doorbell_provider {
	struct module *owner;
	/* Begin serving @host; connections come up in the background. */
	int (*start)(const struct xpmem_doorbell_host *host);
	/* Every connection and queue pair gone, no host call after return. */
	void (*stop)(void);
	/* Never sleeps.  -ENOTCONN: no connection to @peer now. */
	int (*ring)(u32 peer);
	bool (*connected)(u32 peer);
};

/* Exported by xpmem_rdma.ko, looked up by xpmem.ko with symbol_get. */
extern const struct xpmem_doorbell_provider xpmem_rdma_doorbell;

#endif /* XPMEM_DOORBELL_H */
