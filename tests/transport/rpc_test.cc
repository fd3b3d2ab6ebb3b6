// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rpc_test.cc - requests and their answers (transport/rpc.c) between
 * simulated partitions, in simulated time: replies matched by request id
 * (two requesters of one key, a read and a write fault of one page),
 * orphans handed back, the re-post schedule, replies after the deadline, a
 * peer restarting between request and reply; INVALIDATE numbered per
 * channel with a gap-free completion word under dropped, duplicated,
 * reordered and corrupted messages.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <map>

#include "sim.h"

extern "C" {
#include "rpc.h"
}

namespace {

using xpsim::kMs;

constexpr u64 kHb = 10 * kMs, kDead = 100 * kMs, kStep = 1 * kMs;
constexpr s64 kSegid = 0x1000000000042ll;

class Rpc : public ::testing::Test {
protected:
	std::unique_ptr<xpsim::Region> reg;
	std::vector<std::unique_ptr<xpsim::Node>> nodes;
	xp_rpc table;		// node 0's requests
	u64 now = 1000 * kMs;

	void SetUp() override
	{
		reg = std::make_unique<xpsim::Region>(3, 64);
		for (u32 i = 0; i < 3; i++) {
			nodes.push_back(std::make_unique<xpsim::Node>());
			ASSERT_EQ(nodes[i]->setup(&reg->r, i, kHb, kDead), 0);
			// PING goes to the handler like in the kernel.
			for (u32 p = 0; p < 3; p++)
				nodes[i]->ch[p].ping_to_handler = true;
		}
		for (auto &n : nodes)
			ASSERT_EQ(xp_member_join(&n->m, now), 0);
		for (int i = 0; i < 50 && !all_up(); i++)
			step();
		ASSERT_TRUE(all_up());
		xp_rpc_init(&table);
	}
	bool all_up()
	{
		for (auto &n : nodes)
			if (n->m.state != XP_UP)
				return false;
		return true;
	}
	xpsim::Node &node(u32 i) { return *nodes[i]; }
	xp_member &m(u32 i) { return nodes[i]->m; }
	xp_chan *ch(u32 from, u32 to) { return &nodes[from]->ch[to]; }
	void step(u64 dt = kStep)
	{
		now += dt;
		for (auto &n : nodes) {
			n->poll(now);
			xp_member_tick(&n->m, now);
			n->poll(now);
		}
	}
	// Messages node @i received since the last call, of @type.
	std::vector<xp_msg> take(u32 i, u32 type)
	{
		std::vector<xp_msg> out, rest;

		for (auto &msg : node(i).other)
			(msg.h.type == type ? out : rest).push_back(msg);
		node(i).other = rest;
		return out;
	}
	// Node 0 receives what is in its rings; replies go to the table.
	std::vector<xp_req *> deliver_replies()
	{
		std::vector<xp_req *> got;

		node(0).poll(now);
		for (u32 t : {XP_MSG_GET_REPLY, XP_MSG_FAULT_REPLY, XP_MSG_PONG})
			for (auto &msg : take(0, t))
				got.push_back(xp_rpc_reply(&table, ch(0, msg.h.src), &msg, now));
		return got;
	}
	// Node 1 answers a GET (as the owner's fault service would).
	void answer_get(const xp_msg &get, s32 status, u64 token)
	{
		xp_msg r;

		memset(&r, 0, sizeof(r));
		r.u.get_reply.segid = get.u.get.segid;
		r.u.get_reply.status = status;
		r.u.get_reply.token = status ? 0 : token;
		r.u.get_reply.size = status ? 0 : 1 << 20;
		r.u.get_reply.rid = get.u.get.rid;
		ASSERT_EQ(xp_chan_send(ch(1, 0), &r, XP_MSG_GET_REPLY, now), 0);
	}
	void answer_fault(const xp_msg &f, u64 offset, u32 pages, bool writable, bool last)
	{
		xp_msg r;

		memset(&r, 0, sizeof(r));
		r.u.fault_reply.token = f.u.fault.token;
		r.u.fault_reply.offset = offset;
		r.u.fault_reply.count = 1;
		r.u.fault_reply.runs[0] = xp_run(0x100 + (offset >> 12), pages);
		r.u.fault_reply.flags = (writable ? XP_FAULTF_WRITE : 0) |
					(last ? XP_FAULTF_LAST : 0);
		r.u.fault_reply.rid = f.u.fault.rid;
		ASSERT_EQ(xp_chan_send(ch(1, 0), &r, XP_MSG_FAULT_REPLY, now), 0);
	}
	xp_msg get_msg()
	{
		xp_msg msg;

		memset(&msg, 0, sizeof(msg));
		msg.u.get.segid = kSegid;
		msg.u.get.flags = 2;
		return msg;
	}
	xp_msg fault_msg(bool write, u32 npages = 1)
	{
		xp_msg msg;

		memset(&msg, 0, sizeof(msg));
		msg.u.fault.token = 77;
		msg.u.fault.offset = 0;
		msg.u.fault.npages = npages;
		msg.u.fault.flags = write ? XP_FAULTF_WRITE : 0;
		return msg;
	}
	// Node 0 invalidates through node 1: a new numbered INVALIDATE.
	xp_msg inval_msg()
	{
		xp_msg msg;

		memset(&msg, 0, sizeof(msg));
		msg.u.inval.token = 77;
		msg.u.inval.offset = 0;
		msg.u.inval.len = 4096;
		msg.u.inval.rid = xp_rpc_inval_rid(ch(0, 1), m(1).epoch);
		EXPECT_NE(msg.u.inval.rid, 0u);
		return msg;
	}
	// Node 1's invalidation side: receive, classify, handle in order.
	std::vector<xp_msg> inval_queue;
	std::vector<int> receive_invalidations()
	{
		std::vector<int> verdicts;

		node(1).poll(now);
		for (auto &msg : take(1, XP_MSG_INVALIDATE)) {
			int v = xp_rpc_inval_rx(ch(1, 0), &msg);

			verdicts.push_back(v);
			if (v == XP_INV_NEW)
				inval_queue.push_back(msg);
		}
		return verdicts;
	}
	void handle_invalidations()
	{
		for (auto &msg : inval_queue)
			xp_rpc_inval_handled(ch(1, 0), &msg);
		inval_queue.clear();
	}
	int done(const xp_msg &inv)
	{
		return xp_rpc_inval_done(ch(0, 1), inv.u.inval.rid, m(1).epoch);
	}
	// Node 1 as the owner: the exports it holds (tokens), dropped by a
	// RELEASE, which it acknowledges (as the kernel's poller does).
	std::map<u64, u64> exports;	// token -> the GET rid it was made for
	void owner_serve_releases()
	{
		node(1).poll(now);
		for (auto &msg : take(1, XP_MSG_RELEASE)) {
			const xp_release &r = msg.u.release;

			if (!r.get_rid) {
				exports.erase(r.token);
			} else {
				for (auto it = exports.begin(); it != exports.end();)
					if (it->second == r.get_rid && it->first != r.token)
						it = exports.erase(it);
					else
						++it;
			}
			xp_rpc_release_rx(ch(1, 0), &msg, now);
		}
	}
	// The owner serves a GET: an export, answered with its token.
	void serve_get(const xp_msg &get, u64 tok)
	{
		exports[tok] = get.u.get.rid;
		answer_get(get, 0, tok);
	}
	// Node 0 takes the RELEASE_ACKs; how many matched a pending RELEASE.
	int take_acks()
	{
		int n = 0;

		node(0).poll(now);
		for (auto &msg : take(0, XP_MSG_RELEASE_ACK))
			n += xp_rpc_release_acked(ch(0, 1), &msg);
		return n;
	}
	// Node 0's periodic tick, then both sides' message handling, for @ms.
	void run_releases(u64 ms)
	{
		for (u64 t = 0; t < ms; t++) {
			now += kMs;
			xp_rpc_tick(ch(0, 1), now);
			owner_serve_releases();
			take_acks();
		}
	}
	// A GET answered with token @tok and given up before: an orphan.
	void orphan_token(u64 tok)
	{
		xp_req g;
		xp_msg mg = get_msg();

		ASSERT_EQ(xp_rpc_begin(&table, &g, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
		ASSERT_EQ(xp_rpc_post(&g, ch(0, 1), &mg, now), 0);
		xp_rpc_end(&table, &g);	// the requester gave up
		node(1).poll(now);
		auto gets = take(1, XP_MSG_GET);
		ASSERT_EQ(gets.size(), 1u);
		serve_get(gets[0], tok);
	}
};

/* ---- replies matched by id ------------------------------------------------ */

// Defect 1: user A GETs her segment while user B GETs the same segid (and
// is refused); the owner is slow and answers A's re-posted GET twice.  B's
// pending request must never receive the token made for A.
TEST_F(Rpc, TwoRequestersOfOneKeyNeverGetEachOthersAnswer)
{
	xp_req a, b;
	xp_msg ma = get_msg(), mb = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &a, ch(0, 1), &ma, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&a, ch(0, 1), &ma, now), 0);
	ASSERT_EQ(xp_rpc_begin(&table, &b, ch(0, 1), &mb, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&b, ch(0, 1), &mb, now), 0);
	EXPECT_NE(a.rid, b.rid);
	EXPECT_EQ(table.inflight[1], 2u);

