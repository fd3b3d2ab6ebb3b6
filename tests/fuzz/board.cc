// SPDX-License-Identifier: GPL-2.0-only
//
// board.cc - posting and picking ids on the shared notice board.
#include "board.h"

namespace xf {

static constexpr auto R = std::memory_order_relaxed;

void Board::post_seg(int writer, int row, const SegInfo &si)
{
	SegEntry &e = segs[writer % kWriters][row % kRows];
	uint32_t s = e.seq.load(R);

	e.seq.store(s + 1, R);
	std::atomic_thread_fence(std::memory_order_release);
	e.segid.store(si.segid, R);
	e.start.store(si.start, R);
	e.span.store(si.span, R);
	e.key.store(si.key, R);
	e.data.store(si.data, R);
	e.data_len.store(si.data_len, R);
	e.mode.store(si.mode, R);
	e.uid.store(si.uid, R);
	e.seq.store(s + 2, std::memory_order_release);
}

void Board::clear_seg(int writer, int row)
{
	SegInfo none = {};

	post_seg(writer, row, none);
}

bool Board::pick_seg(Rng &rng, SegInfo *out)
{
	for (int tries = 0; tries < 8; tries++) {
		SegEntry &e = segs[rng.below(kWriters)][rng.below(kRows)];
		uint32_t s1 = e.seq.load(std::memory_order_acquire);
		if (s1 & 1)
			continue;
		out->segid = e.segid.load(R);
		out->start = e.start.load(R);
		out->span = e.span.load(R);
		out->key = e.key.load(R);
		out->data = e.data.load(R);
		out->data_len = e.data_len.load(R);
		out->mode = e.mode.load(R);
		out->uid = e.uid.load(R);
		std::atomic_thread_fence(std::memory_order_acquire);
		if (e.seq.load(R) != s1 || out->segid <= 0)
			continue;
		return true;
	}
	return false;
}

void Board::post_apid(int writer, int row, int64_t apid)
{
	apids[writer % kWriters][row % kRows].store(apid, R);
}

int64_t Board::pick_apid(Rng &rng)
{
	for (int tries = 0; tries < 8; tries++) {
		int64_t a = apids[rng.below(kWriters)][rng.below(kRows)].load(R);
		if (a > 0)
			return a;
	}
	return 0;
}

}  // namespace xf
