// SPDX-License-Identifier: GPL-2.0-only
//
// export.cc - xpmem-xpart-export: the exporter half of the cross-partition
// scenarios (tests/partition/remote.py runs it in partition 0, the attacher
// in partition 1; both can also run in one partition).
//
//   xpmem-xpart-export SCENARIO [--pages N] [--arm-before-munmap SPEC]
//                      [--hold-ms MS] [--seconds S] [--frames-high N]
//                      [--wait-ms MS]
//
// It maps the control page and the data pages, makes a segment of each and
// prints "segids CTL DATA pages N" for the host to hand to the attacher;
// then plays its side of SCENARIO (see the table in attach.cc) and ends
// with "PASS SCENARIO" (exit 0) or "FAIL SCENARIO: why" (exit 1).
// SPEC is "inject NAME V" or "set NAME V", run with $XPMEMCTL just before
// the munmap that sends INVALIDATE to the attacher's partition.
// --frames-high N (tests/partition/highmem.py): after the first fill, print
// where the data pages' frames lie ("frames below_4g L above_4g H", from
// /proc/self/pagemap) and fail unless at least N lie at or above 4 GiB.
// --wait-ms MS: how long it waits for the attacher's next step (60000); a
// host that starts the attacher late (the debug kernel) gives it longer.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "test_proc.h"
#include "xpart.h"

namespace xp {
namespace {

struct Opts {
	std::string scenario;
	size_t pages = 0;
	std::string arm_munmap;
	int hold_ms = 120000;
	long frames_high = -1;	// --frames-high: -1, not asked
	int seconds = 5;
	int wait_ms = 60000;	// for the attacher's next step
};

struct Exp {
	Opts o;
	Ctl *ctl = nullptr;
	volatile uint64_t *data = nullptr;
	size_t pages = 0;
	xpmem_segid_t ctl_seg = -1, data_seg = -1;
	std::string err;
};

bool wait_att(Exp &e, uint64_t step, const char *what, int timeout_ms = 0)
{
	return wait_for(e.ctl->att_step, step, e.ctl->att_failed,
			timeout_ms ? timeout_ms : e.o.wait_ms, what, &e.err);
}

void step(Exp &e, uint64_t n)
{
	e.ctl->exp_step.store(n, std::memory_order_release);
}

bool failed(Exp &e, const std::string &why)
{
	e.err = why;
	return false;
}

bool checked(Exp &e, uint64_t seed, bool sparse, const char *what)
{
	uint64_t found = 0;
	int64_t bad = check(e.data, e.pages, seed, sparse, &found);
	if (bad >= 0)
		return failed(e, std::string(what) + ": " + mismatch(bad, seed, found));
	return true;
}

// munmap + mmap at the same address: the attacher must follow.  Prints how
// long the munmap took (it waits for the remote invalidation).
bool remap(Exp &e, size_t first, size_t n, bool refill, uint64_t seed)
{
	void *at = (void *)(e.data + first * kWords);
	if (!arm(e.o.arm_munmap, &e.err))
		return false;
	int64_t t0 = now_ms();
	if (munmap(at, n * kPage))
		return failed(e, std::string("munmap: ") + strerror(errno));
	printf("munmap_ms %lld\n", (long long)(now_ms() - t0));
	if (!refill)
		return true;
	if (map_anon(n * kPage, at) != at)
		return failed(e, std::string("mmap over the old range: ") + strerror(errno));
	fill(e.data + first * kWords, n, seed, false);
	return true;
}

// pattern: data both ways, in place and after a remap.
bool pattern_both_ways(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher checked seed 1, wrote seed 2") ||
	    !checked(e, 2, false, "the attacher's writes (seed 2)"))
		return false;
	fill(e.data, e.pages, 3, false);
	step(e, 2);
	if (!wait_att(e, 3, "attacher saw the in-place writes (seed 3)") ||
	    !remap(e, 0, e.pages, true, 4))
		return false;
	step(e, 3);
	return wait_att(e, 4, "attacher saw the remapped pages (seed 4)");
}

// holes: page pages/2 is a hole from the start; page pages/4 becomes one
// after the attacher mapped it.
bool holes(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher took SIGBUS on the first hole and mapped page pages/4") ||
	    !remap(e, e.pages / 4, 1, false, 0))
		return false;
	step(e, 2);
	return wait_att(e, 3, "attacher took SIGBUS on the new hole");
}