	// A's GET is re-posted (same rid) before the owner answers.
	now += 10 * kMs;
	ASSERT_TRUE(xp_rpc_due(&a, now));
	ASSERT_EQ(xp_rpc_post(&a, ch(0, 1), &ma, now), 0);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 3u);
	EXPECT_EQ(gets[0].u.get.rid, gets[2].u.get.rid);

	// The owner answers A's first GET (token for A), then B's (refused),
	// then A's re-post: a second token for A.
	answer_get(gets[0], 0, 0xA1);
	answer_get(gets[1], -EACCES, 0);
	answer_get(gets[2], 0, 0xA2);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 3u);
	EXPECT_EQ(got[0], &a);
	EXPECT_EQ(got[1], &b);
	EXPECT_EQ(got[2], nullptr);	// A is done: an orphan
	EXPECT_TRUE(a.done);
	EXPECT_EQ(a.status, 0);
	EXPECT_TRUE(b.done);
	EXPECT_EQ(b.status, -EACCES);
	// The orphan token went back to the owner with RELEASE.
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_released, 1u);
	node(1).poll(now);
	auto rel = take(1, XP_MSG_RELEASE);
	ASSERT_EQ(rel.size(), 1u);
	EXPECT_EQ(rel[0].u.release.token, 0xA2u);
	xp_rpc_end(&table, &a);
	xp_rpc_end(&table, &b);
	EXPECT_EQ(table.inflight[1], 0u);
	EXPECT_EQ(table.head, nullptr);
}

