// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * incarnation_test.cc - epochs as the membership core uses them: ordered
 * with wraparound (an epoch near 2^32 is followed by 1, not preceded by
 * it), a fence naming an incarnation that is gone is a no-op, and a peer
 * that changed incarnation while we were fenced is retired and announced
 * (fence of the old one, joined for the new one) when we rejoin.
 */
#include "cluster.h"

extern "C" {
#include "epoch.h"
}

namespace {

using xpsim::Cluster;
using xpsim::kDead;
using xpsim::kHb;
using xpsim::kMs;

bool has(const std::vector<xpsim::FenceEvent> &v, u32 peer, u32 epoch)
{
	for (const auto &e : v)
		if (e.peer == peer && e.epoch == epoch)
			return true;
	return false;
}

// Node 1's table entry says it already used epoch 0xfffffffe: its join takes
// 0xffffffff, its next one wraps to 1 (0 means "none").  Peers must follow.
TEST_F(Cluster, EpochWrapsPastZeroAndPeersFollowTheNewIncarnation)
{
	make(3);
	reg->part(1)->sword = xp_sword(0xfffffffeu, 1, 0, XP_DEAD);
	join_all();
	ASSERT_EQ(m(1).epoch, 0xffffffffu);
	restart(1);
	ASSERT_EQ(m(1).epoch, 1u);
	run_until([&] { return all_up(); }, 50 * kMs);
	EXPECT_EQ(m(1).state, (u32)XP_UP) << "peers did not ack epoch 1 after 0xffffffff";
	run_for(2 * kHb);	// views follow the table at the next heartbeat
	for (u32 i : {0u, 2u}) {
		EXPECT_EQ(m(i).peers[1].epoch, 1u) << i;
		EXPECT_EQ(m(i).peers[1].state, (u32)XP_UP) << i;
		EXPECT_TRUE(has(node(i).fences, 1, 0xffffffffu)) << i << " did not retire 0xffffffff";
		EXPECT_TRUE(has(node(i).joins, 1, 1)) << i;
	}
}

// After the wrap, the old incarnation 0xffffffff is the older one: its JOIN
// (a stale message) must not fence the current incarnation 1.
TEST_F(Cluster, AJoinFromTheIncarnationBeforeTheWrapIsStale)
{
	make(2);
	reg->part(1)->sword = xp_sword(0xfffffffeu, 1, 0, XP_DEAD);
	join_all();
	restart(1);
	run_until([&] { return all_up(); }, 50 * kMs);
	run_for(2 * kHb);
	ASSERT_EQ(m(0).peers[1].epoch, 1u);
	size_t fences = node(0).fences.size();
	xp_msg msg;
	memset(&msg, 0, sizeof(msg));
	xp_msg_seal(&msg, XP_MSG_JOIN, 1, 0, 0xffffffffu, m(0).epoch,
		    (u64)0xffffffffu << 32 | 77);
	ASSERT_EQ(xp_ring_push(&node(1).ch[0].tx, &msg), 0);
	node(0).poll(now);
	EXPECT_EQ(node(0).rejected(XP_REJ_SRC_EPOCH), 1u);
	EXPECT_EQ(m(0).peers[1].epoch, 1u);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_UP);
	EXPECT_EQ(node(0).fences.size(), fences);
}

// A table entry going "back" across the wrap is garbage (counted, ignored);
// going forward across it is a new incarnation.
TEST_F(Cluster, TableEpochsAreOrderedAcrossTheWrap)
{
	make(3);
	reg->part(2)->sword = xp_sword(0xfffffff0u, 2, 0, XP_DEAD);
	join_all();
	ASSERT_EQ(m(2).epoch, 0xfffffff1u);
	u64 bad = m(0).stats.bad_entries;
	// An epoch before the current one, across the wrap from the other side.
	reg->part(2)->sword = xp_sword(0xffffff00u, 2, 0, XP_UP);
	step();
	EXPECT_GT(m(0).stats.bad_entries, bad);
	EXPECT_EQ(m(0).peers[2].epoch, 0xfffffff1u);
	reg->part(2)->sword = xp_sword(0xfffffff1u, 2, 0, XP_UP);
	// Node 2 rejoins 15 times: 0xfffffff2 ... 0xffffffff, then 1.
	for (int i = 0; i < 14; i++) {
		restart(2);
		run_until([&] { return all_up(); }, 50 * kMs);
	}
	ASSERT_EQ(m(2).epoch, 0xffffffffu);
	restart(2);
	ASSERT_EQ(m(2).epoch, 1u);
	run_until([&] { return all_up(); }, 50 * kMs);
	EXPECT_TRUE(all_up());
	run_for(2 * kHb);
	EXPECT_EQ(m(0).peers[2].epoch, 1u);
	EXPECT_EQ(m(1).peers[2].epoch, 1u);
}