// two-proxies: the attacher reads page pages/4 through two proxies; then
// it is unmapped (--arm-before-munmap corrupts the first INVALIDATE).
bool two_proxies(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher read page pages/4 through both proxies") ||
	    !remap(e, e.pages / 4, 1, false, 0))
		return false;
	step(e, 2);
	return wait_att(e, 3, "attacher took SIGBUS through both proxies");
}

bool removed(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher mapped the data"))
		return false;
	if (xpmem_remove(e.data_seg))
		return failed(e, std::string("xpmem_remove: ") + strerror(errno));
	e.data_seg = -1;
	step(e, 2);
	return wait_att(e, 3, "attacher took SIGBUS after the remove");
}

// exit: the process ends while the attacher holds the pages; the attacher
// promised (step 3) not to touch the control page any more.
bool exits(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher mapped the data"))
		return false;
	step(e, 2);
	if (!wait_att(e, 3, "attacher let go of the control page"))
		return false;
	printf("PASS exit (exiting now)\n");
	_exit(0);
}

// fork: copy-on-write after the exporter forks under a writable attachment.
bool forks(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher wrote seed 2") ||
	    !checked(e, 2, false, "the attacher's pre-fork writes (seed 2)"))
		return false;
	int go[2];
	if (pipe(go))
		return failed(e, "pipe");
	fflush(nullptr);
	pid_t c = fork();
	if (c < 0)
		return failed(e, "fork");
	if (c == 0) {
		// The forked child keeps the pre-fork copy, whatever the parent
		// and the attacher write afterwards.
		char b;
		xt::child_setup(e.o.wait_ms / 1000 + 30);
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(3);
		uint64_t found;
		int64_t bad = check(e.data, e.pages, 2, false, &found);
		if (bad >= 0) {
			printf("forked child: %s\n", mismatch(bad, 2, found).c_str());
			_exit(1);
		}
		_exit(0);
	}
	close(go[0]);
	fill(e.data, e.pages, 3, false);	// breaks COW: the parent gets new pages
	step(e, 2);
	bool ok = wait_att(e, 3, "attacher saw the parent's post-fork data, wrote seed 4") &&
		  checked(e, 4, false, "the attacher's post-fork writes (seed 4)");
	if (write(go[1], "x", 1) != 1)
		ok = ok && failed(e, "cannot wake the forked child");
	close(go[1]);
	int st = xt::wait_pid(c, 30000);
	if (!xt::exited_ok(st))
		ok = ok && failed(e, "the forked child lost its pre-fork copy: " +
				  xt::describe_status(st));
	return ok;
}

bool scale(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher stamped and checked every page", 600000) ||
	    !checked(e, 1, true, "the sparse pattern after the attacher's stamps"))
		return false;
	for (size_t pg = 0; pg < e.pages; pg++) {
		uint64_t v = e.data[pg * kWords + kStampWord];
		if (v != pattern(2, pg, kStampWord))
			return failed(e, "the attacher's stamps: " +
				      mismatch(pg * kWords + kStampWord, 2, v));
	}
	return true;
}

// race: generation g is every word = kGenTag | g.  Published after the
// pages are in place; the old generation's pages were unmapped first.  The
// attacher's main thread mirrors its readers' completed reads in att_arg.
constexpr uint64_t kGenTag = 0x6e67000000000000ULL;

void fill_gen(volatile uint64_t *p, size_t pages, uint64_t g)
{
	for (size_t i = 0; i < pages * kWords; i++)
		p[i] = kGenTag | g;
}

