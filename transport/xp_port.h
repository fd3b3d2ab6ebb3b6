/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * xp_port.h - the only place where the transport core meets its host.
 *
 * The core files (region, msg, ring, member, rpc) include nothing but this
 * header, so the same sources compile into xpmem.ko (__KERNEL__) and into
 * the user-space library used by tests, benchmarks and fabricd.  It maps:
 *   - fixed-width types (u8..u64, s32, s64) and bool,
 *   - single-copy loads/stores of shared words (xp_read_once/xp_write_once),
 *   - acquire loads and release stores (xp_load_acquire/xp_store_release),
 *     a full barrier (xp_mb) and a 64-bit compare-and-swap (xp_cmpxchg64),
 *   - memset/memcpy (xp_memset/xp_memcpy),
 *   - a monotonic clock in nanoseconds (xp_clock_ns),
 *   - negative errno values (the kernel's numbers; Linux user space has the
 *     same ones in <errno.h>).
 * Nothing else: no allocation, no locks, no floating point, no VLAs.
 */
#ifndef XP_PORT_H
#define XP_PORT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/atomic.h>
#include <asm/barrier.h>

#define xp_read_once(x)		READ_ONCE(x)
#define xp_write_once(x, v)	WRITE_ONCE(x, v)
#define xp_load_acquire(p)	smp_load_acquire(p)
#define xp_store_release(p, v)	smp_store_release(p, v)
#define xp_mb()			smp_mb()
#define xp_cpu_relax()		cpu_relax()

/* Returns the value found; equal to @old when the swap happened. */
static inline u64 xp_cmpxchg64(u64 *p, u64 old, u64 new)
{
	return cmpxchg64(p, old, new);
}

static inline u64 xp_clock_ns(void)
{
	return ktime_get_ns();
}

#define xp_memset(d, c, n)	memset(d, c, n)
#define xp_memcpy(d, s, n)	memcpy(d, s, n)

#else /* user space */

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <time.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#define xp_read_once(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define xp_write_once(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define xp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define xp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define xp_mb()			__atomic_thread_fence(__ATOMIC_SEQ_CST)

#if defined(__x86_64__) || defined(__i386__)
#define xp_cpu_relax()		__builtin_ia32_pause()
#else
#define xp_cpu_relax()		__atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif

static inline u64 xp_cmpxchg64(u64 *p, u64 old, u64 new_)
{
	__atomic_compare_exchange_n(p, &old, new_, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return old;
}

static inline u64 xp_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/* The compiler's builtins: no libc symbol is needed for small sizes. */
#define xp_memset(d, c, n)	__builtin_memset(d, c, n)
#define xp_memcpy(d, s, n)	__builtin_memcpy(d, s, n)

#endif /* __KERNEL__ */

#define XP_CACHELINE		64
#define XP_PAGE_SHIFT		12
#define XP_PAGE_SIZE		(1ull << XP_PAGE_SHIFT)
#define XP_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define XP_ALIGN_UP(x, a)	(((x) + ((a) - 1)) & ~((u64)(a) - 1))
#ifdef __cplusplus
#define XP_BUILD_BUG_ON(c)	static_assert(!(c), #c)
#else
#define XP_BUILD_BUG_ON(c)	_Static_assert(!(c), #c)
#endif

#endif /* XP_PORT_H */