// B still waiting when the owner answers A's request twice: the second
// answer is A's, not B's.
TEST_F(Rpc, ADuplicateAnswerNeverReachesAnotherWaitingRequest)
{
	xp_req a, b;
	xp_msg ma = get_msg(), mb = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &a, ch(0, 1), &ma, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&a, ch(0, 1), &ma, now), 0);
	ASSERT_EQ(xp_rpc_begin(&table, &b, ch(0, 1), &mb, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&b, ch(0, 1), &mb, now), 0);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 2u);
	answer_get(gets[0], 0, 0xA1);
	answer_get(gets[0], 0, 0xA2);	// duplicate (re-posted GET served twice)
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0], &a);
	EXPECT_EQ(got[1], nullptr);
	EXPECT_FALSE(b.done);
	answer_get(gets[1], -EACCES, 0);
	got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &b);
	EXPECT_EQ(b.status, -EACCES);
	xp_rpc_end(&table, &b);
	xp_rpc_end(&table, &a);
}

// Defect 7: a read fault and a write upgrade of the same page in flight;
// the read answer (and its duplicate) must not satisfy the write.
TEST_F(Rpc, FaultReplyGoesToItsOwnFaultOnly)
{
	xp_req rd, wr;
	xp_msg mr = fault_msg(false), mw = fault_msg(true);

	ASSERT_EQ(xp_rpc_begin(&table, &rd, ch(0, 1), &mr, XP_MSG_FAULT, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&rd, ch(0, 1), &mr, now), 0);
	ASSERT_EQ(xp_rpc_begin(&table, &wr, ch(0, 1), &mw, XP_MSG_FAULT, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&wr, ch(0, 1), &mw, now), 0);
	node(1).poll(now);
	auto faults = take(1, XP_MSG_FAULT);
	ASSERT_EQ(faults.size(), 2u);
	answer_fault(faults[0], 0, 1, false, true);
	answer_fault(faults[0], 0, 1, false, true);	// duplicate
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0], &rd);
	EXPECT_EQ(got[1], nullptr);
	EXPECT_FALSE(wr.done) << "a read answer satisfied the write";
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_dropped, 1u);
	answer_fault(faults[1], 0, 1, true, true);
	got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &wr);
	EXPECT_TRUE(wr.done);
	xp_rpc_end(&table, &rd);
	xp_rpc_end(&table, &wr);
}

// A FAULT answered in several messages: each continues where the last
// ended; a duplicate or a reordered one does not continue it.
TEST_F(Rpc, MultiMessageFaultReplyContinuesInOrderOnly)
{
	xp_req rq;
	xp_msg mf = fault_msg(false, 16);

	ASSERT_EQ(xp_rpc_begin(&table, &rq, ch(0, 1), &mf, XP_MSG_FAULT, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mf, now), 0);
	node(1).poll(now);
	auto f = take(1, XP_MSG_FAULT);
	ASSERT_EQ(f.size(), 1u);
	answer_fault(f[0], 8 << 12, 8, false, true);	// second half first
	answer_fault(f[0], 0, 8, false, false);
	answer_fault(f[0], 0, 8, false, false);		// duplicate of the first
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 3u);
	EXPECT_EQ(got[0], nullptr);
	EXPECT_EQ(got[1], &rq);
	EXPECT_EQ(got[2], nullptr);
	EXPECT_FALSE(rq.done);
	EXPECT_EQ(rq.offset, 8u << 12);
	answer_fault(f[0], 8 << 12, 8, false, true);
	got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &rq);
	EXPECT_TRUE(rq.done);
	EXPECT_EQ(rq.status, 0);
	xp_rpc_end(&table, &rq);
}

