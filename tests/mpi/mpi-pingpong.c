/*
 * mpi-pingpong: two MPI ranks bounce messages of growing size and check
 * every byte they receive; rank 0 prints the bandwidth per size and, around
 * the transfers, the xpmem module's counters (XPMEM_IOC_STATS), so that the
 * caller can tell whether the transfers went through xpmem.
 *
 *   mpirun -n 2 mpi-pingpong [--min BYTES] [--max BYTES] [--reps N]
 *
 * Sizes go from --min (8) to --max (64 MiB) by factors of 4, the last one
 * clamped to --max.  Every message carries its own pattern (a function of
 * size, direction and iteration), so a stale or misplaced buffer fails the
 * check too.  A mismatch prints where and aborts the job (exit status != 0).
 *
 * Timing: a repetition is ITERS round trips.  Rank 0 times only its Send +
 * Recv; that includes rank 1's check of the ping and the filling of the
 * pong, which rank 1 times itself and reports, and which is subtracted.
 * Bandwidth = size / one-way time, in MB/s (10^6 bytes/s); the figure
 * printed is the median of --reps repetitions, with min and max.
 *
 * Built per MPI library by tests/mpi/build-programs (mpicc.openmpi,
 * mpicc.mpich); needs kmod/uapi on the include path for the counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xpmem_ioctl.h"

#define MAX_REPS 64

static int rank;

static uint64_t seed_of(size_t size, int dir, long iter)
{
	uint64_t s = (uint64_t)size * 0x9E3779B97F4A7C15ull;

	s ^= ((uint64_t)dir << 62) ^ ((uint64_t)iter * 0xD1B54A32D192ED03ull);
	return s | 1;
}

/* Word i of a message: distinct per word and per seed. */
static inline uint64_t word_at(uint64_t seed, size_t i)
{
	uint64_t x = seed + i * 0xBF58476D1CE4E5B9ull;

	x ^= x >> 31;
	return x;
}

static void fill(unsigned char *buf, size_t size, uint64_t seed)
{
	size_t words = size / 8, i;
	uint64_t last;

	for (i = 0; i < words; i++)
		((uint64_t *)buf)[i] = word_at(seed, i);
	last = word_at(seed, words);
	memcpy(buf + words * 8, &last, size % 8);
}

