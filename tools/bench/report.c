// SPDX-License-Identifier: GPL-2.0-only
/*
 * report.c - the tables, the goals and the JSON file.
 *
 * Everything printed here is computed from the samples of this run: the
 * ratios are ratios of medians taken in the same run, and each goal line
 * states the measured value it was judged on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "bench.h"

static const char *const copy_name[CM_COUNT] = {
	[CM_XPMEM] = "xpmem", [CM_PVR] = "process_vm_readv",
	[CM_SHM] = "shared buffer", [CM_LOCAL] = "local memcpy",
};
static const char *const copy_key[CM_COUNT] = {
	[CM_XPMEM] = "xpmem", [CM_PVR] = "process_vm_readv",
	[CM_SHM] = "shared_buffer", [CM_LOCAL] = "local",
};
static const char *const attach_name[AR_COUNT] = {
	[AR_XPMEM_4K] = "xpmem, 4K source",
	[AR_XPMEM_THP] = "xpmem, THP source",
	[AR_XPMEM_THP_NOHINT] = "xpmem, THP source, no hint",
	[AR_LOCAL_4K] = "local 4K first touch",
	[AR_LOCAL_THP] = "local THP first touch",
};
static const char *const attach_key[AR_COUNT] = {
	[AR_XPMEM_4K] = "xpmem_4k", [AR_XPMEM_THP] = "xpmem_thp",
	[AR_XPMEM_THP_NOHINT] = "xpmem_thp_nohint",
	[AR_LOCAL_4K] = "local_4k", [AR_LOCAL_THP] = "local_thp",
};
static const char *const unmap_name[UR_COUNT] = {
	[UR_PLAIN] = "not exported", [UR_K0] = "k = 0 attachers",
	[UR_K1] = "k = 1 attacher", [UR_K4] = "k = 4 attachers",
};
static const char *const unmap_key[UR_COUNT] = {
	[UR_PLAIN] = "not_exported", [UR_K0] = "k0", [UR_K1] = "k1",
	[UR_K4] = "k4",
};

static const char *human(size_t bytes)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ % 4];

	if (bytes >= MiB && bytes % MiB == 0)
		snprintf(b, 32, "%zu MiB", bytes / MiB);
	else
		snprintf(b, 32, "%zu KiB", bytes / KiB);
	return b;
}

static const char *cell(const struct summary *s, const char *fmt)
{
	static char buf[8][48];
	static int next;
	char *b = buf[next++ % 8], f[32];

	snprintf(f, sizeof(f), "%s [%s..%s]", fmt, fmt, fmt);
	snprintf(b, 48, f, s->median, s->min, s->max);
	return b;
}

static void read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");

	snprintf(out, len, "unknown");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

void report_header(const struct bench_opts *o)
{
	char thp[128], window[32], date[64];
	struct utsname u;
	time_t t = time(NULL);
	int v = xpmem_version();

	if (v < 0)
		bench_die("xpmem_version: %s (is xpmem.ko loaded?)",
			  strerror(errno));
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		  sizeof(thp));
	read_line("/sys/module/xpmem/parameters/fault_window", window,
		  sizeof(window));
	printf("xpmem-bench: single-kernel measurements\n");
	printf("  date          %s\n", date);
	printf("  kernel        %s %s, %d CPUs\n", u.release, u.machine,
	       o->ncpus);
	printf("  xpmem         interface %d.%d, fault_window %s pages\n",
	       v >> 16, v & 0xffff, window);
	printf("  THP           %s\n", thp);
	/* glibc picks its memcpy strategy by size and CPU; a tunable in the
	 * environment changes table 1, so the header records it. */
	printf("  memcpy        glibc %s, GLIBC_TUNABLES=%s\n",
	       gnu_get_libc_version(),
	       getenv("GLIBC_TUNABLES") ? getenv("GLIBC_TUNABLES") : "(unset)");
	printf("  mode          %s, %d timed samples per point\n",
	       o->quick ? "--quick" : "full", o->reps);
	printf("  Each number is a median [min..max] of the samples; ratios "
	       "are ratios of medians\n  from this run.\n\n");
	fflush(stdout);
}

