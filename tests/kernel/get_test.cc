// SPDX-License-Identifier: GPL-2.0-only
//
// get_test.cc - xpmem_get: the permission matrix (segment mode x access
// flags x who asks), root's override, the ignored permit value, unknown ids
// and bad flags.
//
// The segment's mode is checked like a file owned by the exporter: the
// owner bits when the caller's uid is the exporter's, else the group bits
// when the gids match, else the other bits; RDONLY needs r, RDWR needs r and
// w; root (CAP_IPC_OWNER) may get anything.  Every granted permit is also
// attached and read, so a permit that can be got but never used fails too.
#include <errno.h>
#include <string.h>

#include <string>

#include "common.h"
#include "peer.h"

namespace xk {
namespace {

struct Who {
	uid_t uid;
	gid_t gid;
	const char *name;
};

const Who kRoot = { 0, 0, "root" };
const Who kUser = { 1000, 1000, "uid 1000 gid 1000" };
const Who kGroupmate = { 1001, 1000, "uid 1001 gid 1000" };
const Who kNobody = { 65534, 65534, "uid 65534 gid 65534" };

const long kModes[] = { 0600, 0640, 0644, 0660, 0666, 0400 };
constexpr size_t kNumModes = sizeof(kModes) / sizeof(kModes[0]);

bool allowed(long mode, int flags, const Who &owner, const Who &getter)
{
	if (getter.uid == 0)
		return true;
	long bits;
	if (getter.uid == owner.uid)
		bits = (mode >> 6) & 7;
	else if (getter.gid == owner.gid)
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	long need = flags == XPMEM_RDWR ? 6 : 4;
	return (bits & need) == need;
}

PeerOptions as(const Who &w)
{
	PeerOptions o;

	o.drop = w.uid != 0;
	o.uid = w.uid;
	o.gid = w.gid;
	return o;
}

class Get : public KernelTest {
protected:
	void matrix(const Who &owner, const Who &getter);
};

void Get::matrix(const Who &owner, const Who &getter)
{
	Peer exp(as(owner));
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t buf = exp.mmap(kNumModes * kPage);
	ASSERT_NE(buf, 0u);
	ASSERT_EQ(exp.call(Op::Fill, buf, kNumModes, 42).ret, 0);
	int64_t segid[kNumModes];
	for (size_t i = 0; i < kNumModes; i++) {
		segid[i] = exp.make(buf + i * kPage, kPage, kModes[i]);
		ASSERT_GT(segid[i], 0) << "make mode 0" << std::oct << kModes[i];
	}

	Peer get(as(getter));
	ASSERT_TRUE(get.started()) << get.why();
	// The permit value passed to get means nothing; rotate through what
	// the MPI libraries pass.
	const uint64_t values[] = { 0666, 0600, 0 };
	int n = 0;
	for (size_t i = 0; i < kNumModes; i++) {
		for (int flags : { XPMEM_RDONLY, XPMEM_RDWR }) {
			uint64_t value = values[n++ % 3];
			bool expect = allowed(kModes[i], flags, owner, getter);
			std::string what = std::string("owner ") + owner.name +
				", getter " + getter.name + ", mode 0" +
				std::to_string(kModes[i] >> 6) +
				std::to_string((kModes[i] >> 3) & 7) +
				std::to_string(kModes[i] & 7) +
				(flags == XPMEM_RDWR ? ", RDWR" : ", RDONLY");
			SCOPED_TRACE(what);
			Reply r = get.call(Op::Get, (uint64_t)segid[i],
					   (uint64_t)flags, value);
			if (!expect) {
				EXPECT_EQ(r.ret, -1) << "access granted";
				EXPECT_EQ(r.err, EACCES);
				continue;
			}
			ASSERT_GT(r.ret, 0) << "refused: " << strerror((int)r.err);
			int64_t apid = r.ret;
			Reply at = get.call(Op::Attach, (uint64_t)apid,
					    0, kPage, 0);
			ASSERT_TRUE(at.ok()) << "attach: " << strerror((int)at.err);
			Reply rd = get.call(Op::Read, (uint64_t)at.ret + 8);
			ASSERT_TRUE(rd.ok()) << "read through the attachment";
			EXPECT_EQ(rd.val, pattern(42, i, 1));
			EXPECT_EQ(get.call(Op::Detach, (uint64_t)at.ret).ret, 0);
			EXPECT_EQ(get.call(Op::Release, (uint64_t)apid).ret, 0);
		}
	}
}

TEST_F(Get, RootOwnerRootGetter) { matrix(kRoot, kRoot); }
TEST_F(Get, RootOwnerUserGetter) { matrix(kRoot, kUser); }
TEST_F(Get, RootOwnerNobodyGetter) { matrix(kRoot, kNobody); }
TEST_F(Get, UserOwnerSameUidGetter) { matrix(kUser, kUser); }
TEST_F(Get, UserOwnerGroupGetter) { matrix(kUser, kGroupmate); }
TEST_F(Get, UserOwnerOtherGetter) { matrix(kUser, kNobody); }
TEST_F(Get, UserOwnerRootGetter) { matrix(kUser, kRoot); }

TEST_F(Get, PermitValueIsIgnored)
{
	// The owner's own uid on a 0600 segment: allowed whatever is passed,
	// including NULL (UCX) and a mode that would deny (0).
	Peer exp(as(kUser));
	ASSERT_TRUE(exp.started()) << exp.why();
	uint64_t buf = exp.mmap(kPage);
	ASSERT_NE(buf, 0u);
	int64_t segid = exp.make(buf, kPage, 0600);
	ASSERT_GT(segid, 0);

	Peer get(as(kUser));
	ASSERT_TRUE(get.started()) << get.why();
	for (uint64_t value : { 0666ULL, 0600ULL, 0ULL, 0400ULL, 0xdeadbeefULL }) {
		Reply r = get.call(Op::Get, (uint64_t)segid, XPMEM_RDWR, value);
		EXPECT_GT(r.ret, 0) << "permit value 0" << std::oct << value
				    << ": " << strerror((int)r.err);
		if (r.ret > 0) {
			EXPECT_EQ(get.call(Op::Release, (uint64_t)r.ret).ret, 0);
		}
	}
}

TEST_F(Get, OwnSegmentAndPermitValuesFromRoot)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0600));
	ASSERT_GT(seg.id, 0);
	for (void *value : { (void *)0666, (void *)0600, (void *)nullptr }) {
		Permit p(xpmem_get(seg.id, XPMEM_RDWR, XPMEM_PERMIT_MODE, value));
		EXPECT_GT(p.id, 0) << "permit value " << value << ": "
				   << strerror(errno);
	}
}

