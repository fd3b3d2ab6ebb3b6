#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/soak.py - kill-mid-invalidate, over and over.

Three partitions (tools/xpmem-lab up -n 3).  XPMEM_SOAK_ROUNDS times
(default 20) partition 1, which holds a region of 0 and stamped canaries
into it, is killed while its own kernel shows 0's INVALIDATE in service,
and restarted: each round is tests/partition/kmi.py's invalidate() with
memory pressure, around the lab library's one kill (xpmemlab.kmi).  A
round passes when the munmap returned within dead_ms + 2 s of the kill,
0 showed 1 DEAD with every page quarantined, the quarantined frames still
held 1's canaries in 0's RAM file after xpmem-xpart-pressure took most of
0's memory, 0 and 2 kept nothing of the exited programs, and 1 rejoined
under a new epoch with the quarantine and every pin gone.

One verdict per round, each bounded (ROUND_S, as every step in it); after
a failed round the lab is healed (1 restarted if it does not answer, the
round's programs killed, every partition UP) so that the next round judges
itself.  Then the closing checks (xpmemlab.closing): every partition's
kernel log, the console logs of the killed boots (one per round at least),
rmmod in each.  Prints the munmap times it measured.

Prints "PLAN N" and exactly N verdicts ("PASS soak: ..." / "FAIL soak:
..."); exits 1 on any failure.  Logs: $XPMEM_PARTITION_LOGS/soak/
(soak.log: every round, what it saw).  tests/run --suite soak runs it; it
is not in the default run.
"""

import glob
import os
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True   # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))
sys.path.insert(0, HERE)
from xpmemlab import Lab, LabError, median, suite, xpart  # noqa: E402
from xpmemlab.closing import Closing  # noqa: E402
import kmi as kills  # noqa: E402  (tests/partition/kmi.py: the checks around the kill)

N = 3
ROUNDS = int(os.environ.get('XPMEM_SOAK_ROUNDS', '20'))
# A round takes 1.5 to 2 minutes here (pressure, restart; load 8 to 15);
# its steps have their own bounds, whose sum is far above this one (the
# bash soak's per-round `timeout 900`).
ROUND_S = 900


class Soak(suite.Suite):
    def __init__(self, lab, logs):
        super().__init__('soak', os.path.join(logs, 'soak.log'))
        self.lab, self.logs = lab, logs
        self.munmap_ms = []

    def round(self, i):
        def on_alarm(signum, frame):
            raise LabError(f'round {i} took more than {ROUND_S} s')
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(ROUND_S)
        try:
            k = kills.invalidate(self.lab, self.logs, f'kmi-{i}', True, say=self.say)
        finally:
            signal.alarm(0)
        self.munmap_ms.append(k.munmap_ms)

    def heal(self):
        """1 running and UP, no program of the failed round left."""
        lab = self.lab
        self.say('heal: bringing every partition back')
        lab.stop_all()
        for p in range(N):
            lab.run('cont', p, timeout=60, check=False)
        if lab.run('exec', 1, '--timeout', 20, '--', 'true', timeout=60, check=False)[0] != 0:
            tag = f'heal-{int(time.time())}'    # killed: its console counts as a killed boot's
            lab.restart(1, log=os.path.join(self.logs, f'{tag}.restart'))
            shutil.copyfile(lab.killed_console(1),
                            os.path.join(self.logs, f'{tag}.console-killed.log'))
        else:
            lab.inject(1, 'delay_invalidate_ms', 0)
        for p in range(N):
            lab.run('exec', p, '--timeout', 60, '--', 'sh',
                    os.path.join(REPO, 'tools', 'lab', 'guest-strays.sh'), '--kill',
                    timeout=120, check=False)
        for p in range(N):
            for q in range(N):
                lab.wait_state(p, q, 'UP', 120)

    def all_up(self):
        for p in range(N):
            for q in range(N):
                self.lab.wait_state(p, q, 'UP', 60)

    def times(self):
        v = self.munmap_ms      # the guest's own clock around the munmap
        if v:
            print(f'    munmap under a dying peer, ms (inval_ms 10000, dead_ms 1000): n {len(v)}  '
                  f'min {min(v):.0f}  median {median(v):.0f}  max {max(v):.0f}', flush=True)


def main():
    build = os.environ.get('XPMEM_BUILD_DIR', os.path.join(REPO, 'build'))
    logs = os.path.join(os.environ.get('XPMEM_PARTITION_LOGS',
                                       os.path.join(build, 'lab', 'logs', 'partition')), 'soak')
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    lab = Lab(REPO, build)
    s = Soak(lab, logs)
    checks = [(f'all {N} partitions UP in every view', s.all_up)]
    checks += [(f'round {i} of {ROUNDS}: 1 killed mid-invalidate (seen in service by its '
               'kernel): fenced, quarantined, canaries kept under pressure, released on '
               'restart', lambda i=i: s.round(i)) for i in range(1, ROUNDS + 1)]
    closing = Closing(s, lab, N, at_least=ROUNDS,
                      consoles=lambda: glob.glob(os.path.join(logs, '*.console-killed.log')))
    names = [n for n, _ in checks] + closing.names
    s.plan(len(names))
    missing = [p for p in ('puppet', 'pressure') if not os.access(xpart.prog(lab, p), os.X_OK)]
    if missing:
        s.not_run(names, 'not built: ' + ', '.join(xpart.prog(lab, p) for p in missing))
        return 1
    try:
        st = lab.boot(N, os.path.join(logs, 'up.log'))
        if st != 0:
            s.not_run(names, f'up -n {N} with the module failed (status {st}, '
                      f'{os.path.join(logs, "up.log")})')
            return 1
        t0 = time.monotonic()
        s.run(checks)
        s.times()
        print(f'    {ROUNDS} rounds in {time.monotonic() - t0:.0f} s', flush=True)
        closing.run()
    finally:
        lab.power_off(os.path.join(logs, 'down.log'))
    return s.failed


if __name__ == '__main__':
    sys.exit(main())
