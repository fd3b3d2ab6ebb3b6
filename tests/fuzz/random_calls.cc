// SPDX-License-Identifier: GPL-2.0-only
//
// random_calls.cc - one random ioctl: a random command (ours, outside our
// range, or a mangled number) with random arguments behind a random pointer.
//
// Arguments are random but drawn near the interesting edges (ids of our own
// live objects, of dead ones, of other processes; aligned, unaligned and
// boundary addresses and sizes).  The expected outcome is computed from the
// bytes the kernel will actually read: for a read-only or half-writable
// argument that is whatever lies there, so the structure is read back before
// the call.  The only thing never issued is a MAP_FIXED attach that could
// succeed outside the scratch area (it would map over our own memory).
#include <errno.h>
#include <limits.h>
#include <linux/ioctl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "random.h"

namespace xf {

namespace {

// Commands the VFS handles itself before the driver sees them (FIOCLEX,
// FIONBIO, FIFREEZE, FS_IOC_*, FICLONE, FIGETBSZ...): a random one of these
// would freeze a filesystem or change the descriptor, not test xpmem.
bool vfs_type(unsigned t)
{
	return t == 'T' || t == 'X' || t == 'f' || t == 0x94 || t == 0;
}

// ---- MAKE ----------------------------------------------------------------------

bool make_valid(const struct xpmem_cmd_make &m, uint64_t top)
{
	if (m.permit_type != XPMEM_IOC_PERMIT_MODE || (m.permit_value & ~0777ULL))
		return false;
	if (m.vaddr % kPage || m.vaddr >= top)
		return false;
	if (m.size == UINT64_MAX)
		return true;
	return m.size && m.size % kPage == 0 && m.size <= top - m.vaddr;
}

void rnd_make(Worker &w)
{
	static const uint64_t modes[] = { 0600, 0666, 0, 0777, 0644, 01000,
					  0400 | (1ULL << 40), 07777 };
	Rng &g = w.rng_;
	uint64_t top = user_top();
	struct xpmem_cmd_make m;

	m.vaddr = g.chance(30) ? w.slot_addr((int)g.below(Worker::kSlots))
			       : pick_user_addr(g, top);
	switch (g.below(9)) {
	case 0: m.size = UINT64_MAX; break;
	case 1: m.size = kPage * (1 + g.below(64)); break;
	case 2: m.size = 0; break;
	case 3: m.size = 1 + g.below(3 * kPage); break;
	case 4: m.size = top - m.vaddr; break;
	case 5: m.size = top - m.vaddr + kPage; break;
	case 6: m.size = Worker::kSlotSize; break;
	default: m.size = g.chance(50) ? g.next() : g.scaled(); break;
	}
	m.permit_type = g.chance(85) ? XPMEM_IOC_PERMIT_MODE : (int32_t)g.next();
	m.__pad0 = g.chance(80) ? 0 : (uint32_t)g.next();
	m.permit_value = g.chance(80) ? modes[g.below(3)]
				      : modes[g.below(sizeof(modes) / 8)];
	if (g.chance(5))
		m.permit_value = g.next();
	m.segid = (int64_t)g.next();

	ArgPtr ap = w.args_.pick(g, sizeof(m));
	place(ap, &m, sizeof(m));
	int fdi = w.pick_fdi();
	long r = w.call(fdi, XPMEM_CMD_MAKE, ap.p);
	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "MAKE with a %s argument %p", ap.kind, ap.p);
		return;
	}
	bool valid = make_valid(m, top);
	Allowed al = !valid ? A(O_EINVAL)
		   : !ap.writable(32, 8) ? A(O_EFAULT) | A(O_ENOMEM)
		   : A(O_OK) | A(O_ENOMEM);
	bool ok = w.expect(r, al, "MAKE vaddr=%#llx size=%#llx type=%d mode=%#llo (%s argument)",
			   (unsigned long long)m.vaddr, (unsigned long long)m.size,
			   m.permit_type, (unsigned long long)m.permit_value, ap.kind);
	if (r != 0)
		return;
	int64_t segid;
	memcpy(&segid, ap.p + 32, 8);
	if (segid <= 0) {
		w.failf("MAKE returned segid %lld", (long long)segid);
		return;
	}
	if (!ok || w.segs_.size() >= Worker::kMaxSegs || w.rng_.chance(50)) {
		int64_t id = segid;
		long rr = w.call(fdi, XPMEM_CMD_REMOVE, &id);
		w.expect(rr, A(O_OK), "REMOVE of a segment just made (%lld)", (long long)segid);
		w.dead_segs_.insert(segid);
		w.remember(w.dead_seg_list_, segid);
		return;
	}
	uint64_t span = m.size == UINT64_MAX ? top - m.vaddr : m.size;
	w.segs_.push_back({ segid, fdi, m.vaddr, span, K_RANDOM, -1,
			    (uint32_t)m.permit_value });
	w.trace("random make %#llx %#llx+%#llx", (unsigned long long)segid,
		(unsigned long long)m.vaddr, (unsigned long long)span);
}

