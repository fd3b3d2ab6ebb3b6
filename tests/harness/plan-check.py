#!/usr/bin/env python3
"""plan-check.py SUITE NAME STATUS < OUTPUT: is a script suite's run whole?

A script suite (tests/partition/*.sh) prints "PLAN N" first and then exactly
N verdict lines ("PASS ...", "FAIL ...", "SKIP ..."). Prints one FAIL line
for each way the run is not whole, nothing when it is:
  - no PLAN line: the checks cannot be counted;
  - fewer verdicts than planned: checks vanished (the script died of
    `set -u`, a helper exited early, the suite timed out);
  - more than planned: the plan was not updated with the checks;
  - a non-zero exit status without any FAIL line.
Exits 1 when it printed a FAIL line.
"""
import re
import sys


def problems(suite, name, status, text):
    lines = text.splitlines()
    plans = [int(m.group(1)) for m in (re.match(r'PLAN (\d+)$', l) for l in lines) if m]
    got = sum(1 for l in lines if re.match(r'(PASS|FAIL|SKIP) ', l))
    out = []
    if not plans:
        out.append('%s: %s declared no PLAN (its checks cannot be counted)' % (suite, name))
    elif len(plans) > 1:
        out.append('%s: %s declared %d PLANs' % (suite, name, len(plans)))
    elif got != plans[0]:
        out.append('%s: %s printed %d of the %d verdicts it planned' % (suite, name, got, plans[0]))
    if status == 124:
        out.append('%s: %s timed out' % (suite, name))
    if status != 0 and not any(l.startswith('FAIL ') for l in lines) and not out:
        out.append('%s: %s exited %d' % (suite, name, status))
    return out


def main():
    suite, name, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
    found = problems(suite, name, status, sys.stdin.read())
    for p in found:
        print('FAIL ' + p)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
