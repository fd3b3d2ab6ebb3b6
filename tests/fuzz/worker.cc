// SPDX-License-Identifier: GPL-2.0-only
//
// worker.cc - a fuzzing process: setup, the main loop, call accounting, the
// object model and teardown.
#include "worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pattern.h"

namespace xf {

Worker::Worker(const RunConfig &cfg)
	: cfg_(cfg), b_(cfg.board), rng_(cfg.seed)
{
	key_ = mix64(cfg.seed ^ 0x6b6579ULL) | 1;
}

bool Worker::init()
{
	fds_[0] = open_dev();
	if (fds_[0] < 0) {
		failf("open %s: %s", kDevPath, strerror(errno));
		return false;
	}
	if (!args_.init()) {
		failf("argument pages: %s", strerror(errno));
		return false;
	}
	// The arena, aligned to a slot so regions can be 2 MiB aligned (THP).
	void *p = mmap(nullptr, kArena + kSlotSize, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		failf("arena: %s", strerror(errno));
		return false;
	}
	arena_ = ((uintptr_t)p + kSlotSize - 1) & ~(uintptr_t)(kSlotSize - 1);
	if (arena_ > (uintptr_t)p)
		munmap(p, arena_ - (uintptr_t)p);
	munmap((void *)(arena_ + kArena), (uintptr_t)p + kSlotSize - arena_);
	version_ = call(0, XPMEM_CMD_VERSION, nullptr);
	expect(version_, A(O_OK), "VERSION");
	refill_ro_page();
	return true;
}

void Worker::run(uint64_t max_steps)
{
	for (uint64_t n = 0; !max_steps || n < max_steps; n++, steps_++) {
		if ((n & 63) == 0) {
			flush();
			if (b_->done() || now_ms() >= cfg_.deadline_ms)
				break;
		}
		unsigned r = (unsigned)rng_.below(1000);
		int64_t t0 = now_us();
		Activity act = r < 850 ? T_RANDOM : r < 975 ? T_STRUCTURED : T_CHURN;
		if (r < 850)
			random_call();
		else if (r < 975)
			structured_step();
		else if (r < 990)
			churn_region();
		else
			churn_att();
		int64_t t1 = now_us();
		busy_us_[act] += t1 - t0;
		// Forks and exits cost milliseconds in the VM: a few per
		// thousand steps, fewer in children.
		if (rng_.below(cfg_.is_child ? 6000 : 3000) == 0) {
			event();
			busy_us_[T_EVENT] += now_us() - t1;
		}
		if ((steps_ & 4095) == 4095)
			refill_ro_page();
	}
	flush();
}

// ---- accounting ----------------------------------------------------------------

long Worker::call_fd(int fd, unsigned long cmd, void *arg)
{
	long r = xioctl(fd, cmd, arg);

	calls_++;
	hist_[classify(cmd)][outcome_of(r)]++;
	return r;
}

long Worker::call(int fdi, unsigned long cmd, void *arg)
{
	return call_fd(fds_[fdi], cmd, arg);
}

bool Worker::expect(long ret, Allowed allowed, const char *fmt, ...)
{
	Outcome o = outcome_of(ret);
	char what[220];
	va_list ap;

	if (allowed & A(o))
		return true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ret >= 0)
		failf("%s: succeeded (%ld), should have failed", what, ret);
	else
		failf("%s: %s (errno %ld) not allowed here", what,
		      outcome_name(o), -ret);
	return false;
}

void Worker::failf(const char *fmt, ...)
{
	char what[260];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail(&b_->log, "writer %d seed %#llx step %llu%s%s: %s", cfg_.writer,
	     (unsigned long long)cfg_.seed, (unsigned long long)steps_,
	     *phase_ ? " in " : "", phase_, what);
	if (!trace_dumped_) {
		trace_dumped_ = true;
		fprintf(stderr, "[pid %d] last operations before that:\n", getpid());
		for (unsigned i = 0; i < kTrace; i++) {
			const char *t = trace_[(trace_next_ + i) % kTrace];
			if (*t)
				fprintf(stderr, "[pid %d]   %s\n", getpid(), t);
		}
	}
}

void Worker::trace(const char *fmt, ...)
{
	char *t = trace_[trace_next_++ % kTrace];
	int n = snprintf(t, sizeof(trace_[0]), "%llu ", (unsigned long long)steps_);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t + n, sizeof(trace_[0]) - n, fmt, ap);
	va_end(ap);
}

void Worker::flush()
{
	b_->calls.fetch_add(calls_ - flushed_calls_, std::memory_order_relaxed);
	flushed_calls_ = calls_;
	for (unsigned c = 0; c < kCmdClasses; c++)
		for (unsigned o = 0; o < kOutcomes; o++)
			if (hist_[c][o]) {
				b_->hist[c][o].fetch_add(hist_[c][o]);
				hist_[c][o] = 0;
			}
	for (unsigned e = 0; e < kEventKinds; e++)
		if (events_[e]) {
			b_->events[e].fetch_add(events_[e]);
			events_[e] = 0;
		}
	for (unsigned a = 0; a < kActivities; a++)
		if (busy_us_[a]) {
			b_->busy_us[a].fetch_add(busy_us_[a]);
			busy_us_[a] = 0;
		}
}

