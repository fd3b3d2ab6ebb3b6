// SPDX-License-Identifier: GPL-2.0-only
//
// touch.cc - reading and writing through attachments, and what must happen.
//
// For an attachment of one of our own segments the model knows the state of
// every source page, and the worker is the only one changing it, so the
// outcome is exact:
//   segment removed (or torn down)       SIGBUS
//   attachment VMA mprotect'ed PROT_NONE SIGSEGV
//   source unmapped, reserved, PROT_NONE SIGBUS
//   source present                       exactly the current generation
//   source MADV_DONTNEED'd               zeros (never the old data)
//   write, attachment or VMA read-only   SIGSEGV
//   write, source read-only              SIGSEGV or SIGBUS, never success
// Once its permit is released, an attachment may also raise SIGBUS (the ABI
// leaves open whether RELEASE detaches), but never show wrong data.
// Foreign attachments change under us: they may read zeros or data tagged
// with the owner's key, or raise SIGBUS; never anything else.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>

#include "pattern.h"
#include "worker.h"

namespace xf {

namespace {

enum Want { W_DATA, W_ZERO, W_SIGBUS, W_SIGSEGV, W_FOREIGN };

const char *want_name(Want w)
{
	static const char *const n[] = { "data", "zeros", "SIGBUS", "SIGSEGV",
					 "foreign data" };
	return n[w];
}

// What reading the attachment page whose source is `src` must give; for
// W_DATA, the generation and the address its data was written for.
Want expected_read(const Worker &w, const Att &a, uint64_t src, uint64_t *gen,
		   uint64_t *data)
{
	if (!(a.vprot & PROT_READ))
		return W_SIGSEGV;
	if (!a.own)
		return W_FOREIGN;
	if (w.seg_dead(a.segid))
		return W_SIGBUS;
	switch (w.src_state(src, gen, data)) {
	case SRC_RW:
	case SRC_RO:
		return W_DATA;
	case SRC_ZERO:
		return W_ZERO;
	default:
		return W_SIGBUS;
	}
}

}  // namespace

void Worker::touch_att(size_t ai, bool write)
{
	const Att a = atts_[ai];
	size_t npages = a.len / kPage;
	size_t picks = npages <= 4 ? npages : 6;

	for (size_t k = 0; k < picks; k++) {
		size_t pg = npages <= 4 ? k : k == 0 ? 0 : k == 1 ? npages - 1
					 : rng_.below(npages);
		uintptr_t at = a.addr + pg * kPage;
		uint64_t src = a.src + pg * kPage;
		const size_t offs[3] = { check_off(0), check_off(1 + rng_.below(6)),
					 check_off(7) };
		uint64_t v[3] = {}, want_v[3] = {};
		uint64_t gen = 0, data = 0;
		Want want = expected_read(*this, a, src, &gen, &data);
		for (int i = 0; i < 3; i++)
			want_v[i] = want == W_DATA ? pattern(key_, data + offs[i], gen) : 0;

		FaultInfo f = guarded([&] {
			for (int i = 0; i < 3; i++)
				v[i] = load(at + offs[i]);
		});
		count_event(E_TOUCH);
		count_event(f.sig == SIGBUS ? E_TOUCH_SIGBUS : E_TOUCH_SIGSEGV,
			    f.sig ? 1 : 0);

		int bad = -1;
		bool ok;
		switch (want) {
		case W_SIGBUS:
			ok = f.sig == SIGBUS;
			break;
		case W_SIGSEGV:
			ok = f.sig == SIGSEGV;
			break;
		case W_FOREIGN:
			ok = f.sig == 0 || f.sig == SIGBUS;
			for (int i = 0; ok && !f.sig && i < 3; i++)
				if (v[i] && a.key && !tag_matches(a.key, v[i]))
					bad = i;
			break;
		default:
			ok = f.sig == 0 || (a.loose && f.sig == SIGBUS);
			for (int i = 0; ok && !f.sig && i < 3; i++)
				if (v[i] != want_v[i])
					bad = i;
			break;
		}
		if (!ok || bad >= 0) {
			int i = bad >= 0 ? bad : 0;
			failf("read of %s attachment %#lx (source %#llx, %s%s) expected %s: "
			      "signal %d, word %zu = %#llx (want %#llx)",
			      a.own ? "own" : "foreign", (unsigned long)at,
			      (unsigned long long)src, a.rdonly ? "rdonly" : "rdwr",
			      a.loose ? ", permit released" : "", want_name(want),
			      f.sig, offs[i] / 8, (unsigned long long)v[i],
			      (unsigned long long)want_v[i]);
			describe(at, src);
			return;
		}
		if (!write || (rng_.chance(50) && k))
			continue;

		// A write that changes nothing, so no reader can be misled.
		uintptr_t wa = at + offs[1];
		FaultInfo fw = guarded([&] { rewrite(wa); });
		count_event(E_TOUCH);
		bool vma_ro = !(a.vprot & PROT_WRITE);
		const char *why = nullptr;
		if (vma_ro) {
			if (fw.sig != SIGSEGV)
				why = "a write to a read-only attachment did not raise SIGSEGV";
		} else if (!a.own) {
			if (fw.sig != 0 && fw.sig != SIGBUS && fw.sig != SIGSEGV)
				why = "unexpected signal";
		} else if (want == W_SIGBUS) {
			if (fw.sig != SIGBUS)
				why = "a write to a gone source did not raise SIGBUS";
		} else if (!src_writable(src)) {
			if (fw.sig != SIGSEGV && fw.sig != SIGBUS)
				why = "a write through to a read-only source page succeeded";
		} else if (fw.sig && !(a.loose && fw.sig == SIGBUS)) {
			why = "a write to a writable source page faulted";
		} else if (!fw.sig && load(wa) != want_v[1]) {
			why = "the word changed under an identity write";
		}
		if (why) {
			failf("write at %#lx of %s attachment %#lx+%#zx (source %#llx, vprot %d%s%s): "
			      "%s (signal %d)", (unsigned long)wa, a.own ? "own" : "foreign",
			      (unsigned long)a.addr, a.len, (unsigned long long)src + offs[1],
			      a.vprot, a.rdonly ? ", rdonly" : "",
			      a.loose ? ", permit released" : "", why, fw.sig);
			describe(wa, src);
		}
	}
}

// After a failure: the mappings as the kernel has them, and the model.
void Worker::describe(uintptr_t at, uint64_t src)
{
	fprintf(stderr, "[pid %d]   attachment: %s\n[pid %d]   source:     %s\n",
		getpid(), maps_line(at).c_str(), getpid(), maps_line(src).c_str());
	for (int i = 0; i < kSlots; i++) {
		const Region &r = regions_[i];
		if (r.live)
			fprintf(stderr, "[pid %d]   region %d: %#lx+%#zx prot %d gen %llu%s delta %lld\n",
				getpid(), i, (unsigned long)r.addr, r.len, r.prot,
				(unsigned long long)r.gen, r.zero ? " zero" : "", (long long)r.delta);
	}
}

void Worker::touch_atts_over(uint64_t src, size_t len)
{
	for (size_t i = 0; i < atts_.size(); i++) {
		const Att &a = atts_[i];
		if (a.own && a.src < src + len && src < a.src + a.len)
			touch_att(i, rng_.chance(30));
	}
}

}  // namespace xf