// The requester gave up (deadline): the late answer is an orphan; a
// successful GET_REPLY goes back as RELEASE, others are dropped.
TEST_F(Rpc, RepliesAfterTheDeadlineAreOrphans)
{
	xp_req g, f;
	xp_msg mg = get_msg(), mf = fault_msg(true);

	ASSERT_EQ(xp_rpc_begin(&table, &g, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&g, ch(0, 1), &mg, now), 0);
	ASSERT_EQ(xp_rpc_begin(&table, &f, ch(0, 1), &mf, XP_MSG_FAULT, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&f, ch(0, 1), &mf, now), 0);
	// The schedule: re-post every 10 ms, give up at 40.
	EXPECT_EQ(xp_rpc_next_event(&g), now + 10 * kMs);
	EXPECT_FALSE(xp_rpc_due(&g, now + 9 * kMs));
	EXPECT_TRUE(xp_rpc_due(&g, now + 10 * kMs));
	now += 41 * kMs;
	EXPECT_GE(now, g.deadline_ns);
	xp_rpc_end(&table, &g);
	xp_rpc_end(&table, &f);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	auto faults = take(1, XP_MSG_FAULT);
	ASSERT_EQ(gets.size(), 1u);
	ASSERT_EQ(faults.size(), 1u);
	answer_get(gets[0], 0, 0xB1);
	answer_fault(faults[0], 0, 1, true, true);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0], nullptr);
	EXPECT_EQ(got[1], nullptr);
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_released, 1u);
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_dropped, 1u);
	node(1).poll(now);
	auto rel = take(1, XP_MSG_RELEASE);
	ASSERT_EQ(rel.size(), 1u);
	EXPECT_EQ(rel[0].u.release.token, 0xB1u);
}

// A corrupted GET (dropped by the owner's check) is re-posted with the
// same rid and answered once.
TEST_F(Rpc, ACorruptedRequestIsRepostedWithItsRid)
{
	xp_req rq;
	xp_msg mg = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &rq, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ch(0, 1)->corrupt_next = 1;
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mg, now), 0);
	node(1).poll(now);
	EXPECT_TRUE(take(1, XP_MSG_GET).empty());
	EXPECT_EQ(node(1).rejected(XP_REJ_CSUM), 1u);
	now += 10 * kMs;
	ASSERT_TRUE(xp_rpc_due(&rq, now));
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mg, now), 0);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 1u);
	EXPECT_EQ(gets[0].u.get.rid, rq.rid);
	answer_get(gets[0], 0, 0xC1);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &rq);
	EXPECT_EQ(rq.posts, 2u);
	xp_rpc_end(&table, &rq);
}

// The owner restarts between request and reply: its old incarnation's
// answer is refused at the check, its new incarnation's answer to a
// request it never got does not match, and fencing fails the request.
TEST_F(Rpc, APeerRestartingBetweenRequestAndReply)
{
	xp_req rq;
	xp_msg mg = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &rq, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 400 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mg, now), 0);
	u32 old_epoch = m(1).epoch;
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 1u);
	// Node 1 restarts: a new epoch, seen by node 0 (which fences the old).
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	for (int i = 0; i < 50 && !all_up(); i++)
		step();
	ASSERT_TRUE(all_up());
	ASSERT_NE(m(1).epoch, old_epoch);
	EXPECT_EQ(m(0).peers[1].epoch, m(1).epoch);
	// The new incarnation answers a GET it never received (a forged or
	// replayed rid): posted to the old one, so no match; handed back.
	xp_msg forged = gets[0];
	answer_get(forged, 0, 0xD1);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], nullptr);
	EXPECT_FALSE(rq.done);
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_released, 1u);
	// A reply sealed by the old incarnation is stale: rejected unseen.
	xp_msg old;
	memset(&old, 0, sizeof(old));
	old.u.get_reply.segid = kSegid;
	old.u.get_reply.token = 0xD2;
	old.u.get_reply.size = 4096;
	old.u.get_reply.rid = rq.rid;
	xp_msg_seal(&old, XP_MSG_GET_REPLY, 1, 0, old_epoch, m(0).epoch, xp_rid(old_epoch, 9));
	ASSERT_EQ(xp_ring_push(&ch(1, 0)->tx, &old), 0);
	u64 stale = node(0).rejected(XP_REJ_SRC_EPOCH);
	got = deliver_replies();
	EXPECT_TRUE(got.empty());
	EXPECT_EQ(node(0).rejected(XP_REJ_SRC_EPOCH), stale + 1);
	// Its user fails what waited on the old incarnation (fence callback).
	EXPECT_EQ(xp_rpc_fail(&table, 1, -ECONNRESET), 1u);
	EXPECT_TRUE(rq.done);
	EXPECT_EQ(rq.status, -ECONNRESET);
	xp_rpc_end(&table, &rq);
}

