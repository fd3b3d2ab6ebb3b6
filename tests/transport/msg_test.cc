// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * msg_test.cc - message validation: a well-formed message of every type
 * passes; every malformed field is rejected with its own reason and the
 * reason's counter moves (and no other).
 */
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

extern "C" {
#include "msg.h"
#include "rpc.h"
}

namespace {

constexpr u32 kSrc = 1, kDst = 2, kSrcEpoch = 5, kDstEpoch = 7, kParts = 4;

xp_msg valid(u32 type)
{
	xp_msg m;

	memset(&m, 0, sizeof(m));
	// Requests carry a rid of their sender's epoch, replies one of ours.
	const u64 req_rid = (u64)kSrcEpoch << 32 | 3, reply_rid = (u64)kDstEpoch << 32 | 4;
	switch (type) {
	case XP_MSG_PING:
		m.u.ping.rid = req_rid;
		break;
	case XP_MSG_PONG:
		m.u.ping.rid = reply_rid;
		break;
	case XP_MSG_JOIN:
		m.u.join.window_pfn = 0x100000;
		m.u.join.window_pages = 0x40000;
		break;
	case XP_MSG_JOIN_ACK:
		m.u.join_ack.acked_epoch = kDstEpoch;
		break;
	case XP_MSG_GET:
		m.u.get.segid = 42;
		m.u.get.flags = 2;
		m.u.get.rid = req_rid;
		break;
	case XP_MSG_GET_REPLY:
		m.u.get_reply.segid = 42;
		m.u.get_reply.token = 9;
		m.u.get_reply.size = 1 << 20;
		m.u.get_reply.rid = reply_rid;
		break;
	case XP_MSG_FAULT:
		m.u.fault.token = 9;
		m.u.fault.offset = 0x200000;
		m.u.fault.npages = 16;
		m.u.fault.flags = XP_FAULTF_WRITE;
		m.u.fault.rid = req_rid;
		break;
	case XP_MSG_FAULT_REPLY:
		m.u.fault_reply.token = 9;
		m.u.fault_reply.offset = 0x200000;
		m.u.fault_reply.count = 3;
		m.u.fault_reply.runs[0] = xp_run(1, 1);
		m.u.fault_reply.runs[1] = xp_run(0x200, 500);
		m.u.fault_reply.runs[2] = xp_run(3, 2);
		m.u.fault_reply.rid = reply_rid;
		break;
	case XP_MSG_INVALIDATE:
	case XP_MSG_UNPIN:
		m.u.inval.token = 9;
		m.u.inval.offset = 0x1000;
		m.u.inval.len = 0x3000;
		if (type == XP_MSG_INVALIDATE)
			m.u.inval.rid = req_rid;
		break;
	case XP_MSG_INVALIDATE_DONE:
		m.u.inval_done.acked_seq = (u64)kDstEpoch << 32 | 3;
		break;
	case XP_MSG_RELEASE:
		m.u.release.token = 9;
		m.u.release.rid = req_rid;
		break;
	case XP_MSG_RELEASE_ACK:
		m.u.release.token = 9;
		m.u.release.rid = reply_rid;
		break;
	}
	EXPECT_EQ(xp_msg_seal(&m, type, kSrc, kDst, kSrcEpoch, kDstEpoch,
			      (u64)kSrcEpoch << 32 | 1), 0);
	return m;
}

const xp_msg_expect kExpect = { kSrc, kDst, kSrcEpoch, kDstEpoch, kParts };

class MsgCheck : public ::testing::Test {
protected:
	xp_msg_stats st{};