/* Checks every byte; on a mismatch names the first bad byte and aborts. */
static void check(const unsigned char *buf, size_t size, uint64_t seed,
		  const char *what, long iter)
{
	size_t words = size / 8, i, b;
	uint64_t want;

	for (i = 0; i < words; i++) {
		if (((const uint64_t *)buf)[i] == word_at(seed, i))
			continue;
		want = word_at(seed, i);
		for (b = 0; b < 8; b++)
			if (buf[i * 8 + b] != ((unsigned char *)&want)[b])
				break;
		fprintf(stderr,
			"mpi-pingpong: rank %d: %s of %zu bytes, iteration %ld: byte %zu is 0x%02x, expected 0x%02x\n",
			rank, what, size, iter, i * 8 + b, buf[i * 8 + b],
			((unsigned char *)&want)[b]);
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
	want = word_at(seed, words);
	if (memcmp(buf + words * 8, &want, size % 8) != 0) {
		fprintf(stderr, "mpi-pingpong: rank %d: %s of %zu bytes, iteration %ld: tail differs\n",
			rank, what, size, iter);
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
}

/* The module's counters, or a line saying there are none (no /dev/xpmem). */
static void print_xpmem_stats(const char *when)
{
	struct xpmem_stats st;
	int fd = open("/dev/xpmem", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("xpmem-stats when=%s unavailable (%s)\n", when, strerror(errno));
		return;
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, XPMEM_IOC_STATS, &st) != 0) {
		printf("xpmem-stats when=%s unavailable (XPMEM_IOC_STATS: %s)\n", when, strerror(errno));
	} else {
		printf("xpmem-stats when=%s segments=%llu attachments=%llu permits=%llu faults=%llu pages_mapped=%llu\n",
		       when, (unsigned long long)st.segments, (unsigned long long)st.attachments,
		       (unsigned long long)st.permits, (unsigned long long)st.faults,
		       (unsigned long long)st.pages_mapped);
	}
	close(fd);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	return (size_t)v;
}

int main(int argc, char **argv)
{
	size_t min = 8, max = 64ul << 20, size;
	int reps = 5, nranks, i;
	unsigned long long checked = 0;
	unsigned char *sbuf, *rbuf;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min") && i + 1 < argc)
			min = parse_size(argv[++i]);
		else if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = parse_size(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			if (rank == 0)
				fprintf(stderr, "usage: mpi-pingpong [--min BYTES] [--max BYTES] [--reps N]\n");
			MPI_Abort(MPI_COMM_WORLD, 2);
		}
	}
	if (nranks != 2 || min < 1 || max < min || reps < 1 || reps > MAX_REPS) {
		if (rank == 0)
			fprintf(stderr, "mpi-pingpong: needs exactly 2 ranks, 1 <= min <= max, 1 <= reps <= %d\n",
				MAX_REPS);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	sbuf = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	rbuf = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	if (!sbuf || !rbuf) {
		fprintf(stderr, "mpi-pingpong: rank %d: out of memory\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	memset(sbuf, 0, max);
	memset(rbuf, 0, max);
	if (rank == 0) {
		print_xpmem_stats("start");
		printf("%-10s %6s %4s %12s %12s %12s %10s\n", "bytes", "iters", "reps",
		       "MB/s median", "min", "max", "usec 1-way");
	}

	for (size = min;; size = size * 4 > max ? max : size * 4) {
		/* Enough round trips for ~16 MiB each way, between 3 and 100. */
		long iters = (long)((16ul << 20) / size), it;
		double bw[MAX_REPS], lat[MAX_REPS];
		int r;

		if (iters < 3)
			iters = 3;
		if (iters > 100)
			iters = 100;
		for (r = 0; r < reps; r++) {
			double comm = 0, work = 0, t;

			MPI_Barrier(MPI_COMM_WORLD);
			for (it = 0; it < iters; it++) {
				if (rank == 0) {
					fill(sbuf, size, seed_of(size, 0, it + r * iters));
					t = MPI_Wtime();
					MPI_Send(sbuf, (int)size, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
					MPI_Recv(rbuf, (int)size, MPI_BYTE, 1, 2, MPI_COMM_WORLD,
						 MPI_STATUS_IGNORE);
					comm += MPI_Wtime() - t;
					check(rbuf, size, seed_of(size, 1, it + r * iters), "pong", it);
				} else {
					MPI_Recv(rbuf, (int)size, MPI_BYTE, 0, 1, MPI_COMM_WORLD,
						 MPI_STATUS_IGNORE);
					t = MPI_Wtime();
					check(rbuf, size, seed_of(size, 0, it + r * iters), "ping", it);
					fill(sbuf, size, seed_of(size, 1, it + r * iters));
					work += MPI_Wtime() - t;
					MPI_Send(sbuf, (int)size, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
				}
				checked += size;
			}
			if (rank == 1) {
				MPI_Send(&work, 1, MPI_DOUBLE, 0, 3, MPI_COMM_WORLD);
			} else {
				double oneway;

				MPI_Recv(&work, 1, MPI_DOUBLE, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
				oneway = (comm - work) / (2.0 * (double)iters);
				if (oneway <= 0)
					oneway = 1e-9;
				lat[r] = oneway * 1e6;
				bw[r] = (double)size / oneway / 1e6;
			}
		}
		if (rank == 0) {
			qsort(bw, (size_t)reps, sizeof(bw[0]), cmp_double);
			qsort(lat, (size_t)reps, sizeof(lat[0]), cmp_double);
			printf("%-10zu %6ld %4d %12.1f %12.1f %12.1f %10.2f\n", size, iters, reps,
			       bw[reps / 2], bw[0], bw[reps - 1], lat[reps / 2]);
			fflush(stdout);
		}
		if (size == max)
			break;
	}
	/* Before MPI_Finalize: UCX still holds its segment and attachments. */
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0)
		print_xpmem_stats("end");
	MPI_Barrier(MPI_COMM_WORLD);
	{
		unsigned long long total = 0;

		MPI_Reduce(&checked, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
		if (rank == 0)
			printf("mpi-pingpong: PASS, %llu bytes received and checked\n", total);
	}
	free(sbuf);
	free(rbuf);
	MPI_Finalize();
	return 0;
}