// A re-post after the peer restarted goes to the new incarnation, whose
// answer then matches.
TEST_F(Rpc, ARepostMovesTheRequestToTheNewIncarnation)
{
	xp_req rq;
	xp_msg mg = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &rq, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 400 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mg, now), 0);
	node(1).poll(now);
	take(1, XP_MSG_GET);	// lost with the old incarnation
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	for (int i = 0; i < 50 && !all_up(); i++)
		step();
	ASSERT_TRUE(all_up());
	take(1, XP_MSG_GET);
	ASSERT_EQ(xp_rpc_post(&rq, ch(0, 1), &mg, now), 0);
	EXPECT_EQ(rq.peer_epoch, m(1).epoch);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 1u);
	answer_get(gets[0], 0, 0xE1);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &rq);
	xp_rpc_end(&table, &rq);
}

TEST_F(Rpc, PingIsMatchedByItsPong)
{
	xp_req p1, p2;
	xp_msg a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ASSERT_EQ(xp_rpc_begin(&table, &p1, ch(0, 1), &a, XP_MSG_PING, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_begin(&table, &p2, ch(0, 2), &b, XP_MSG_PING, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&p1, ch(0, 1), &a, now), 0);
	ASSERT_EQ(xp_rpc_post(&p2, ch(0, 2), &b, now), 0);
	// Only node 2 answers.
	node(2).poll(now);
	for (auto &msg : take(2, XP_MSG_PING))
		ASSERT_EQ(xp_chan_pong(ch(2, 0), &msg, now), 0);
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &p2);
	EXPECT_FALSE(p1.done);
	EXPECT_TRUE(p2.done);
	EXPECT_EQ(xp_rpc_begin(&table, &p1, ch(0, 1), &a, XP_MSG_RELEASE, 1, 1), -EINVAL);
	xp_rpc_end(&table, &p2);
	xp_rpc_end(&table, &p1);
	EXPECT_EQ(table.head, nullptr);
}

/* ---- RELEASE: re-posted until acknowledged ------------------------------ */

// The model's finding (tests/model/rpc.pml, no_export_leaked): an orphan's
// RELEASE that is lost (corrupted here) must not leave the owner's export
// behind until our next epoch: it is re-posted, same rid, until the
// owner's RELEASE_ACK.
TEST_F(Rpc, ALostReleaseIsRepostedUntilAcknowledged)
{
	ch(0, 1)->rpc.rel_resend_ns = 10 * kMs;
	orphan_token(0xF1);
	ASSERT_EQ(exports.size(), 1u);
	ch(0, 1)->corrupt_next = 1;	// the hand-back RELEASE is lost
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], nullptr);
	EXPECT_EQ(ch(0, 1)->rpc.stats.orphans_released, 1u);
	owner_serve_releases();
	EXPECT_EQ(node(1).rejected(XP_REJ_CSUM), 1u);
	EXPECT_EQ(exports.size(), 1u);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 1u);
	// Within one re-post period the owner has dropped the export, and the
	// ack has emptied our table.
	run_releases(11);
	EXPECT_EQ(exports.size(), 0u) << "the owner still holds the orphan's export";
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_acked, 1u);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_reposts, 1u);
	// Nothing more is sent once acknowledged.
	run_releases(50);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_reposts, 1u);
	EXPECT_EQ(ch(1, 0)->rpc.stats.rel_acks_sent, 1u);
}

// A proxy's RELEASE whose ack is lost: re-posted, the duplicate RELEASE is
// harmless to the owner and acknowledged again.
TEST_F(Rpc, ALostAckIsAnsweredByTheRepost)
{
	ch(0, 1)->rpc.rel_resend_ns = 10 * kMs;
	exports[0xF2] = 0;
	ASSERT_EQ(xp_rpc_release(ch(0, 1), 0xF2, m(1).epoch, now), 0);
	ch(1, 0)->corrupt_next = 1;	// the ack is lost
	owner_serve_releases();
	EXPECT_EQ(exports.size(), 0u);
	EXPECT_EQ(take_acks(), 0);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 1u);
	run_releases(11);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
	EXPECT_EQ(ch(1, 0)->rpc.stats.rel_acks_sent, 2u);
}

// An ack that does not echo the RELEASE (another rid, another token, from
// another incarnation) completes nothing.
TEST_F(Rpc, OnlyTheMatchingAckCompletesARelease)
{
	ASSERT_EQ(xp_rpc_release(ch(0, 1), 0xF3, m(1).epoch, now), 0);
	node(1).poll(now);
	auto rel = take(1, XP_MSG_RELEASE);
	ASSERT_EQ(rel.size(), 1u);
	EXPECT_EQ(xp_rid_epoch(rel[0].u.release.rid), m(0).epoch);
	xp_msg bad = rel[0];
	bad.u.release.rid += 1;
	ASSERT_EQ(xp_rpc_release_rx(ch(1, 0), &bad, now), 0);
	bad = rel[0];
	bad.u.release.token = 0xF4;
	ASSERT_EQ(xp_rpc_release_rx(ch(1, 0), &bad, now), 0);
	EXPECT_EQ(take_acks(), 0);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 1u);
	ASSERT_EQ(xp_rpc_release_rx(ch(1, 0), &rel[0], now), 0);
	EXPECT_EQ(take_acks(), 1);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
}

