#!/usr/bin/env python3
"""suite-selftest.py - the lab library's verdicts (tools/lab/xpmemlab/suite.py)
must be able to fail, on the host, without a lab:
  - a check that passes prints PASS; one whose expect() fails, one that
    raises LabError and one that raises anything else (a bug of the suite)
    print FAIL and the suite goes on, exit status 1;
  - `only` runs the selected checks and those in `always`, the others SKIP;
  - SIGTERM in the middle of a check is caught by no check: the caller's
    `finally` runs, the verdicts left are missing and plan-check.py fails
    the run;
  - the closing checks (tools/lab/xpmemlab/closing.py) against a stub lab:
    a kernel log with a report, fewer killed boots' consoles than asked
    and a refused rmmod each FAIL, with no heal(); selected by a word in a
    partial run, they run, and SKIP otherwise;
  - Lab.wait_row's failure says the last row it read, that the viewer
    has no such row, or that nothing could be read (never "last: None").
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


class StubLab:
    """Partition 1's kernel log has a report; rmmod is refused in 0."""

    def dmesg_hits(self, part):
        return ['BUG: stub report'] if part == 1 else []

    def log_check(self, *files):
        return []

    def run(self, *args, timeout=0, check=True):
        return (1, '', 'rmmod: Resource temporarily unavailable') if args[1] == 0 else (0, '', '')


def closing_child(mode, logdir):
    from xpmemlab import closing, suite
    s = suite.Suite('selftest', os.path.join(logdir, 'suite.log'),
                    only='kernel log' if mode == 'closing-only' else '')
    healed = []
    s.heal = lambda: healed.append(1)
    c = closing.Closing(s, StubLab(), 2, prefix='c: ', consoles=lambda: ['kept'], at_least=2)
    s.plan(len(c.names) + 1)
    try:
        c.run()
        s.verdict(not healed, 'no heal after a closing check', f'{len(healed)} heals')
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
    'closing': ['PLAN 6', 'PASS selftest: c: partition 0: kernel log clean',
                'FAIL selftest: c: partition 1: kernel log clean (BUG: stub report)',
                "FAIL selftest: c: the killed boots' console logs clean "
                '(1 console logs of killed boots, not 2)',
                'FAIL selftest: c: partition 0: rmmod xpmem (nothing pinned or leaked) '
                '(rmmod: Resource temporarily unavailable)',
                'PASS selftest: c: partition 1: rmmod xpmem (nothing pinned or leaked)',
                'PASS selftest: no heal after a closing check (0 heals)'],
    'closing-only': ['PLAN 6', 'PASS selftest: c: partition 0: kernel log clean',
                     'FAIL selftest: c: partition 1: kernel log clean (BUG: stub report)',
                     "SKIP selftest: c: the killed boots' console logs clean (partial run)",
                     'SKIP selftest: c: partition 0: rmmod xpmem (nothing pinned or leaked) '
                     '(partial run)',
                     'SKIP selftest: c: partition 1: rmmod xpmem (nothing pinned or leaked) '
                     '(partial run)',
                     'PASS selftest: no heal after a closing check (0 heals)'],
}


def wait_row_messages():
    """Lab.wait_row against tables that never show what it waits for."""
    from xpmemlab import Lab, LabError
    rows = {'a row': {1: {'id': 1, 'state': 'DEAD', 'epoch': 3}}, 'no row': {}, 'no table': None}
    want = {'a row': "(last read: {'id': 1, 'state': 'DEAD', 'epoch': 3})",
            'no row': '(partition 0 has no row for 1)',
            'no table': '(nothing read: exec 0: the agent did not answer)'}
    bad = 0
    for case, table in rows.items():
        lab = Lab(REPO, '/nonexistent')

        def partitions(viewer, table=table):
            if table is None:
                raise LabError(f'exec {viewer}: the agent did not answer')
            return table
        lab.partitions = partitions
        try:
            lab.wait_row('0 sees 1 JOINING', 0, 1, lambda r: r['state'] == 'JOINING', 0.3)
            said = 'returned'
        except LabError as e:
            said = str(e)
        ok = said == f'0 sees 1 JOINING: not within 0.3 s {want[case]}'
        print(f'{"ok" if ok else "WRONG"}: wait_row, {case}: {said}')
        bad |= not ok
    return bad


def parent():
    bad = wait_row_messages()
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
        run = closing_child if sys.argv[2].startswith('closing') else child
        sys.exit(run(sys.argv[2], sys.argv[3]))
    sys.exit(parent())
