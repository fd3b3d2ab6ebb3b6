// SPDX-License-Identifier: GPL-2.0-only
//
// prober.h - a forked child that attaches a segment on its own and touches
// it on command, so that the SIGBUS a hole, a removed segment or a dead
// exporter must raise kills the child, not the attacher: the attacher then
// reads how the child died.  Commands and replies go over pipes; every
// exchange has a deadline, and the child dies with its parent and at its own
// alarm.
#ifndef XPMEM_XPART_PROBER_H
#define XPMEM_XPART_PROBER_H

#include <stdint.h>
#include <sys/types.h>

#include <string>

#include "xpart.h"

namespace xp {

class Prober {
public:
	enum Result { kValue, kDied, kTimeout };

	Prober() = default;
	~Prober();
	Prober(const Prober &) = delete;
	Prober &operator=(const Prober &) = delete;

	// Forks; the child gets a permit to segid, attaches `pages` pages and
	// answers.  False (with *err) if that failed.
	bool start(xpmem_segid_t segid, size_t pages, int life_s, std::string *err);
	// The child reads word `word` of page `page`.  kValue: *v is what it
	// read; kDied: it died on the way (*status, see died()); kTimeout: no
	// answer within timeout_ms (the child is killed).
	Result read(size_t page, size_t word, uint64_t *v, int timeout_ms);
	// After kDied or kTimeout: the child's wait status, -1 if it was killed
	// at a deadline.
	int status() const { return status_; }
	bool died_of(int sig) const;
	std::string how() const;
	// Ends the child if it still runs (clean detach and exit).
	void stop();

private:
	bool reap(int timeout_ms);

	pid_t pid_ = -1;
	int to_ = -1, from_ = -1;
	int status_ = 0;
};

}  // namespace xp

#endif
