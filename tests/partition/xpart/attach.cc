// SPDX-License-Identifier: GPL-2.0-only
//
// attach.cc - xpmem-xpart-attach: the attacher half of the cross-partition
// scenarios (see export.cc for the exporter's command line).
//
//   xpmem-xpart-attach SCENARIO CTL_SEGID DATA_SEGID [--arm-before-touch SPEC]
//                      [--threads N] [--seconds S] [--hold-ms MS]
//
// | scenario    | what must hold                                               |
// |-------------|--------------------------------------------------------------|
// | pattern     | each side sees the other's writes; after the exporter's      |
// |             | munmap + mmap + fill the attacher sees the new pages         |
// | holes       | a hole at attach time and one made later: SIGBUS (in a       |
// |             | prober child), the pages around them still read right        |
// | two-proxies | two probers, each its own GET (two exports of the same pages |
// |             | on the owner), read page pages/4; the exporter unmaps it:    |
// |             | SIGBUS through both (with the owner's first INVALIDATE lost, |
// |             | the second must not acknowledge it)                          |
// | remove      | xpmem_remove: SIGBUS, and a new get is ENOENT                |
// | exit        | the exporter exits: SIGBUS, never stale data                 |
// | fork        | the exporter forks and writes: the attacher sees the parent's|
// |             | new pages, the parent sees the attacher's, the child neither |
// | scale       | 100,000 pages stamped (one word each) and checked (sparse)   |
// | race        | N reader threads while the exporter munmaps/remaps with a    |
// |             | new generation each time: no word older than the generation |
// |             | published before the read (zeros and SIGBUS in the hole ok)  |
// | canary      | canary(page) written at words 0 and 511, then hold until     |
// |             | this partition is killed (kill-mid-invalidate)               |
// | owner-death | touch fresh pages until one gets SIGBUS (the exporter's      |
// |             | partition is killed); print how long that touch took         |
// | window-loss | map up to 256 pages, then read them again through the same   |
// |             | mappings until one gets SIGBUS (this partition's window onto |
// |             | the exporter is unbound); run with the owner-death exporter  |
//
// SPEC ("inject NAME V" / "set NAME V", run with $XPMEMCTL) is armed after
// GET and ATTACH of the data segment, just before the first data touch.
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "prober.h"
#include "xpart.h"

