// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * region_test.cc - the layout computation and the header checks on attach:
 * every field of the header, when wrong, gives its own error.
 */
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim.h"

namespace {

TEST(Layout, RejectsOutOfRangeParameters)
{
	xp_layout l;

	EXPECT_EQ(xp_layout_compute(&l, 1, 64), -EINVAL);
	EXPECT_EQ(xp_layout_compute(&l, XP_MAX_PARTS + 1, 64), -EINVAL);
	EXPECT_EQ(xp_layout_compute(&l, 4, 1), -EINVAL);
	EXPECT_EQ(xp_layout_compute(&l, 4, 48), -EINVAL);	// not a power of 2
	EXPECT_EQ(xp_layout_compute(&l, 4, XP_MAX_SLOTS * 2), -EINVAL);
	EXPECT_EQ(xp_layout_compute(&l, 2, 2), 0);
	EXPECT_EQ(xp_layout_compute(&l, XP_MAX_PARTS, XP_MAX_SLOTS), 0);
}

TEST(Layout, AreasAreOrderedAlignedAndDisjoint)
{
	for (u32 parts : {2u, 3u, 8u, 64u}) {
		for (u32 slots : {2u, 64u, 1024u}) {
			xp_layout l;

			ASSERT_EQ(xp_layout_compute(&l, parts, slots), 0);
			EXPECT_EQ(l.part_off, XP_HDR_SIZE);
			EXPECT_GE(l.ring_off, l.part_off + parts * XP_PART_SIZE);
			EXPECT_EQ(l.ring_stride, XP_RING_CTRL_SIZE + slots * XP_SLOT_SIZE);
			EXPECT_GE(l.comp_off, l.ring_off + (u64)parts * parts * l.ring_stride);
			EXPECT_GE(l.size, l.comp_off + (u64)parts * parts * XP_COMP_SIZE);
			EXPECT_EQ(l.ring_off % 4096, 0u);
			EXPECT_EQ(l.comp_off % 4096, 0u);
			EXPECT_EQ(l.size % 4096, 0u);
		}
	}
}

TEST(Layout, AccessorsStayInsideTheRegion)
{
	xpsim::Region reg(5, 16);
	const u8 *end = static_cast<u8 *>(reg.mem) + reg.l.size;

	for (u32 a = 0; a < 5; a++) {
		EXPECT_LE((u8 *)(reg.part(a) + 1), end);
		for (u32 b = 0; b < 5; b++) {
			u8 *ring = (u8 *)xp_region_ring(&reg.r, a, b);
			EXPECT_LE(ring + reg.l.ring_stride, end);
			EXPECT_LE((u8 *)(xp_region_comp(&reg.r, a, b) + 1), end);
		}
	}
}

class Attach : public ::testing::Test {
protected:
	xp_layout l;
	std::vector<u8> buf;
	xp_region_hdr *h;
	xp_region r;

