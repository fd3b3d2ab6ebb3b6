# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.xpart - the cross-partition test programs, run from the host.

build/tests/partition/xpart/xpmem-xpart-* play the two halves of a
scenario in two partitions: the exporter prints "segids CTL DATA pages N"
(the segments the attacher needs), both end with "PASS SCENARIO" or
"FAIL SCENARIO: why" (tests/partition/xpart/attach.cc has the table).

  pair()         one scenario: the exporter in one partition (a Proc, its
                 partition's agent busy), the attacher in another
  Exporter       an exporter left running while the host does other things
  attach()       an attacher, run to its end
  Daemon         a program left running in a partition with setsid, which
                 frees the partition's agent (two programs in one
                 partition, or a program the host talks to meanwhile); its
                 output in the guest's /tmp/TAG.out

Each keeps its output in LOGDIR/NAME.exp / NAME.att for the reader of a
failure; every wait is bounded (the lab's --timeout kills a program in the
guest, and the host's waits have their own bounds).
"""

import os
import re

from .lab import LabError

# An exporter's wait for its attacher's next step is bounded by the
# programs (60 s); a scenario's whole run by this.
RUN_S = 600


def prog(lab, name):
    return os.path.join(lab.build, 'tests', 'partition', 'xpart', f'xpmem-xpart-{name}')


def _keep(logdir, name, lines):
    if logdir:
        with open(os.path.join(logdir, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def passed(lines, tag=''):
    """Whether the program's output has its "PASS TAG" line."""
    return any(l.startswith('PASS ' + tag) for l in lines)


def values(lines, key):
    """The words after KEY on its first "KEY ..." line, or []."""
    for l in lines:
        w = l.split()
        if len(w) >= 2 and w[0] == key:
            return w[1:]
    return []


def value(lines, key):
    """The word after KEY on its first "KEY ..." line, or None."""
    return (values(lines, key) or [None])[0]


class Exporter:
    """xpmem-xpart-export SCENARIO ARGS in partition `part`, in the
    background; self.segids once it printed them."""

    def __init__(self, lab, part, scenario, args=(), name='exp', logdir=None, timeout=RUN_S):
        self.lab, self.part, self.name, self.logdir = lab, part, name, logdir
        self.p = lab.spawn(part, [prog(lab, 'export'), scenario] + [str(a) for a in args],
                           timeout=timeout, name=f'{name} exporter in {part}',
                           env={'XPMEMCTL': lab.ctl})
        try:
            # It maps and fills its pages first: 100,000 of them took more
            # than 60 s on the debug kernel (a host bound: scaled).
            _, line = self.p.expect('segids', 60 * lab.time_scale())
        except LabError:
            self.p.stop()
            self._keep()
            raise
        self.segids = line.split()[1:3]
        # The owner's partition id is in the segid's bits 62..48.
        for seg in self.segids:
            if (int(seg, 0) >> 48) & 0x7fff != part:
                self.stop()
                raise LabError(f'segid {seg} does not carry partition {part}')

    def _keep(self):
        _keep(self.logdir, f'{self.name}.exp', self.p.log)

    def finish(self, timeout=RUN_S + 60):
        """Waits for its end; returns its output lines; raises unless it
        passed."""
        try:
            self.p.wait(timeout)
        finally:
            self._keep()
        if not passed(self.p.log):
            raise LabError(f'the exporter in {self.part} did not pass: {self.p.tail()}')
        return self.p.log

    def stop(self):
        self.p.stop()
        self._keep()


def attach(lab, part, scenario, segids, args=(), name='att', logdir=None, timeout=RUN_S):
    """xpmem-xpart-attach SCENARIO CTL DATA ARGS in `part`, to its end;
    returns (passed, output lines)."""
    status, out, err = lab.run('exec', part, '--timeout', timeout, '--env',
                               f'XPMEMCTL={lab.ctl}', '--', prog(lab, 'attach'), scenario,
                               *segids, *[str(a) for a in args], timeout=timeout + 60,
                               check=False)
    lines = (out + err).splitlines()
    _keep(logdir, f'{name}.att', lines)
    return status == 0 and passed(lines), lines


def pair(lab, name, e, a, scenario, eargs=(), aargs=(), logdir=None, say=print):
    """One scenario: exporter in `e`, attacher in `a`.  Returns the
    exporter's output lines; raises LabError unless both passed."""
    say(f'== {name}: {scenario}, exporter in {e}, attacher in {a}')
    exp = Exporter(lab, e, scenario, eargs, name=name, logdir=logdir)
    try:
        ok, att = attach(lab, a, scenario, exp.segids, aargs, name=name, logdir=logdir)
    except BaseException:
        exp.stop()
        raise
    say('\n'.join('    attacher: ' + l for l in att))
    try:
        # A failed attacher says so in the control page: the exporter ends.
        lines = exp.finish()
    finally:
        say('\n'.join('    exporter: ' + l for l in exp.p.log if not l.startswith('pfn ')))
    if not ok:
        raise LabError(f'{name}: the attacher in {a} did not pass: '
                       f'{" | ".join(att[-4:]) or "(nothing)"}')
    return lines


class Daemon:
    """ARGV left running in partition `part` (setsid, output in the guest's
    /tmp/TAG.out); returns once a line matches `ready` (a regex; None: at
    once), with the output so far in self.lines.  wait_s (and result's)
    are seconds on the stock kernel, times lab.time_scale() as Lab.exec's
    bounds: a race exporter was not ready within 30 s on the debug kernel."""

    def __init__(self, lab, part, tag, argv, ready=None, wait_s=30):
        self._at(lab, part, tag)
        if ready is None:
            ready, wait_s = '', 0
        script = ('out=$1 ready=$2 n=$3; shift 3; rm -f "$out"; '
                  'setsid "$@" >"$out" 2>&1 </dev/null & echo $! >"$out.pid"; i=0; '
                  'while [ $i -lt "$n" ]; do grep -qE "$ready" "$out" 2>/dev/null && break; '
                  'i=$((i + 1)); sleep 0.1; done; cat "$out"')
        n = wait_s * 10 * lab.time_scale()     # 0.1 s steps
        text = lab.exec(part, ['sh', '-c', script, 'daemon', self.out, ready, n] +
                        [str(a) for a in argv], timeout=wait_s + 30)
        self.lines = text.splitlines()
        if ready and not any(re.search(ready, l) for l in self.lines):
            self.stop()
            raise LabError(f'{tag} in partition {part} never printed /{ready}/: '
                           f'{" | ".join(self.lines[-4:]) or "(nothing)"}')

    def _at(self, lab, part, tag):
        self.lab, self.part, self.tag = lab, part, tag
        self.out = f'/tmp/{tag}.out'

    @classmethod
    def of(cls, lab, part, tag):
        """The daemon TAG started earlier in `part` (by the host or a guest
        snippet writing /tmp/TAG.out and /tmp/TAG.out.pid)."""
        d = cls.__new__(cls)
        d._at(lab, part, tag)
        d.lines = []
        return d

    def first(self, key):
        return value(self.lines, key)

    def result(self, wait_s=40):
        """Waits for its PASS or FAIL line; returns (passed, output lines)."""
        script = ('out=$1 n=$2; i=0; while [ $i -lt "$n" ]; do '
                  'grep -qE "^(PASS|FAIL) " "$out" && break; i=$((i + 1)); sleep 0.1; done; '
                  'cat "$out"')
        n = wait_s * 10 * self.lab.time_scale()
        text = self.lab.exec(self.part, ['sh', '-c', script, 'result', self.out, n],
                             timeout=wait_s + 30)
        lines = text.splitlines()
        return passed(lines), lines

    def stop(self):
        """Kills it (a daemon that already ended is no error)."""
        self.lab.exec(self.part, ['sh', '-c', 'kill $(cat "$1.pid") 2>/dev/null; true', 'stop',
                                  self.out], timeout=30)