namespace xp {
namespace {

struct Opts {
	std::string scenario;
	std::string arm_touch;
	int threads = 4;
	int seconds = 5;
	int hold_ms = 120000;
	int wait_ms = 60000;
};

struct Att {
	Opts o;
	xpmem_segid_t ctl_seg = -1, data_seg = -1;
	Ctl *ctl = nullptr;
	volatile uint64_t *data = nullptr;
	size_t pages = 0;
	bool ctl_gone = false;	// the exporter is (about to be) gone: hands off
	std::string err;
};

bool failed(Att &a, const std::string &why)
{
	a.err = why;
	return false;
}

bool wait_exp(Att &a, uint64_t step, const char *what, int timeout_ms = 0)
{
	return wait_for(a.ctl->exp_step, step, a.ctl->exp_failed,
			timeout_ms ? timeout_ms : a.o.wait_ms, what, &a.err);
}

void step(Att &a, uint64_t n)
{
	a.ctl->att_step.store(n, std::memory_order_release);
}

bool checked(Att &a, uint64_t seed, bool sparse, const char *what)
{
	uint64_t found = 0;
	int64_t bad = check(a.data, a.pages, seed, sparse, &found);
	if (bad >= 0)
		return failed(a, std::string(what) + ": " + mismatch(bad, seed, found));
	return true;
}

bool touch_first(Att &a, uint64_t seed, bool sparse)
{
	if (!arm(a.o.arm_touch, &a.err))
		return false;
	int64_t t0 = now_ms();
	if (!checked(a, seed, sparse, "the exporter's data"))
		return false;
	printf("first_touch_ms %lld pages %zu\n", (long long)(now_ms() - t0), a.pages);
	return true;
}

// A prober read that must return pattern(1, page, word).
bool probe_ok(Att &a, Prober &p, size_t page, size_t word)
{
	uint64_t v = 0;
	Prober::Result r = p.read(page, word, &v, 30000);
	char b[160];
	if (r != Prober::kValue) {
		snprintf(b, sizeof(b), "prober read of page %zu: %s", page, p.how().c_str());
		return failed(a, b);
	}
	if (v != pattern(1, page, word)) {
		snprintf(b, sizeof(b), "prober read page %zu word %zu: %#llx, expected %#llx",
			 page, word, (unsigned long long)v,
			 (unsigned long long)pattern(1, page, word));
		return failed(a, b);
	}
	return true;
}

// A prober read that must die of SIGBUS (within fault_ms and then some).
bool probe_sigbus(Att &a, Prober &p, size_t page, const char *why)
{
	uint64_t v = 0;
	int64_t t0 = now_ms();
	Prober::Result r = p.read(page, 0, &v, 30000);
	char b[200];
	if (r == Prober::kValue) {
		snprintf(b, sizeof(b), "%s: page %zu read %#llx instead of SIGBUS", why, page,
			 (unsigned long long)v);
		return failed(a, b);
	}
	if (!p.died_of(SIGBUS)) {
		snprintf(b, sizeof(b), "%s: page %zu: prober %s, not SIGBUS", why, page,
			 p.how().c_str());
		return failed(a, b);
	}
	printf("sigbus %s page %zu after %lld ms\n", why, page, (long long)(now_ms() - t0));
	return true;
}

bool pattern_both_ways(Att &a)
{
	return wait_exp(a, 1, "exporter ready") && touch_first(a, 1, false) &&
	       (fill(a.data, a.pages, 2, false), step(a, 2), true) &&
	       wait_exp(a, 2, "exporter wrote seed 3") &&
	       checked(a, 3, false, "the exporter's in-place writes (seed 3)") &&
	       (step(a, 3), wait_exp(a, 3, "exporter remapped with seed 4")) &&
	       checked(a, 4, false, "the exporter's remapped pages (seed 4)") &&
	       (step(a, 4), true);
}

bool holes(Att &a)
{
	const size_t h1 = a.pages / 2, h2 = a.pages / 4;
	Prober p1, p2;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p1.start(a.data_seg, a.pages, 120, &a.err) ||
	    !probe_ok(a, p1, h1 - 1, 5) || !probe_ok(a, p1, h1 + 1, 5) ||
	    !probe_sigbus(a, p1, h1, "hole at attach time"))
		return false;
	if (!p2.start(a.data_seg, a.pages, 120, &a.err) ||
	    !probe_ok(a, p2, h2, 5) || !probe_ok(a, p2, h2 + 1, 5))
		return false;
	step(a, 2);
	return wait_exp(a, 2, "exporter unmapped page pages/4") &&
	       probe_ok(a, p2, h2 + 1, 5) && probe_ok(a, p2, h2 - 1, 5) &&
	       probe_sigbus(a, p2, h2, "hole made after the attach") &&
	       (step(a, 3), true);
}

bool two_proxies(Att &a)
{
	const size_t h = a.pages / 4;
	Prober p1, p2;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p1.start(a.data_seg, a.pages, 120, &a.err) ||
	    !p2.start(a.data_seg, a.pages, 120, &a.err) ||
	    !probe_ok(a, p1, h, 5) || !probe_ok(a, p2, h, 5))
		return false;
	step(a, 2);
	return wait_exp(a, 2, "exporter unmapped page pages/4") &&
	       probe_sigbus(a, p1, h, "first proxy, after the owner's munmap") &&
	       probe_sigbus(a, p2, h, "second proxy, after the owner's munmap") &&
	       (step(a, 3), true);
}

