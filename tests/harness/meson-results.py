#!/usr/bin/env python3
"""meson-results.py TESTLOG.json TESTLOG.junit.xml: verdicts of a meson test run.

Prints "PASS name", "FAIL name (why)" or "SKIP name": one line per gtest case
for tests with protocol 'gtest' (from meson's JUnit file), one line per test
for plain exit-code tests.  A gtest program whose meson result is a failure
although none of its cases failed (crash, timeout) gets its own FAIL line.
"""
import json
import sys
import xml.etree.ElementTree as ET

GOOD = {'OK', 'EXPECTEDFAIL'}


def cases_by_test(junit_path, names):
    """{meson test name: [(case, verdict)]} from the JUnit testsuites."""
    out = {}
    try:
        root = ET.parse(junit_path).getroot()
    except (OSError, ET.ParseError):
        return out
    for suite in root.iter('testsuite'):
        sname = suite.get('name', '')
        owner = next((n for n in names if sname.startswith('xpmem.' + n + '.')), None)
        if owner is None:
            continue
        gsuite = sname[len('xpmem.' + owner + '.'):]
        for case in suite.iter('testcase'):
            name = '%s.%s' % (gsuite, case.get('name'))
            if case.find('failure') is not None or case.find('error') is not None:
                verdict = 'FAIL'
            elif (case.find('skipped') is not None or case.get('result') == 'skipped'
                  or case.get('status') == 'notrun'):
                verdict = 'SKIP'
            else:
                verdict = 'PASS'
            out.setdefault(owner, []).append((name, verdict))
    return out


def main():
    tests = []
    try:
        with open(sys.argv[1]) as f:
            for line in f:
                if line.strip():
                    tests.append(json.loads(line))
    except (OSError, ValueError) as e:
        # No log (the build failed before meson test ran) or a torn one.
        print('FAIL unit: no usable meson test log (%s)' % e)
        return 1
    if not tests:
        print('FAIL unit: meson test ran no test')
        return 1
    names = sorted((t['name'] for t in tests), key=len, reverse=True)
    by_test = cases_by_test(sys.argv[2], names)
    for t in tests:
        name, result = t['name'], t['result']
        cases = by_test.get(name)
        if not cases:
            if result in GOOD:
                print('PASS %s' % name)
            elif result == 'SKIP':
                print('SKIP %s' % name)
            else:
                print('FAIL %s (%s, exit status %s)' % (name, result, t.get('returncode')))
            continue
        for case, verdict in cases:
            print('%s %s' % (verdict, case))
        if result not in GOOD and result != 'SKIP' and all(v != 'FAIL' for _, v in cases):
            print('FAIL %s (%s, exit status %s)' % (name, result, t.get('returncode')))


if __name__ == '__main__':
    sys.exit(main())
