// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * member_test.cc - the membership state machine under simulated time:
 * join handshake, heartbeats, SUSPECT then fence with a reason, self-fence
 * and rejoin under a new epoch, and stale-epoch messages and late
 * completion words ignored.  Nodes share one region in memory; "running" says
 * whether a node gets ticked and polls its rings in a step.
 */
#include "cluster.h"

namespace {

using xpsim::Cluster;
using xpsim::kDead;
using xpsim::kHb;
using xpsim::kMs;
using xpsim::kStep;

TEST_F(Cluster, JoinBringsEveryoneUpWithDistinctEpochs)
{
	make(3);
	join_all();
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(table_state(i), (u32)XP_UP);
		EXPECT_EQ(table_epoch(i), m(i).epoch);
		EXPECT_EQ(reg->part(i)->window_pfn, 0x100000ull * (i + 1));
		for (u32 j = 0; j < 3; j++) {
			if (i == j)
				continue;
			EXPECT_EQ(m(i).peers[j].state, (u32)XP_UP) << i << " sees " << j;
			EXPECT_EQ(m(i).peers[j].epoch, m(j).epoch);
		}
		EXPECT_TRUE(node(i).fences.empty());
	}
	// A second round of joins gets new epochs.
	u32 old = m(1).epoch;
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	EXPECT_GT(m(1).epoch, old);
}

TEST_F(Cluster, UpOnlyAfterEveryLivePeerAcked)
{
	make(3);
	ASSERT_EQ(xp_member_join(&m(0), now), 0);
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	run_until([&] { return m(0).state == XP_UP && m(1).state == XP_UP; }, 50 * kMs);
	ASSERT_EQ(m(1).state, (u32)XP_UP);
	// Node 1 stops reading its rings: node 2 cannot complete its join.
	running[1] = false;
	ASSERT_EQ(xp_member_join(&m(2), now), 0);
	run_for(3 * kHb);
	EXPECT_EQ(m(2).state, (u32)XP_JOINING);
	EXPECT_EQ(table_state(2), (u32)XP_JOINING);
	EXPECT_EQ(m(2).peers[0].acked, m(2).epoch);
	EXPECT_NE(m(2).peers[1].acked, m(2).epoch);
	// It answers (the JOIN is resent every heartbeat): UP.
	running[1] = true;
	run_until([&] { return m(2).state == XP_UP; }, 3 * kHb);
	EXPECT_EQ(m(2).state, (u32)XP_UP);
	EXPECT_EQ(table_state(2), (u32)XP_UP);
}

TEST_F(Cluster, JoinDoesNotWaitForADeadPeer)
{
	make(3);
	join_all();
	running[1] = false;
	run_until([&] { return m(0).peers[1].state == XP_DEAD; }, 2 * kDead);
	ASSERT_EQ(m(0).peers[1].state, (u32)XP_DEAD);
	ASSERT_EQ(xp_member_join(&m(2), now), 0);
	u64 t = run_until([&] { return m(2).state == XP_UP; }, 3 * kHb);
	EXPECT_EQ(m(2).state, (u32)XP_UP) << "took " << t / kMs << " ms";
}

TEST_F(Cluster, SilentPeerIsSuspectThenFencedWithReason)
{
	make(3);
	join_all();
	u32 e1 = m(1).epoch;
	running[1] = false;
	u64 t_sus = run_until([&] { return m(0).peers[1].state == XP_SUSPECT; }, 2 * kDead);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_SUSPECT);
	EXPECT_GE(t_sus, kDead / 2 - kHb);
	EXPECT_GE(xp_member_hb_age_ns(&m(0), 1, now), kDead / 2);
	EXPECT_LT(xp_member_hb_age_ns(&m(0), 2, now), kHb + 2 * kStep);
	u64 t_dead = t_sus + run_until([&] { return m(0).peers[1].state == XP_DEAD; }, 2 * kDead);
	ASSERT_EQ(m(0).peers[1].state, (u32)XP_DEAD);
	// Fenced after dead_ms of silence, at most one heartbeat + a step late.
	EXPECT_GE(t_dead, kDead - kHb);
	EXPECT_LE(t_dead, kDead + kStep);
	step();
	EXPECT_EQ(table_state(1), (u32)XP_DEAD);
	EXPECT_EQ(xp_sword_reason(reg->part(1)->sword), (u32)XP_R_HEARTBEAT);
	EXPECT_EQ(table_epoch(1), e1);
	// Both survivors told their user exactly once, for that epoch.
	for (u32 i : {0u, 2u}) {
		ASSERT_EQ(node(i).fences.size(), 1u) << i;
		EXPECT_EQ(node(i).fences[0].peer, 1u);
		EXPECT_EQ(node(i).fences[0].epoch, e1);
		EXPECT_EQ(node(i).fences[0].reason, (u32)XP_R_HEARTBEAT);
		EXPECT_EQ(m(i).peers[1].reason, (u32)XP_R_HEARTBEAT);
	}
	run_for(kDead);
	EXPECT_EQ(node(0).fences.size(), 1u);
	EXPECT_EQ(node(0).m.state, (u32)XP_UP);
}