TEST(EpochOrder, SerialNumberArithmetic)
{
	EXPECT_TRUE(xp_epoch_after(2, 1));
	EXPECT_FALSE(xp_epoch_after(1, 2));
	EXPECT_FALSE(xp_epoch_after(5, 5));
	EXPECT_TRUE(xp_epoch_after(1, 0xffffffffu));	// across the wrap
	EXPECT_TRUE(xp_epoch_before(0xffffffffu, 1));
	EXPECT_TRUE(xp_epoch_after(0x80000005u, 0));	// 0: none, before all
	EXPECT_FALSE(xp_epoch_after(0, 0x80000005u));
	EXPECT_TRUE(xp_epoch_before(0, 1));
	EXPECT_FALSE(xp_epoch_after(0, 0));
	EXPECT_EQ(xp_epoch_next(0xfffffffeu), 0xffffffffu);
	EXPECT_EQ(xp_epoch_next(0xffffffffu), 1u);
	EXPECT_EQ(xp_epoch_next(0), 1u);
}

// A request to incarnation E timed out after the peer rejoined as E+1: the
// timeout names E, which is gone; the new incarnation must stay up.
TEST_F(Cluster, FencingAnIncarnationThatIsGoneIsANoOp)
{
	make(3);
	join_all();
	u32 e1 = m(1).epoch;
	restart(1);
	run_until([&] { return all_up(); }, 50 * kMs);
	run_for(2 * kHb);
	ASSERT_EQ(m(0).peers[1].epoch, e1 + 1);
	ASSERT_EQ(m(0).peers[1].state, (u32)XP_UP);
	size_t fences = node(0).fences.size();
	EXPECT_EQ(xp_member_fence(&m(0), 1, e1, XP_R_TIMEOUT, now), -ESRCH);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_UP);
	EXPECT_EQ(table_state(1), (u32)XP_UP);
	EXPECT_EQ(node(0).fences.size(), fences);
	// The current one is fenced as asked.
	EXPECT_EQ(xp_member_fence(&m(0), 1, e1 + 1, XP_R_TIMEOUT, now), 0);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_DEAD);
	EXPECT_EQ(table_state(1), (u32)XP_DEAD);
	EXPECT_TRUE(has(node(0).fences, 1, e1 + 1));
}

// Node 0 hangs and is fenced; meanwhile node 2 restarts under a new epoch.
// When node 0 runs again it fences itself and rejoins: node 2's old
// incarnation must be retired (fence) and its new one announced (joined),
// which is what releases what node 0 still held for the old one.
TEST_F(Cluster, APeerThatRejoinedWhileWeWereFencedIsRetiredAndAnnounced)
{
	make(3);
	join_all();
	u32 e2 = m(2).epoch;
	running[0] = false;
	run_until([&] { return table_state(0) == XP_DEAD; }, 2 * kDead);
	ASSERT_EQ(table_state(0), (u32)XP_DEAD);
	restart(2);
	run_until([&] { return m(2).state == XP_UP; }, 50 * kMs);
	ASSERT_EQ(m(2).state, (u32)XP_UP);
	ASSERT_TRUE(node(0).fences.empty());
	running[0] = true;
	step();
	ASSERT_EQ(node(0).self_fences.size(), 1u);
	EXPECT_TRUE(has(node(0).fences, 2, e2)) << "old incarnation of 2 not retired";
	EXPECT_TRUE(has(node(0).joins, 2, e2 + 1)) << "new incarnation of 2 not announced";
	run_until([&] { return all_up(); }, 50 * kMs);
	EXPECT_TRUE(all_up());
	// Announced once: the next ticks see nothing new.
	size_t joins = node(0).joins.size();
	run_for(5 * kMs);
	EXPECT_EQ(node(0).joins.size(), joins);
}

}  // namespace
