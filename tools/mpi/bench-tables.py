#!/usr/bin/env python3
"""bench-tables.py SAMPLES.TSV REPS - the tables of tools/mpi/mpi-bench.

Each TSV line is: kind, size, variant, value (MB/s for *_bw, usec for
am_lat).  Prints, per kind, the median of each variant per size with the
number of samples, and the ratios of xpmem to the others (ratios of
medians of the same run)."""
import statistics
import sys
from collections import defaultdict


def human(n):
    n = int(n)
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def main():
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with open(sys.argv[1]) as f:
        for line in f:
            kind, size, var, val = line.rstrip("\n").split("\t")
            data[kind][int(size)][var].append(float(val))
    reps = sys.argv[2]
    titles = {
        "put_bw": ("UCX put bandwidth (ucx_perftest -t put_bw), MB/s", "xpmem",
                   ["xpmem", "cma", "posix", "xpmem-cross"]),
        "am_lat": ("UCX active-message latency (ucx_perftest -t am_lat), usec, 50th percentile",
                   "xpmem", ["xpmem", "posix", "xpmem-cross"]),
        "ompi_bw": ("Open MPI point-to-point (mpi-pingpong, pml ucx), one-way MB/s", "xpmem",
                    ["xpmem", "cma", "posix"]),
    }
    for kind in ("put_bw", "am_lat", "ompi_bw"):
        if kind not in data:
            continue
        title, base, variants = titles[kind]
        variants = [v for v in variants if any(v in data[kind][s] for s in data[kind])]
        others = [v for v in variants if v != base]
        print("\n%s (median of %s; n = samples)\n" % (title, reps))
        head = ["size"] + variants + ["%s / %s" % (base, o) for o in others]
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for size in sorted(data[kind]):
            row = [human(size)]
            med = {}
            for v in variants:
                vals = data[kind][size].get(v, [])
                if vals:
                    med[v] = statistics.median(vals)
                    row.append("%.1f (n=%d)" % (med[v], len(vals)))
                else:
                    row.append("-")
            for o in others:
                if base in med and o in med and med[o] > 0:
                    row.append("%.2f" % (med[base] / med[o]))
                else:
                    row.append("-")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