TEST_F(Cluster, FencedPeerSelfFencesAndRejoinsUnderANewEpoch)
{
	make(3);
	join_all();
	u32 e1 = m(1).epoch;
	running[1] = false;	// SIGSTOP
	run_until([&] { return table_state(1) == XP_DEAD; }, 2 * kDead);
	ASSERT_EQ(table_state(1), (u32)XP_DEAD);
	running[1] = true;	// SIGCONT
	step();
	ASSERT_EQ(node(1).self_fences.size(), 1u);
	EXPECT_EQ(node(1).self_fences[0], (u32)XP_R_SELF_STALE);
	EXPECT_GT(m(1).epoch, e1);
	run_until([&] { return all_up(); }, 50 * kMs);
	ASSERT_TRUE(all_up());
	run_for(2 * kHb);	// views follow the table at the next heartbeat
	EXPECT_EQ(table_state(1), (u32)XP_UP);
	EXPECT_EQ(m(0).peers[1].epoch, m(1).epoch);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_UP);
	EXPECT_EQ(node(0).fences.size(), 1u);	// the old epoch only
}

TEST_F(Cluster, StalledPartitionFencesItselfEvenIfNobodyNoticed)
{
	make(2);
	join_all();
	u32 e0 = m(0).epoch;
	// Everyone stalls longer than dead_ms (a whole-machine pause).
	now += 2 * kDead;
	xp_member_tick(&m(0), now);
	ASSERT_EQ(node(0).self_fences.size(), 1u);
	EXPECT_EQ(node(0).self_fences[0], (u32)XP_R_SELF_STALLED);
	EXPECT_GT(m(0).epoch, e0);
	run_until([&] { return all_up(); }, 100 * kMs);
	EXPECT_TRUE(all_up());
	// Node 1 retired node 0's old incarnation before acking the new one.
	ASSERT_FALSE(node(1).fences.empty());
	EXPECT_EQ(node(1).fences[0].epoch, e0);
}

// The kernel's rescan thread read the clock before taking the lock that
// orders ticks; a peer thread ticked meanwhile with a later time, and the
// rescan's tick came with an older one: the unsigned differences read it
// as a stall of 2^64 ns (seen as "self-stalled" under memory pressure).
TEST_F(Cluster, ATickOlderThanTheLastIsNoStall)
{
	make(2);
	join_all();
	u32 e0 = m(0).epoch;
	run_for(3 * kHb);	// heartbeats seen both ways
	u64 before = now - kMs;
	xp_member_tick(&m(0), now);
	xp_member_tick(&m(0), before);
	xp_member_tick(&m(1), before);
	EXPECT_TRUE(node(0).self_fences.empty());
	EXPECT_TRUE(node(0).fences.empty());
	EXPECT_TRUE(node(1).fences.empty());
	EXPECT_EQ(m(0).epoch, e0);
	run_for(kDead);
	EXPECT_TRUE(all_up());
	EXPECT_TRUE(node(0).self_fences.empty());
}

TEST_F(Cluster, RestartedPartitionRetiresItsOldIncarnationEverywhere)
{
	make(3);
	join_all();
	u32 e2 = m(2).epoch;
	// "kill + restart": a fresh node on the same id and table entry.
	nodes[2] = std::make_unique<xpsim::Node>();
	ASSERT_EQ(node(2).setup(&reg->r, 2, kHb, kDead), 0);
	ASSERT_EQ(xp_member_join(&m(2), now), 0);
	EXPECT_EQ(m(2).epoch, e2 + 1);
	run_until([&] { return all_up(); }, 50 * kMs);
	ASSERT_TRUE(all_up());
	for (u32 i : {0u, 1u}) {
		ASSERT_EQ(node(i).fences.size(), 1u);
		EXPECT_EQ(node(i).fences[0].epoch, e2);
		EXPECT_EQ(node(i).fences[0].reason, (u32)XP_R_REJOINED);
		EXPECT_EQ(m(i).peers[2].epoch, e2 + 1);
	}
}