// A GET re-posted is served twice; the first answer is taken, the second
// is lost.  Nobody would hand the second export back: the settle names
// the GET and keeps the token taken.
TEST_F(Rpc, ARepostedGetWhoseSecondAnswerIsLostLeavesNoExport)
{
	xp_req g;
	xp_msg mg = get_msg();

	ch(0, 1)->rpc.rel_resend_ns = 10 * kMs;
	ASSERT_EQ(xp_rpc_begin(&table, &g, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&g, ch(0, 1), &mg, now), 0);
	now += 10 * kMs;
	ASSERT_EQ(xp_rpc_post(&g, ch(0, 1), &mg, now), 0);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 2u);
	serve_get(gets[0], 0xA1);
	ch(1, 0)->corrupt_next = 1;
	serve_get(gets[1], 0xA2);	// its answer is lost
	auto got = deliver_replies();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0], &g);
	EXPECT_EQ(exports.size(), 2u);
	EXPECT_EQ(xp_rpc_get_settle(ch(0, 1), &g, 0xA1, now), 0);
	xp_rpc_end(&table, &g);
	run_releases(11);
	EXPECT_EQ(exports.size(), 1u) << "the lost answer's export is left";
	EXPECT_EQ(exports.count(0xA1), 1u) << "the token taken was released";
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
}

// A GET given up (its answer lost, or late): every export it made goes.
// One answered at its first post has nothing to settle.
TEST_F(Rpc, AGetGivenUpLeavesNoExport)
{
	xp_req g, h;
	xp_msg mg = get_msg(), mh = get_msg();

	ASSERT_EQ(xp_rpc_begin(&table, &g, ch(0, 1), &mg, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&g, ch(0, 1), &mg, now), 0);
	node(1).poll(now);
	auto gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 1u);
	ch(1, 0)->corrupt_next = 1;
	serve_get(gets[0], 0xB1);	// lost
	EXPECT_TRUE(deliver_replies().empty());
	now += 41 * kMs;		// the requester gives up
	EXPECT_FALSE(g.done);
	EXPECT_EQ(xp_rpc_get_settle(ch(0, 1), &g, 0, now), 0);
	xp_rpc_end(&table, &g);
	run_releases(1);
	EXPECT_TRUE(exports.empty());

	ASSERT_EQ(xp_rpc_begin(&table, &h, ch(0, 1), &mh, XP_MSG_GET, 10 * kMs, now + 40 * kMs), 0);
	ASSERT_EQ(xp_rpc_post(&h, ch(0, 1), &mh, now), 0);
	node(1).poll(now);
	gets = take(1, XP_MSG_GET);
	ASSERT_EQ(gets.size(), 1u);
	serve_get(gets[0], 0xB2);
	ASSERT_EQ(deliver_replies().size(), 1u);
	u64 posted = ch(0, 1)->rpc.stats.rel_posted;
	EXPECT_EQ(xp_rpc_get_settle(ch(0, 1), &h, 0xB2, now), 0);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_posted, posted);
	xp_rpc_end(&table, &h);
	EXPECT_EQ(exports.size(), 1u);
}

// The owner restarts before acknowledging: its exports went with its old
// incarnation; the RELEASE is dropped from the table, not re-posted for
// ever to the new one.
TEST_F(Rpc, AReleaseOfARestartedOwnerIsMoot)
{
	ch(0, 1)->rpc.rel_resend_ns = 10 * kMs;
	ASSERT_EQ(xp_rpc_release(ch(0, 1), 0xF5, m(1).epoch, now), 0);
	node(1).poll(now);
	take(1, XP_MSG_RELEASE);	// lost with the old incarnation
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	for (int i = 0; i < 50 && !all_up(); i++)
		step();
	ASSERT_TRUE(all_up());
	take(1, XP_MSG_RELEASE);
	xp_rpc_tick(ch(0, 1), now + 20 * kMs);
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_moot, 1u);
	node(1).poll(now + 20 * kMs);
	EXPECT_TRUE(take(1, XP_MSG_RELEASE).empty());
	// A release for an incarnation no longer live does nothing.
	EXPECT_EQ(xp_rpc_release(ch(0, 1), 0xF6, m(1).epoch - 1, now), -ESRCH);
}

