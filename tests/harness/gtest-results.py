#!/usr/bin/env python3
"""gtest-results.py LIST OUTPUT STATUS: one verdict line per test case.

LIST is the program's --gtest_list_tests output, OUTPUT its --gtest_color=no
output, STATUS its exit status as the lab reported it (124: timed out, 255:
the VM was lost, 128+N: killed by signal N).  Prints, in list order,
"PASS Suite.Case", "FAIL Suite.Case (why)" or "SKIP Suite.Case (why)", then
the output of each failed case as "    | ..." lines.

A listed case without a result line failed: the program crashed, timed out
or lost its VM before reporting it.  A program that exited non-zero although
every case passed gets one more FAIL line, so a crash at exit is not lost.
"""
import re
import sys

RESULT = re.compile(r'\[\s*(OK|FAILED|SKIPPED)\s*\] (\S+?)(?:,|\s|$)')
RUN = re.compile(r'\[ RUN\s*\] (\S+)')


def listed(text):
    cases, suite = [], None
    for line in text.splitlines():
        if not line.strip() or line.startswith('Running main()'):
            continue
        if not line.startswith(' '):
            suite = line.split()[0]          # "Suite." or "Prefix/Suite."
            continue
        if suite:
            cases.append(suite + line.split()[0])
    return cases


def why_missing(status, started):
    if status == 124:
        how = 'timed out'
    elif status == 255:
        how = 'lost its VM or agent'
    elif status > 128:
        how = 'was killed by signal %d' % (status - 128)
    else:
        how = 'exited with status %d' % status
    if started:
        return 'no result: the program %s during this case' % how
    return 'not run: the program %s before this case' % how


def main():
    list_text = open(sys.argv[1], errors='replace').read()
    out_lines = open(sys.argv[2], errors='replace').read().splitlines()
    status = int(sys.argv[3])
    cases = listed(list_text)
    known = set(cases)

    verdict, body, current = {}, {}, None
    for line in out_lines:
        m = RUN.search(line)
        if m and m.group(1) in known:
            current = m.group(1)
            body.setdefault(current, [])
            continue
        m = RESULT.search(line)
        if m and m.group(2) in known:
            # The summary repeats FAILED/SKIPPED lines: the first one counts.
            verdict.setdefault(m.group(2), m.group(1))
            if m.group(2) == current:
                current = None
            continue
        if current:
            body[current].append(line)

    failed = False
    details = []
    for case in cases:
        v = verdict.get(case)
        if v is None and any(p.startswith('DISABLED_') for p in re.split(r'[./]', case)):
            print('SKIP %s (disabled)' % case)
        elif v == 'OK':
            print('PASS %s' % case)
        elif v == 'SKIPPED':
            print('SKIP %s' % case)
        else:
            failed = True
            print('FAIL %s' % case + ('' if v else ' (%s)' % why_missing(status, case in body)))
            lines = body.get(case, [])
            if lines:
                details.append((case, lines[-60:]))
    if status != 0 and not failed:
        print('FAIL program exit (status %d although every case passed)' % status)
    for case, lines in details:
        print('    | --- %s' % case)
        for line in lines:
            print('    | ' + line)


if __name__ == '__main__':
    main()