bool removed(Att &a)
{
	Prober p;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p.start(a.data_seg, a.pages, 120, &a.err) ||
	    !probe_ok(a, p, 0, 1) || !probe_ok(a, p, a.pages - 1, 1))
		return false;
	step(a, 2);
	if (!wait_exp(a, 2, "exporter removed the segment") ||
	    !probe_sigbus(a, p, 0, "removed segment"))
		return false;
	errno = 0;
	xpmem_apid_t apid = xpmem_get(a.data_seg, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	if (apid >= 0 || errno != ENOENT)
		return failed(a, std::string("get of a removed segment: ") +
			      (apid >= 0 ? "succeeded" : strerror(errno)) + ", expected ENOENT");
	step(a, 3);
	return true;
}

bool exits(Att &a)
{
	Prober p;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p.start(a.data_seg, a.pages, 120, &a.err) || !probe_ok(a, p, 1, 3))
		return false;
	step(a, 2);
	if (!wait_exp(a, 2, "exporter about to exit"))
		return false;
	step(a, 3);
	a.ctl_gone = true;
	// Until the exit is seen the pages are the exporter's own, unchanged;
	// after it only SIGBUS.
	int64_t deadline = now_ms() + 20000;
	int reads = 0;
	while (now_ms() < deadline) {
		uint64_t v;
		Prober::Result r = p.read(1, 3, &v, 30000);
		if (r != Prober::kValue) {
			printf("reads before the SIGBUS: %d\n", reads);
			return r == Prober::kDied && p.died_of(SIGBUS) ? true :
			       failed(a, "after the exporter's exit the prober " + p.how());
		}
		if (v != pattern(1, 1, 3))
			return failed(a, "stale or garbage data after the exporter's exit");
		reads++;
		usleep(20000);
	}
	return failed(a, "no SIGBUS within 20 s of the exporter's exit");
}

bool forks(Att &a)
{
	return wait_exp(a, 1, "exporter ready") && touch_first(a, 1, false) &&
	       (fill(a.data, a.pages, 2, false), step(a, 2), true) &&
	       wait_exp(a, 2, "exporter forked and wrote seed 3") &&
	       checked(a, 3, false, "the parent's post-fork data (seed 3)") &&
	       (fill(a.data, a.pages, 4, false), step(a, 3), true);
}

// Stamps first, then checks: a write fault maps its whole window writable,
// while read faults map read-only and the writes after them would each
// fault once more (one round trip per page).
bool scale(Att &a)
{
	if (!wait_exp(a, 1, "exporter ready") || !arm(a.o.arm_touch, &a.err))
		return false;
	int64_t t0 = now_ms();
	for (size_t pg = 0; pg < a.pages; pg++)
		a.data[pg * kWords + kStampWord] = pattern(2, pg, kStampWord);
	int64_t t1 = now_ms();
	if (!checked(a, 1, true, "the exporter's data (sparse)"))
		return false;
	printf("stamp_ms %lld check_ms %lld pages %zu\n", (long long)(t1 - t0),
	       (long long)(now_ms() - t1), a.pages);
	step(a, 2);
	return true;
}

// ---- race ------------------------------------------------------------------

constexpr uint64_t kGenTag = 0x6e67000000000000ULL;
constexpr uint64_t kTagMask = 0xffff000000000000ULL;

struct RaceCounts {
	std::atomic<uint64_t> reads{ 0 }, words{ 0 }, torn{ 0 }, zeros{ 0 }, sigbus{ 0 };
	std::atomic<uint64_t> errors{ 0 };
	std::atomic<int> stop{ 0 }, claimed{ 0 };
	char first[200] = "";
};

struct Reader {
	Att *a;
	RaceCounts *c;
	unsigned seed;
	pthread_t tid;
};

thread_local sigjmp_buf t_jump;
thread_local volatile sig_atomic_t t_armed;
volatile sig_atomic_t g_race_mode;
const char *g_scenario = "?";

