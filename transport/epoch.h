/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * epoch.h - comparing incarnation numbers.
 *
 * An epoch is a u32 that a partition increments each time it joins; 0 means
 * "none" (never joined, not known) and the increment skips it, so after
 * 2^32 - 1 joins the epoch wraps from 0xffffffff to 1.  Plain `<` would then
 * call the newest incarnation the oldest, so every ordering of epochs goes
 * through these helpers: serial-number arithmetic (a is later than b when
 * the signed distance from b to a is positive), with 0 before everything.
 * Two epochs 2^31 apart cannot be ordered; a partition never sees a peer
 * rejoin 2^31 times between two looks at its table entry.
 * docs/design.md, invariant I3.
 */
#ifndef XP_EPOCH_H
#define XP_EPOCH_H

#include "xp_port.h"

/* True when incarnation @a came after incarnation @b. */
static inline bool xp_epoch_after(u32 a, u32 b)
{
	if (!a)
		return false;
	return !b || (s32)(a - b) > 0;
}

/* True when incarnation @a came before incarnation @b. */
static inline bool xp_epoch_before(u32 a, u32 b)
{
	return xp_epoch_after(b, a);
}

/* The epoch a partition takes when it joins after @e (0 is skipped). */
static inline u32 xp_epoch_next(u32 e)
{
	return e + 1 ? e + 1 : 1;
}

#endif /* XP_EPOCH_H */
