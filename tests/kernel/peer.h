// SPDX-License-Identifier: GPL-2.0-only
//
// peer.h - a forked helper process driven by the test, one command at a time.
//
// A Peer is the other side of a test: an exporter that maps, fills and frees
// memory, or an attacher that may die of SIGBUS.  It runs a small command
// interpreter over a SOCK_SEQPACKET socketpair; every call has a deadline,
// and the peer dies with the test process (PR_SET_PDEATHSIG), at its own
// alarm, or when the test stops talking to it.  A peer forked by the test
// process inherits a copy of its address space, which the fork tests use.
//
// Calls return {ret, err}: ret is the operation's result (-1 on failure) and
// err its errno.  A peer that died in the middle of a call answers
// err = EPIPE; wait() then tells how it died.
#ifndef XPMEM_KERNEL_PEER_H
#define XPMEM_KERNEL_PEER_H

#include <stdint.h>
#include <sys/types.h>

#include <string>

namespace xk {

enum class Op : uint32_t {
	Ping,		// -> pid
	Mmap,		// a=fixed addr or 0, b=len, c=MmapFlags -> addr
	Munmap,		// a=addr, b=len
	Reserve,	// a=len, b=align -> free aligned address
	Fill,		// a=addr, b=npages, c=seed, d=sparse
	Check,		// a=addr, b=npages, c=seed, d=sparse -> 0 | -1, val=idx, val2=found
	FillWord,	// a=addr, b=npages, c=word, d=seed
	CheckWord,	// a=addr, b=npages, c=word, d=seed -> like Check
	Make,		// a=vaddr, b=size, c=mode -> segid
	Remove,		// a=segid
	Get,		// a=segid, b=flags, c=permit value -> apid
	Release,	// a=apid
	Attach,		// a=apid, b=offset, c=size, d=vaddr -> addr
	Detach,		// a=addr
	Read,		// a=addr -> val (may die)
	Write,		// a=addr, b=value (may die)
	Mprotect,	// a=addr, b=len, c=prot
	Madvise,	// a=addr, b=len, c=advice
	Mremap,		// a=old, b=oldlen, c=newlen, d=flags, e=new addr -> addr
	ThpKb,		// a=addr -> val = AnonHugePages kB of the mapping holding a
	Version,	// -> xpmem_version()
	Sleeper,	// forks a child that only sleeps (holding every inherited
			// descriptor) until killed or its lifetime ends -> its pid
	Exit,		// replies, then _exit(0)
};

enum MmapFlags : uint64_t {
	kMapFixed = 1,		// MAP_FIXED at a
	kMapHuge = 2,		// madvise(MADV_HUGEPAGE)
	kMapNone = 4,		// PROT_NONE
	kMapReadOnly = 8,	// PROT_READ
};

struct Reply {
	int64_t ret = -1;
	int64_t err = 0;
	uint64_t val = 0;
	uint64_t val2 = 0;
	bool ok() const { return ret != -1; }
};

struct PeerOptions {
	// Drop to this uid/gid (no supplementary groups) when drop is set.
	bool drop = false;
	uid_t uid = 0;
	gid_t gid = 0;
	// The peer kills itself after this long (scaled by time_scale()),
	// whatever happens.
	int lifetime_s = 120;
};

class Peer {
public:
	explicit Peer(const PeerOptions &opts = PeerOptions());
	~Peer();
	Peer(const Peer &) = delete;
	Peer &operator=(const Peer &) = delete;

	// False if the peer could not start (or drop privileges); why() says.
	bool started() const { return started_; }
	const std::string &why() const { return why_; }
	pid_t pid() const { return pid_; }

	// Every timeout_ms here is scaled by time_scale().
	Reply call(Op op, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
		   uint64_t d = 0, uint64_t e = 0, int timeout_ms = 60000);
	// call() in two halves, so that several peers work at the same time.
	bool post(Op op, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
		  uint64_t d = 0, uint64_t e = 0);
	Reply collect(int timeout_ms = 60000);

	// Bounded wait for the peer's exit (after Exit or an expected death);
	// returns the wait status or -1 (then the peer was killed).
	int wait(int timeout_ms = 10000);
	// SIGKILL and reap.
	void kill_now();

	// Shorthands.
	uint64_t mmap(size_t len, uint64_t flags = 0, uint64_t fixed = 0)
	{
		Reply r = call(Op::Mmap, fixed, len, flags);
		return r.ok() ? (uint64_t)r.ret : 0;
	}
	int64_t make(uint64_t vaddr, uint64_t size, long mode = 0600)
	{
		return call(Op::Make, vaddr, size, (uint64_t)mode).ret;
	}
	int64_t make_whole(long mode = 0600)
	{
		return make(0, (uint64_t)-1, mode);
	}

private:
	pid_t pid_ = -1;
	int sock_ = -1;
	bool started_ = false;
	bool reaped_ = false;
	std::string why_;
	uint32_t last_op_ = 0;
};

// The usual start of a two-process test: the exporter maps npages filled
// with seed's pattern and exports its whole address space; the attacher gets
// it RDWR and attaches the pages at the exporter's addresses' offset, and
// checks them.  gtest assertions report any step that fails (check
// HasFatalFailure() after the call).
struct SharedPages {
	uint64_t A = 0;		// the pages in the exporter
	uint64_t P = 0;		// the attachment in the attacher
	int64_t segid = -1;
	int64_t apid = -1;
};
void share_pages(Peer &exp, Peer &att, size_t npages, uint64_t seed,
		 SharedPages *out);

}  // namespace xk

#endif