void on_sigbus(int, siginfo_t *si, void *)
{
	if (g_race_mode && t_armed) {
		t_armed = 0;
		siglongjmp(t_jump, 1);
	}
	char b[200];
	int n = snprintf(b, sizeof(b), "FAIL %s: SIGBUS at %p in the attacher itself\n",
			 g_scenario, si->si_addr);
	if (write(1, b, n) < 0)
		_exit(1);
	_exit(1);
}

void race_error(RaceCounts *c, const char *what, size_t pg, uint64_t v, uint64_t p0,
		uint64_t p1)
{
	c->errors++;
	if (c->claimed.exchange(1) == 0)
		snprintf(c->first, sizeof(c->first),
			 "%s: page %zu word %#llx while generations %llu..%llu were current",
			 what, pg, (unsigned long long)v, (unsigned long long)p0,
			 (unsigned long long)p1 + 1);
}

void *reader(void *arg)
{
	Reader *rd = (Reader *)arg;
	Att &a = *rd->a;
	RaceCounts *c = rd->c;
	static thread_local uint64_t page[kWords];

	while (!c->stop.load(std::memory_order_acquire)) {
		size_t pg = rand_r(&rd->seed) % a.pages;
		const volatile uint64_t *w = a.data + pg * kWords;
		uint64_t p0 = a.ctl->gen.load(std::memory_order_acquire);
		if (sigsetjmp(t_jump, 1)) {
			c->sigbus++;
			continue;
		}
		t_armed = 1;
		for (size_t i = 0; i < kWords; i++)
			page[i] = w[i];
		t_armed = 0;
		std::atomic_thread_fence(std::memory_order_acquire);
		uint64_t p1 = a.ctl->gen.load(std::memory_order_acquire);
		bool torn = false;
		for (size_t i = 0; i < kWords; i++) {
			uint64_t v = page[i];
			if (v == 0) {	// a fresh page not yet filled
				c->zeros++;
				continue;
			}
			if ((v & kTagMask) != kGenTag) {
				race_error(c, "garbage", pg, v, p0, p1);
				break;
			}
			uint64_t g = v & ~kTagMask;
			if (g < p0) {
				race_error(c, "stale generation", pg, v, p0, p1);
				break;
			}
			if (g > p1 + 1) {
				race_error(c, "generation from the future", pg, v, p0, p1);
				break;
			}
			torn = torn || v != page[0];
		}
		c->words += kWords;
		if (torn)
			c->torn++;
		c->reads++;
	}
	return nullptr;
}

bool race(Att &a)
{
	RaceCounts c;
	std::vector<Reader> rs(a.o.threads);

	if (!wait_exp(a, 1, "exporter ready"))
		return false;
	g_race_mode = 1;
	for (int i = 0; i < a.o.threads; i++) {
		rs[i] = Reader{ &a, &c, 0x9e3779b9u * (i + 1), 0 };
		if (pthread_create(&rs[i].tid, nullptr, reader, &rs[i]))
			return failed(a, "pthread_create");
	}
	step(a, 2);
	int64_t end = now_ms() + (int64_t)a.o.seconds * 1000;
	// The exporter paces its generations on our completed reads.
	while (now_ms() < end && !c.errors.load() && !a.ctl->exp_failed.load()) {
		a.ctl->att_arg.store(c.reads.load(), std::memory_order_release);
		usleep(1000);
	}
	c.stop.store(1, std::memory_order_release);
	for (Reader &r : rs)
		pthread_join(r.tid, nullptr);
	g_race_mode = 0;
	step(a, 3);
	if (!wait_exp(a, 2, "exporter stopped replacing"))
		return false;
	uint64_t gens = a.ctl->exp_arg.load();
	printf("threads %d generations %llu reads %llu words_checked %llu torn %llu zeros %llu "
	       "sigbus %llu errors %llu\n", a.o.threads, (unsigned long long)gens,
	       (unsigned long long)c.reads.load(), (unsigned long long)c.words.load(),
	       (unsigned long long)c.torn.load(), (unsigned long long)c.zeros.load(),
	       (unsigned long long)c.sigbus.load(), (unsigned long long)c.errors.load());
	step(a, 4);
	if (c.errors.load())
		return failed(a, c.first);
	if (gens < 3 || c.reads.load() == 0 || c.words.load() == 0)
		return failed(a, "no progress: too few generations or reads to judge");
	return true;
}

