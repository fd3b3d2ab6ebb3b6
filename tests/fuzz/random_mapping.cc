// SPDX-License-Identifier: GPL-2.0-only
//
// random_mapping.cc - random ATTACH and DETACH.  Offsets, sizes, flags and
// addresses are drawn around the edges of the permit's segment; a MAP_FIXED
// attach is only ever issued where it cannot land on our own memory (the
// scratch area), and a DETACH never aims at an attachment we track.  A
// successful random attach is checked (address, mapping) and detached at
// once; one whose result could not be written back must leave no mapping.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "random.h"

namespace xf {

namespace {

bool range_valid(int64_t off, uint64_t size, uint64_t span)
{
	uint64_t len = (size + kPage - 1) & ~(kPage - 1);

	if (off < 0 || off % (int64_t)kPage || !size || len < size)
		return false;
	return size <= span && (uint64_t)off <= span - len;
}

// A MAP_FIXED attach that would map anywhere but the scratch area if it
// succeeded.  Whatever the id, it is never issued: a kernel that wrongly
// accepted it would map over our own memory, and the run would die of
// corruption instead of reporting the bad success.
bool attach_dangerous(Worker &w, const struct xpmem_cmd_attach &c)
{
	if (!(c.flags & MAP_FIXED) || !c.vaddr || c.vaddr % kPage)
		return false;
	uint64_t len = (c.size + kPage - 1) & ~(kPage - 1);
	bool fits = len >= c.size && c.vaddr >= w.scratch() &&
		    c.vaddr + len >= c.vaddr &&
		    c.vaddr + len <= w.scratch() + Worker::kScratch;
	return !fits;
}

}  // namespace

void rnd_attach(Worker &w)
{
	Rng &g = w.rng_;
	int fdi = w.pick_fdi();
	struct xpmem_cmd_attach c = {};

	c.apid = pick_apid(w);
	Permit *p = w.find_permit(c.apid);
	uint64_t span = p ? p->si.span : (1 + g.below(64)) * kPage;
	switch (g.below(8)) {
	case 0: c.offset = 0; break;
	case 1: c.offset = (int64_t)((g.next() % span) & ~(kPage - 1)); break;
	case 2: c.offset = (int64_t)(span - kPage); break;
	case 3: c.offset = (int64_t)span; break;
	case 4: c.offset = (int64_t)(g.next() % span) | 1; break;
	case 5: c.offset = -(int64_t)(kPage * (1 + g.below(4))); break;
	default: c.offset = (int64_t)(g.chance(50) ? g.next() : g.scaled()); break;
	}
	switch (g.below(8)) {
	case 0: c.size = kPage * (1 + g.below(16)); break;
	case 1: c.size = 1 + g.below(kPage - 1); break;
	case 2: c.size = 0; break;
	case 3: c.size = span; break;
	case 4: c.size = span - (uint64_t)c.offset; break;
	case 5: c.size = span - (uint64_t)c.offset + 1; break;
	case 6: c.size = UINT64_MAX - g.below(kPage); break;
	default: c.size = g.chance(50) ? g.next() : g.scaled(); break;
	}
	unsigned fr = (unsigned)g.below(100);
	c.flags = fr < 55 ? 0 : fr < 80 ? MAP_FIXED : (int32_t)g.next();
	if (c.flags & MAP_FIXED) {
		switch (g.below(4)) {
		case 0: c.vaddr = 0; break;
		case 1: c.vaddr = w.scratch() + g.below(Worker::kScratch); break;
		default:
			c.vaddr = w.scratch() + kPage * g.below(Worker::kScratch / kPage);
			break;
		}
	} else {
		c.vaddr = g.chance(50) ? 0 : pick_user_addr(g, user_top());
	}
	c.fd = (int32_t)g.next();	/* ignored */

	ArgPtr ap = w.args_.pick(g, sizeof(c));
	struct xpmem_cmd_attach want = c;
	place(ap, &c, sizeof(c));
	if (attach_dangerous(w, c)) {
		want.flags &= ~MAP_FIXED;
		ap = w.args_.rw(g, sizeof(c));
		c = want;
		place(ap, &c, sizeof(c));
	}
	bool fixed = c.flags & MAP_FIXED;
	bool scratch_hit = fixed && c.vaddr >= w.scratch() &&
			   c.vaddr < w.scratch() + Worker::kScratch;

	long r = w.call(fdi, XPMEM_CMD_ATTACH, ap.p);
	if (scratch_hit && r != 0)	/* a failed fixed map may have */
		w.reserve(w.scratch(), Worker::kScratch);	/* unmapped it */
	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "ATTACH with a %s argument %p", ap.kind, ap.p);
		return;
	}
	bool bad_fixed = fixed && (!c.vaddr || c.vaddr % kPage);
	IdClass cls = permit_class(w, c.apid, fdi);
	p = cls == ID_SAME ? w.find_permit(c.apid) : nullptr;
	bool valid = p && !bad_fixed && range_valid(c.offset, c.size, p->si.span);
	Allowed al;
	if (!p) {
		al = cls == ID_OTHER_FD ? A(O_EPERM) : cls == ID_DEAD ? A(O_ENOENT)
									: bad_id(c.apid);
		if (bad_fixed)
			al |= A(O_EINVAL);
	} else if (!valid) {
		al = A(O_EINVAL);
	} else {
		Allowed done = ap.writable(24, 8) ? A(O_OK) : A(O_EFAULT);
		bool seg_live = p->own ? w.find_seg(p->si.segid) != nullptr : true;
		al = A(O_ENOMEM) | (seg_live ? done : A(O_ENOENT));
		if (!p->own)
			al |= A(O_ENOENT);
	}
	w.expect(r, al, "ATTACH %s apid %#llx offset %#llx size %#llx vaddr %#llx flags %#x (%s argument)",
		 id_class_name(cls), (unsigned long long)c.apid,
		 (unsigned long long)c.offset, (unsigned long long)c.size,
		 (unsigned long long)c.vaddr, c.flags, ap.kind);

	if (r == -EFAULT && valid) {
		// The result could not be written back: the kernel must have
		// undone the mapping.
		int maps = count_attachment_maps();
		if (maps >= 0 && (size_t)maps != w.atts_.size())
			w.failf("ATTACH failed with EFAULT but left a mapping: "
				"%d attachment mappings, %zu expected", maps,
				w.atts_.size());
	}
	if (r != 0)
		return;

	uint64_t addr;
	memcpy(&addr, ap.p + 24, 8);
	if (addr % kPage || (fixed && addr != c.vaddr) || !is_mapped(addr)) {
		w.failf("ATTACH returned address %#llx (fixed %d, asked %#llx)",
			(unsigned long long)addr, fixed, (unsigned long long)c.vaddr);
		return;
	}
	if (g.chance(30)) {
		// Whatever lies there (any of our memory): it may read, or
		// raise SIGBUS, but not kill us.
		FaultInfo f = guarded([&] { (void)load(addr); });
		w.count_event(E_TOUCH);
		if (f.sig == SIGSEGV)
			w.failf("reading a fresh attachment at %#llx: SIGSEGV",
				(unsigned long long)addr);
	}
	uint64_t d = addr + g.below(c.size < kPage ? 1 : c.size);
	long rd = w.call(fdi, XPMEM_CMD_DETACH, &d);
	w.expect(rd, A(O_OK), "DETACH of a fresh attachment");
	if (is_mapped(addr))
		w.failf("DETACH left %#llx mapped", (unsigned long long)addr);
	if (scratch_hit)
		w.reserve(w.scratch(), Worker::kScratch);
}

