// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cluster.h - the test fixture of the membership tests: nodes sharing one
 * region in memory, stepped in simulated time.  "running" says whether a
 * node gets ticked and polls its rings in a step (false: stopped, hung).
 */
#ifndef XP_TEST_CLUSTER_H
#define XP_TEST_CLUSTER_H

#include <gtest/gtest.h>

#include <memory>

#include "sim.h"

namespace xpsim {

constexpr u64 kHb = 10 * kMs, kDead = 100 * kMs, kStep = 1 * kMs;

class Cluster : public ::testing::Test {
protected:
	std::unique_ptr<Region> reg;
	std::vector<std::unique_ptr<Node>> nodes;
	std::vector<bool> running;
	u64 now = 1000 * kMs;

	void make(u32 n, u32 parts = 0)
	{
		reg = std::make_unique<Region>(parts ? parts : n, 16);
		for (u32 i = 0; i < n; i++) {
			nodes.push_back(std::make_unique<Node>());
			ASSERT_EQ(nodes[i]->setup(&reg->r, i, kHb, kDead), 0);
			running.push_back(true);
		}
	}
	Node &node(u32 i) { return *nodes[i]; }
	xp_member &m(u32 i) { return nodes[i]->m; }
	void step(u64 dt = kStep)
	{
		now += dt;
		for (size_t i = 0; i < nodes.size(); i++)
			if (running[i] && nodes[i]->m.state != XP_FREE) {
				nodes[i]->poll(now);
				xp_member_tick(&nodes[i]->m, now);
				nodes[i]->poll(now);
			}
	}
	void run_for(u64 t)
	{
		for (u64 end = now + t; now < end; )
			step();
	}
	// Runs until pred holds, at most `limit`; returns the time it took.
	template <typename F> u64 run_until(F pred, u64 limit)
	{
		u64 start = now;

		while (!pred() && now - start < limit)
			step();
		return now - start;
	}
	void join_all()
	{
		for (auto &n : nodes)
			ASSERT_EQ(xp_member_join(&n->m, now), 0);
		run_until([&] { return all_up(); }, 50 * kMs);
		ASSERT_TRUE(all_up());
	}
	bool all_up()
	{
		for (auto &n : nodes)
			if (n->m.state != XP_UP)
				return false;
		return true;
	}
	// "kill + restart" of node i: a fresh node on the same id and entry.
	void restart(u32 i)
	{
		nodes[i] = std::make_unique<Node>();
		ASSERT_EQ(node(i).setup(&reg->r, i, kHb, kDead), 0);
		ASSERT_EQ(xp_member_join(&m(i), now), 0);
	}
	u32 table_state(u32 id) { return xp_sword_state(reg->part(id)->sword); }
	u32 table_epoch(u32 id) { return xp_sword_epoch(reg->part(id)->sword); }
};

}  // namespace xpsim

#endif