// ---- failure cases ---------------------------------------------------------

bool canaries(Att &a)
{
	if (!wait_exp(a, 1, "exporter ready") || !touch_first(a, 1, false))
		return false;
	for (size_t pg = 0; pg < a.pages; pg++) {
		a.data[pg * kWords] = canary(pg);
		a.data[pg * kWords + kWords - 1] = canary(pg);
	}
	step(a, 2);
	a.ctl_gone = true;	// the exporter may exit at any time now
	printf("canaries written, holding %d ms\n", a.o.hold_ms);
	usleep((useconds_t)a.o.hold_ms * 1000);
	return true;
}

bool owner_death(Att &a)
{
	Prober p;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p.start(a.data_seg, a.pages, a.o.hold_ms / 1000 + 60, &a.err))
		return false;
	a.ctl_gone = true;
	printf("ready\n");
	int64_t deadline = now_ms() + a.o.hold_ms;
	for (size_t i = 0; now_ms() < deadline; i++) {
		// Stride 64 pages, shifted by one on every lap: each touch a
		// page no earlier fault batch mapped.
		size_t lap = a.pages / 64;
		size_t pg = ((i % lap) * 64 + i / lap) % a.pages;
		uint64_t v;
		int64_t t0 = now_ms();
		Prober::Result r = p.read(pg, 0, &v, 60000);
		if (r == Prober::kValue) {
			if (v != pattern(1, pg, 0))
				return failed(a, "a touch read wrong data before the SIGBUS");
			usleep(20000);
			continue;
		}
		if (r == Prober::kTimeout)
			return failed(a, "a touch hung for 60 s");
		printf("touches %zu sigbus_ms %lld\n", i, (long long)(now_ms() - t0));
		if (!p.died_of(SIGBUS))
			return failed(a, "the prober " + p.how() + ", not SIGBUS");
		return true;
	}
	return failed(a, "no SIGBUS: the exporter's partition was not killed?");
}

// window-loss: the pages mapped once, then read again and again through
// those same mappings (no new fault) until one read gets SIGBUS: this
// partition's window onto the exporter is unbound meanwhile.  A mapping
// left onto the window's frames would go on reading (the device's BAR
// still answers) and never raise it.
bool window_loss(Att &a)
{
	const size_t n = a.pages < 256 ? a.pages : 256;
	Prober p;
	uint64_t v;

	if (!wait_exp(a, 1, "exporter ready") ||
	    !p.start(a.data_seg, n, a.o.hold_ms / 1000 + 60, &a.err))
		return false;
	a.ctl_gone = true;	// its mapping goes with the window too
	for (size_t pg = 0; pg < n; pg++) {
		if (p.read(pg, 0, &v, 60000) != Prober::kValue)
			return failed(a, "page " + std::to_string(pg) + " unreadable before the unbind: " +
					 p.how());
		if (v != pattern(1, pg, 0))
			return failed(a, "page " + std::to_string(pg) + " read wrong data");
	}
	// at_ms: CLOCK_MONOTONIC, as the guest's /proc/uptime near enough, so
	// that the check can tell an unbind that came after the hold ended.
	int64_t ready_ms = now_ms(), deadline = ready_ms + a.o.hold_ms;
	printf("ready: %zu pages mapped at_ms %lld\n", n, (long long)ready_ms);
	fflush(stdout);
	size_t i = 0;
	for (; now_ms() < deadline; i++) {
		Prober::Result r = p.read(i % n, 0, &v, 60000);
		if (r == Prober::kValue) {
			if (v != pattern(1, i % n, 0))
				return failed(a, "a read returned wrong data before the SIGBUS");
			if (i % n == n - 1)
				usleep(10000);
			continue;
		}
		if (r == Prober::kTimeout)
			return failed(a, "a read hung for 60 s");
		printf("rereads %zu sigbus_at_ms %lld\n", i, (long long)now_ms());
		if (!p.died_of(SIGBUS))
			return failed(a, "the prober " + p.how() + ", not SIGBUS");
		return true;
	}
	return failed(a, "no SIGBUS within " + std::to_string(a.o.hold_ms) + " ms (" +
			 std::to_string(i) + " rereads): the old mappings still read the window's frames");
}

