/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * remote.h - segments across partitions (docs/design.md, "Segments across
 * partitions"; invariants I1, I2, I7).
 *
 * export.c is the owner's side: it answers other partitions' GET, FAULT,
 * UNPIN and RELEASE on our segments, keeps the pages it handed out pinned
 * per (peer, token), and when our pages change sends INVALIDATE to every
 * peer holding some, waits for all their completion words, and unpins.  A
 * peer that misses the deadline is fenced and its pins are quarantined:
 * kept, never reused, until it rejoins under a new epoch.
 *
 * import.c is the attacher's side: a GET of another partition's segid makes
 * a local proxy segment (struct xpmem_segment with ->remote set), attached
 * like any segment; its faults ask the owner and map the owner's frames
 * through the owner's peer window; the owner's INVALIDATE zaps them.
 *
 * Lock order: the one list in docs/design.md, "Lock order".  Neither
 * import_lock nor export_lock is held while posting a message, and nothing
 * under export_lock or the fabric mutex enters reclaim (I8).
 */
#ifndef XPMEM_REMOTE_H
#define XPMEM_REMOTE_H

#include <linux/mm.h>
#include <linux/types.h>

#include "msg.h"

struct xpmem_segment;

/* export.c */
void xpmem_export_serve(u32 peer, const struct xp_msg *msg);
bool xpmem_export_invalidate(struct xpmem_segment *seg, unsigned long start,
			     unsigned long end, bool blockable);
void xpmem_export_segment_gone(struct xpmem_segment *seg);
void xpmem_export_peer_fenced(u32 peer, u32 epoch);
void xpmem_export_self_fenced(void);
u64 xpmem_export_release_quarantine(u32 peer, u32 below_epoch);
/* After our rejoin; @live_epoch[p]: peer p's epoch if live, else 0. */
void xpmem_export_release_self(const u32 *live_epoch, u32 nparts);
u64 xpmem_export_quarantined(u32 peer);
void xpmem_export_exit(void);

/* import.c */
int xpmem_import_get(s64 segid, bool rdonly, struct xpmem_segment **out);
extern const struct vm_operations_struct xpmem_import_vm_ops;
void xpmem_import_attached(struct xpmem_segment *seg);
void xpmem_import_detached(struct xpmem_segment *seg);
void xpmem_import_free(struct xpmem_segment *seg);
bool xpmem_import_alive(struct xpmem_segment *seg);
void xpmem_import_noted(u32 peer, u64 token);
void xpmem_import_invalidate(u32 peer, const struct xp_msg *msg);
void xpmem_import_peer_dead(u32 peer);
void xpmem_import_window_lost(u32 peer);

#endif /* XPMEM_REMOTE_H */