// An owner that is alive but never acknowledges costs a bounded number of
// posts; a full table still posts (untracked), and every wait is nobody's.
TEST_F(Rpc, AReleaseNeverAcknowledgedIsBounded)
{
	ch(0, 1)->rpc.rel_resend_ns = 1 * kMs;
	for (u32 i = 0; i < XP_REL_SLOTS; i++)
		ASSERT_EQ(xp_rpc_release(ch(0, 1), 0x100 + i, m(1).epoch, now), 0);
	EXPECT_EQ(xp_rpc_release(ch(0, 1), 0x200, m(1).epoch, now), -ENOSPC);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_untracked, 1u);
	u64 posts = 0;
	for (u32 t = 0; t < 2 * XP_REL_MAX_POSTS; t++) {
		now += kMs;
		xp_rpc_tick(ch(0, 1), now);
		node(1).poll(now);
		posts += take(1, XP_MSG_RELEASE).size();	// never acknowledged
	}
	EXPECT_EQ(xp_rpc_releases_pending(ch(0, 1)), 0u);
	EXPECT_EQ(ch(0, 1)->rpc.stats.rel_abandoned, XP_REL_SLOTS);
	EXPECT_LE(posts, (u64)XP_REL_SLOTS * XP_REL_MAX_POSTS + 1);
}

/* ---- INVALIDATE: numbering, gaps, completion -------------------------- */

// Defect 2: INVALIDATE 1 is corrupted and dropped, INVALIDATE 2 to the same
// peer is handled: 1 must not count as done (its pages are still mapped).
TEST_F(Rpc, ADroppedInvalidateIsNotAcknowledgedByALaterOne)
{
	xp_msg i1 = inval_msg(), i2 = inval_msg();

	EXPECT_EQ(xp_rid_n(i1.u.inval.rid), 1u);
	EXPECT_EQ(xp_rid_n(i2.u.inval.rid), 2u);
	ch(0, 1)->corrupt_next = 1;
	ASSERT_EQ(xp_chan_send(ch(0, 1), &i1, XP_MSG_INVALIDATE, now), 0);
	ASSERT_EQ(xp_chan_send(ch(0, 1), &i2, XP_MSG_INVALIDATE, now), 0);
	auto v = receive_invalidations();
	ASSERT_EQ(v.size(), 1u);
	EXPECT_EQ(v[0], XP_INV_NEW);
	handle_invalidations();
	EXPECT_EQ(node(1).rejected(XP_REJ_CSUM), 1u);
	EXPECT_EQ(done(i1), 0) << "a lost INVALIDATE was acknowledged";
	EXPECT_EQ(done(i2), 0);
	// The sender re-posts 1 (same rid): the hole fills, both are done.
	ASSERT_EQ(xp_chan_send(ch(0, 1), &i1, XP_MSG_INVALIDATE, now), 0);
	v = receive_invalidations();
	ASSERT_EQ(v.size(), 1u);
	EXPECT_EQ(v[0], XP_INV_NEW);
	handle_invalidations();
	EXPECT_EQ(done(i1), 1);
	EXPECT_EQ(done(i2), 1);
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 2u);
}

TEST_F(Rpc, DuplicatedAndReorderedInvalidates)
{
	xp_msg i[4];

	for (auto &x : i)
		x = inval_msg();
	// Sealed once, pushed in the order 2, 1, 2, 4, 1.
	for (auto &x : i)
		ASSERT_EQ(xp_msg_seal(&x, XP_MSG_INVALIDATE, 0, 1, m(0).epoch, m(1).epoch,
				      xp_member_next_seq(&m(0))), 0);
	for (int k : {1, 0, 1, 3, 0})
		ASSERT_EQ(xp_ring_push(&ch(0, 1)->tx, &i[k]), 0);
	auto v = receive_invalidations();
	EXPECT_EQ(v, (std::vector<int>{XP_INV_NEW, XP_INV_NEW, XP_INV_BUSY, XP_INV_NEW,
				       XP_INV_BUSY}));
	// Handled in any order: done moves only over contiguous numbers.
	std::reverse(inval_queue.begin(), inval_queue.end());
	handle_invalidations();
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 2u);
	EXPECT_EQ(done(i[0]), 1);
	EXPECT_EQ(done(i[1]), 1);
	EXPECT_EQ(done(i[3]), 0);
	// A duplicate of a handled one re-publishes the word (lost doorbell).
	xp_region_comp(&reg->r, 1, 0)->seq = 0;
	EXPECT_EQ(done(i[0]), 0);
	ASSERT_EQ(xp_ring_push(&ch(0, 1)->tx, &i[0]), 0);
	v = receive_invalidations();
	EXPECT_EQ(v, (std::vector<int>{XP_INV_DUP}));
	EXPECT_EQ(done(i[1]), 1);
	// 3 arrives: 4 (handled already) completes with it.
	ASSERT_EQ(xp_ring_push(&ch(0, 1)->tx, &i[2]), 0);
	receive_invalidations();
	handle_invalidations();
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 4u);
	EXPECT_EQ(done(i[3]), 1);
}

