// SPDX-License-Identifier: GPL-2.0-only
//
// random_args.cc - arguments for random calls: placement behind a pointer of
// any class, and ids and addresses drawn near the edges (random.h).
#include <limits.h>
#include <string.h>

#include "random.h"

namespace xf {

void place(const ArgPtr &ap, void *s, size_t n)
{
	unsigned char *want = (unsigned char *)s;

	if (!ap.readable)
		return;
	for (size_t i = 0; i < n; i++)
		if (ap.writable(i, 1))
			ap.p[i] = want[i];
	memcpy(s, ap.p, n);
}

static int64_t special_id(Rng &g, int64_t base)
{
	switch (g.below(8)) {
	case 0: return 0;
	case 1: return -1;
	case 2: return INT64_MIN;
	case 3: return INT64_MAX;
	case 4: return 1;
	case 5: return base ^ (1LL << XPMEM_SEGID_PART_SHIFT);	/* other partition */
	case 6: return (int64_t)((uint64_t)base | (1ULL << 63));
	default: return base + 1;
	}
}

const char *id_class_name(IdClass c)
{
	static const char *const n[] = { "own", "own(other fd)", "dead",
					 "foreign", "unknown" };
	return n[c];
}

IdClass seg_class(Worker &w, int64_t id, int fdi)
{
	if (Seg *s = w.find_seg(id))
		return s->fdi == fdi ? ID_SAME : ID_OTHER_FD;
	if (w.seg_dead(id))
		return ID_DEAD;
	return w.foreign_ids_.count(id) ? ID_FOREIGN : ID_UNKNOWN;
}

IdClass permit_class(Worker &w, int64_t id, int fdi)
{
	if (Permit *p = w.find_permit(id))
		return p->fdi == fdi ? ID_SAME : ID_OTHER_FD;
	if (w.permit_dead(id))
		return ID_DEAD;
	return w.foreign_ids_.count(id) ? ID_FOREIGN : ID_UNKNOWN;
}

int64_t pick_segid(Worker &w)
{
	Rng &g = w.rng_;
	unsigned r = (unsigned)g.below(100);
	int64_t base = w.segs_.empty() ? 1 : w.segs_[0].segid;

	if (r < 35 && !w.segs_.empty())
		return w.segs_[g.below(w.segs_.size())].segid;
	if (r < 45 && !w.dead_seg_list_.empty())
		return w.dead_seg_list_[g.below(w.dead_seg_list_.size())];
	if (r < 70) {
		SegInfo si;
		if (w.b_->pick_seg(g, &si)) {
			if (!w.find_seg(si.segid) && !w.seg_dead(si.segid))
				w.foreign_ids_.insert(si.segid);
			return si.segid;
		}
	}
	if (r < 85)
		return (int64_t)(g.chance(50) ? g.next() : g.scaled());
	return special_id(g, base);
}

int64_t pick_apid(Worker &w)
{
	Rng &g = w.rng_;
	unsigned r = (unsigned)g.below(100);
	int64_t base = w.permits_.empty() ? 1 : w.permits_[0].apid;

	if (r < 40 && !w.permits_.empty())
		return w.permits_[g.below(w.permits_.size())].apid;
	if (r < 50 && !w.dead_apid_list_.empty())
		return w.dead_apid_list_[g.below(w.dead_apid_list_.size())];
	if (r < 70) {
		int64_t a = w.b_->pick_apid(g);
		if (a > 0) {
			if (!w.find_permit(a) && !w.permit_dead(a))
				w.foreign_ids_.insert(a);
			return a;
		}
	}
	if (r < 85)
		return (int64_t)(g.chance(50) ? g.next() : g.scaled());
	return special_id(g, base);
}

uint64_t pick_user_addr(Rng &g, uint64_t top)
{
	switch (g.below(6)) {
	case 0: return 0;
	case 1: return (g.next() % top) & ~(kPage - 1);
	case 2: return g.next() % top;			/* mostly unaligned */
	case 3: return top - kPage * g.below(3);	/* top itself is invalid */
	case 4: return top + kPage * g.below(3);
	default: return g.chance(50) ? g.next() : g.scaled();
	}
}

}  // namespace xf