struct Scenario {
	const char *name;
	bool (*run)(Att &);
};

const Scenario kScenarios[] = {
	{ "pattern", pattern_both_ways },
	{ "holes", holes },
	{ "two-proxies", two_proxies },
	{ "remove", removed },
	{ "exit", exits },
	{ "fork", forks },
	{ "scale", scale },
	{ "race", race },
	{ "canary", canaries },
	{ "owner-death", owner_death },
	{ "window-loss", window_loss },
};

int usage()
{
	fprintf(stderr, "usage: xpmem-xpart-attach SCENARIO CTL_SEGID DATA_SEGID "
		"[--arm-before-touch SPEC] [--threads N] [--seconds S] [--hold-ms MS]\n");
	return 2;
}

void *attach_all(xpmem_segid_t seg, size_t pages, std::string *err)
{
	xpmem_apid_t apid = xpmem_get(seg, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr);
	if (apid < 0) {
		char b[96];
		snprintf(b, sizeof(b), "xpmem_get(%#llx): %s", (unsigned long long)seg,
			 strerror(errno));
		*err = b;
		return nullptr;
	}
	void *p = xpmem_attach({ apid, 0 }, pages * kPage, nullptr);
	if (p == (void *)-1) {
		*err = std::string("xpmem_attach: ") + strerror(errno);
		return nullptr;
	}
	return p;
}

int finish(Att &a, bool ok)
{
	if (ok) {
		printf("PASS %s\n", a.o.scenario.c_str());
		return 0;
	}
	printf("FAIL %s: %s\n", a.o.scenario.c_str(), a.err.c_str());
	if (a.ctl && !a.ctl_gone)
		a.ctl->att_failed.store(1, std::memory_order_release);
	return 1;
}

}  // namespace
}  // namespace xp

int main(int argc, char **argv)
{
	using namespace xp;
	Att a;
	const Scenario *sc = nullptr;

	setup_output();
	if (argc < 4)
		return usage();
	a.o.scenario = argv[1];
	g_scenario = argv[1];
	for (const Scenario &s : kScenarios)
		if (a.o.scenario == s.name)
			sc = &s;
	if (!sc)
		return usage();
	a.ctl_seg = strtoll(argv[2], nullptr, 0);
	a.data_seg = strtoll(argv[3], nullptr, 0);
	for (int i = 4; i < argc; i++) {
		std::string o = argv[i];
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (o == "--arm-before-touch")
			a.o.arm_touch = v;
		else if (o == "--threads")
			a.o.threads = atoi(v);
		else if (o == "--seconds")
			a.o.seconds = atoi(v);
		else if (o == "--hold-ms")
			a.o.hold_ms = atoi(v);
		else
			return usage();
	}
	if (a.ctl_seg <= 0 || a.data_seg <= 0 || a.o.threads < 1)
		return usage();

	struct sigaction sa = {};
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, nullptr);

	// The control page: its first touch is already a remote fault.
	a.ctl = (Ctl *)attach_all(a.ctl_seg, 1, &a.err);
	if (!a.ctl)
		return finish(a, false);
	if (a.ctl->magic != kCtlMagic) {
		a.err = "the control page does not hold the exporter's magic";
		a.ctl = nullptr;
		return finish(a, false);
	}
	a.pages = a.ctl->pages;
	a.data = (volatile uint64_t *)attach_all(a.data_seg, a.pages, &a.err);
	if (!a.data)
		return finish(a, false);
	step(a, 1);
	bool ok = sc->run(a);
	return finish(a, ok);
}