TEST_F(Cluster, StaleEpochMessagesAreDroppedAndCounted)
{
	make(2);
	join_all();
	u32 e0 = m(0).epoch, e1 = m(1).epoch;
	xp_msg msg;

	// A PING from node 0 in its current epoch is accepted...
	memset(&msg, 0, sizeof(msg));
	msg.u.ping.rid = xp_rid(e0, 1);
	ASSERT_EQ(xp_chan_send(&node(0).ch[1], &msg, XP_MSG_PING, now), 0);
	// ...one with its previous epoch is not,
	memset(&msg, 0, sizeof(msg));
	xp_msg_seal(&msg, XP_MSG_PING, 0, 1, e0 - 1 ? e0 - 1 : 7, e1,
		    (u64)(e0 - 1 ? e0 - 1 : 7) << 32 | 1);
	ASSERT_EQ(xp_ring_push(&node(0).ch[1].tx, &msg), 0);
	// ...nor one addressed to an older incarnation of node 1.
	memset(&msg, 0, sizeof(msg));
	xp_msg_seal(&msg, XP_MSG_PING, 0, 1, e0, e1 + 5, (u64)e0 << 32 | 99);
	ASSERT_EQ(xp_ring_push(&node(0).ch[1].tx, &msg), 0);
	u64 stale = m(1).stats.stale_msgs;
	u64 acc = node(1).ch[0].stats.accepted;
	node(1).poll(now);
	EXPECT_EQ(node(1).ch[0].stats.accepted - acc, 1u);
	EXPECT_EQ(node(1).rejected(XP_REJ_SRC_EPOCH), 1u);
	EXPECT_EQ(node(1).rejected(XP_REJ_DST_EPOCH), 1u);
	EXPECT_EQ(m(1).stats.stale_msgs - stale, 2u);
}

TEST_F(Cluster, SenderIsTheRingsProducerWhateverItClaims)
{
	make(3);
	join_all();
	xp_msg msg;

	// Node 0 writes a message claiming to come from node 2.
	memset(&msg, 0, sizeof(msg));
	xp_msg_seal(&msg, XP_MSG_PING, 2, 1, m(2).epoch, m(1).epoch, (u64)m(2).epoch << 32 | 9);
	ASSERT_EQ(xp_ring_push(&node(0).ch[1].tx, &msg), 0);
	u64 acc = node(1).ch[0].stats.accepted;
	node(1).poll(now);
	EXPECT_EQ(node(1).ch[0].stats.rejected[XP_REJ_SRC], 1u);
	EXPECT_EQ(node(1).ch[0].stats.accepted, acc);
}

TEST_F(Cluster, MessagesFromAFencedIncarnationAreDropped)
{
	make(3);
	join_all();
	u32 e2 = m(2).epoch;
	running[2] = false;
	run_until([&] { return m(0).peers[2].state == XP_DEAD; }, 2 * kDead);
	ASSERT_EQ(m(0).peers[2].state, (u32)XP_DEAD);
	// The stopped partition's ring still holds its view: it "wakes" and
	// sends before noticing it was fenced.
	xp_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.u.inval.len = 4096;
	msg.u.inval.rid = xp_rid(e2, 1);
	xp_msg_seal(&msg, XP_MSG_INVALIDATE, 2, 0, e2, m(0).epoch, (u64)e2 << 32 | 50);
	ASSERT_EQ(xp_ring_push(&node(2).ch[0].tx, &msg), XP_REJ_OK);
	size_t before = node(0).other.size();
	node(0).poll(now);
	EXPECT_EQ(node(0).other.size(), before);
	EXPECT_EQ(node(0).rejected(XP_REJ_SRC_EPOCH), 1u);
	// A JOIN from the same fenced epoch is not acked either.
	memset(&msg, 0, sizeof(msg));
	xp_msg_seal(&msg, XP_MSG_JOIN, 2, 0, e2, m(0).epoch, (u64)e2 << 32 | 51);
	ASSERT_EQ(xp_ring_push(&node(2).ch[0].tx, &msg), 0);
	u64 acks = m(0).stats.acks_sent;
	node(0).poll(now);
	EXPECT_EQ(m(0).stats.acks_sent, acks);
}

