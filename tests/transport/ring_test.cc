// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ring_test.cc - the SPSC ring: order, full/empty, wraparound of the slot
 * array and of the 32-bit indexes, two threads hammering with sequence
 * checks, and a peer writing impossible indexes.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "sim.h"

extern "C" {
#include "ring.h"
}

namespace {

xp_msg ping(u64 n)
{
	xp_msg m;

	memset(&m, 0, sizeof(m));
	m.u.ping.rid = n;
	xp_msg_seal(&m, XP_MSG_PING, 0, 1, 1, 1, 1ull << 32 | (n & 0xffffffff));
	return m;
}

class Ring : public ::testing::Test {
protected:
	xpsim::Region reg{2, 8};
	xp_ring_prod p;
	xp_ring_cons c;
	void SetUp() override
	{
		xp_ring_prod_init(&p, &reg.r, 0, 1);
		xp_ring_cons_init(&c, &reg.r, 0, 1);
	}
	xp_ring_ctrl *ctrl() { return xp_region_ring(&reg.r, 0, 1); }
};

TEST_F(Ring, EmptyPopsNothing)
{
	xp_msg m;

	EXPECT_EQ(xp_ring_pop(&c, &m), 0);
	EXPECT_EQ(xp_ring_pending(&c), 0);
}

TEST_F(Ring, FifoUntilFullThenEAGAIN)
{
	xp_msg in, out;

	for (u64 i = 0; i < 8; i++) {
		in = ping(i);
		ASSERT_EQ(xp_ring_push(&p, &in), 0) << i;
	}
	in = ping(8);
	EXPECT_EQ(xp_ring_push(&p, &in), -EAGAIN);
	EXPECT_EQ(xp_ring_pending(&c), 8);
	for (u64 i = 0; i < 8; i++) {
		ASSERT_EQ(xp_ring_pop(&c, &out), 1);
		EXPECT_EQ(out.u.ping.rid, i);
		xp_msg want = ping(i);
		EXPECT_EQ(memcmp(&out, &want, XP_MSG_HDR_SIZE + want.h.len), 0);
	}
	EXPECT_EQ(xp_ring_pop(&c, &out), 0);
	// Room again once consumed.
	in = ping(9);
	EXPECT_EQ(xp_ring_push(&p, &in), 0);
}

TEST_F(Ring, WrapsAroundTheSlotsManyTimes)
{
	xp_msg in, out;
	u64 next_out = 0;

	for (u64 i = 0; i < 1000; i++) {
		in = ping(i);
		ASSERT_EQ(xp_ring_push(&p, &in), 0);
		if (i % 3 == 2) {	// uneven fill levels across the wrap
			while (xp_ring_pop(&c, &out) == 1)
				ASSERT_EQ(out.u.ping.rid, next_out++);
		}
	}
	while (xp_ring_pop(&c, &out) == 1)
		ASSERT_EQ(out.u.ping.rid, next_out++);
	EXPECT_EQ(next_out, 1000u);
}

TEST_F(Ring, IndexesWrapAt32Bits)
{
	xp_msg in, out;

	ctrl()->head = ctrl()->tail = 0xfffffffcu;
	SetUp();
	EXPECT_EQ(p.head, 0xfffffffcu);
	for (u64 i = 0; i < 40; i++) {
		in = ping(i);
		ASSERT_EQ(xp_ring_push(&p, &in), 0);
		ASSERT_EQ(xp_ring_pop(&c, &out), 1);
		ASSERT_EQ(out.u.ping.rid, i);
	}
	EXPECT_LT(ctrl()->head, 100u);
}

TEST_F(Ring, BatchedReserveAndPublish)
{
	u32 pending = 0;
	int err;
	xp_msg out;

	for (u64 i = 0; i < 8; i++) {
		xp_msg *slot = xp_ring_reserve(&p, &pending, &err);

		ASSERT_NE(slot, nullptr);
		*slot = ping(i);
	}
	EXPECT_EQ(xp_ring_reserve(&p, &pending, &err), nullptr);
	EXPECT_EQ(err, -EAGAIN);
	EXPECT_EQ(xp_ring_pop(&c, &out), 0);	// nothing visible yet
	xp_ring_publish(&p, pending);
	for (u64 i = 0; i < 8; i++) {
		ASSERT_EQ(xp_ring_pop(&c, &out), 1);
		EXPECT_EQ(out.u.ping.rid, i);
	}
}

TEST_F(Ring, ConsumerRejectsImpossibleHead)
{
	xp_msg out;

	ctrl()->head = 9;	// 9 > 8 slots ahead of tail 0
	EXPECT_EQ(xp_ring_pop(&c, &out), -EPROTO);
	ctrl()->head = 0xffffffffu;	// "behind" the tail
	EXPECT_EQ(xp_ring_pending(&c), -EPROTO);
	ctrl()->head = 8;	// exactly full is fine
	EXPECT_EQ(xp_ring_pending(&c), 8);
}

TEST_F(Ring, ProducerRejectsImpossibleTail)
{
	xp_msg in = ping(1);

	for (int i = 0; i < 8; i++)
		ASSERT_EQ(xp_ring_push(&p, &in), 0);
	ctrl()->tail = 100;	// ahead of head 8
	EXPECT_EQ(xp_ring_push(&p, &in), -EPROTO);
}

TEST_F(Ring, OversizedLengthIsClampedOnCopy)
{
	xp_msg in = ping(1), out;

	ASSERT_EQ(xp_ring_push(&p, &in), 0);
	// The peer rewrites the length in the slot after publishing.
	xp_msg *slot = reinterpret_cast<xp_msg *>(
		reinterpret_cast<u8 *>(ctrl()) + XP_RING_CTRL_SIZE);
	slot->h.len = 0xffff;
	ASSERT_EQ(xp_ring_pop(&c, &out), 1);
	xp_msg_expect e = {0, 1, 1, 1, 2};
	EXPECT_EQ(xp_msg_check(&out, &e, nullptr), XP_REJ_LEN);
}

TEST_F(Ring, InitResetsGarbageAndConsumerSkipsStaleMessages)
{
	xp_msg in = ping(1), out;

	ASSERT_EQ(xp_ring_push(&p, &in), 0);
	ASSERT_EQ(xp_ring_push(&p, &in), 0);
	// A restarted consumer drops what an old incarnation left.
	xp_ring_cons_init(&c, &reg.r, 0, 1);
	EXPECT_EQ(xp_ring_pop(&c, &out), 0);
	// A restarted producer facing impossible indexes starts empty.
	ctrl()->head = 12345;
	xp_ring_prod_init(&p, &reg.r, 0, 1);
	EXPECT_EQ(ctrl()->head, ctrl()->tail);
	ASSERT_EQ(xp_ring_push(&p, &in), 0);
	EXPECT_EQ(xp_ring_pop(&c, &out), 1);
}

TEST(RingThreads, TwoThreadsHammerInOrder)
{
	xpsim::Region reg(2, 64);
	constexpr u64 kCount = 1000000;
	std::atomic<bool> fail{false};

	xp_ring_prod p;
	xp_ring_cons c;

	// Both attach before anything is pushed (a consumer attaching later
	// would skip what is pending, by design).
	xp_ring_cons_init(&c, &reg.r, 0, 1);
	xp_ring_prod_init(&p, &reg.r, 0, 1);
	std::thread prod([&] {
		xp_msg m = ping(0);

		for (u64 i = 0; i < kCount && !fail; ) {
			m.u.ping.rid = i;
			m.u.ping.t_ns = ~i;
			int r = xp_ring_push(&p, &m);
			if (r == 0)
				i++;
			else if (r == -EAGAIN)
				std::this_thread::yield();	// loaded CI hosts
			else
				fail = true;
		}
	});
	xp_msg m;
	u64 next = 0, errors = 0;

	while (next < kCount && !fail) {
		int r = xp_ring_pop(&c, &m);
		if (r < 0) {
			fail = true;
			break;
		}
		if (r == 0) {
			std::this_thread::yield();
			continue;
		}
		if (m.u.ping.rid != next || m.u.ping.t_ns != ~next)
			errors++;
		next++;
	}
	prod.join();
	EXPECT_FALSE(fail);
	EXPECT_EQ(errors, 0u);
	EXPECT_EQ(next, kCount);
	EXPECT_EQ(xp_ring_pop(&c, &m), 0);
}

}  // namespace
