# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.closing - the checks that end a partition suite.

After its own checks a partition suite judges the lab as they left it,
each partition in turn:

  PREFIXpartition P: kernel log clean     tools/xpmem-lab dmesg-check P (its
                                          dmesg and its console log)
  PREFIXthe killed boots' console logs clean
                                          log-check of the consoles the suite
                                          kept of the boots it killed: a killed
                                          boot's last words are only there;
                                          fewer than `at_least` kept fails
  PREFIXpartition P: rmmod xpmem (WHY)    the leak check: the module refuses
                                          to unload while it holds anything

  c = Closing(s, lab, 3, prefix='remote: ', consoles=lambda: files, at_least=2)
  s.plan(len(checks) + len(c.names))   # c.names: the verdicts it prints
  ...
  c.run()

They run after the suite stopped healing (a failed closing check calls no
heal(): the lab is judged as the checks left it).  In a partial run (the
suite's `only`) each runs if selected, like any check, and otherwise SKIPs
("partial run"): selecting "kernel log", "console logs" or "rmmod xpmem"
puts them in a run of a few checks.
"""

from .suite import Fail


class Closing:
    def __init__(self, s, lab, nparts, prefix='', rmmod='nothing pinned or leaked',
                 consoles=None, at_least=1,
                 consoles_name="the killed boots' console logs clean", before_rmmod=None):
        """consoles: a function returning the kept console files (called
        when the check runs), or None for a suite that kills no partition;
        before_rmmod(P): what to clear first (a suite's stray puppets)."""
        self.s, self.lab, self.n = s, lab, nparts
        self.consoles, self.at_least = consoles, at_least
        self.before_rmmod = before_rmmod
        self.log_names = [f'{prefix}partition {p}: kernel log clean' for p in range(nparts)]
        self.console_names = [prefix + consoles_name] if consoles else []
        self.rmmod_names = [f'{prefix}partition {p}: rmmod xpmem ({rmmod})'
                            for p in range(nparts)]
        self.names = self.log_names + self.console_names + self.rmmod_names

    def run(self):
        checks = [(name, lambda p=p: self.log_clean(p))
                  for p, name in enumerate(self.log_names)]
        checks += [(name, self.consoles_clean) for name in self.console_names]
        checks += [(name, lambda p=p: self.rmmod(p))
                   for p, name in enumerate(self.rmmod_names)]
        for name, fn in checks:
            if self.s.selected(name):
                self.s.check(name, fn, heal=False)
            else:
                self.s.skip(name, 'partial run')

    def log_clean(self, part):
        hits = self.lab.dmesg_hits(part)
        self.s.say('\n'.join(hits) or f'partition {part}: kernel log clean')
        if hits:
            raise Fail('; '.join(hits[:3]))

    def consoles_clean(self):
        files = sorted(self.consoles())
        hits = self.lab.log_check(*files) if files else []
        self.s.say(f'{len(files)} console logs of killed boots read: {hits}')
        if len(files) < self.at_least:
            raise Fail(f'{len(files)} console logs of killed boots, not {self.at_least}')
        if hits:
            raise Fail('; '.join(hits[:3]))

    def rmmod(self, part):
        if self.before_rmmod:
            self.before_rmmod(part)
        st, out, err = self.lab.run('exec', part, '--timeout', 60, '--', 'busybox', 'rmmod',
                                    'xpmem', timeout=120, check=False)
        self.s.say(f'rmmod in {part}: status {st} {(out + err).strip()}')
        if st != 0:
            raise Fail((out + err).strip() or f'status {st}')

