// SPDX-License-Identifier: GPL-2.0-only
//
// structured.cc - the plausible life of XPMEM objects: regions of our own
// memory are exported (MAKE), segments of ours and of other processes are
// got (GET), attached, touched, detached, released and removed, with random
// but sensible parameters.  Every call here has one right answer given the
// model, so every result is checked exactly; ids go up on the board for the
// other processes to use.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <algorithm>

#include "pattern.h"
#include "worker.h"

namespace xf {

static const uint32_t kModes[] = { 0600, 0644, 0666, 0400, 0440, 0, 0606 };

// May an unprivileged caller (euid 65534, no supplementary groups of
// others) get this segment?  Root always may (CAP_IPC_OWNER).
static bool may_get(const Worker &w, const SegInfo &si, bool rdonly)
{
	if (!w.cfg_.unpriv)
		return true;
	uint32_t granted = si.uid == 65534 ? (si.mode >> 6) & 7 : si.mode & 7;
	uint32_t want = rdonly ? 4 : 6;
	return (granted & want) == want;
}

void Worker::map_region(int slot)
{
	Region &r = regions_[slot];
	bool huge = rng_.chance(25);
	size_t len = huge ? kHugePage : kPage * (1 + rng_.below(64));
	uintptr_t addr = slot_addr(slot) + (huge ? 0 : kPage * rng_.below(256));

	void *p = mmap((void *)addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		failf("mapping a region at %#lx: %s", (unsigned long)addr, strerror(errno));
		return;
	}
	if (huge)
		madvise(p, len, MADV_HUGEPAGE);
	r.live = true;
	r.addr = addr;
	r.len = len;
	r.gen = next_gen_++;
	r.prot = PROT_READ | PROT_WRITE;
	r.zero = false;
	r.delta = 0;
	fill_region(addr, len, key_, r.gen);
	trace("map region %d at %#lx+%#zx gen %llu", slot, (unsigned long)addr, len,
	      (unsigned long long)r.gen);
}

static int pick_region(Worker &w)
{
	int live[Worker::kSlots], n = 0;

	for (int i = 0; i < Worker::kSlots; i++)
		if (w.regions_[i].live)
			live[n++] = i;
	return n ? live[w.rng_.below(n)] : -1;
}

bool Worker::make_seg(SegKind kind, int fdi)
{
	struct xpmem_cmd_make m = {};
	int ri = pick_region(*this);
	uint64_t top = user_top();

	switch (kind) {
	case K_REGION:
		if (ri < 0)
			return false;
		m.vaddr = regions_[ri].addr;
		m.size = regions_[ri].len;
		break;
	case K_SLOT:
		ri = ri >= 0 ? ri : 0;
		m.vaddr = slot_addr(ri);
		m.size = kSlotSize;
		break;
	case K_ARENA:
		m.vaddr = arena_;
		m.size = kSlots * kSlotSize;
		break;
	default:
		m.vaddr = 0;
		m.size = UINT64_MAX;
		break;
	}
	m.permit_type = XPMEM_IOC_PERMIT_MODE;
	m.permit_value = kModes[rng_.below(sizeof(kModes) / sizeof(kModes[0]))];
	long r = call(fdi, XPMEM_CMD_MAKE, &m);
	if (!expect(r, A(O_OK), "MAKE %#llx+%#llx", (unsigned long long)m.vaddr,
		    (unsigned long long)m.size))
		return false;
	if (m.segid <= 0 || ((uint64_t)m.segid >> 63)) {
		failf("MAKE returned segid %lld", (long long)m.segid);
		return false;
	}
	Seg s = { m.segid, fdi, m.vaddr, m.size == UINT64_MAX ? top : m.size,
		  kind, -1, (uint32_t)m.permit_value };
	if (rng_.chance(80)) {
		// The data foreign attachers will look at: a region inside.
		SegInfo si = { s.segid, s.start, s.span, key_, 0, 0, s.mode,
			       (uint32_t)geteuid() };
		if (ri >= 0 && !regions_[ri].delta && regions_[ri].addr >= s.start &&
		    regions_[ri].addr + regions_[ri].len <= s.start + s.span) {
			si.data = regions_[ri].addr;
			si.data_len = regions_[ri].len;
		}
		s.row = seg_rows_++ % Board::kRows;
		b_->post_seg(cfg_.writer, s.row, si);
	}
	segs_.push_back(s);
	trace("make seg %#llx kind %d fd %d %#llx+%#llx mode %o", (unsigned long long)s.segid,
	      kind, fdi, (unsigned long long)s.start, (unsigned long long)s.span, s.mode);
	return true;
}

bool Worker::remove_seg(size_t i)
{
	Seg s = segs_[i];
	int64_t id = s.segid;
	long r = call(s.fdi, XPMEM_CMD_REMOVE, &id);
	bool ok = expect(r, A(O_OK), "REMOVE own segid %#llx", (unsigned long long)id);

	forget_seg(s.segid);
	trace("remove seg %#llx", (unsigned long long)s.segid);
	if (rng_.chance(30)) {
		// Gone for good: a second REMOVE and a GET find nothing, and
		// every attachment of it raises SIGBUS.
		id = s.segid;
		expect(call(s.fdi, XPMEM_CMD_REMOVE, &id), A(O_ENOENT),
		       "second REMOVE of %#llx", (unsigned long long)s.segid);
		struct xpmem_cmd_get g = { s.segid, XPMEM_IOC_RDWR,
					   XPMEM_IOC_PERMIT_MODE, 0600, 0 };
		expect(call(pick_fdi(), XPMEM_CMD_GET, &g), A(O_ENOENT),
		       "GET of removed segid %#llx", (unsigned long long)s.segid);
		for (size_t a = 0; a < atts_.size(); a++)
			if (atts_[a].segid == s.segid)
				touch_att(a, rng_.chance(30));
	}
	return ok;
}

bool Worker::get_permit(int64_t segid, const SegInfo &si, bool own, bool rdonly)
{
	struct xpmem_cmd_get g = {};
	int fdi = pick_fdi();

	g.segid = segid;
	g.flags = rdonly ? XPMEM_IOC_RDONLY : XPMEM_IOC_RDWR;
	g.permit_type = XPMEM_IOC_PERMIT_MODE;
	// Consumers pass anything here (NULL, 0600, 0666): it is ignored.
	g.permit_value = rng_.chance(50) ? 0 : rng_.chance(50) ? 0666 : rng_.next();
	long r = call(fdi, XPMEM_CMD_GET, &g);
	bool allowed = may_get(*this, si, rdonly);
	Allowed al = allowed ? A(O_OK) : A(O_EACCES);
	if (!own)
		al |= A(O_ENOENT);	/* its owner may have removed it */
	if (!expect(r, al, "GET %s segid %#llx %s mode %#o", own ? "own" : "foreign",
		    (unsigned long long)segid, rdonly ? "RDONLY" : "RDWR", si.mode))
		return false;
	if (r != 0)
		return false;
	if (g.apid <= 0) {
		failf("GET returned apid %lld", (long long)g.apid);
		return false;
	}
	Permit p = { g.apid, fdi, si, own, rdonly, -1 };
	if (rng_.chance(50)) {
		p.row = apid_rows_++ % Board::kRows;
		b_->post_apid(cfg_.writer, p.row, p.apid);
	}
	permits_.push_back(p);
	trace("get %#llx -> apid %#llx %s fd %d", (unsigned long long)segid,
	      (unsigned long long)p.apid, rdonly ? "ro" : "rw", fdi);
	return true;
}

bool Worker::release_permit(size_t i)
{
	Permit p = permits_[i];
	int64_t id = p.apid;
	long r = call(p.fdi, XPMEM_CMD_RELEASE, &id);
	bool ok = expect(r, A(O_OK), "RELEASE own apid %#llx", (unsigned long long)id);

	forget_permit(p.apid);
	trace("release apid %#llx", (unsigned long long)p.apid);
	if (rng_.chance(20)) {
		id = p.apid;
		expect(call(p.fdi, XPMEM_CMD_RELEASE, &id), A(O_ENOENT),
		       "second RELEASE of %#llx", (unsigned long long)p.apid);
	}
	return ok;
}

// The source range to attach through permit p: part of a region (sometimes
// running past it into reserved memory, which must raise SIGBUS), or part
// of the foreign owner's data.
static bool attach_source(Worker &w, const Permit &p, uint64_t *src, size_t *len)
{
	Rng &g = w.rng_;
	uint64_t lo = p.si.start, hi = p.si.start + p.si.span;

	if (p.own) {
		int ri = pick_region(w);
		if (ri < 0)
			return false;
		const Region &r = w.regions_[ri];
		if (r.addr < lo || r.addr + r.len > hi)
			return false;
		size_t npages = r.len / kPage;
		size_t first = r.len == kHugePage && g.chance(50) ? 0 : g.below(npages);
		size_t n = 1 + g.below(npages - first);
		*src = r.addr + first * kPage;
		*len = n * kPage;
		// Past the region's end, within the slot and the segment.
		uintptr_t slot_end = w.slot_addr((int)((r.addr - w.arena_) / Worker::kSlotSize)) +
				     Worker::kSlotSize;
		if (g.chance(20) && *src + *len + 4 * kPage <= std::min<uint64_t>(hi, slot_end))
			*len += kPage * (1 + g.below(4));
		return true;
	}
	if (!p.si.data_len || p.si.data < lo || p.si.data + p.si.data_len > hi)
		return false;
	size_t npages = p.si.data_len / kPage;
	size_t first = g.below(npages);
	*src = p.si.data + first * kPage;
	*len = kPage * (1 + g.below(npages - first));
	return true;
}

bool Worker::attach(size_t pi)
{
	Permit &p = permits_[pi];
	uint64_t src;
	size_t len;

	if (!attach_source(*this, p, &src, &len))
		return false;
	struct xpmem_cmd_attach c = {};
	c.apid = p.apid;
	c.offset = (int64_t)(src - p.si.start);
	// Sizes need not be page multiples: the kernel rounds up.
	c.size = rng_.chance(20) ? len - kPage + 1 + rng_.below(kPage - 1) : len;
	int slot = -1;
	if (rng_.chance(35)) {
		for (int i = 0; i < kAttSlots; i++)
			if (!att_slot_used_[i]) {
				slot = i;
				break;
			}
	}
	// A fixed attachment must fit its slot: one that ran into the next slot
	// would be clobbered when that slot is re-reserved, and would leave a
	// hole there for the kernel to place other attachments in.
	if (len > kSlotSize)
		slot = -1;
	if (slot >= 0) {
		// Same offset modulo 2 MiB as the source, so PMDs can be used.
		c.vaddr = att_slot_addr(slot) + (src & (kHugePage - 1));
		if (c.vaddr + len > att_slot_addr(slot) + kSlotSize)
			c.vaddr = att_slot_addr(slot);
		c.flags = MAP_FIXED;
	}
	uint64_t want = c.vaddr;
	long r = call(p.fdi, XPMEM_CMD_ATTACH, &c);
	bool seg_live = !p.own || find_seg(p.si.segid);
	Allowed al = seg_live ? A(O_OK) : A(O_ENOENT);
	if (!p.own)
		al |= A(O_ENOENT);
	if (!expect(r, al, "ATTACH %s apid %#llx offset %#llx size %#llx%s",
		    p.own ? "own" : "foreign", (unsigned long long)p.apid,
		    (unsigned long long)c.offset, (unsigned long long)c.size,
		    slot >= 0 ? " fixed" : "") || r != 0) {
		if (slot >= 0)
			reserve(att_slot_addr(slot), kSlotSize);
		return false;
	}
	if (c.vaddr % kPage || (slot >= 0 && c.vaddr != want)) {
		failf("ATTACH mapped at %#llx", (unsigned long long)c.vaddr);
		return false;
	}
	Att a = { (uintptr_t)c.vaddr, len, src, p.apid, p.si.segid, p.own,
		  p.rdonly, p.own ? key_ : p.si.key,
		  p.rdonly ? PROT_READ : PROT_READ | PROT_WRITE, false, slot };
	if (slot >= 0)
		att_slot_used_[slot] = true;
	atts_.push_back(a);
	trace("attach apid %#llx src %#llx+%#zx at %#lx%s", (unsigned long long)p.apid,
	      (unsigned long long)src, len, (unsigned long)a.addr, slot >= 0 ? " fixed" : "");
	return true;
}

bool Worker::detach(size_t ai)
{
	Att a = atts_[ai];
	// Any address inside the attachment names it, aligned or not.
	uint64_t v = a.addr + rng_.below(a.len);
	long r = call(pick_fdi(), XPMEM_CMD_DETACH, &v);
	bool ok = expect(r, A(O_OK), "DETACH %#llx (attachment %#lx+%#zx)",
			 (unsigned long long)v, (unsigned long)a.addr, a.len);

	if (is_mapped(a.addr) || is_mapped(a.addr + a.len - kPage))
		failf("DETACH left attachment %#lx+%#zx mapped", (unsigned long)a.addr, a.len);
	else if (rng_.chance(20)) {
		v = a.addr;
		expect(call(pick_fdi(), XPMEM_CMD_DETACH, &v), A(O_OK),
		       "DETACH of an address with no mapping");
		// Nothing is there any more: touching it is a plain SIGSEGV.
		FaultInfo f = guarded([&] { (void)load(a.addr); });
		if (f.sig != SIGSEGV)
			failf("reading a detached attachment: signal %d", f.sig);
	}
	trace("detach %#lx+%#zx", (unsigned long)a.addr, a.len);
	drop_att(ai);
	return ok;
}

void Worker::structured_step()
{
	phase_ = "structured";
	int live = 0, empty = -1;

	for (int i = 0; i < kSlots; i++) {
		if (regions_[i].live)
			live++;
		else if (empty < 0 || rng_.chance(50))
			empty = i;
	}
	if (empty >= 0 && (live < 2 || rng_.chance(3))) {
		map_region(empty);
		return;
	}
	switch (rng_.below(12)) {
	case 0:
	case 1:
		if (segs_.size() >= kMaxSegs) {
			remove_seg(rng_.below(segs_.size()));
		} else {
			static const SegKind kinds[] = { K_REGION, K_REGION, K_SLOT,
							 K_ARENA, K_WHOLE };
			make_seg(kinds[rng_.below(5)], pick_fdi());
		}
		break;
	case 2:
		if (!segs_.empty())
			remove_seg(rng_.below(segs_.size()));
		break;
	case 3:
	case 4: {
		if (permits_.size() >= kMaxPermits) {
			release_permit(rng_.below(permits_.size()));
			break;
		}
		bool rdonly = rng_.chance(30);
		SegInfo si;
		if (rng_.chance(50) && !segs_.empty()) {
			const Seg &s = segs_[rng_.below(segs_.size())];
			if (s.kind == K_RANDOM)
				break;
			si = { s.segid, s.start, s.span, key_, 0, 0, s.mode,
			       (uint32_t)geteuid() };
			get_permit(s.segid, si, true, rdonly);
		} else if (b_->pick_seg(rng_, &si) && !find_seg(si.segid) &&
			   !seg_dead(si.segid)) {
			foreign_ids_.insert(si.segid);
			get_permit(si.segid, si, false, rdonly);
		}
		break;
	}
	case 5:
		if (!permits_.empty())
			release_permit(rng_.below(permits_.size()));
		break;
	case 6:
	case 7:
		if (atts_.size() >= kMaxAtts)
			detach(rng_.below(atts_.size()));
		else if (!permits_.empty())
			attach(rng_.below(permits_.size()));
		break;
	case 8:
	case 9:
		if (!atts_.empty())
			touch_att(rng_.below(atts_.size()), rng_.chance(40));
		break;
	case 10:
		if (!atts_.empty())
			detach(rng_.below(atts_.size()));
		break;
	default:
		if (!permits_.empty() && !atts_.empty()) {
			// A foreign process's apid: ours to try, never to use.
			int64_t a = b_->pick_apid(rng_);
			if (a > 0 && !find_permit(a)) {
				struct xpmem_cmd_attach c = { a, 0, kPage, 0, -1, 0 };
				expect(call(pick_fdi(), XPMEM_CMD_ATTACH, &c),
				       A(O_EPERM) | A(O_ENOENT),
				       "ATTACH with foreign apid %#llx", (unsigned long long)a);
			}
		}
		break;
	}
}

}  // namespace xf