void report_copy(const struct bench_opts *o, const struct copy_results *r)
{
	printf("1. Copy bandwidth into a local buffer, GB/s (1e9 B/s)\n");
	printf("   xpmem: memcpy from a cached, fully faulted attachment; "
	       "shared buffer: two\n   copies (exporter in, attacher out), "
	       "both timed and added.  A sample: about\n   %d ms of repeated "
	       "transfers.\n\n", o->sample_ms);
	printf("   %-8s  %-22s %-22s %-22s %-22s %9s %11s\n", "size",
	       copy_name[CM_XPMEM], copy_name[CM_PVR],
	       copy_name[CM_SHM], copy_name[CM_LOCAL], "xpmem/pvr",
	       "xpmem/local");
	for (int i = 0; i < r->nsizes; i++) {
		const struct summary *g = r->gbs[i];

		printf("   %-8s  %-22s %-22s %-22s %-22s %9.2f %11.2f\n",
		       human(r->size[i]),
		       cell(&g[CM_XPMEM], "%.2f"), cell(&g[CM_PVR], "%.2f"),
		       cell(&g[CM_SHM], "%.2f"), cell(&g[CM_LOCAL], "%.2f"),
		       g[CM_XPMEM].median / g[CM_PVR].median,
		       g[CM_XPMEM].median / g[CM_LOCAL].median);
	}
	printf("\n");
	fflush(stdout);
}

void report_attach(const struct attach_results *r)
{
	double l4 = r->us_per_mib[AR_LOCAL_4K].median;
	double lh = r->us_per_mib[AR_LOCAL_THP].median;
	unsigned long want_pmds = r->len / HUGE_SZ;

	printf("2. Attach + first touch of %s (one read per 4 KiB page) + "
	       "detach,\n   vs mmap + first write + munmap of local memory; "
	       "us per MiB\n\n", human(r->len));
	printf("   %-28s %-26s %8s %9s %11s\n", "", "us/MiB", "vs local",
	       "vs local", "PMDs mapped");
	printf("   %-28s %-26s %8s %9s %11s\n", "", "", "4K", "THP",
	       "per cycle");
	for (int row = 0; row < AR_COUNT; row++) {
		const struct summary *s = &r->us_per_mib[row];
		bool xp = row <= AR_XPMEM_THP_NOHINT;
		char pmds[16] = "-";

		if (xp)
			snprintf(pmds, sizeof(pmds), "%llu",
				 (unsigned long long)r->pmds_per_attach[row]);
		printf("   %-28s %-26s %8.2f %9.2f %11s\n", attach_name[row],
		       cell(s, "%.1f"), s->median / l4, s->median / lh, pmds);
	}
	printf("\n   THP source really huge: %s (exporter's AnonHugePages "
	       "%ld kB of %zu kB)\n",
	       r->src_thp_kb * 1024L >= (long)r->len ? "yes" : "NO",
	       r->src_thp_kb, r->len / KiB);
	printf("   PMD mappings per aligned attach: %llu of %lu possible "
	       "(XPMEM_IOC_STATS pmds_mapped)\n",
	       (unsigned long long)r->pmds_per_attach[AR_XPMEM_THP], want_pmds);
	printf("   2 MiB aligned address hint honoured: %s\n",
	       r->thp_hint_honoured ? "yes" : "NO");
	printf("   local THP region really huge: %s (AnonHugePages %ld kB of "
	       "%zu kB)\n\n", r->local_thp_kb * 1024L >= (long)r->len ?
	       "yes" : "NO", r->local_thp_kb, r->len / KiB);
	fflush(stdout);
}

void report_unmap(const struct unmap_results *r)
{
	double k0 = r->ms[UR_K0].median;

	printf("3. munmap of a %s exported region (4 KiB pages, populated), "
	       "with k attacher\n   processes holding it fully faulted in; "
	       "ms\n\n", human(r->len));
	printf("   %-18s %-26s %8s %14s\n", "", "ms", "vs k = 0",
	       "invalidations");
	for (int row = 0; row < UR_COUNT; row++)
		printf("   %-18s %-26s %8.2f %14llu\n", unmap_name[row],
		       cell(&r->ms[row], "%.2f"), r->ms[row].median / k0,
		       (unsigned long long)r->invalidations[row]);
	printf("   (invalidations: the module's count of notifier "
	       "invalidations that zapped\n   attachments, per munmap)\n\n");
	fflush(stdout);
}

/* --- goals ---------------------------------------------------------------- */

struct goal {
	const char *key, *text;
	double value, limit;
	bool pass;
	char detail[240];
};
#define NGOALS 4