	// Corrupts a valid message, reseals it unless asked not to, checks
	// the reason and that exactly that counter moved.
	void expect_rejected(u32 type, const std::function<void(xp_msg &)> &bad,
			     int reason, bool reseal = true,
			     const xp_msg_expect &e = kExpect)
	{
		xp_msg m = valid(type);
		xp_msg_stats before = st;

		bad(m);
		if (reseal)
			m.h.csum = xp_msg_csum(&m);
		EXPECT_EQ(xp_msg_check(&m, &e, &st), reason)
			<< xp_msg_type_name(type) << ": got another reason than "
			<< xp_rej_name(reason);
		for (int r = 0; r < XP_REJ_NR; r++)
			EXPECT_EQ(st.rejected[r] - before.rejected[r], r == reason ? 1u : 0u)
				<< xp_rej_name(r);
		EXPECT_EQ(st.accepted, before.accepted);
	}
};

TEST_F(MsgCheck, EveryTypeWellFormedPasses)
{
	for (u32 t = XP_MSG_PING; t < XP_MSG_TYPE_NR; t++) {
		xp_msg m = valid(t);

		EXPECT_EQ(xp_msg_check(&m, &kExpect, &st), XP_REJ_OK) << xp_msg_type_name(t);
	}
	EXPECT_EQ(st.accepted, (u64)XP_MSG_TYPE_NR - 1);
}

TEST_F(MsgCheck, SealRefusesUnknownTypesAndCounts)
{
	xp_msg m;

	memset(&m, 0, sizeof(m));
	EXPECT_EQ(xp_msg_seal(&m, 0, 0, 1, 1, 1, 1ull << 32), -EINVAL);
	EXPECT_EQ(xp_msg_seal(&m, XP_MSG_TYPE_NR, 0, 1, 1, 1, 1ull << 32), -EINVAL);
	m.u.fault_reply.count = XP_FAULT_REPLY_RUNS + 1;
	EXPECT_EQ(xp_msg_seal(&m, XP_MSG_FAULT_REPLY, 0, 1, 1, 1, 1ull << 32), -EINVAL);
}

TEST_F(MsgCheck, HeaderFields)
{
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.type = 0; }, XP_REJ_TYPE);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.type = XP_MSG_TYPE_NR; }, XP_REJ_TYPE);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.type = 0xffff; }, XP_REJ_TYPE);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.len = 8; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.len = 0xffff; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_JOIN, [](xp_msg &m) { m.h.len += 8; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.flags = 0x8000; }, XP_REJ_FLAGS);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.reserved = 1; }, XP_REJ_RESERVED);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.src = 3; }, XP_REJ_SRC);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.src = kDst; }, XP_REJ_SRC);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.dst = 3; }, XP_REJ_DST);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.src_epoch = 4; m.h.seq = 4ull << 32; },
			XP_REJ_SRC_EPOCH);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.src_epoch = 0; m.h.seq = 1; },
			XP_REJ_SRC_EPOCH);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.dst_epoch = 6; }, XP_REJ_DST_EPOCH);
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.seq = 6ull << 32 | 1; }, XP_REJ_SEQ);
}

TEST_F(MsgCheck, ChecksumCatchesAnyFlippedBit)
{
	for (u32 byte = 0; byte < XP_MSG_HDR_SIZE + sizeof(xp_ping); byte++) {
		if (byte >= 28 && byte < 32)
			continue;	// the checksum itself
		expect_rejected(XP_MSG_PING, [byte](xp_msg &m) {
			reinterpret_cast<u8 *>(&m)[byte] ^= 0x10;
		}, byte == 0 || byte == 1 ? XP_REJ_TYPE :
		   byte == 24 || byte == 25 ? XP_REJ_LEN :
		   byte == 2 || byte == 3 ? XP_REJ_FLAGS :
		   byte == 26 || byte == 27 ? XP_REJ_RESERVED : XP_REJ_CSUM, false);
	}
	expect_rejected(XP_MSG_PING, [](xp_msg &m) { m.h.csum ^= 1; }, XP_REJ_CSUM, false);
}

TEST_F(MsgCheck, PortsOutsideTheFabricAreRejected)
{
	xp_msg_expect e = kExpect;

	e.max_parts = 2;	// dst 2 does not exist in a 2-partition fabric
	expect_rejected(XP_MSG_PING, [](xp_msg &) {}, XP_REJ_DST, true, e);
}

