// SPDX-License-Identifier: GPL-2.0-only
/*
 * ids.c - segment ids and access-permit ids.
 *
 * Ids are random 48-bit numbers with the owner's partition id in bits
 * 62..48 and bit 63 clear, so they are positive, unguessable (nothing ties
 * them to a pid or to a counter), unique within this boot (the tables refuse
 * duplicates and we draw again), and a peer partition can tell the owner of
 * an id from the id alone.
 */
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/xarray.h>

#include "fabric.h"
#include "xpmem_internal.h"

static DEFINE_XARRAY(segments);
static DEFINE_XARRAY(permits);

#define ID_RANDOM_MASK ((1ULL << XPMEM_SEGID_PART_SHIFT) - 1)
#define ID_DRAWS 16	/* collisions among 2^48 values: never in practice */

static s64 draw_id(void)
{
	u64 id;

	do {
		id = get_random_u64() & ID_RANDOM_MASK;
	} while (!id);
	return (s64)(id | ((u64)xpmem_fabric_self_id() << XPMEM_SEGID_PART_SHIFT));
}

static int publish(struct xarray *xa, void *obj, s64 *id)
{
	int i, err = -EBUSY;

	for (i = 0; i < ID_DRAWS && err == -EBUSY; i++) {
		*id = draw_id();
		err = xa_insert(xa, (unsigned long)*id, obj, GFP_KERNEL_ACCOUNT);
	}
	return err;
}

int xpmem_segment_publish(struct xpmem_segment *seg)
{
	return publish(&segments, seg, &seg->segid);
}

void xpmem_segment_unpublish(struct xpmem_segment *seg)
{
	xa_erase(&segments, (unsigned long)seg->segid);
}

/* Returns the segment with a reference taken, or NULL. */
struct xpmem_segment *xpmem_segment_lookup(s64 segid)
{
	struct xpmem_segment *seg;

	if (segid <= 0)
		return NULL;
	rcu_read_lock();
	seg = xa_load(&segments, (unsigned long)segid);
	if (seg && !kref_get_unless_zero(&seg->ref))
		seg = NULL;
	rcu_read_unlock();
	return seg;
}

int xpmem_permit_publish(struct xpmem_permit *permit)
{
	return publish(&permits, permit, &permit->apid);
}

void xpmem_permit_unpublish(struct xpmem_permit *permit)
{
	xa_erase(&permits, (unsigned long)permit->apid);
}

/*
 * Permits are owned by one context and only used under that context's lock,
 * which also covers their release; the caller must hold an RCU read lock or
 * the lock of the context it expects to own the permit, and check ->owner.
 */
struct xpmem_permit *xpmem_permit_lookup(s64 apid)
{
	if (apid <= 0)
		return NULL;
	return xa_load(&permits, (unsigned long)apid);
}

/*
 * For walks over all segments (the netlink dump): the segment with the
 * lowest id >= *pos, referenced, with *pos set past it; NULL at the end.
 */
struct xpmem_segment *xpmem_segment_next(s64 *pos)
{
	unsigned long index = *pos > 0 ? (unsigned long)*pos : 1;
	struct xpmem_segment *seg;

	rcu_read_lock();
	for (;;) {
		seg = xa_find(&segments, &index, LONG_MAX, XA_PRESENT);
		if (!seg || kref_get_unless_zero(&seg->ref))
			break;
		index++;
	}
	rcu_read_unlock();
	if (seg)
		*pos = (s64)index + 1;
	return seg;
}

/*
 * The permit with the lowest id >= *pos, with *pos set past it; NULL at the
 * end.  Permits are not referenced: the caller holds the RCU read lock and
 * reads the permit before dropping it.
 */
struct xpmem_permit *xpmem_permit_next(s64 *pos)
{
	unsigned long index = *pos > 0 ? (unsigned long)*pos : 1;
	struct xpmem_permit *permit;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "xpmem_permit_next without RCU");
	permit = xa_find(&permits, &index, LONG_MAX, XA_PRESENT);
	if (permit)
		*pos = (s64)index + 1;
	return permit;
}

int xpmem_ids_init(void)
{
	return 0;
}

void xpmem_ids_exit(void)
{
	WARN_ON(!xa_empty(&segments));
	WARN_ON(!xa_empty(&permits));
}