// ---- REMOVE, GET, RELEASE --------------------------------------------------------

void rnd_remove(Worker &w)
{
	Rng &g = w.rng_;
	int64_t id = pick_segid(w);
	ArgPtr ap = w.args_.pick(g, 8);
	place(ap, &id, 8);
	int fdi = w.pick_fdi();
	long r = w.call(fdi, XPMEM_CMD_REMOVE, ap.p);

	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "REMOVE with a %s argument %p", ap.kind, ap.p);
		return;
	}
	IdClass c = seg_class(w, id, fdi);
	Allowed al = c == ID_SAME ? A(O_OK)
		   : c == ID_OTHER_FD ? A(O_EPERM)
		   : c == ID_DEAD ? A(O_ENOENT)
		   : bad_id(id);
	w.expect(r, al, "REMOVE %s segid %#llx", id_class_name(c), (unsigned long long)id);
	if (r == 0 && w.find_seg(id)) {
		w.forget_seg(id);
		w.trace("random remove %#llx", (unsigned long long)id);
	}
}

void rnd_get(Worker &w)
{
	Rng &g = w.rng_;
	struct xpmem_cmd_get c;

	c.segid = pick_segid(w);
	c.flags = g.chance(85) ? (int32_t)(1 + g.below(2)) : (int32_t)g.scaled();
	c.permit_type = g.chance(90) ? XPMEM_IOC_PERMIT_MODE : (int32_t)g.scaled();
	c.permit_value = g.chance(50) ? 0666 : g.next();	/* ignored */
	c.apid = (int64_t)g.next();

	ArgPtr ap = w.args_.pick(g, sizeof(c));
	place(ap, &c, sizeof(c));
	int fdi = w.pick_fdi();
	long r = w.call(fdi, XPMEM_CMD_GET, ap.p);
	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "GET with a %s argument %p", ap.kind, ap.p);
		return;
	}
	bool flags_ok = (c.flags == XPMEM_IOC_RDONLY || c.flags == XPMEM_IOC_RDWR) &&
			c.permit_type == XPMEM_IOC_PERMIT_MODE;
	IdClass cls = seg_class(w, c.segid, fdi);
	Allowed done = ap.writable(24, 8) ? A(O_OK) : A(O_EFAULT);
	Allowed al;
	if (cls == ID_SAME || cls == ID_OTHER_FD)
		al = flags_ok ? done | A(O_ENOMEM) | (w.cfg_.unpriv ? A(O_EACCES) : 0)
			      : A(O_EINVAL);
	else if (cls == ID_FOREIGN)
		al = flags_ok ? done | A(O_ENOENT) | A(O_ENOMEM) |
					(w.cfg_.unpriv ? A(O_EACCES) : 0)
			      : A(O_EINVAL) | A(O_ENOENT);
	else
		al = A(O_ENOENT) | (!flags_ok || c.segid <= 0 ? A(O_EINVAL) : 0);
	w.expect(r, al, "GET %s segid %#llx flags %#x type %d (%s argument)",
		 id_class_name(cls), (unsigned long long)c.segid, c.flags,
		 c.permit_type, ap.kind);
	if (r != 0)
		return;
	int64_t apid;
	memcpy(&apid, ap.p + 24, 8);
	if (apid <= 0) {
		w.failf("GET returned apid %lld", (long long)apid);
		return;
	}
	Seg *s = w.find_seg(c.segid);
	if (s && s->kind != K_RANDOM && w.permits_.size() < Worker::kMaxPermits) {
		SegInfo si = { s->segid, s->start, s->span, w.key_, 0, 0, s->mode, 0 };
		w.permits_.push_back({ apid, fdi, si, true,
				       c.flags == XPMEM_IOC_RDONLY, -1 });
		w.trace("random get %#llx -> %#llx", (unsigned long long)c.segid,
			(unsigned long long)apid);
		return;
	}
	int64_t id = apid;
	long rr = w.call(fdi, XPMEM_CMD_RELEASE, &id);
	w.expect(rr, A(O_OK), "RELEASE of a permit just obtained");
	w.dead_apids_.insert(apid);
	w.remember(w.dead_apid_list_, apid);
}