bool race(Exp &e)
{
	const size_t len = e.pages * kPage;
	uint64_t g = 1;
	int64_t worst = 0, total = 0;

	fill_gen(e.data, e.pages, g);
	e.ctl->gen.store(g, std::memory_order_release);
	step(e, 1);
	if (!wait_att(e, 2, "attacher's readers started"))
		return false;
	int64_t deadline = now_ms() + (int64_t)e.o.seconds * 1000 + e.o.wait_ms;
	while (e.ctl->att_step.load(std::memory_order_acquire) < 3) {
		if (e.ctl->att_failed.load())
			return failed(e, "the attacher failed during the race");
		if (now_ms() > deadline)
			return failed(e, "the attacher never said stop");
		int64_t t0 = now_ms();
		if (munmap((void *)e.data, len))
			return failed(e, "munmap");
		int64_t t = now_ms() - t0;
		worst = std::max(worst, t);
		total += t;
		if (map_anon(len, (void *)e.data) != (void *)e.data)
			return failed(e, "mmap over the old range");
		fill_gen(e.data, e.pages, ++g);
		e.ctl->gen.store(g, std::memory_order_release);
		// Pace: a remote fault takes a round trip that may be longer
		// than a whole munmap/mmap/fill, and readers that are always
		// invalidated before they install judge nothing.  Wait (bounded)
		// until the readers completed a read of this generation.
		uint64_t r0 = e.ctl->att_arg.load(std::memory_order_acquire);
		int64_t until = now_ms() + 200;
		while (e.ctl->att_arg.load(std::memory_order_acquire) == r0 && now_ms() < until)
			usleep(200);
	}
	e.ctl->exp_arg.store(g);
	step(e, 2);
	printf("generations %llu munmap_ms_mean %lld munmap_ms_max %lld\n",
	       (unsigned long long)g, (long long)(g > 1 ? total / (int64_t)(g - 1) : 0),
	       (long long)worst);
	return wait_att(e, 4, "attacher checked its counts");
}

// canary (kill mid-invalidate): the attacher wrote canary(page) at words 0
// and 511 of every page through its attachment.  Print the frames (the host
// reads them from this partition's RAM file later), then munmap while the
// attacher's partition sleeps in its invalidation.
bool canaries(Exp &e)
{
	step(e, 1);
	if (!wait_att(e, 2, "attacher wrote its canaries"))
		return false;
	for (size_t pg = 0; pg < e.pages; pg++) {
		volatile uint64_t *w = e.data + pg * kWords;
		if (w[0] != canary(pg) || w[kWords - 1] != canary(pg)) {
			char b[128];
			snprintf(b, sizeof(b), "page %zu: canary %#llx/%#llx, expected %#llx", pg,
				 (unsigned long long)w[0], (unsigned long long)w[kWords - 1],
				 (unsigned long long)canary(pg));
			return failed(e, b);
		}
		uint64_t pfn = pfn_of((const void *)w);
		if (!pfn)
			return failed(e, "no frame number in /proc/self/pagemap (not root?)");
		printf("pfn %zu %#llx canary %#llx\n", pg, (unsigned long long)pfn,
		       (unsigned long long)canary(pg));
	}
	printf("munmap start\n");
	if (!remap(e, 0, e.pages, false, 0))
		return false;
	e.data = nullptr;
	return true;
}

// owner-death: stay until this partition is killed (or hold_ms passes).
bool owner_death(Exp &e)
{
	step(e, 1);
	usleep((useconds_t)e.o.hold_ms * 1000);
	return true;
}

// Where the data pages lie in this partition's RAM (--frames-high).
bool frames_high(Exp &e)
{
	const uint64_t four_g = (4ULL << 30) / kPage;
	size_t low = 0, high = 0;

	for (size_t pg = 0; pg < e.pages; pg++) {
		uint64_t pfn = pfn_of((const void *)(e.data + pg * kWords));
		if (!pfn)
			return failed(e, "no frame number in /proc/self/pagemap (not root?)");
		(pfn >= four_g ? high : low)++;
	}
	printf("frames below_4g %zu above_4g %zu\n", low, high);
	if (high < (size_t)e.o.frames_high)
		return failed(e, std::to_string(high) + " pages above 4 GiB, wanted " +
				 std::to_string(e.o.frames_high));
	return true;
}

struct Scenario {
	const char *name;
	bool (*run)(Exp &);
	size_t pages;
	bool sparse;
};