TEST_F(Get, UnknownSegidIsEnoent)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	xpmem_segid_t id = xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE,
				      (void *)0666);
	ASSERT_GT(id, 0);
	ASSERT_EQ(xpmem_remove(id), 0);

	errno = 0;
	EXPECT_EQ(xpmem_get(id, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, ENOENT) << "get of a removed segment";
	errno = 0;
	EXPECT_EQ(xpmem_get(0x00001234deadbeefLL, XPMEM_RDWR, XPMEM_PERMIT_MODE,
			    nullptr), -1);
	EXPECT_EQ(errno, ENOENT) << "get of a never-made segment";
	errno = 0;
	EXPECT_EQ(xpmem_get(0, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EINVAL) << "segid 0";
	errno = 0;
	EXPECT_EQ(xpmem_get(-7, XPMEM_RDWR, XPMEM_PERMIT_MODE, nullptr), -1);
	EXPECT_EQ(errno, EINVAL) << "negative segid";
}

TEST_F(Get, BadFlagsAndPermitTypeAreEinval)
{
	Mapping m(kPage);
	ASSERT_TRUE(m.ok());
	Segment seg(xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE, (void *)0666));
	ASSERT_GT(seg.id, 0);

	for (int flags : { 0, 3, 4, 0x100, -1 }) {
		errno = 0;
		Permit p(xpmem_get(seg.id, flags, XPMEM_PERMIT_MODE, nullptr));
		EXPECT_EQ(p.id, -1) << "flags " << flags;
		EXPECT_EQ(errno, EINVAL) << "flags " << flags;
	}
	for (int type : { 0, 2, -1 }) {
		errno = 0;
		Permit p(xpmem_get(seg.id, XPMEM_RDWR, type, nullptr));
		EXPECT_EQ(p.id, -1) << "permit type " << type;
		EXPECT_EQ(errno, EINVAL) << "permit type " << type;
	}
	struct xpmem_stats s;
	ASSERT_TRUE(read_stats(&s));
	EXPECT_EQ(s.permits, base_.permits) << "a refused get left a permit";
}

}  // namespace
}  // namespace xk
