// SPDX-License-Identifier: GPL-2.0-only
//
// proc.cc - the life of one stress process: become the owner of its slot,
// then alternate owner changes and attacher work until the end of the run
// (or until it decides to exit, and the supervisor starts its successor).
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "proc.h"

namespace xs {

Proc::Proc(Shared *sh, int idx, int nprocs, uint64_t seed, int64_t deadline_ms)
	: sh_(sh), me_(&sh->slots[idx]), idx_(idx), nprocs_(nprocs), rng_(seed),
	  deadline_(deadline_ms)
{
}

void Proc::failf(const char *fmt, ...)
{
	char what[280];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	xf::fail(&sh_->log, "proc %d (incarnation %llu): %s", idx_,
		 (unsigned long long)me_->incarnation.load(), what);
}

int Proc::run()
{
	if (!owner_start())
		return 1;
	while (!sh_->stop.load(std::memory_order_relaxed) && xf::now_ms() < deadline_) {
		if (rng_.chance(25))
			owner_step();
		else
			attacher_step();
	}
	// The end of the run: leave with or without cleaning up.
	begin(false);
	me_->segid.store(0, std::memory_order_release);
	cleanup(rng_.chance(50));
	return 0;
}

int proc_main(Shared *sh, int idx, int nprocs, uint64_t seed, int64_t deadline_ms)
{
	Proc p(sh, idx, nprocs, seed, deadline_ms);

	return p.run();
}

}  // namespace xs