TEST_F(MsgCheck, UnknownSenderEpochIsNotChecked_ButJoinMayNotGoBack)
{
	xp_msg_expect e = kExpect;
	xp_msg m = valid(XP_MSG_PING);

	e.src_epoch = 0;
	EXPECT_EQ(xp_msg_check(&m, &e, &st), XP_REJ_OK);
	// A JOIN announces an epoch at least as new as what we know.
	e = kExpect;
	e.src_epoch = kSrcEpoch - 1;
	m = valid(XP_MSG_JOIN);
	EXPECT_EQ(xp_msg_check(&m, &e, &st), XP_REJ_OK);
	e.src_epoch = kSrcEpoch + 1;
	expect_rejected(XP_MSG_JOIN, [](xp_msg &) {}, XP_REJ_SRC_EPOCH, true, e);
}

TEST_F(MsgCheck, RequestIds)
{
	// A request's rid is of its sender's epoch, never n = 0.
	for (u32 t : {XP_MSG_PING, XP_MSG_GET, XP_MSG_FAULT, XP_MSG_INVALIDATE}) {
		expect_rejected(t, [t](xp_msg &m) {
			*xp_msg_rid(&m, t) = (u64)(kSrcEpoch + 1) << 32 | 3; }, XP_REJ_SEQ);
		expect_rejected(t, [t](xp_msg &m) {
			*xp_msg_rid(&m, t) = (u64)kSrcEpoch << 32; }, XP_REJ_SEQ);
	}
	// A reply's is of our epoch: an answer to an older incarnation of ours
	// is stale.
	for (u32 t : {XP_MSG_PONG, XP_MSG_GET_REPLY, XP_MSG_FAULT_REPLY}) {
		expect_rejected(t, [t](xp_msg &m) {
			*xp_msg_rid(&m, t) = (u64)(kDstEpoch - 1) << 32 | 4; }, XP_REJ_SEQ);
		expect_rejected(t, [t](xp_msg &m) { *xp_msg_rid(&m, t) = 0; }, XP_REJ_SEQ);
	}
	// UNPIN expects no answer and carries none.
	expect_rejected(XP_MSG_UNPIN, [](xp_msg &m) { m.u.inval.rid = 1; }, XP_REJ_RESERVED);
}