TEST_F(Rpc, InvalidatesBeyondTheWindowAreDroppedUntilTheHoleFills)
{
	std::vector<xp_msg> i;

	for (u32 k = 0; k < XP_INV_WINDOW + 2; k++)
		i.push_back(inval_msg());
	// 1 is lost; 2..W+1 arrive (W+1 is beyond done + W).
	int beyond = 0;
	for (u32 k = 1; k < XP_INV_WINDOW + 1; k++) {
		ASSERT_EQ(xp_chan_send(ch(0, 1), &i[k], XP_MSG_INVALIDATE, now), 0);
		for (int v : receive_invalidations())
			beyond += v == XP_INV_BEYOND;
		handle_invalidations();
	}
	EXPECT_EQ(beyond, 1);
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 0u);
	EXPECT_EQ(done(i[XP_INV_WINDOW - 1]), 0);
	// The re-post of 1 fills the hole; W+1 is accepted when re-posted.
	ASSERT_EQ(xp_chan_send(ch(0, 1), &i[0], XP_MSG_INVALIDATE, now), 0);
	receive_invalidations();
	handle_invalidations();
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, XP_INV_WINDOW);
	ASSERT_EQ(xp_chan_send(ch(0, 1), &i[XP_INV_WINDOW], XP_MSG_INVALIDATE, now), 0);
	auto v = receive_invalidations();
	EXPECT_EQ(v, (std::vector<int>{XP_INV_NEW}));
	handle_invalidations();
	EXPECT_EQ(done(i[XP_INV_WINDOW]), 1);
	EXPECT_EQ(done(i[XP_INV_WINDOW + 1]), 0);
}

// A peer restarting restarts the numbering on both sides; nothing numbered
// for its old incarnation completes through the new one.
TEST_F(Rpc, NumberingRestartsWithANewIncarnation)
{
	xp_msg a1 = inval_msg(), a2 = inval_msg();
	u32 old_epoch = m(1).epoch;

	ASSERT_EQ(xp_chan_send(ch(0, 1), &a1, XP_MSG_INVALIDATE, now), 0);
	receive_invalidations();
	handle_invalidations();
	EXPECT_EQ(done(a1), 1);
	// a2 is in flight when node 1 restarts.
	ASSERT_EQ(xp_chan_send(ch(0, 1), &a2, XP_MSG_INVALIDATE, now), 0);
	ASSERT_EQ(xp_member_join(&m(1), now), 0);
	for (int i = 0; i < 50 && !all_up(); i++)
		step();
	ASSERT_TRUE(all_up());
	take(1, XP_MSG_INVALIDATE);	// a2 reached the old incarnation or was dropped
	EXPECT_EQ(xp_rpc_inval_done(ch(0, 1), a1.u.inval.rid, old_epoch), 0);
	EXPECT_EQ(xp_rpc_inval_rid(ch(0, 1), old_epoch), 0u);
	xp_msg b1 = inval_msg();
	EXPECT_EQ(xp_rid_n(b1.u.inval.rid), 1u);
	// The new incarnation's word says nothing yet about b1.
	EXPECT_EQ(done(b1), 0);
	ASSERT_EQ(xp_chan_send(ch(0, 1), &b1, XP_MSG_INVALIDATE, now), 0);
	auto v = receive_invalidations();
	EXPECT_EQ(v, (std::vector<int>{XP_INV_NEW}));
	handle_invalidations();
	EXPECT_EQ(done(b1), 1);
	// A late "handled" of the old incarnation's message does not count.
	xp_msg stale = a2;
	stale.h.src_epoch = m(0).epoch;
	xp_rpc_inval_handled(ch(1, 0), &stale);
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 1u);
}

// Our own restart (self-fence: channels re-initialised) restarts the
// receiver's tracker and our numbering.
TEST_F(Rpc, OurRestartRestartsOurNumberingAndTracker)
{
	xp_msg a1 = inval_msg();

	ASSERT_EQ(xp_chan_send(ch(0, 1), &a1, XP_MSG_INVALIDATE, now), 0);
	receive_invalidations();
	handle_invalidations();
	EXPECT_EQ(ch(1, 0)->rpc.rx_done, 1u);
	EXPECT_EQ(xp_rpc_inval_current(ch(0, 1), a1.u.inval.rid, m(1).epoch), 1);
	ASSERT_EQ(xp_member_join(&m(0), now), 0);
	node(0).init_chans();
	// A re-post of a1 would carry a rid of our old epoch: it needs a new one.
	EXPECT_EQ(xp_rpc_inval_current(ch(0, 1), a1.u.inval.rid, m(1).epoch), 0);
	for (int i = 0; i < 50 && !all_up(); i++)
		step();
	ASSERT_TRUE(all_up());
	xp_msg b1 = inval_msg();
	EXPECT_EQ(xp_rid_n(b1.u.inval.rid), 1u);
	EXPECT_EQ(done(b1), 0);
	ASSERT_EQ(xp_chan_send(ch(0, 1), &b1, XP_MSG_INVALIDATE, now), 0);
	auto v = receive_invalidations();
	EXPECT_EQ(v, (std::vector<int>{XP_INV_NEW}));
	handle_invalidations();
	EXPECT_EQ(done(b1), 1);
}

}  // namespace
