/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xpmem_internal.h - objects of xpmem.ko and the functions files share.
 *
 * Objects and who holds references to them:
 *
 *   xpmem_ctx      one per open() of /dev/xpmem, bound to the opener's mm.
 *                  Owns the segments it made and the permits it got; all are
 *                  torn down when the file is released.
 *   xpmem_segment  an exported range of the owner's address space.  Held by
 *                  the segment table (until removed), by every permit and by
 *                  every attachment.  Carries the interval notifier on the
 *                  owner's mm and the address_space that every attachment
 *                  VMA of the segment maps, so that one unmap_mapping_pages()
 *                  zaps all attachers of a source range at once.
 *   xpmem_permit   the result of a GET (an apid), owned by one ctx.
 *   xpmem_attach   one ATTACH: a pseudo file over the segment's inode, mapped
 *                  into the attacher.  Lives as long as that file, i.e. until
 *                  the last VMA mapping it is gone.
 *
 * Lock order (outermost first):
 *   ctx->lock
 *   attacher mmap_lock -> seg->life (read) -> owner mmap_lock (read)
 *     -> att->pt_lock -> seg->lock -> page-table locks
 * seg->lock is the "driver lock" of the interval-notifier pattern: the
 * invalidate callback takes it only to publish the new sequence, and nothing
 * that can allocate memory or wait runs under it.
 */
#ifndef XPMEM_INTERNAL_H
#define XPMEM_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/uidgid.h>

#include "uapi/xpmem_ioctl.h"
#include "uapi/xpmem_netlink.h"

#define XPMEM_PARTITION_ID 0	/* the only partition until the fabric exists */

struct xpmem_ctx {
	struct mm_struct *mm;		/* the owning process; see ->mn */
	struct mmu_notifier mn;		/* ->release: the owner's mm exits */
	struct mutex lock;		/* protects the lists and ->dead */
	struct list_head segments;
	struct list_head permits;
	bool dead;			/* torn down: takes no new objects */
};

struct xpmem_segment {
	struct kref ref;
	s64 segid;
	struct xpmem_ctx *owner;	/* NULL once removed */
	struct list_head owner_link;	/* in owner->segments */
	struct mm_struct *mm;		/* mmgrab()bed owner mm */
	unsigned long start, end;	/* source range [start, end) */
	umode_t mode;			/* permit mode of MAKE */
	kuid_t uid;
	kgid_t gid;
	struct user_namespace *user_ns;	/* owner's, for CAP_IPC_OWNER */
	struct pid *owner_pid;		/* maker's tgid, for netlink dumps */

	struct inode *inode;		/* backs every attachment's mapping */
	struct mmu_interval_notifier notifier;
	struct rw_semaphore life;	/* write: removal; read: faults */
	bool dead;			/* under life; faults answer SIGBUS */
	struct mutex lock;		/* notifier sequence vs PFN insertion */
	struct rcu_head rcu;		/* lookups run under RCU */

	/* Other partitions' use of it (export.c), under export_lock. */
	struct list_head exports;
	bool exports_closed;		/* removed: no new exports */
	/* A proxy for another partition's segment (import.c): no mm. */
	struct xpmem_import *remote;
};

struct xpmem_permit {
	s64 apid;
	struct xpmem_ctx *owner;
	struct list_head owner_link;	/* in owner->permits */
	struct xpmem_segment *seg;	/* referenced */
	bool rdonly;
	struct rcu_head rcu;
};

struct xpmem_attach {
	struct xpmem_segment *seg;	/* referenced */
	bool rdonly;
	struct mutex pt_lock;		/* page-table allocation vs PMD insertion */
};