TEST_F(MsgCheck, Payloads)
{
	// JOIN
	expect_rejected(XP_MSG_JOIN, [](xp_msg &m) { m.u.join.window_pfn = 1ull << 52; }, XP_REJ_RANGE);
	expect_rejected(XP_MSG_JOIN, [](xp_msg &m) { m.u.join.window_pages = ~0ull; }, XP_REJ_RANGE);
	expect_rejected(XP_MSG_JOIN, [](xp_msg &m) {
		m.u.join.window_pfn = (1ull << 52) - 1; m.u.join.window_pages = 2; }, XP_REJ_RANGE);
	// JOIN_ACK
	expect_rejected(XP_MSG_JOIN_ACK, [](xp_msg &m) { m.u.join_ack.reserved = 1; }, XP_REJ_RESERVED);
	expect_rejected(XP_MSG_JOIN_ACK, [](xp_msg &m) { m.u.join_ack.acked_epoch = 3; }, XP_REJ_DST_EPOCH);
	// GET
	expect_rejected(XP_MSG_GET, [](xp_msg &m) { m.u.get.reserved = 1; }, XP_REJ_RESERVED);
	expect_rejected(XP_MSG_GET, [](xp_msg &m) { m.u.get.flags = 3; }, XP_REJ_FLAGS);
	expect_rejected(XP_MSG_GET, [](xp_msg &m) { m.u.get.flags = 0; }, XP_REJ_FLAGS);
	expect_rejected(XP_MSG_GET, [](xp_msg &m) { m.u.get.segid = 0; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET, [](xp_msg &m) { m.u.get.segid = -5; }, XP_REJ_VALUE);
	// GET_REPLY
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.reserved = 1; }, XP_REJ_RESERVED);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.status = 1; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.status = -5000; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.status = -13; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.token = 0; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.segid = 0; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.size = 100; }, XP_REJ_ALIGN);
	expect_rejected(XP_MSG_GET_REPLY, [](xp_msg &m) { m.u.get_reply.size = 0; }, XP_REJ_RANGE);
	// FAULT
	expect_rejected(XP_MSG_FAULT, [](xp_msg &m) { m.u.fault.flags = 2; }, XP_REJ_FLAGS);
	expect_rejected(XP_MSG_FAULT, [](xp_msg &m) { m.u.fault.npages = 0; }, XP_REJ_COUNT);
	expect_rejected(XP_MSG_FAULT, [](xp_msg &m) { m.u.fault.npages = XP_FAULT_MAX_PAGES + 1; }, XP_REJ_COUNT);
	expect_rejected(XP_MSG_FAULT, [](xp_msg &m) { m.u.fault.offset = 0x200100; }, XP_REJ_ALIGN);
	expect_rejected(XP_MSG_FAULT, [](xp_msg &m) { m.u.fault.offset = ~0xfffull; }, XP_REJ_RANGE);
	// FAULT_REPLY
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.count = 4; }, XP_REJ_COUNT);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) {
		m.u.fault_reply.count = 9; m.h.len = XP_FAULT_REPLY_FIXED + 72; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.h.len = XP_FAULT_REPLY_FIXED + 4; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.h.len = 16; }, XP_REJ_LEN);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.flags = 4; }, XP_REJ_FLAGS);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.status = 2; }, XP_REJ_VALUE);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.status = -14; }, XP_REJ_COUNT);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.offset = 8; }, XP_REJ_ALIGN);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.offset = ~0xfffull; }, XP_REJ_RANGE);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) {
		m.u.fault_reply.runs[2] = xp_run((1ull << 52) - 1, 2); }, XP_REJ_VALUE);
	// Runs covering more pages than one FAULT may ask for.
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.runs[2] = xp_run(3, 4096); }, XP_REJ_COUNT);
	expect_rejected(XP_MSG_FAULT_REPLY, [](xp_msg &m) { m.u.fault_reply.offset = ~0xfffull - 0x1000 * 100; }, XP_REJ_RANGE);
	// INVALIDATE / UNPIN
	for (u32 t : {(u32)XP_MSG_INVALIDATE, (u32)XP_MSG_UNPIN}) {
		expect_rejected(t, [](xp_msg &m) { m.u.inval.offset = 1; }, XP_REJ_ALIGN);
		expect_rejected(t, [](xp_msg &m) { m.u.inval.len = 0x1001; }, XP_REJ_ALIGN);
		expect_rejected(t, [](xp_msg &m) { m.u.inval.len = 0; }, XP_REJ_RANGE);
		expect_rejected(t, [](xp_msg &m) { m.u.inval.offset = ~0xfffull; }, XP_REJ_RANGE);
	}
	// INVALIDATE_DONE: acknowledges a request of our current epoch only
	expect_rejected(XP_MSG_INVALIDATE_DONE, [](xp_msg &m) {
		m.u.inval_done.acked_seq = (u64)(kDstEpoch - 1) << 32 | 3; }, XP_REJ_SEQ);
	// RELEASE: a request with its rid; RELEASE_ACK echoes it
	for (u32 t : {(u32)XP_MSG_RELEASE, (u32)XP_MSG_RELEASE_ACK}) {
		expect_rejected(t, [](xp_msg &m) { m.u.release.token = 0; }, XP_REJ_VALUE);
		expect_rejected(t, [](xp_msg &m) { m.u.release.rid &= ~0xffffffffull; }, XP_REJ_SEQ);
	}
	expect_rejected(XP_MSG_RELEASE, [](xp_msg &m) {
		m.u.release.rid = (u64)kDstEpoch << 32 | 1; }, XP_REJ_SEQ);
	expect_rejected(XP_MSG_RELEASE_ACK, [](xp_msg &m) {
		m.u.release.rid = (u64)kSrcEpoch << 32 | 1; }, XP_REJ_SEQ);
}

TEST(MsgNames, EveryReasonAndTypeHasAName)
{
	for (u32 r = 0; r < XP_REJ_NR; r++)
		EXPECT_STRNE(xp_rej_name(r), "invalid");
	for (u32 t = 1; t < XP_MSG_TYPE_NR; t++)
		EXPECT_STRNE(xp_msg_type_name(t), "INVALID");
	EXPECT_STREQ(xp_msg_type_name(0), "INVALID");
}

}  // namespace