TEST_F(Cluster, PingIsAnsweredByPongAndLateCompletionsIgnored)
{
	make(2);
	join_all();
	xp_chan *c01 = &node(0).ch[1];
	xp_msg msg;

	// PING is answered by a PONG echoing its rid (no completion word).
	memset(&msg, 0, sizeof(msg));
	msg.u.ping.rid = xp_rid(m(0).epoch, 7);
	ASSERT_EQ(xp_chan_send(c01, &msg, XP_MSG_PING, now), 0);
	node(1).poll(now);
	size_t before = node(0).other.size();
	node(0).poll(now);
	ASSERT_EQ(node(0).other.size(), before + 1);
	EXPECT_EQ(node(0).other.back().h.type, XP_MSG_PONG);
	EXPECT_EQ(node(0).other.back().u.ping.rid, xp_rid(m(0).epoch, 7));
	EXPECT_EQ(c01->rpc.last_pong, xp_rid(m(0).epoch, 7));
	EXPECT_EQ(xp_region_comp(&reg->r, 1, 0)->seq, 0u);

	// An INVALIDATE's completion word written by an old incarnation of
	// node 1 (its epoch differs from the one node 0 knows) completes
	// nothing, nor does one numbered for an older epoch of ours.
	u64 rid = xp_rpc_inval_rid(c01, m(1).epoch);
	ASSERT_EQ(rid, xp_rid(m(0).epoch, 1));
	xp_comp *w = xp_region_comp(&reg->r, 1, 0);
	w->epoch = m(1).epoch - 1;
	w->seq = rid;
	EXPECT_EQ(xp_rpc_inval_done(c01, rid, m(1).epoch), 0);
	w->epoch = m(1).epoch;
	w->seq = xp_rid(m(0).epoch - 1, 0xffffffff);
	EXPECT_EQ(xp_rpc_inval_done(c01, rid, m(1).epoch), 0);
	w->seq = rid;
	EXPECT_EQ(xp_rpc_inval_done(c01, rid, m(1).epoch), 1);

	// After node 1 is fenced, its words no longer count and no number is
	// handed out for it; a ping ends at once rather than at the deadline.
	ASSERT_EQ(xp_member_fence(&m(0), 1, m(0).peers[1].epoch, XP_R_TIMEOUT, now), 0);
	EXPECT_EQ(xp_rpc_inval_done(c01, rid, m(1).epoch), 0);
	EXPECT_EQ(xp_rpc_inval_rid(c01, m(1).epoch), 0u);
	EXPECT_EQ(xp_chan_ping(c01, xp_clock_ns() + 1000 * kMs, nullptr, nullptr),
		  -ESRCH);
	ASSERT_EQ(node(0).fences.size(), 1u);
	EXPECT_EQ(node(0).fences[0].reason, (u32)XP_R_TIMEOUT);
}

TEST_F(Cluster, PingHonoursItsDeadline)
{
	make(2);
	join_all();
	// Nobody answers: the ping returns -ETIMEDOUT at the deadline.
	u64 t0 = xp_clock_ns();
	EXPECT_EQ(xp_chan_ping(&node(0).ch[1], t0 + 20 * kMs, nullptr, nullptr),
		  -ETIMEDOUT);
	EXPECT_GE(xp_clock_ns() - t0, 20 * kMs);
}

TEST_F(Cluster, CorruptRingIndexesFenceTheProducer)
{
	make(2);
	join_all();
	xp_region_ring(&reg->r, 1, 0)->head += 1000;
	EXPECT_EQ(node(0).poll(now), 0);
	EXPECT_EQ(m(0).peers[1].state, (u32)XP_DEAD);
	EXPECT_EQ(m(0).peers[1].reason, (u32)XP_R_PROTOCOL);
	EXPECT_EQ(node(0).ch[1].ring_errors, 1u);
	EXPECT_EQ(xp_sword_reason(reg->part(1)->sword), (u32)XP_R_PROTOCOL);
}

TEST_F(Cluster, GarbageInThePartitionTableIsCountedAndIgnored)
{
	make(3);
	join_all();
	u64 before = m(0).stats.bad_entries;
	reg->part(2)->sword = xp_sword(m(2).epoch, 0, 0, 99);	// no such state
	step();
	EXPECT_GT(m(0).stats.bad_entries, before);
	EXPECT_EQ(m(0).peers[2].state, (u32)XP_UP);	// heartbeat still moves
	EXPECT_TRUE(node(0).fences.empty());
}

TEST_F(Cluster, InitRejectsBadConfig)
{
	make(2);
	xp_member mm;
	xp_member_cfg cfg{};
	cfg.self = 5;
	cfg.hb_ns = kHb;
	cfg.dead_ns = kDead;
	EXPECT_EQ(xp_member_init(&mm, &reg->r, &cfg, xpsim::Node::ops(), nullptr), -EINVAL);
	cfg.self = 0;
	cfg.dead_ns = kHb;
	EXPECT_EQ(xp_member_init(&mm, &reg->r, &cfg, xpsim::Node::ops(), nullptr), -EINVAL);
}

}  // namespace