/* ids.c: random, unique, positive ids that carry the partition id. */
int xpmem_ids_init(void);
void xpmem_ids_exit(void);
int xpmem_segment_publish(struct xpmem_segment *seg);
void xpmem_segment_unpublish(struct xpmem_segment *seg);
struct xpmem_segment *xpmem_segment_lookup(s64 segid) __must_check;
int xpmem_permit_publish(struct xpmem_permit *permit);
void xpmem_permit_unpublish(struct xpmem_permit *permit);
struct xpmem_permit *xpmem_permit_lookup(s64 apid) __must_check;
struct xpmem_segment *xpmem_segment_next(s64 *pos);
struct xpmem_permit *xpmem_permit_next(s64 *pos);

/* context.c */
struct xpmem_ctx *xpmem_ctx_create(void);
void xpmem_ctx_destroy(struct xpmem_ctx *ctx);
bool xpmem_ctx_live(struct xpmem_ctx *ctx);

/* segment.c */
int xpmem_cmd_make(struct xpmem_ctx *ctx, struct xpmem_cmd_make *cmd);
int xpmem_cmd_remove(struct xpmem_ctx *ctx, s64 segid);
void xpmem_segment_unlink(struct xpmem_ctx *ctx, struct xpmem_segment *seg);
void xpmem_segment_remove(struct xpmem_segment *seg);
void xpmem_segment_put(struct xpmem_segment *seg);
bool xpmem_segment_owner_alive(struct xpmem_segment *seg);

/* invalidate.c */
extern const struct mmu_interval_notifier_ops xpmem_invalidate_ops;
int xpmem_invalidate_init(void);
void xpmem_invalidate_exit(void);
void xpmem_zap_attachers(struct xpmem_segment *seg, unsigned long start,
			 unsigned long end);
void xpmem_zap_attachers_fenced(struct xpmem_segment *seg, unsigned long start,
				unsigned long end);
void xpmem_zap_vma(struct vm_area_struct *vma, unsigned long start,
		   unsigned long end);

/* permit.c */
int xpmem_cmd_get(struct xpmem_ctx *ctx, struct xpmem_cmd_get *cmd);
int xpmem_cmd_release(struct xpmem_ctx *ctx, s64 apid);
void xpmem_permit_unlink(struct xpmem_ctx *ctx, struct xpmem_permit *permit);
void xpmem_permit_release(struct xpmem_permit *permit);

/* attach.c */
int xpmem_attach_init(void);
void xpmem_attach_exit(void);
struct inode *xpmem_attach_inode_alloc(void);
int xpmem_cmd_attach(struct xpmem_ctx *ctx, struct xpmem_cmd_attach *cmd,
		     u64 __user *out);
int xpmem_cmd_detach(struct xpmem_ctx *ctx, u64 vaddr);
int xpmem_undo_attach(u64 vaddr, u64 size);
bool xpmem_vma_is_attachment(struct vm_area_struct *vma);

/* fault.c */
extern const struct vm_operations_struct xpmem_vm_ops;
extern unsigned int xpmem_fault_window;
int xpmem_fault_window_set(unsigned int pages);

/* device.c */
int xpmem_device_init(void);
void xpmem_device_exit(void);

/* stats.c */
struct xpmem_counters {
	atomic64_t contexts, segments, permits, attachments, pinned_pages;
	atomic64_t faults, pages_mapped, pmds_mapped, fault_retries, sigbus;
	atomic64_t invalidations, invalidations_refused;
	/* remote traffic: counted by the partition fabric */
	atomic64_t remote_faults, remote_invalidations, timeouts;
	/* FAULTs the fault service left for the requester's re-post */
	atomic64_t faults_deferred;
	atomic64_t doorbells_sent, doorbells_received;
	atomic64_t dropped[__XPMEM_DROP_MAX];
	atomic64_t invalidates_in_service;	/* a gauge: serve_invalidation() */
	atomic64_t exports;		/* a gauge: our segments' live exports */
};
extern struct xpmem_counters xpmem_counters;
#define xpmem_count(name, n) atomic64_add((n), &xpmem_counters.name)
int xpmem_cmd_stats(void __user *arg);
bool xpmem_stats_check_idle(void);

#endif /* XPMEM_INTERNAL_H */
