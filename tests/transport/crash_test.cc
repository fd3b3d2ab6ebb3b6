// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * crash_test.cc - host processes act as partitions over one MAP_SHARED
 * control region; one is killed with SIGKILL at a random point (after the
 * join, or in the middle of it), the others must fence it within dead_ms
 * plus a heartbeat (plus scheduling grace), keep completing PINGs among
 * themselves, and let it rejoin under a new epoch when restarted.
 *
 * Each child runs the real loop (poll rings, tick, PING a random live
 * peer with a deadline) and reports through a second shared page.
 */
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "sim.h"

namespace {

using xpsim::kMs;

constexpr u32 kParts = 4;
constexpr u64 kHb = 10 * kMs, kDead = 150 * kMs;
// Scheduling slack on a loaded host: the children are ordinary processes.
constexpr u64 kGrace = 2 * kDead;

struct Report {
	u64 fenced_ns[kParts];		// when this child saw peer p fenced
	u32 fenced_epoch[kParts];
	u64 pings_ok;
	u64 pings_failed;
	u64 rejected;			// messages dropped by validation
	u64 ring_errors;
	u32 epoch;
	u32 state;
};

struct Board {
	int stop[kParts];
	Report rep[kParts];
};

struct Child {
	xpsim::Node n;
	Report *rep;
	size_t seen = 0;

	void record(u64 now)
	{
		for (; seen < n.fences.size(); seen++) {
			const xpsim::FenceEvent &f = n.fences[seen];
			__atomic_store_n(&rep->fenced_epoch[f.peer], f.epoch, __ATOMIC_RELAXED);
			__atomic_store_n(&rep->fenced_ns[f.peer], now, __ATOMIC_RELEASE);
		}
		u64 rej = 0, rerr = 0;
		for (u32 p = 0; p < kParts; p++) {
			if (p == n.self)
				continue;
			for (u32 k = 1; k < XP_REJ_NR; k++)
				rej += n.ch[p].stats.rejected[k];
			rerr += n.ch[p].ring_errors;
		}
		__atomic_store_n(&rep->rejected, rej, __ATOMIC_RELAXED);
		__atomic_store_n(&rep->ring_errors, rerr, __ATOMIC_RELAXED);
		__atomic_store_n(&rep->epoch, n.m.epoch, __ATOMIC_RELAXED);
		__atomic_store_n(&rep->state, n.m.state, __ATOMIC_RELEASE);
	}
	void service()
	{
		u64 now = xp_clock_ns();

		n.poll(now);
		xp_member_tick(&n.m, now);
		n.poll(now);
		record(now);
	}
	static void idle(void *ctx)
	{
		static_cast<Child *>(ctx)->service();
		usleep(100);
	}
};

[[noreturn]] void child_main(const xp_region *r, Board *b, u32 id, u32 seed)
{
	Child c;
	std::mt19937 rng(seed);
	u64 next_ping = 0;

	c.rep = &b->rep[id];
	if (c.n.setup(r, id, kHb, kDead) || xp_member_join(&c.n.m, xp_clock_ns()))
		_exit(2);
	alarm(30);	// never outlive a broken parent
	while (!__atomic_load_n(&b->stop[id], __ATOMIC_ACQUIRE)) {
		c.service();
		u64 now = xp_clock_ns();
		if (c.n.m.state == XP_UP && now >= next_ping) {
			u32 p = rng() % kParts;
			if (p != id && xp_member_peer_live(&c.n.m, p)) {
				int err = xp_chan_ping(&c.n.ch[p], now + 50 * kMs, Child::idle, &c);
				__atomic_fetch_add(err ? &c.rep->pings_failed : &c.rep->pings_ok,
						   1, __ATOMIC_RELAXED);
			}
			next_ping = now + 2 * kMs;
		}
		usleep(500);
	}
	_exit(0);
}

/*
 * A rogue partition: writes random bytes where it may write (its rings'
 * slots and head, its table entry, its completion words) and, now and
 * then, where it may not (the tails of rings to it, others' heartbeats).
 */
[[noreturn]] void rogue_main(const xp_region *r, Board *b, u32 id, u32 seed)
{
	std::mt19937_64 rng(seed);

	alarm(30);
	while (!__atomic_load_n(&b->stop[id], __ATOMIC_ACQUIRE)) {
		u32 p = rng() % kParts;
		if (p == id)
			continue;
		xp_ring_ctrl *out = xp_region_ring(r, id, p);
		u8 *slots = reinterpret_cast<u8 *>(out) + XP_RING_CTRL_SIZE;
		u64 *w = reinterpret_cast<u64 *>(slots + (rng() % r->l.ring_slots) * XP_SLOT_SIZE);
		for (int i = 0; i < 16; i++)
			w[i] = rng() & (rng() & 1 ? ~0ull : 0xffffull);
		switch (rng() % 6) {
		case 0: __atomic_store_n(&out->head, (u32)rng(), __ATOMIC_RELEASE); break;
		case 1: __atomic_fetch_add(&out->head, 1, __ATOMIC_RELEASE); break;
		case 2: xp_region_part(r, id)->sword = rng(); break;
		case 3: xp_region_part(r, id)->heartbeat = rng(); break;
		case 4: xp_region_comp(r, id, p)->seq = rng(); break;
		case 5: __atomic_store_n(&xp_region_ring(r, p, id)->tail, (u32)rng(), __ATOMIC_RELEASE); break;
		}
		usleep(200);
	}
	_exit(0);
}

class Crash : public ::testing::Test {
protected:
	void *mem = MAP_FAILED;
	Board *b = static_cast<Board *>(MAP_FAILED);
	xp_layout l;
	xp_region r;
	pid_t pids[kParts] = {};
	std::mt19937 rng{std::random_device{}()};

