/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * export_internal.h - the export records shared by export.c (the table,
 * GET/FAULT/UNPIN/RELEASE service, quarantine) and shootdown.c (the remote
 * TLB shootdown).  The rest of the module uses remote.h.
 */
#ifndef XPMEM_EXPORT_INTERNAL_H
#define XPMEM_EXPORT_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

/* Why an export is quarantined. */
#define QUAR_PEER	0x1	/* its peer was fenced */
#define QUAR_SELF	0x2	/* we fenced ourselves */

struct xpmem_export {
	struct hlist_node token_link;	/* in exports, by token */
	struct list_head seg_link;	/* in seg->exports */
	struct kref ref;
	u64 token;
	u32 peer, epoch;		/* the incarnation that made the GET */
	u64 get_rid;			/* the GET it answered (a settle names it) */
	bool rdonly;
	bool unlinked;			/* out of the table: answers ENOENT */
	u32 quarantine;			/* QUAR_* */
	struct xpmem_segment *seg;	/* referenced */
	struct xarray pins;		/* page index -> struct page * */
	unsigned long npins;
};

/*
 * Protects every export, its pins and seg->exports; see export.c.  Nothing
 * under it may enter reclaim (GFP_NOWAIT only): reclaim can run the
 * notifier, whose shootdown takes it.
 */
extern struct mutex xpmem_export_lock;

void xpmem_export_put(struct xpmem_export *e);
/* Under xpmem_export_lock. */
unsigned long xpmem_export_unpin(struct xpmem_export *e, unsigned long lo,
				 unsigned long hi);
unsigned long xpmem_export_unlink(struct xpmem_export *e);

#endif /* XPMEM_EXPORT_INTERNAL_H */
