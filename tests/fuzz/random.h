// SPDX-License-Identifier: GPL-2.0-only
//
// random.h - shared pieces of the random-call generator (random_calls.cc,
// random_mapping.cc, random_args.cc): argument placement, ids drawn near the
// interesting edges, and what an id is to the caller.
#ifndef XPMEM_FUZZ_RANDOM_H
#define XPMEM_FUZZ_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

namespace xf {

// Writes what the pointer allows of the wanted structure, then reads back
// what the kernel will see.
void place(const ArgPtr &ap, void *s, size_t n);

// What an id is to the caller issuing a command on descriptor fdi.
enum IdClass { ID_SAME, ID_OTHER_FD, ID_DEAD, ID_FOREIGN, ID_UNKNOWN };
const char *id_class_name(IdClass c);
IdClass seg_class(Worker &w, int64_t id, int fdi);
IdClass permit_class(Worker &w, int64_t id, int fdi);

// Our live ids, dead ones, other processes' (from the board), random and
// special values (0, negative, another partition's...).
int64_t pick_segid(Worker &w);
int64_t pick_apid(Worker &w);
// Zero, aligned, unaligned, at and above the top of user space, random.
uint64_t pick_user_addr(Rng &g, uint64_t top);

void rnd_attach(Worker &w);
void rnd_detach(Worker &w);

}  // namespace xf

#endif
