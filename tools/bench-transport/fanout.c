// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fanout.c - cost, for the poster, of sending one INVALIDATE to each of N
 * peers (N = 1 ... 63): seal + push on N rings, with no doorbell, a futex
 * doorbell (FUTEX_WAKE) or an eventfd doorbell (write) per peer.  This is
 * the "all of them first" half of the shootdown (docs/design.md); rings
 * are drained outside the timed part.
 */
#include "bt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_fanout(int iters)
{
	static const u32 ns[] = { 1, 2, 4, 8, 16, 32, 63 };
	struct bt_fabric f;
	struct xp_futex_doorbell fdb;
	struct xp_efd_doorbell edb;
	struct xp_doorbell db[3];
	struct xp_ring_prod *prod = calloc(64, sizeof(*prod));
	struct xp_ring_cons *cons = calloc(64, sizeof(*cons));
	u64 *s = calloc((size_t)iters, sizeof(*s));
	unsigned int k;
	int b, i;
	u32 p;

	if (!prod || !cons || !s || bt_fabric_create(&f, 64, 64)) {
		fprintf(stderr, "fanout: setup failed\n");
		return;
	}
	fdb = (struct xp_futex_doorbell){ 0, 64, f.futex_words, 0 };
	edb = f.efd;
	edb.self = 0;
	db[0] = (struct xp_doorbell){ NULL, NULL };
	db[1] = (struct xp_doorbell){ &xp_futex_doorbell_ops, &fdb };
	db[2] = (struct xp_doorbell){ &xp_efd_doorbell_ops, &edb };
	for (p = 1; p < 64; p++) {
		xp_ring_prod_init(&prod[p], &f.r, 0, p);
		xp_ring_cons_init(&cons[p], &f.r, 0, p);
	}
	printf("\n## Posting one INVALIDATE to each of N peers (poster's cost, %d samples, 64-partition layout)\n\n", iters);
	printf("| N | no doorbell: median ns | per peer | futex: median ns | per peer | eventfd: median ns | per peer |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|\n");
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		u64 med[3];

		for (b = 0; b < 3; b++) {
			for (i = 0; i < iters; i++) {
				struct xp_msg m, out;
				u64 t0 = xp_clock_ns();

				for (p = 1; p <= ns[k]; p++) {
					memset(&m.h, 0, sizeof(m.h));
					m.u.inval.token = 1;
					m.u.inval.offset = 0;
					m.u.inval.len = 1 << 21;
					xp_msg_seal(&m, XP_MSG_INVALIDATE, 0, p, 1, 1,
						    1ull << 32 | (u32)(i + 1));
					xp_ring_push(&prod[p], &m);
					xp_doorbell_ring(&db[b], p, XP_VEC_MSG);
				}
				s[i] = xp_clock_ns() - t0;
				for (p = 1; p <= ns[k]; p++)
					while (xp_ring_pop(&cons[p], &out) == 1)
						;
			}
			bt_sort(s, (size_t)iters);
			med[b] = bt_pct(s, (size_t)iters, 50);
		}
		printf("| %u | %llu | %llu | %llu | %llu | %llu | %llu |\n", ns[k],
		       (unsigned long long)med[0], (unsigned long long)(med[0] / ns[k]),
		       (unsigned long long)med[1], (unsigned long long)(med[1] / ns[k]),
		       (unsigned long long)med[2], (unsigned long long)(med[2] / ns[k]));
	}
	bt_fabric_destroy(&f);
	free(prod);
	free(cons);
	free(s);
}
