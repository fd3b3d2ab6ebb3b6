// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sim.h - partitions simulated inside one test: a control region in
 * ordinary memory (or a MAP_SHARED mapping), one member and one channel per
 * peer for each node, and the callbacks recorded so tests can check what
 * the state machine asked for.  Time is whatever the test passes in.
 */
#ifndef XP_TEST_SIM_H
#define XP_TEST_SIM_H

#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include "chan.h"
#include "member.h"
#include "region.h"
}

namespace xpsim {

constexpr u64 kMs = 1000000ull;

struct FenceEvent {
	u32 peer;
	u32 epoch;
	u32 reason;
};

struct Node {
	u32 self = 0;
	xp_member m;
	xp_chan ch[XP_MAX_PARTS];
	const xp_region *r = nullptr;
	std::vector<FenceEvent> fences;
	std::vector<FenceEvent> joins;	// joined(peer, epoch); reason unused
	std::vector<u32> self_fences;	// reasons
	std::vector<xp_msg> other;	// messages handed to the handler
	bool drop_sends = false;	// fault injection: lose what we send

	static int send(void *ctx, u32 peer, xp_msg *msg)
	{
		Node *n = static_cast<Node *>(ctx);

		if (n->drop_sends)
			return 0;
		return xp_ring_push(&n->ch[peer].tx, msg);
	}
	static void fence(void *ctx, u32 peer, u32 epoch, u32 reason)
	{
		static_cast<Node *>(ctx)->fences.push_back({peer, epoch, reason});
	}
	static void joined(void *ctx, u32 peer, u32 epoch)
	{
		static_cast<Node *>(ctx)->joins.push_back({peer, epoch, 0});
	}
	static void self_fence(void *ctx, u32, u32 reason)
	{
		Node *n = static_cast<Node *>(ctx);

		n->self_fences.push_back(reason);
		n->init_chans();
	}
	static void handler(void *ctx, xp_chan *, const xp_msg *msg)
	{
		static_cast<Node *>(ctx)->other.push_back(*msg);
	}
	static const xp_member_ops *ops()
	{
		static const xp_member_ops o = { send, fence, self_fence, joined, nullptr };
		return &o;
	}

	void init_chans()
	{
		for (u32 p = 0; p < r->l.max_parts; p++)
			if (p != self)
				xp_chan_init(&ch[p], &m, p, nullptr);
	}
	int setup(const xp_region *reg, u32 id, u64 hb_ns, u64 dead_ns)
	{
		xp_member_cfg cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.self = id;
		cfg.hb_ns = hb_ns;
		cfg.dead_ns = dead_ns;
		cfg.window_pfn = 0x100000ull * (id + 1);
		cfg.window_pages = 0x1000;
		memset(cfg.window_tag, 'a' + id, sizeof(cfg.window_tag));
		r = reg;
		self = id;
		int err = xp_member_init(&m, reg, &cfg, ops(), this);
		if (err)
			return err;
		init_chans();
		return 0;
	}
	int poll(u64 now)
	{
		int total = 0;

		for (u32 p = 0; p < r->l.max_parts; p++)
			if (p != self) {
				int n = xp_chan_poll(&ch[p], now, 64, handler, this);
				if (n > 0)
					total += n;
			}
		return total;
	}
	u64 rejected(u32 reason) const
	{
		u64 n = 0;

		for (u32 p = 0; p < r->l.max_parts; p++)
			if (p != self)
				n += ch[p].stats.rejected[reason];
		return n;
	}
};

/* A region in heap memory, page aligned. */
struct Region {
	void *mem = nullptr;
	xp_region r;
	xp_layout l;

	explicit Region(u32 parts, u32 slots = 64)
	{
		if (xp_layout_compute(&l, parts, slots))
			abort();
		if (posix_memalign(&mem, 4096, l.size))
			abort();
		if (xp_region_format(mem, l.size, &l) ||
		    xp_region_attach(&r, mem, l.size) != XP_ATTACH_OK)
			abort();
	}
	~Region() { free(mem); }
	Region(const Region &) = delete;
	Region &operator=(const Region &) = delete;
	xp_part *part(u32 id) { return xp_region_part(&r, id); }
};

}  // namespace xpsim

#endif
