# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.puppet - a process in a partition, driven one command at a time.

The process is build/tests/partition/xpart/xpmem-xpart-puppet (its command
language is in tests/partition/xpart/puppet.cc).  It leaves its partition's
agent free once started, so that the host can read that partition's
counters, run other programs there, or kill the process while it is in
the middle of something (a fault, a munmap) started with `async`.
"""

import os
import re
import subprocess

from .lab import LabError, kv


class Puppet:
    def __init__(self, lab, part, name, life=900):
        self.lab, self.part, self.name = lab, part, name
        self.prog = os.path.join(lab.build, 'tests', 'partition', 'xpart', 'xpmem-xpart-puppet')
        out = lab.exec(part, [self.prog, 'start', name, '--life', life], timeout=60)
        m = re.search(r'pid (\d+)', out)
        if not m:
            raise LabError(f'puppet {name} in partition {part} did not start: {out!r}')
        self.pid = int(m.group(1))
        self.gone = False

    def __repr__(self):
        return f'puppet {self.name} in partition {self.part}'

    def try_(self, *words, timeout=60):
        """Sends one command; returns (ok, {key: value}, answer line)."""
        argv = [self.prog, 'cmd', self.name, '--timeout', timeout] + [str(w) for w in words]
        try:
            r = subprocess.run([self.lab.lab, 'exec', str(self.part), '--timeout',
                                str(timeout + 30), '--'] + [str(a) for a in argv],
                               env=self.lab.env, cwd=self.lab.repo, capture_output=True,
                               text=True, timeout=timeout + 90)
        except subprocess.TimeoutExpired:
            raise LabError(f'{self}: "{" ".join(map(str, words))}" had no answer')
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''
        if r.returncode not in (0, 1) or not line:
            raise LabError(f'{self}: "{" ".join(map(str, words))}" failed (status '
                           f'{r.returncode}): {(r.stdout + r.stderr).strip()[-400:]}')
        return r.returncode == 0, kv(line), line

    def __call__(self, *words, timeout=60):
        """Sends one command that must succeed; returns its key=value dict."""
        ok, d, line = self.try_(*words, timeout=timeout)
        if not ok:
            raise LabError(f'{self}: "{" ".join(map(str, words))}": {line}')
        return d

    def event(self, word, timeout=60):
        """Waits for the event line '- WORD ...' of an async command."""
        out = self.lab.exec(self.part, [self.prog, 'wait', self.name, word, '--timeout',
                                        timeout], timeout=timeout + 30)
        return kv(out)

    def pfns(self, region):
        return [int(x, 16) for x in self(('pfns'), region)['pfns'].split(',')]

    def kill(self):
        """SIGKILL, from inside its partition."""
        self.lab.exec(self.part, ['kill', '-9', self.pid], timeout=30)
        self.gone = True

    def alive(self):
        status, _, _ = self.lab.run('exec', self.part, '--timeout', 30, '--', 'kill', '-0',
                                    self.pid, timeout=90, check=False)
        return status == 0

    def exit(self):
        if not self.gone:
            self('exit')
            self.gone = True