	void SetUp() override
	{
		ASSERT_EQ(xp_layout_compute(&l, kParts, 64), 0);
		mem = mmap(nullptr, l.size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(mem, MAP_FAILED);
		void *bm = mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(bm, MAP_FAILED);
		b = static_cast<Board *>(bm);
		ASSERT_EQ(xp_region_format(mem, l.size, &l), 0);
		ASSERT_EQ(xp_region_attach(&r, mem, l.size), XP_ATTACH_OK);
	}
	void TearDown() override
	{
		for (u32 i = 0; i < kParts; i++)
			if (pids[i] > 0) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], nullptr, 0);
			}
		if (mem != MAP_FAILED)
			munmap(mem, l.size);
		if (b != MAP_FAILED)
			munmap(b, sizeof(Board));
	}
	void start(u32 id)
	{
		memset(&b->rep[id], 0, sizeof(Report));
		b->stop[id] = 0;
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			child_main(&r, b, id, rng());
		pids[id] = pid;
	}
	void start_rogue(u32 id)
	{
		b->stop[id] = 0;
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			rogue_main(&r, b, id, rng());
		pids[id] = pid;
	}
	void kill_one(u32 id)
	{
		ASSERT_EQ(kill(pids[id], SIGKILL), 0);
		int st;
		ASSERT_EQ(waitpid(pids[id], &st, 0), pids[id]);
		EXPECT_TRUE(WIFSIGNALED(st));
		pids[id] = 0;
	}
	void stop_all()
	{
		for (u32 i = 0; i < kParts; i++) {
			if (pids[i] <= 0)
				continue;
			__atomic_store_n(&b->stop[i], 1, __ATOMIC_RELEASE);
			int st;
			ASSERT_EQ(waitpid(pids[i], &st, 0), pids[i]);
			EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << i;
			pids[i] = 0;
		}
	}
	u32 table_state(u32 id) { return xp_sword_state(__atomic_load_n(&xp_region_part(&r, id)->sword, __ATOMIC_ACQUIRE)); }
	u32 table_epoch(u32 id) { return xp_sword_epoch(__atomic_load_n(&xp_region_part(&r, id)->sword, __ATOMIC_ACQUIRE)); }
	template <typename F> bool wait_for(F pred, u64 limit)
	{
		for (u64 end = xp_clock_ns() + limit; xp_clock_ns() < end; usleep(1000))
			if (pred())
				return true;
		return pred();
	}
	bool all_up(u32 except = kParts)
	{
		for (u32 i = 0; i < kParts; i++)
			if (i != except && table_state(i) != XP_UP)
				return false;
		return true;
	}
	u64 ok(u32 i) { return __atomic_load_n(&b->rep[i].pings_ok, __ATOMIC_ACQUIRE); }

	// The survivors fence `victim` (epoch `ep`, killed at t_kill) in time.
	void expect_fenced_by_survivors(u32 victim, u32 ep, u64 t_kill)
	{
		for (u32 i = 0; i < kParts; i++) {
			if (i == victim)
				continue;
			Report *rp = &b->rep[i];
			ASSERT_TRUE(wait_for([&] {
				return __atomic_load_n(&rp->fenced_ns[victim], __ATOMIC_ACQUIRE) > t_kill;
			}, kDead + kHb + kGrace + 2000 * kMs)) << "partition " << i << " never fenced " << victim;
			u64 lat = rp->fenced_ns[victim] - t_kill;
			printf("  partition %u fenced %u after %.1f ms (dead_ms %llu)\n", i, victim,
			       lat / 1e6, (unsigned long long)(kDead / kMs));
			EXPECT_LE(lat, kDead + kHb + kGrace) << i;
			EXPECT_EQ(rp->fenced_epoch[victim], ep);
		}
	}
	void expect_survivors_work(u32 victim)
	{
		u64 before[kParts];

		for (u32 i = 0; i < kParts; i++)
			before[i] = ok(i);
		ASSERT_TRUE(wait_for([&] {
			for (u32 i = 0; i < kParts; i++)
				if (i != victim && ok(i) < before[i] + 5)
					return false;
			return true;
		}, 3000 * kMs)) << "survivors stopped completing PINGs";
		EXPECT_TRUE(all_up(victim));
	}
};