/* Lowest ratio a/b over the sizes from `from` up; returns its index. */
static int lowest_ratio(const struct copy_results *c, size_t from, int a,
			int b, double *ratio)
{
	int at = -1;

	for (int i = 0; i < c->nsizes; i++) {
		double q;

		if (c->size[i] < from)
			continue;
		q = c->gbs[i][a].median / c->gbs[i][b].median;
		if (at < 0 || q < *ratio) {
			*ratio = q;
			at = i;
		}
	}
	return at;
}

static void compute_goals(const struct bench_results *r, struct goal *g)
{
	const struct copy_results *c = &r->copy;
	const struct attach_results *a = &r->attach;
	const struct unmap_results *u = &r->unmap;
	const struct summary *x, *y;
	double q = 0;
	int at;

	/* Each detail also gives the best-case ratio (fastest sample against
	 * fastest sample): on a busy host it shows how much of a median
	 * ratio is noise.  The verdict is on the medians. */
	g[0] = (struct goal){ .key = "xpmem_vs_pvr", .limit = 1.5,
		.text = "xpmem >= 1.5x process_vm_readv from 64 KiB up" };
	at = lowest_ratio(c, 64 * KiB, CM_XPMEM, CM_PVR, &q);
	g[0].value = q;
	g[0].pass = at >= 0 && q >= 1.5;
	/* local/pvr is the ceiling of xpmem/pvr: no attachment copies
	 * faster than memory of one's own. */
	if (at >= 0)
		snprintf(g[0].detail, sizeof(g[0].detail),
			 "lowest xpmem/pvr ratio %.2f (at %s; best case "
			 "there %.2f; local/pvr there %.2f)", q,
			 human(c->size[at]),
			 c->gbs[at][CM_XPMEM].max / c->gbs[at][CM_PVR].max,
			 c->gbs[at][CM_LOCAL].median / c->gbs[at][CM_PVR].median);

	g[1] = (struct goal){ .key = "xpmem_vs_local", .limit = 0.9,
		.text = "xpmem >= 0.9x local memcpy from 1 MiB up" };
	q = 0;
	at = lowest_ratio(c, MiB, CM_XPMEM, CM_LOCAL, &q);
	g[1].value = q;
	g[1].pass = at >= 0 && q >= 0.9;
	if (at >= 0)
		snprintf(g[1].detail, sizeof(g[1].detail),
			 "lowest xpmem/local ratio %.2f (at %s; best case "
			 "there %.2f)", q, human(c->size[at]),
			 c->gbs[at][CM_XPMEM].max / c->gbs[at][CM_LOCAL].max);

	/* Judged conservatively: the slower of the two THP attach rows
	 * (aligned hint, placement left to the module) against the faster
	 * local first touch, whichever page size that is; and only if the
	 * source really was huge. */
	bool hint_slower = a->us_per_mib[AR_XPMEM_THP].median >
			   a->us_per_mib[AR_XPMEM_THP_NOHINT].median;
	bool l4_faster = a->us_per_mib[AR_LOCAL_4K].median <
			 a->us_per_mib[AR_LOCAL_THP].median;
	bool src_huge = a->src_thp_kb * 1024L >= (long)a->len;

	x = &a->us_per_mib[hint_slower ? AR_XPMEM_THP : AR_XPMEM_THP_NOHINT];
	y = &a->us_per_mib[l4_faster ? AR_LOCAL_4K : AR_LOCAL_THP];
	g[2] = (struct goal){ .key = "thp_attach_vs_local", .limit = 1.2,
		.text = "THP attach + first touch <= 1.2x local first touch" };
	g[2].value = x->median / y->median;
	g[2].pass = src_huge && g[2].value <= 1.2;
	snprintf(g[2].detail, sizeof(g[2].detail),
		 "%.1f us/MiB (THP, %s, the slower) vs %.1f us/MiB (local "
		 "%s, the faster): ratio %.2f (best case %.2f)%s", x->median,
		 hint_slower ? "aligned hint" : "no hint", y->median,
		 l4_faster ? "4K" : "THP", g[2].value, x->min / y->min,
		 src_huge ? "" : "; the source was NOT huge: not measured");

	x = &u->ms[UR_K1];
	y = &u->ms[UR_K0];
	g[3] = (struct goal){ .key = "munmap_k1_vs_k0", .limit = 2.0,
		.text = "munmap with one attacher <= 2x munmap with none" };
	g[3].value = x->median / y->median;
	g[3].pass = g[3].value <= 2.0;
	snprintf(g[3].detail, sizeof(g[3].detail),
		 "%.2f ms vs %.2f ms: ratio %.2f (best case %.2f)", x->median,
		 y->median, g[3].value, x->min / y->min);
}