void rnd_release(Worker &w)
{
	Rng &g = w.rng_;
	int64_t id = pick_apid(w);
	ArgPtr ap = w.args_.pick(g, 8);
	place(ap, &id, 8);
	int fdi = w.pick_fdi();
	long r = w.call(fdi, XPMEM_CMD_RELEASE, ap.p);

	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "RELEASE with a %s argument %p", ap.kind, ap.p);
		return;
	}
	IdClass c = permit_class(w, id, fdi);
	Allowed al = c == ID_SAME ? A(O_OK)
		   : c == ID_OTHER_FD ? A(O_EPERM)
		   : c == ID_DEAD ? A(O_ENOENT)
		   : bad_id(id);
	w.expect(r, al, "RELEASE %s apid %#llx", id_class_name(c), (unsigned long long)id);
	if (r == 0 && w.find_permit(id)) {
		w.forget_permit(id);
		w.trace("random release %#llx", (unsigned long long)id);
	}
}
// ---- the rest --------------------------------------------------------------------

void rnd_simple(Worker &w)
{
	static const unsigned long cmds[] = { XPMEM_CMD_VERSION,
		XPMEM_CMD_FORK_BEGIN, XPMEM_CMD_FORK_END };
	Rng &g = w.rng_;
	unsigned long cmd = cmds[g.below(3)];
	void *arg = g.chance(50) ? (void *)w.args_.pick(g, 8).p : (void *)g.next();
	long r = w.call(w.pick_fdi(), cmd, arg);

	if (cmd == XPMEM_CMD_VERSION) {
		if (r != w.version_ || r < 0)
			w.failf("VERSION returned %ld, earlier %ld", r, w.version_);
	} else {
		w.expect(r, A(O_OK), "%s", cmd_name(classify(cmd)));
	}
}

void rnd_stats(Worker &w)
{
	static const uint32_t sizes[] = { XPMEM_STATS_SIZE_V1,
		sizeof(struct xpmem_stats), XPMEM_STATS_SIZE_V1 + 8, kPage, 0,
		XPMEM_STATS_SIZE_V1 - 1, 1, 0xffffffffu };
	Rng &g = w.rng_;
	unsigned long cmd = g.chance(70) ? XPMEM_IOC_STATS
			  : _IOC(_IOC_READ | _IOC_WRITE, 'x', XPMEM_IOC_STATS_NR,
				 g.below(1 << _IOC_SIZEBITS));
	uint32_t size = g.chance(90) ? sizes[g.below(8)] : (uint32_t)g.next();
	ArgPtr ap = w.args_.pick(g, 4);
	place(ap, &size, 4);
	long r = w.call(w.pick_fdi(), cmd, ap.p);

	if (!ap.readable) {
		w.expect(r, A(O_EFAULT), "STATS with a %s argument %p", ap.kind, ap.p);
		return;
	}
	size_t n = size < sizeof(struct xpmem_stats) ? size : sizeof(struct xpmem_stats);
	Allowed al = size < XPMEM_STATS_SIZE_V1 ? A(O_EINVAL)
		   : ap.writable(0, n) ? A(O_OK) : A(O_EFAULT);
	w.expect(r, al, "STATS size %u (%s argument)", size, ap.kind);
	if (r == 0) {
		struct xpmem_stats st;
		memcpy(&st, ap.p, n);
		if (st.size < XPMEM_STATS_SIZE_V1 || st.size > size || !st.contexts)
			w.failf("STATS size in %u: out size %u, contexts %llu", size,
				st.size, (unsigned long long)st.contexts);
	}
}

