/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench.h - what the parts of xpmem-bench share: options, timing, sample
 * statistics, worker processes talking over pipes, buffers, the module's
 * counters, and the results each measurement hands to the report.
 *
 * Every function here either succeeds or ends the program through
 * bench_die() with a message: the benchmark has no partial results, and any
 * error (including a data mismatch) makes it exit non-zero.
 */
#ifndef XPMEM_BENCH_H
#define XPMEM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xpmem.h>
#include <xpmem_ioctl.h>

#define PAGE_SZ		4096UL
#define HUGE_SZ		(2UL << 20)
#define KiB		1024UL
#define MiB		(1024UL * 1024)

/* Bound of any single wait for another process (a message, a flag, an
 * exit).  Generous: under QEMU TCG on a busy host one step of the slowest
 * measurement (four processes faulting in 64 MiB) takes seconds. */
#define STEP_TIMEOUT_S	180

struct bench_opts {
	bool quick;
	int reps;		/* timed repetitions per data point */
	const char *json;	/* NULL: no JSON file */
	size_t max_copy;	/* largest size of the copy table */
	int sample_ms;		/* copying time per copy sample, about */
	size_t attach_len;	/* region of the attach table */
	size_t unmap_len;	/* region of the munmap table */
	int ncpus;		/* CPUs this process may run on */
};

/* --- util.c ------------------------------------------------------------ */

extern const char *bench_role;	/* who is talking in messages */
extern unsigned int bench_alarm_s;	/* bound of the whole run, any process */

__attribute__((noreturn, format(printf, 1, 2)))
void bench_die(const char *fmt, ...);
uint64_t now_ns(void);
void pin_cpu(int cpu);
int cpus_allowed(void);

/* Fixed-size messages over pipes; a receive waits at most STEP_TIMEOUT_S
 * and dies on anything but the wanted kind (want 0: any kind). */
struct msg {
	uint64_t kind;		/* each measurement numbers its own */
	uint64_t u[4];
};

void msg_send(int fd, uint64_t kind, uint64_t u0, uint64_t u1, uint64_t u2);
void msg_send_full(int fd, const struct msg *m);
struct msg msg_recv(int fd, uint64_t want);

/* A forked worker: `to` and `from` are the parent's ends of its pipes. */
struct worker {
	pid_t pid;
	int to, from;
	const char *name;
};
typedef int (*worker_fn)(int in, int out, void *arg);
void worker_start(struct worker *w, const char *name, int cpu, worker_fn fn,
		  void *arg);
/* Waits (bounded) for the worker's exit; dies unless it exited with 0. */
void worker_join(struct worker *w);

/* Anonymous private memory with 4 KiB pages (huge = false: MADV_NOHUGEPAGE)
 * or 2 MiB aligned with MADV_HUGEPAGE. */
void *buf_map(size_t len, bool huge);
void buf_unmap(void *p, size_t len);
/* A currently free, `align`-aligned address range of len bytes. */
void *free_aligned_range(size_t len, size_t align);
/* One recognisable 64-bit word per index. */
static inline uint64_t pattern_word(uint64_t i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL ^ 0x2545F4914F6CDD1DULL;
}
void pattern_fill(void *p, size_t len);
/* Dies naming the first wrong word of [p, p + len). */
void pattern_check(const void *p, size_t len, const char *what);
/* Writes pattern_word(page index) at the start of every page. */
void tag_pages(void *p, size_t len);

/* AnonHugePages (kB) of the mapping of `pid` (0: self) containing addr. */
long smaps_anon_huge_kb(pid_t pid, const void *addr);
struct xpmem_stats xpmem_counters(void);

/* --- statistics --------------------------------------------------------- */

struct summary {
	int n;
	double median, min, max, p90;
};
struct summary summarize(const double *v, int n);
/* The order in which the n variants of one measurement take their turn in
 * repetition `rep`: shuffled, so that slow phases of a busy host and the
 * after-effects of one variant (freed page tables, deferred work) do not
 * fall on the same variant every time. */
void rep_order(int rep, int n, int *order);

/* --- results, filled by the measurements, read by report.c --------------- */

enum copy_method { CM_XPMEM, CM_PVR, CM_SHM, CM_LOCAL, CM_COUNT };
#define COPY_MAX_SIZES 8

struct copy_results {
	int nsizes;
	size_t size[COPY_MAX_SIZES];
	uint64_t inner[COPY_MAX_SIZES][CM_COUNT];	/* copies per sample */
	struct summary gbs[COPY_MAX_SIZES][CM_COUNT];	/* GB/s (1e9 B/s) */
};

enum attach_row { AR_XPMEM_4K, AR_XPMEM_THP, AR_XPMEM_THP_NOHINT,
		  AR_LOCAL_4K, AR_LOCAL_THP, AR_COUNT };

struct attach_results {
	size_t len;
	struct summary us_per_mib[AR_COUNT];
	long src_thp_kb;	/* AnonHugePages of the exporter's THP source */
	long local_thp_kb;	/* of a local THP region after first touch */
	uint64_t pmds_per_attach[AR_COUNT];	/* fewest over the samples */
	bool thp_hint_honoured;	/* the aligned attach landed where asked */
};

enum unmap_row { UR_PLAIN, UR_K0, UR_K1, UR_K4, UR_COUNT };

struct unmap_results {
	size_t len;
	struct summary ms[UR_COUNT];
	uint64_t invalidations[UR_COUNT];	/* per munmap, fewest seen */
};

struct bench_results {
	struct copy_results copy;
	struct attach_results attach;
	struct unmap_results unmap;
};

void bench_copy(const struct bench_opts *o, struct copy_results *r);
void bench_attach(const struct bench_opts *o, struct attach_results *r);
void bench_unmap(const struct bench_opts *o, struct unmap_results *r);

void report_header(const struct bench_opts *o);
void report_copy(const struct bench_opts *o, const struct copy_results *r);
void report_attach(const struct attach_results *r);
void report_unmap(const struct unmap_results *r);
void report_goals(const struct bench_results *r);
void report_json(const struct bench_opts *o, const struct bench_results *r,
		 const char *path);

#endif /* XPMEM_BENCH_H */