	void SetUp() override
	{
		ASSERT_EQ(xp_layout_compute(&l, 4, 32), 0);
		buf.assign(l.size, 0xee);
		ASSERT_EQ(xp_region_format(buf.data(), buf.size(), &l), 0);
		h = reinterpret_cast<xp_region_hdr *>(buf.data());
	}
	int attach() { return xp_region_attach(&r, buf.data(), buf.size()); }
};

TEST_F(Attach, FormattedRegionAttachesWithItsLayout)
{
	ASSERT_EQ(attach(), XP_ATTACH_OK);
	EXPECT_EQ(r.l.max_parts, 4u);
	EXPECT_EQ(r.l.ring_slots, 32u);
	EXPECT_EQ(r.l.part_off, l.part_off);
	EXPECT_EQ(r.l.ring_off, l.ring_off);
	EXPECT_EQ(r.l.ring_stride, l.ring_stride);
	EXPECT_EQ(r.l.comp_off, l.comp_off);
	EXPECT_EQ(r.l.size, l.size);
	EXPECT_EQ(r.base, buf.data());
	// Format zeroed the tables.
	EXPECT_EQ(xp_region_part(&r, 3)->sword, 0u);
	EXPECT_EQ(xp_region_ring(&r, 1, 2)->head, 0u);
}

TEST_F(Attach, FormatRefusesASmallBuffer)
{
	EXPECT_EQ(xp_region_format(buf.data(), l.size - 1, &l), -ENOSPC);
}

TEST_F(Attach, EachBadFieldHasItsError)
{
	struct Case {
		const char *what;
		void (*corrupt)(xp_region_hdr *);
		int want;
	} cases[] = {
		{"magic", [](xp_region_hdr *x) { x->magic ^= 1; }, XP_ATTACH_BAD_MAGIC},
		{"version", [](xp_region_hdr *x) { x->version = XP_REGION_VERSION + 1; }, XP_ATTACH_BAD_VERSION},
		// A build of the protocol before request ids: refused, not misread.
		{"version 1", [](xp_region_hdr *x) { x->version = 1; }, XP_ATTACH_BAD_VERSION},
		{"hdr_size", [](xp_region_hdr *x) { x->hdr_size = 64; }, XP_ATTACH_BAD_HDR_SIZE},
		{"max_parts", [](xp_region_hdr *x) { x->max_parts = 1000; }, XP_ATTACH_BAD_PARAMS},
		{"ring_slots", [](xp_region_hdr *x) { x->ring_slots = 3; }, XP_ATTACH_BAD_PARAMS},
		{"slot_size", [](xp_region_hdr *x) { x->slot_size = 256; }, XP_ATTACH_BAD_PARAMS},
		{"more parts", [](xp_region_hdr *x) { x->max_parts = 8; }, XP_ATTACH_BAD_OFFSETS},
		{"part_off", [](xp_region_hdr *x) { x->part_off += 64; }, XP_ATTACH_BAD_OFFSETS},
		{"ring_off", [](xp_region_hdr *x) { x->ring_off = 0; }, XP_ATTACH_BAD_OFFSETS},
		{"ring_stride", [](xp_region_hdr *x) { x->ring_stride *= 2; }, XP_ATTACH_BAD_OFFSETS},
		{"comp_off", [](xp_region_hdr *x) { x->comp_off += 4096; }, XP_ATTACH_BAD_OFFSETS},
		{"region_size", [](xp_region_hdr *x) { x->region_size += 4096; }, XP_ATTACH_BAD_OFFSETS},
		{"flags", [](xp_region_hdr *x) { x->flags = 1; }, XP_ATTACH_BAD_RESERVED},
		{"reserved", [](xp_region_hdr *x) { x->reserved[5] = 1; }, XP_ATTACH_BAD_RESERVED},
	};

	for (const Case &c : cases) {
		SetUp();
		c.corrupt(h);
		EXPECT_EQ(attach(), c.want) << c.what;
		EXPECT_STRNE(xp_attach_strerror(c.want), "unknown error");
	}
}

TEST_F(Attach, MappingSmallerThanTheLayoutIsRefused)
{
	EXPECT_EQ(xp_region_attach(&r, buf.data(), l.size - 4096), XP_ATTACH_BAD_SIZE);
	EXPECT_EQ(xp_region_attach(&r, buf.data(), 100), XP_ATTACH_TOO_SMALL);
}

TEST(Window, PublishedDescriptionIsCheckedOnRead)
{
	xpsim::Region reg(3, 16);
	xp_window w;

	reg.part(1)->window_pfn = 0x100000;
	reg.part(1)->window_pages = 0x80000;
	memset(reg.part(1)->window_tag, 0x5a, 16);
	ASSERT_EQ(xp_region_window(&reg.r, 1, &w), 0);
	EXPECT_EQ(w.pfn, 0x100000u);
	EXPECT_EQ(w.pages, 0x80000u);
	EXPECT_EQ(w.tag[15], 0x5a);
	reg.part(1)->window_pages = ~0ull;	// overflows
	EXPECT_EQ(xp_region_window(&reg.r, 1, &w), -EINVAL);
	reg.part(1)->window_pfn = 1ull << 52;
	reg.part(1)->window_pages = 1;
	EXPECT_EQ(xp_region_window(&reg.r, 1, &w), -EINVAL);
	EXPECT_EQ(xp_region_window(&reg.r, 3, &w), -EINVAL);	// no such partition
}

TEST(StateWord, PacksAndUnpacks)
{
	u64 w = xp_sword(0xdeadbeef, 200, XP_R_HEARTBEAT, XP_DEAD);

	EXPECT_EQ(xp_sword_epoch(w), 0xdeadbeefu);
	EXPECT_EQ(xp_sword_by(w), 200u);
	EXPECT_EQ(xp_sword_reason(w), (u32)XP_R_HEARTBEAT);
	EXPECT_EQ(xp_sword_state(w), (u32)XP_DEAD);
	EXPECT_STREQ(xp_state_name(XP_UP), "UP");
	EXPECT_STREQ(xp_state_name(77), "INVALID");
	EXPECT_STREQ(xp_reason_name(XP_R_HEARTBEAT), "heartbeat");
}

}  // namespace