void rnd_unknown(Worker &w)
{
	Rng &g = w.rng_;
	unsigned long cmd;

	do {
		if (g.chance(50))
			cmd = _IOC(g.below(4), 'x', g.below(256), g.below(1 << _IOC_SIZEBITS));
		else
			cmd = (uint32_t)g.next();
	} while (vfs_type(_IOC_TYPE(cmd)) || classify(cmd) != C_UNKNOWN);
	bool near_stats = _IOC_TYPE(cmd) == 'x' && _IOC_NR(cmd) == XPMEM_IOC_STATS_NR;
	// Only a command the driver might take for STATS can write through
	// its argument: give that one a pointer we can afford to lose.
	void *arg = near_stats || g.chance(50) ? (void *)w.args_.pick(g, 8).p
					       : (void *)g.next();
	long r = w.call(w.pick_fdi(), cmd, arg);
	Allowed al = A(O_ENOTTY);
	if (near_stats)
		al |= A(O_OK) | A(O_EFAULT) | A(O_EINVAL);
	w.expect(r, al, "unknown command %#lx", cmd);
}

}  // namespace

void Worker::random_call()
{
	phase_ = "random call";
	unsigned r = (unsigned)rng_.below(100);

	if (r < 12)
		rnd_unknown(*this);
	else if (r < 17)
		rnd_stats(*this);
	else if (r < 22)
		rnd_simple(*this);
	else if (r < 37)
		rnd_make(*this);
	else if (r < 47)
		rnd_remove(*this);
	else if (r < 62)
		rnd_get(*this);
	else if (r < 72)
		rnd_release(*this);
	else if (r < 90)
		rnd_attach(*this);
	else
		rnd_detach(*this);
}

// Plausible structures in the read-only page, so that read-only arguments
// sometimes get past the copy-in: a valid MAKE, GET or ATTACH whose result
// cannot be written back must fail with EFAULT and be undone.
void Worker::refill_ro_page()
{
	args_.refill_ro([&](unsigned char *pg) {
		for (size_t off = 0; off + 64 <= kPage; off += 64) {
			unsigned char rec[64];
			for (size_t i = 0; i < sizeof(rec); i += 8) {
				uint64_t v = rng_.next();
				memcpy(rec + i, &v, 8);
			}
			switch (rng_.below(6)) {
			case 0: {
				struct xpmem_cmd_make m = {};
				m.vaddr = slot_addr((int)rng_.below(kSlots));
				m.size = rng_.chance(50) ? kPage : UINT64_MAX;
				m.permit_type = XPMEM_IOC_PERMIT_MODE;
				m.permit_value = 0600;
				memcpy(rec, &m, sizeof(m));
				break;
			}
			case 1: {
				struct xpmem_cmd_get c = {};
				c.segid = pick_segid(*this);
				c.flags = XPMEM_IOC_RDWR;
				c.permit_type = XPMEM_IOC_PERMIT_MODE;
				memcpy(rec, &c, sizeof(c));
				break;
			}
			case 2: {
				struct xpmem_cmd_attach c = {};
				c.apid = permits_.empty() ? 0 : permits_[0].apid;
				c.offset = 0;
				c.size = kPage;
				c.flags = 0;
				memcpy(rec, &c, sizeof(c));
				break;
			}
			case 3: {
				uint32_t s = XPMEM_STATS_SIZE_V1;
				memcpy(rec, &s, 4);
				break;
			}
			default:
				break;
			}
			memcpy(pg + off, rec, sizeof(rec));
		}
	});
}

}  // namespace xf