void report_goals(const struct bench_results *r)
{
	struct goal g[NGOALS];

	compute_goals(r, g);
	printf("Goals, judged on this run's medians:\n");
	for (int i = 0; i < NGOALS; i++)
		printf("   %-4s  %s\n         %s\n", g[i].pass ? "PASS" : "MISS",
		       g[i].text, g[i].detail);
	fflush(stdout);
}

/* --- JSON ----------------------------------------------------------------- */

static void json_summary(FILE *f, const char *key, const struct summary *s,
			 bool comma)
{
	fprintf(f, "\"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, "
		"\"p90\": %.6g, \"samples\": %d}%s", key, s->median, s->min,
		s->max, s->p90, s->n, comma ? ", " : "");
}

void report_json(const struct bench_opts *o, const struct bench_results *r,
		 const char *path)
{
	const struct copy_results *c = &r->copy;
	const struct attach_results *a = &r->attach;
	const struct unmap_results *u = &r->unmap;
	struct goal g[NGOALS];
	struct utsname un;
	time_t t = time(NULL);
	char date[64];
	FILE *f = fopen(path, "we");

	if (!f)
		bench_die("open %s: %s", path, strerror(errno));
	uname(&un);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "{\n  \"date\": \"%s\", \"kernel\": \"%s\", \"cpus\": %d, "
		"\"quick\": %s, \"reps\": %d, \"sample_ms\": %d,\n", date,
		un.release, o->ncpus, o->quick ? "true" : "false", o->reps,
		o->sample_ms);

	fprintf(f, "  \"copy_gbs\": [\n");
	for (int i = 0; i < c->nsizes; i++) {
		fprintf(f, "    {\"size\": %zu, ", c->size[i]);
		for (int m = 0; m < CM_COUNT; m++) {
			json_summary(f, copy_key[m], &c->gbs[i][m], true);
			fprintf(f, "\"%s_copies_per_sample\": %llu, ", copy_key[m],
				(unsigned long long)c->inner[i][m]);
		}
		fprintf(f, "\"xpmem_over_pvr\": %.4f, \"xpmem_over_local\": "
			"%.4f}%s\n",
			c->gbs[i][CM_XPMEM].median / c->gbs[i][CM_PVR].median,
			c->gbs[i][CM_XPMEM].median / c->gbs[i][CM_LOCAL].median,
			i + 1 < c->nsizes ? "," : "");
	}
	fprintf(f, "  ],\n");

	fprintf(f, "  \"attach_us_per_mib\": {\"len\": %zu, ", a->len);
	for (int row = 0; row < AR_COUNT; row++)
		json_summary(f, attach_key[row], &a->us_per_mib[row], true);
	fprintf(f, "\"src_thp_kb\": %ld, \"local_thp_kb\": %ld, "
		"\"pmds_per_aligned_attach\": %llu, \"hint_honoured\": %s},\n",
		a->src_thp_kb, a->local_thp_kb,
		(unsigned long long)a->pmds_per_attach[AR_XPMEM_THP],
		a->thp_hint_honoured ? "true" : "false");

	fprintf(f, "  \"munmap_ms\": {\"len\": %zu, ", u->len);
	for (int row = 0; row < UR_COUNT; row++)
		json_summary(f, unmap_key[row], &u->ms[row], row + 1 < UR_COUNT);
	fprintf(f, "},\n");

	compute_goals(r, g);
	fprintf(f, "  \"goals\": [\n");
	for (int i = 0; i < NGOALS; i++)
		fprintf(f, "    {\"goal\": \"%s\", \"value\": %.4f, \"limit\": "
			"%.2f, \"pass\": %s, \"detail\": \"%s\"}%s\n", g[i].key,
			g[i].value, g[i].limit, g[i].pass ? "true" : "false",
			g[i].detail, i + 1 < NGOALS ? "," : "");
	fprintf(f, "  ]\n}\n");
	if (fclose(f) != 0)
		bench_die("write %s: %s", path, strerror(errno));
}