const Scenario kScenarios[] = {
	{ "pattern", pattern_both_ways, 64, false },
	{ "holes", holes, 16, false },
	{ "two-proxies", two_proxies, 16, false },
	{ "remove", removed, 8, false },
	{ "exit", exits, 8, false },
	{ "fork", forks, 64, false },
	{ "scale", scale, 100000, true },
	{ "race", race, 32, false },
	{ "canary", canaries, 64, false },
	{ "owner-death", owner_death, 8192, true },
};

int usage()
{
	fprintf(stderr, "usage: xpmem-xpart-export SCENARIO [--pages N] "
		"[--arm-before-munmap SPEC] [--hold-ms MS] [--seconds S] "
		"[--frames-high N] [--wait-ms MS]\nscenarios:");
	for (const Scenario &s : kScenarios)
		fprintf(stderr, " %s", s.name);
	fprintf(stderr, "\n");
	return 2;
}

// After a failure the attacher may still poll the control page: keep it
// until the attacher acknowledged (att_failed) or a while passed.
int finish(Exp &e, bool ok)
{
	if (ok) {
		printf("PASS %s\n", e.o.scenario.c_str());
		return 0;
	}
	printf("FAIL %s: %s\n", e.o.scenario.c_str(), e.err.c_str());
	if (e.ctl) {
		e.ctl->exp_failed.store(1, std::memory_order_release);
		std::string ignored;
		std::atomic<uint64_t> never{ 0 };
		wait_for(e.ctl->att_failed, 1, never, 10000, "ack", &ignored);
	}
	return 1;
}

}  // namespace
}  // namespace xp

int main(int argc, char **argv)
{
	using namespace xp;
	Exp e;
	const Scenario *sc = nullptr;

	setup_output();
	if (argc < 2)
		return usage();
	e.o.scenario = argv[1];
	for (const Scenario &s : kScenarios)
		if (e.o.scenario == s.name)
			sc = &s;
	if (!sc)
		return usage();
	e.o.pages = sc->pages;
	for (int i = 2; i < argc; i++) {
		std::string a = argv[i];
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (a == "--pages")
			e.o.pages = strtoull(v, nullptr, 0);
		else if (a == "--arm-before-munmap")
			e.o.arm_munmap = v;
		else if (a == "--hold-ms")
			e.o.hold_ms = atoi(v);
		else if (a == "--seconds")
			e.o.seconds = atoi(v);
		else if (a == "--frames-high")
			e.o.frames_high = atol(v);
		else if (a == "--wait-ms")
			e.o.wait_ms = atoi(v);
		else
			return usage();
	}
	e.pages = e.o.pages;
	if (e.pages < 8 || e.o.wait_ms <= 0)
		return usage();

	void *c = map_anon(kPage);
	void *d = map_anon(e.pages * kPage);
	if (c == MAP_FAILED || d == MAP_FAILED) {
		e.err = "mmap";
		return finish(e, false);
	}
	// Frames, fault batches and SIGBUS timing are all per 4 KiB page here.
	madvise(d, e.pages * kPage, MADV_NOHUGEPAGE);
	e.ctl = new (c) Ctl();
	e.ctl->magic = kCtlMagic;
	e.ctl->pages = e.pages;
	e.data = (volatile uint64_t *)d;
	fill(e.data, e.pages, 1, sc->sparse);
	if (e.o.scenario == "holes")
		munmap((char *)d + e.pages / 2 * kPage, kPage);
	if (e.o.frames_high >= 0 && !frames_high(e))
		return finish(e, false);

	e.ctl_seg = xpmem_make(c, kPage, XPMEM_PERMIT_MODE, (void *)0600);
	e.data_seg = xpmem_make(d, e.pages * kPage, XPMEM_PERMIT_MODE, (void *)0600);
	if (e.ctl_seg < 0 || e.data_seg < 0) {
		e.err = std::string("xpmem_make: ") + strerror(errno);
		e.ctl = nullptr;
		return finish(e, false);
	}
	printf("segids %#llx %#llx pages %zu\n", (unsigned long long)e.ctl_seg,
	       (unsigned long long)e.data_seg, e.pages);
	bool ok = sc->run(e);
	return finish(e, ok);
}
