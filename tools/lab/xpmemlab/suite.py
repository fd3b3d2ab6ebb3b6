# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.suite - the verdicts of a script suite, counted.

A script suite (tests/partition/*.py) prints "PLAN N" first and then
exactly N verdict lines, "PASS AREA: NAME", "FAIL AREA: NAME (why)" or
"SKIP AREA: NAME (why)"; tests/run (tests/harness/plan-check.py) fails a
run that printed fewer or more.  The suite exits 1 when a check failed.

  s = Suite('partition', '/path/to/suite.log', only=os.environ.get('..._ONLY'))
  s.plan(len(checks) + len(finals))
  s.run(checks, always=[setup])   # [(name, fn)]: fn() passes or raises
  ...                             # finals: s.verdict(ok, name, why)
  return s.failed

A check is a function that returns when what it claims holds and raises
when not: expect(ok, why) raises Fail, a step of the lab raises LabError.
Any other exception (a bug of the suite) fails the check too, its
traceback in the log; the suite goes on with the next check, so one check
that raises does not take the others with it.  After a failed check the
suite's heal() hook runs (a subclass brings the lab back to where the
next check expects it).  SIGTERM (tests/run's timeout) raises Terminated,
which no check catches: the caller's `finally` takes the lab down, and the
verdicts never printed show as a PLAN shortfall.

Selection, for working on a suite: `only` is WORD[,WORD]; a check runs if
its name contains a WORD (or it is in `always`), the others print SKIP;
`partial` says so, for the caller's final checks (which then SKIP too).
"""

import signal
import time
import traceback

from .lab import LabError, now_ms


class Fail(Exception):
    """What a check claims does not hold."""


class Terminated(BaseException):
    """SIGTERM: not an Exception, so that no check's handler swallows it."""


def expect(ok, what):
    """Raises Fail(what) unless ok."""
    if not ok:
        raise Fail(what)


def _terminated(signum, frame):
    raise Terminated(f'signal {signum}')


class Suite:
    def __init__(self, area, logfile, only=''):
        self.area = area
        self.log = open(logfile, 'w')
        self.only = [w for w in (only or '').split(',') if w]
        self.failed = 0
        self.planned = None
        self.printed = 0
        signal.signal(signal.SIGTERM, _terminated)

    @property
    def partial(self):
        return bool(self.only)

    def say(self, text):
        """One line (or more) to the suite's log, with the time."""
        self.log.write(f'{time.strftime("%H:%M:%S")} {text}\n')
        self.log.flush()

    def plan(self, n):
        self.planned = n
        print(f'PLAN {n}', flush=True)

    def _print(self, word, name, why):
        print(f'{word} {self.area}: {name}' + (f' ({why})' if why else ''), flush=True)
        self.printed += 1

    def verdict(self, ok, name, why=''):
        self._print('PASS' if ok else 'FAIL', name, why)
        if not ok:
            self.failed = 1

    def skip(self, name, why):
        self._print('SKIP', name, why)

    def not_run(self, names, why):
        """FAIL for each of `names` (the lab could not come up...)."""
        for name in names:
            self.verdict(False, name, f'not run: {why}')

    def heal(self):
        """Called after a failed check; a subclass brings the lab back."""

    def check(self, name, fn, heal=True):
        """Runs fn() as the check `name`; prints its verdict; True if it
        passed.  heal=False: no heal() after a failure (a closing check
        judges the lab as it is)."""
        self.say(f'==== {name}')
        t0 = now_ms()
        try:
            fn()
            ok, why = True, ''
        except (LabError, Fail) as e:
            ok, why = False, str(e)
        except Exception as e:   # a bug of the suite fails the check, visibly
            ok, why = False, f'{type(e).__name__}: {e}'
            self.say(traceback.format_exc())
        self.say(f'==== {"PASS" if ok else "FAIL"} after {(now_ms() - t0) / 1000:.1f} s {why}')
        self.verdict(ok, name, why[:300])
        if not ok and heal:
            try:
                self.heal()
            except Exception as e:   # the next check will say what is wrong
                self.say(f'heal failed: {type(e).__name__}: {e}')
        return ok

    def selected(self, name):
        return not self.only or any(w in name for w in self.only)

    def run(self, checks, always=()):
        """checks: [(name, fn)], run in order; those not selected SKIP."""
        for name, fn in checks:
            if fn not in always and not self.selected(name):
                self.skip(name, 'not selected')
                continue
            self.check(name, fn)
