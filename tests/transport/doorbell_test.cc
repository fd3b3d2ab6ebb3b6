// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * doorbell_test.cc - the host doorbells (transport/host): a ring that
 * lands before the wait is not lost, a wait without a ring ends at its
 * deadline, and a ring from another thread wakes a sleeper.
 */
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <thread>

extern "C" {
#include "host/doorbell_host.h"
}

namespace {

constexpr u64 kMs = 1000000ull;

struct Bells {
	xp_efd_doorbell efd[2];
	xp_futex_doorbell fx[2];
	u32 *words;
	xp_doorbell db[2][2];	// [kind][partition]

	Bells()
	{
		xp_efd_doorbell shared;

		words = static_cast<u32 *>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
						MAP_SHARED | MAP_ANONYMOUS, -1, 0));
		EXPECT_NE(words, MAP_FAILED);
		EXPECT_EQ(xp_efd_doorbell_create(&shared, 2), 0);
		for (u32 i = 0; i < 2; i++) {
			efd[i] = shared;
			efd[i].self = i;
			fx[i] = { i, 2, words, 0 };
			db[0][i] = { &xp_efd_doorbell_ops, &efd[i] };
			db[1][i] = { &xp_futex_doorbell_ops, &fx[i] };
		}
	}
	~Bells()
	{
		xp_efd_doorbell_close(&efd[0]);
		munmap(words, 4096);
	}
};

class Doorbell : public ::testing::TestWithParam<int> {};

TEST_P(Doorbell, RingBeforeWaitIsNotLost)
{
	Bells b;
	xp_doorbell *d0 = &b.db[GetParam()][0], *d1 = &b.db[GetParam()][1];

	ASSERT_EQ(xp_doorbell_ring(d0, 1, XP_VEC_MSG), 0);
	u64 t0 = xp_clock_ns();
	EXPECT_EQ(d1->ops->wait(d1->ctx, t0 + 1000 * kMs), 0);
	EXPECT_LT(xp_clock_ns() - t0, 1000 * kMs);
	// Consumed: the next wait times out.
	EXPECT_EQ(d1->ops->wait(d1->ctx, xp_clock_ns() + 20 * kMs), -ETIMEDOUT);
}

TEST_P(Doorbell, WaitEndsAtItsDeadline)
{
	Bells b;
	xp_doorbell *d1 = &b.db[GetParam()][1];
	u64 t0 = xp_clock_ns();

	EXPECT_EQ(d1->ops->wait(d1->ctx, t0 + 30 * kMs), -ETIMEDOUT);
	EXPECT_GE(xp_clock_ns() - t0, 30 * kMs);
}

TEST_P(Doorbell, RingFromAnotherThreadWakesTheSleeper)
{
	Bells b;
	xp_doorbell *d0 = &b.db[GetParam()][0], *d1 = &b.db[GetParam()][1];
	std::thread t([&] {
		usleep(20000);
		xp_doorbell_ring(d0, 1, XP_VEC_MSG);
	});
	EXPECT_EQ(d1->ops->wait(d1->ctx, xp_clock_ns() + 5000 * kMs), 0);
	t.join();
	// Partition 0 was not rung.
	EXPECT_EQ(d0->ops->wait(d0->ctx, xp_clock_ns() + 10 * kMs), -ETIMEDOUT);
}

TEST_P(Doorbell, UnknownPeerIsRefused)
{
	Bells b;

	EXPECT_EQ(xp_doorbell_ring(&b.db[GetParam()][0], 7, XP_VEC_MSG), -EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Kinds, Doorbell, ::testing::Values(0, 1),
			 [](const ::testing::TestParamInfo<int> &i) {
				 return std::string(i.param ? "futex" : "eventfd");
			 });

}  // namespace
