#!/usr/bin/env python3
"""suite-selftest.py - the lab library's verdicts (tools/lab/xpmemlab/suite.py)
must be able to fail, on the host, without a lab:
  - a check that passes prints PASS; one whose expect() fails, one that
    raises LabError and one that raises anything else (a bug of the suite)
    print FAIL and the suite goes on, exit status 1;
  - `only` runs the selected checks and those in `always`, the others SKIP;
  - SIGTERM in the middle of a check is caught by no check: the caller's
    `finally` runs, the verdicts left are missing and plan-check.py fails
    the run.
Run by tests/harness/selftest.sh (the unit suite); exits non-zero at the
first surprise.
"""
import os
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))


def child(mode, logdir):
    from xpmemlab import LabError, suite
    s = suite.Suite('selftest', os.path.join(logdir, 'suite.log'),
                    only='two,four' if mode == 'only' else '')
    healed = []
    s.heal = lambda: healed.append(1)

    def one():
        suite.expect(True, 'never')

    def two():
        suite.expect(1 == 2, 'one is not two')

    def three():
        raise LabError('the lab said no')

    def four():
        if mode == 'term':
            os.kill(os.getpid(), signal.SIGTERM)
        return {}['no such key']

    checks = [('one', one), ('two', two), ('three', three), ('four', four)]
    s.plan(len(checks) + 1)
    try:
        s.run(checks, always=[one])
        s.verdict(len(healed) == (3 if mode == 'all' else 2), 'heal after each failure',
                  f'{len(healed)} heals')
    finally:
        print('finally ran', file=sys.stderr)
    return s.failed


WANT = {
    'all': ['PLAN 5', 'PASS selftest: one', 'FAIL selftest: two (one is not two)',
            'FAIL selftest: three (the lab said no)',
            "FAIL selftest: four (KeyError: 'no such key')",
            'PASS selftest: heal after each failure (3 heals)'],
    'only': ['PLAN 5', 'PASS selftest: one', 'FAIL selftest: two (one is not two)',
             'SKIP selftest: three (not selected)',
             "FAIL selftest: four (KeyError: 'no such key')",
             'PASS selftest: heal after each failure (2 heals)'],
    'term': ['PLAN 5', 'PASS selftest: one', 'FAIL selftest: two (one is not two)',
             'FAIL selftest: three (the lab said no)'],
}


def parent():
    bad = 0
    for mode, want in WANT.items():
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([sys.executable, __file__, 'child', mode, d],
                               capture_output=True, text=True)
        got = r.stdout.splitlines()
        pc = subprocess.run([sys.executable, os.path.join(HERE, 'plan-check.py'), 's', mode,
                             str(r.returncode)], input=r.stdout, capture_output=True, text=True)
        ok = (got == want and r.returncode == 1 and 'finally ran' in r.stderr and
              (pc.returncode != 0) == (mode == 'term'))
        print(f'{"ok" if ok else "WRONG"}: suite.py, {mode}: status {r.returncode}, '
              f'plan-check {pc.returncode} {pc.stdout.strip()}')
        if not ok:
            print(f'  want {want}\n  got  {got}\n  stderr {r.stderr[-600:]}')
            bad = 1
    return bad


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'child':
        sys.exit(child(sys.argv[2], sys.argv[3]))
    sys.exit(parent())