// ---- the model ----------------------------------------------------------------

Seg *Worker::find_seg(int64_t segid)
{
	for (auto &s : segs_)
		if (s.segid == segid)
			return &s;
	return nullptr;
}

Permit *Worker::find_permit(int64_t apid)
{
	for (auto &p : permits_)
		if (p.apid == apid)
			return &p;
	return nullptr;
}

// Keeps a bounded sample of dead ids to use again later.
void Worker::remember(std::vector<int64_t> &list, int64_t id)
{
	if (list.size() < 32)
		list.push_back(id);
	else
		list[rng_.below(list.size())] = id;
}

void Worker::forget_seg(int64_t segid)
{
	for (size_t i = 0; i < segs_.size(); i++) {
		if (segs_[i].segid != segid)
			continue;
		if (segs_[i].row >= 0)
			b_->clear_seg(cfg_.writer, segs_[i].row);
		segs_.erase(segs_.begin() + i);
		break;
	}
	dead_segs_.insert(segid);
	remember(dead_seg_list_, segid);
}

void Worker::forget_permit(int64_t apid)
{
	for (size_t i = 0; i < permits_.size(); i++) {
		if (permits_[i].apid != apid)
			continue;
		if (permits_[i].row >= 0)
			b_->post_apid(cfg_.writer, permits_[i].row, 0);
		permits_.erase(permits_.begin() + i);
		break;
	}
	dead_apids_.insert(apid);
	remember(dead_apid_list_, apid);
	// Attachments outlive their permit; what they show then is up to the
	// segment, so expectations relax to "valid data or SIGBUS".
	for (auto &a : atts_)
		if (a.apid == apid)
			a.loose = true;
}

void Worker::drop_att(size_t i)
{
	Att &a = atts_[i];

	if (a.fixed_slot >= 0) {
		// Keep the arena solid: nothing may be mapped by chance there.
		bool still = false;
		for (size_t j = 0; j < atts_.size(); j++)
			if (j != i && atts_[j].fixed_slot == a.fixed_slot)
				still = true;
		if (!still) {
			reserve(att_slot_addr(a.fixed_slot), kSlotSize);
			att_slot_used_[a.fixed_slot] = false;
		} else {
			// Another piece lives on in the slot: re-reserve just this
			// piece, or the kernel may place an attachment in the hole
			// that the slot's next reservation would then clobber.
			reserve(a.addr, a.len);
		}
	}
	atts_.erase(atts_.begin() + i);
}

int Worker::pick_fdi()
{
	if (fds_[1] >= 0 && rng_.chance(25))
		return 1;
	return 0;
}

bool Worker::in_arena(uintptr_t a, size_t len) const
{
	return a + len > arena_ && a < arena_ + kArena;
}

bool Worker::overlaps_att(uintptr_t a, size_t len) const
{
	for (auto &t : atts_)
		if (a < t.addr + t.len && a + len > t.addr)
			return true;
	return false;
}

void Worker::reserve(uintptr_t a, size_t len)
{
	void *p = mmap((void *)a, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		       -1, 0);
	if (p == MAP_FAILED)
		failf("re-reserving %#lx+%#zx: %s", (unsigned long)a, len,
		      strerror(errno));
}

SrcState Worker::src_state(uint64_t src, uint64_t *gen, uint64_t *data_addr) const
{
	for (auto &r : regions_) {
		if (!r.live || src < r.addr || src >= r.addr + r.len)
			continue;
		*gen = r.gen;
		*data_addr = src + r.delta;
		if (r.prot == PROT_NONE)
			return SRC_NONE;
		if (r.zero)
			return SRC_ZERO;
		return (r.prot & PROT_WRITE) ? SRC_RW : SRC_RO;
	}
	return SRC_RESERVED;
}

bool Worker::src_writable(uint64_t src) const
{
	for (auto &r : regions_)
		if (r.live && src >= r.addr && src < r.addr + r.len)
			return r.prot & PROT_WRITE;
	return false;
}

// ---- teardown --------------------------------------------------------------------

void Worker::finish(bool clean)
{
	phase_ = "finish";
	// Every attachment mapping in the process is one we know of: a
	// phantom one would be an ATTACH the kernel failed to undo.
	int maps = count_attachment_maps();
	if (maps >= 0 && (size_t)maps != atts_.size())
		failf("/proc/self/maps shows %d attachment mappings, the model %zu",
		      maps, atts_.size());
	if (clean) {
		while (!atts_.empty())
			detach(atts_.size() - 1);
		while (!permits_.empty())
			release_permit(permits_.size() - 1);
		while (!segs_.empty())
			remove_seg(segs_.size() - 1);
		for (int i = 0; i < 2; i++)
			if (fds_[i] >= 0) {
				close(fds_[i]);
				fds_[i] = -1;
			}
	}
	flush();
}

int worker_main(const RunConfig &cfg)
{
	Worker w(cfg);

	if (!w.init())
		return 1;
	w.run(0);
	w.finish(w.rng_.chance(50));
	return 0;
}

}  // namespace xf
