# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/kmi.py - the checks around the suites' confirmed kills.

remote.py calls invalidate() and fault(), soak.py invalidate() once a
round, in a lab of three partitions that is already up.  Each kill is the
lab library's one implementation (tools/lab/xpmemlab/kmi.py), never a sleep
before a kill:

  invalidate(lab, logdir, tag, pressure)
      partition 1 holds a region of 0 and stamps canaries into it; 0 unmaps
      it and 1 is killed while its own kernel shows the INVALIDATE in
      service (kill_mid_invalidate).  Then: the munmap returned within
      dead_ms + 2 s (times Lab.time_scale()) of the kill; 0 shows 1 DEAD
      with every page quarantined; with pressure, after
      xpmem-xpart-pressure took most of 0's memory, every quarantined frame
      in 0's RAM file still holds 1's canary; 0 and 2 leak nothing;
      restarted, 1 rejoins under a new epoch and the quarantine and the
      pins go.  Returns what the kill saw (the munmap's time:
      Kmi.munmap_ms).
  fault(lab, logdir, tag)
      0's fault service stalls, 1 touches a page of 0's region and 0 is
      killed while 1's table shows that request in flight
      (kill_owner_mid_fault).  Then: the touch ends in SIGBUS, settled by
      the fence (dead_ms), not by fault_ms; 1 and 2 leak nothing; 0
      restarts and every partition sees every other UP.

Each raises LabError saying which check did not hold; what it saw goes to
`say`.  The killed boot's console log is copied to
LOGDIR/TAG.console-killed.log for the caller's closing check.
"""

import os
import shutil
import time

from xpmemlab import LabError, kmi, now_ms, ram

PAGES = 64
N = 3


def no_leaks(lab, part, settle_s=15, say=print):
    deadline = now_ms() + settle_s * 1000
    while True:
        bad = lab.leaks(part)
        if not bad:
            say(f'partition {part}: nothing left behind')
            return
        if now_ms() > deadline:
            raise LabError(f'partition {part}: ' + '; '.join(bad) + ' left behind')
        time.sleep(0.5)


def keep_console(lab, part, logdir, tag):
    shutil.copyfile(lab.killed_console(part),
                    os.path.join(logdir, f'{tag}.console-killed.log'))


def invalidate(lab, logdir, tag, pressure, say=print):
    k = kmi.kill_mid_invalidate(lab, 0, [1], [1], pages=PAGES, tag=tag, say=say)
    dead = lab.tunables(0)['dead_ms']['value']
    # The host's slack (its clock from before the munmap reached the guest,
    # the fence seen by a slow guest) grows with the kernel's slowness; the
    # owner's inval_ms (10 s times the same scale) stays far above it.
    slack = 2000 * lab.time_scale()
    after = k.munmap_ms - k.kill_at_ms
    say(f'kmi_munmap_ms {k.munmap_ms:.0f} (inval_ms {k.inval_ms} during the munmap, '
        f'dead_ms {dead}; its end minus the kill: {after:.0f} ms, host clock from before the '
        f'munmap reached the guest)')
    row = k.rows[1]
    say(f'0 sees 1: {row}')
    errors = []
    if after >= dead + slack:
        errors.append(f'the munmap returned {after:.0f} ms after the kill (dead_ms {dead}, '
                      f'slack {slack})')
    if row['state'] != 'DEAD':
        errors.append(f"1 is {row['state']}, not DEAD")
    if row['quarantined'] != PAGES:
        errors.append(f"{row['quarantined']} pages quarantined for 1, not {PAGES}")
    k.owner.exit()
    if pressure:
        out = lab.exec(0, [os.path.join(lab.build, 'tests', 'partition', 'xpart',
                                        'xpmem-xpart-pressure'), 48], timeout=400)
        say(f'pressure in 0: {out.strip()}')
        kept = ram.frames_holding(lab.ram_file(0), k.pfns, lambda i: kmi.canary(1) ^ i)
        say(f'{kept} of {len(k.pfns)} quarantined frames hold 1\'s canary in 0\'s RAM')
        if kept != len(k.pfns):
            errors.append(f'only {kept} of {len(k.pfns)} quarantined frames kept the canary')
    if errors:         # before the restart: the evidence is still there
        raise LabError('; '.join(errors))
    no_leaks(lab, 0, say=say)
    no_leaks(lab, 2, say=say)
    lab.restart(1, log=os.path.join(logdir, f'{tag}.restart'))
    keep_console(lab, 1, logdir, tag)
    row = kmi.rejoin(lab, 0, 1, k.epochs[1])
    say(f'1 rejoined: {row} (epoch before {k.epochs[1]})')
    lab.wait_counter(0, 'pinned_pages', 0, 20)
    return k


def fault(lab, logdir, tag, say=print):
    k = kmi.kill_owner_mid_fault(lab, 0, 1, pages=PAGES, tag=tag, say=say)
    say(f'the touch: {k.event}; it began {k.kill_at_ms:.0f} ms (host clock, upper bound) '
        f'before the kill; fault_ms {k.fault_ms}, dead_ms {k.dead_ms}')
    if k.event.get('fault') != 'sigbus':
        raise LabError(f'the fault in flight ended with {k.event}, not SIGBUS')
    took = float(k.event['ms'])
    # Settled by the fence (1 sees 0 silent for dead_ms), long before
    # the request's own deadline (both the host's slack and fault_ms are
    # scaled on the debug kernel).
    if took >= k.kill_at_ms + k.dead_ms + 3000 * lab.time_scale() or took >= k.fault_ms:
        raise LabError(f'the touch took {took:.0f} ms: not ended by the fence '
                       f'(kill within {k.kill_at_ms:.0f} ms of its start, dead_ms '
                       f'{k.dead_ms}, fault_ms {k.fault_ms})')
    k.holder.exit()
    no_leaks(lab, 1, say=say)
    no_leaks(lab, 2, say=say)
    lab.restart(0, log=os.path.join(logdir, f'{tag}.restart'))
    keep_console(lab, 0, logdir, tag)
    for p in range(N):
        for q in range(N):
            lab.wait_state(p, q, 'UP', 60)
    say('every partition sees every other UP')

