#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/highmem.py - cross-partition memory above the PCI hole.

Issue 10, defect 5: two partitions of 8 GiB (XPMEM_LAB_MEM=8G; another
size with XPMEM_HIGHMEM_MEM).  QEMU's pc machine then puts 3 GiB of RAM
below 4 GiB and 5 GiB above, so an owner's frame F >= 4 GiB lies at
F - 1 GiB in its RAM file, which is what a peer's window shows.  Checks:

  - the RAM files are sparse (the host holds what the guests touched only);
  - each partition's RAM reaches past 4 GiB (/proc/iomem), and each found
    the other's window (the owner's tag page is above 4 GiB: finding it
    goes through the translation);
  - the pattern scenario (data both ways, in place and after a remap) each
    way, and the 100,000-page scenario 0 -> 1, with every exported page
    above 4 GiB: the exporter reads its frames from /proc/self/pagemap
    (--frames-high) and fails if fewer lie there, and its "frames" line
    must say all of them; the attacher's partition counted remote faults
    (`xpmemctl --json stats`), and neither partition keeps anything of
    the programs (Lab.leaks);
  - the closing checks (xpmemlab.closing): kernel logs and rmmod in each.

Without the translation the tag was looked for at its untranslated frame:
no window found, every remote fault failed.  Prints "PLAN N" and exactly N
verdicts ("PASS highmem: ..."); exits 1 on any failure.  Not in the default
run (two 8 GiB guests; docs/testing.md says how long it takes): tests/run
--suite soak runs it.  Logs: $XPMEM_PARTITION_LOGS/highmem/.
"""

import os
import shutil
import sys
import time

sys.dont_write_bytecode = True   # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))
sys.path.insert(0, HERE)
from xpmemlab import Lab, suite, xpart  # noqa: E402
from xpmemlab.closing import Closing  # noqa: E402
from xpmemlab.suite import expect  # noqa: E402
import kmi as kills  # noqa: E402  (no_leaks)

N = 2
MEM = os.environ.get('XPMEM_HIGHMEM_MEM', '8G')
FOUR_GIB = 1 << 32


class Highmem(suite.Suite):
    def __init__(self, lab, logs):
        super().__init__('highmem', os.path.join(logs, 'highmem.log'))
        self.lab, self.logs = lab, logs

    def sparse(self):
        for p in range(N):
            st = os.stat(self.lab.ram_file(p))
            used = st.st_blocks * 512
            self.say(f'partition {p}: RAM file {st.st_size} bytes, {used} on disk')
            expect(used < st.st_size // 2, f'partition {p}: {used} of the RAM file\'s '
                   f'{st.st_size} bytes on disk')

    def windows(self):
        lab = self.lab
        for p in range(N):
            ram = [l for l in lab.exec(p, ['cat', '/proc/iomem'], timeout=30).splitlines()
                   if l.endswith(': System RAM') and not l.startswith(' ')]
            self.say(f'partition {p}: ' + ' | '.join(ram))
            top = max(int(l.split('-')[1].split()[0], 16) for l in ram) if ram else 0
            expect(top >= FOUR_GIB, f'partition {p} has no RAM above 4 GiB (top {top:#x})')
            q = 1 - p
            lab.wait_state(p, q, 'UP', 60)
            # The rescan identifies windows by the owner's tag.
            def found(p=p, q=q):
                r = lab.partitions(p)[q]
                return r if r['window'] != '-1' else None
            row = lab.wait_until(f'partition {p} finds its window onto {q}', found, 30,
                                 period=0.3)
            self.say(f'partition {p} sees {q}: {row}')
            self.say(lab.exec(p, ['sh', '-c', 'dmesg | grep "is peer window"; true'],
                              timeout=30).strip())

    def scenario(self, name, e, a, scenario, pages):
        lab = self.lab
        for p in range(N):     # 100,000 faults on a loaded host: each may take a while
            lab.set_tunable(p, 'fault_ms', 3000)
        before = lab.counters(a)['remote_faults']
        lines = xpart.pair(lab, name, e, a, scenario, ['--pages', pages, '--frames-high', pages],
                           (), self.logs, self.say)
        w = xpart.values(lines, 'frames')     # "frames below_4g L above_4g H"
        frames = dict(zip(w[0::2], w[1::2]))
        self.say(f'exporter in {e}: {frames}')
        expect(frames.get('above_4g') == str(pages),
               f'the exporter says {frames or "nothing"} of its {pages} frames above 4 GiB')
        after = lab.counters(a)['remote_faults']
        self.say(f'partition {a}: remote_faults {before} -> {after}')
        expect(after > before, f'partition {a} counted no remote fault ({before} -> {after})')
        for p in (e, a):
            kills.no_leaks(lab, p, say=self.say)


def main():
    # Every `xpmem-lab up` of this process's lab (Lab copies the environment).
    os.environ['XPMEM_LAB_MEM'] = MEM
    build = os.environ.get('XPMEM_BUILD_DIR', os.path.join(REPO, 'build'))
    logs = os.path.join(os.environ.get('XPMEM_PARTITION_LOGS',
                                       os.path.join(build, 'lab', 'logs', 'partition')),
                        'highmem')
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    lab = Lab(REPO, build)
    s = Highmem(lab, logs)
    checks = [
        (f'RAM files of {MEM} are sparse', s.sparse),
        ('RAM above 4 GiB in both, each found the other\'s window', s.windows),
        ('pattern, every exported page above 4 GiB (0 -> 1)',
         lambda: s.scenario('hm-pattern', 0, 1, 'pattern', 64)),
        ('pattern, every exported page above 4 GiB (1 -> 0)',
         lambda: s.scenario('hm-pattern-back', 1, 0, 'pattern', 64)),
        ('100,000 pages stamped and checked, all above 4 GiB (0 -> 1)',
         lambda: s.scenario('hm-scale', 0, 1, 'scale', 100000)),
    ]
    closing = Closing(s, lab, N)
    names = [n for n, _ in checks] + closing.names
    s.plan(len(names))
    if not os.access(xpart.prog(lab, 'export'), os.X_OK):
        s.not_run(names, f'not built: {xpart.prog(lab, "export")}')
        return 1
    t0 = time.monotonic()
    try:
        st = lab.boot(N, os.path.join(logs, 'up.log'))
        s.say(f'up -n {N} with {MEM}: status {st}, {time.monotonic() - t0:.0f} s')
        if st != 0:
            s.not_run(names, f'up -n {N} with {MEM} each failed (status {st}, '
                      f'{os.path.join(logs, "up.log")})')
            return 1
        s.run(checks)
        closing.run()
    finally:
        lab.power_off(os.path.join(logs, 'down.log'))
        print(f'    highmem: {time.monotonic() - t0:.0f} s', flush=True)
    return s.failed


if __name__ == '__main__':
    sys.exit(main())