TEST_F(Crash, KillAfterJoinFenceRestartRejoin)
{
	for (u32 i = 0; i < kParts; i++)
		start(i);
	ASSERT_TRUE(wait_for([&] { return all_up(); }, 5000 * kMs));
	ASSERT_TRUE(wait_for([&] { return ok(0) > 10 && ok(1) > 10; }, 3000 * kMs));

	for (int round = 0; round < 2; round++) {
		u32 victim = rng() % kParts;
		usleep(10000 + rng() % 100000);		// a random point of its loop
		u32 ep = table_epoch(victim);
		u64 t_kill = xp_clock_ns();
		kill_one(victim);
		expect_fenced_by_survivors(victim, ep, t_kill);
		EXPECT_EQ(table_state(victim), (u32)XP_DEAD);
		EXPECT_EQ(xp_sword_reason(xp_region_part(&r, victim)->sword), (u32)XP_R_HEARTBEAT);
		expect_survivors_work(victim);
		// Restarted on the same id: a new epoch, UP everywhere.
		start(victim);
		ASSERT_TRUE(wait_for([&] { return all_up(); }, 5000 * kMs));
		EXPECT_GT(table_epoch(victim), ep);
		ASSERT_TRUE(wait_for([&] { return ok(victim) > 5; }, 3000 * kMs));
	}
	stop_all();
}

TEST_F(Crash, KillInTheMiddleOfJoining)
{
	for (int round = 0; round < 3; round++) {
		for (u32 i = 0; i < kParts; i++)
			start(i);
		u32 victim = rng() % kParts;
		usleep(rng() % 20000);		// likely before everyone is UP
		u32 ep = table_epoch(victim);
		u64 t_kill = xp_clock_ns();
		kill_one(victim);
		// The others finish joining without it and fence it if it had
		// taken an epoch.
		ASSERT_TRUE(wait_for([&] { return all_up(victim); }, kDead + 5000 * kMs))
			<< "round " << round;
		u32 st = table_state(victim);
		if (st != XP_FREE || table_epoch(victim) != ep) {
			ASSERT_TRUE(wait_for([&] { return table_state(victim) == XP_DEAD; },
					     kDead + kHb + kGrace + 2000 * kMs));
			expect_fenced_by_survivors(victim, table_epoch(victim), t_kill);
		}
		expect_survivors_work(victim);
		stop_all();
		// Next round on a fresh region.
		ASSERT_EQ(xp_region_format(mem, l.size, &l), 0);
	}
}

TEST_F(Crash, RogueScribblerIsDroppedAndOthersKeepWorking)
{
	for (u32 i = 0; i < kParts; i++)
		start(i);
	ASSERT_TRUE(wait_for([&] { return all_up(); }, 5000 * kMs));
	const u32 rogue = kParts - 1;
	kill_one(rogue);
	start_rogue(rogue);
	// Let it scribble for a while, then check the others still work.
	usleep(300000);
	expect_survivors_work(rogue);
	u64 detected = 0;
	for (u32 i = 0; i < rogue; i++)
		detected += b->rep[i].rejected + b->rep[i].ring_errors +
			    (b->rep[i].fenced_ns[rogue] ? 1 : 0);
	EXPECT_GT(detected, 0u) << "nobody noticed the garbage";
	for (u32 i = 0; i < rogue; i++)
		printf("  partition %u: %llu messages rejected, %llu ring errors\n", i,
		       (unsigned long long)b->rep[i].rejected,
		       (unsigned long long)b->rep[i].ring_errors);
	// stop_all checks every child, the rogue included, exits cleanly:
	// nothing crashed.
	stop_all();
}

}  // namespace