static int stack_probe;

void rnd_detach(Worker &w)
{
	Rng &g = w.rng_;
	uint64_t top = user_top();
	uint64_t v;
	int local = 0;

	switch (g.below(9)) {
	case 0: v = 0; break;
	case 1: v = top + g.below(1ULL << 40); break;
	case 2: v = g.next(); break;
	case 3: v = (uint64_t)(uintptr_t)&local + g.below(64); break;
	case 4: v = (uint64_t)(uintptr_t)&rnd_detach + g.below(64); break;
	case 5: v = (uint64_t)(uintptr_t)w.args_.ro_page() - kPage * 2 + g.below(4 * kPage); break;
	case 6: v = w.arena_ + g.below(Worker::kArena); break;
	case 7: v = (uint64_t)(uintptr_t)&stack_probe; break;
	default: v = g.next() % top; break;
	}
	ArgPtr ap = w.args_.pick(g, 8);
	uint64_t want = v;
	place(ap, &v, 8);
	if (ap.readable && (v < top && w.overlaps_att(v, 1))) {
		// Never detach one of the attachments we track by chance.
		if (w.overlaps_att(want, 1))
			want = 0;
		ap = w.args_.rw(g, 8);
		v = want;
		place(ap, &v, 8);
	}
	bool mapped = ap.readable && v < top && is_mapped(v);
	int fdi = w.pick_fdi();
	long r = w.call(fdi, XPMEM_CMD_DETACH, ap.p);
	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "DETACH with a %s argument %p", ap.kind, ap.p);
		return;
	}
	Allowed al = v >= top ? A(O_OK) | A(O_EINVAL) : mapped ? A(O_EINVAL) : A(O_OK);
	w.expect(r, al, "DETACH %#llx (%s, not an attachment)",
		 (unsigned long long)v, mapped ? "mapped" : "unmapped");
	if (mapped && !is_mapped(v))
		w.failf("DETACH %#llx unmapped a mapping that is not an attachment",
			(unsigned long long)v);
}

}  // namespace xf
