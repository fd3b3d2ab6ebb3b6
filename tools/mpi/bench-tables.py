#!/usr/bin/env python3
"""bench-tables.py SAMPLES.TSV REPS - the tables of tools/mpi/mpi-bench.
bench-tables.py --from-suite LOGDIR - the same tables from the logs of one
run of the mpi suite (tests/mpi/run-suite.sh: build/lab/logs/mpi/).

Each TSV line is: kind, size, variant, value (MB/s for *_bw and uct_put,
usec for am_lat).  Prints, per kind, the median of each variant per size
with the number of samples, and the ratios of xpmem to the others (ratios
of medians of the same run)."""
import os
import re
import statistics
import sys
from collections import defaultdict


def human(n):
    n = int(n)
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def final_field(path, field):
    """Field `field` (1-based, "Final:" is 1) of ucx_perftest's Final line."""
    with open(path) as f:
        for line in f:
            if line.startswith("Final:"):
                return float(line.split()[field - 1])
    return None


def from_suite(logdir):
    """(kind, size, variant, value) samples from the logs of one suite run."""
    out = []
    for name in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, name)
        m = re.match(r"perftest-(put_bw|am_lat)-(.+)\.log$", name)
        if m:
            kind, var = m.group(1), m.group(2)
            with open(path) as f:
                text = f.read()
            size = re.search(r"-s (\d+)", text)
            size = int(size.group(1)) if size else (1048576 if kind == "put_bw" else 8)
            # The 50th percentile of the per-iteration time: the overall
            # figure of one run on a loaded host is its preemptions'.
            p50 = final_field(path, 3)
            if p50:
                out.append((kind, size, var, size / p50 if kind == "put_bw" else p50))
            continue
        m = re.match(r"pingpong-(openmpi|mpich)-(\w+)\.log$", name)
        if m:
            kind = "ompi_bw" if m.group(1) == "openmpi" else "mpich_bw"
            with open(path) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 7 and w[0].isdigit():
                        out.append((kind, int(w[0]), m.group(2), float(w[3])))
            continue
        m = re.match(r"uct-check-(.+)\.log$", name)
        if m:
            with open(path) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 4 and w[0].isdigit() and w[2] == "ok":
                        out.append(("uct_put", int(w[0]), m.group(1), float(w[1])))
    return out


def main():
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    if sys.argv[1] == "--from-suite":
        samples = from_suite(sys.argv[2])
        reps = "1 run"
    else:
        with open(sys.argv[1]) as f:
            samples = [l.rstrip("\n").split("\t") for l in f]
        reps = sys.argv[2]
    for kind, size, var, val in samples:
        data[kind][int(size)][var].append(float(val))
    titles = {
        "put_bw": ("UCX put bandwidth (ucx_perftest -t put_bw), MB/s = size / median iteration time", "xpmem",
                   ["xpmem", "cma", "posix", "xpmem-cross"]),
        "am_lat": ("UCX active-message latency (ucx_perftest -t am_lat), usec, 50th percentile",
                   "xpmem", ["xpmem", "posix", "xpmem-cross"]),
        "ompi_bw": ("Open MPI point-to-point (mpi-pingpong, pml ucx), one-way MB/s", "xpmem",
                    ["xpmem", "cma", "posix"]),
        "mpich_bw": ("MPICH point-to-point (mpi-pingpong, ch4:ucx), one-way MB/s", "xpmem",
                     ["xpmem", "cma", "posix"]),
        "uct_put": ("UCT put_bcopy + flush (uct-xpmem-check, every byte checked), MB/s", "xpmem",
                    ["xpmem", "xpmem-cross"]),
    }
    for kind in ("put_bw", "am_lat", "ompi_bw", "mpich_bw", "uct_put"):
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
