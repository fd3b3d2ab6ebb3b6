#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/membership.py - the module's partition layer in the lab.

Boots `tools/xpmem-lab up -n 3` (xpmem.ko loaded in each partition, the
doorbell of XPMEM_LAB_DOORBELL) and checks, with the lab library
(tools/lab/xpmemlab), that the partitions join over fabricd's control
region, find each other's windows, answer PINGs through their doorbells,
and follow every failure the lab can cause: a killed partition is fenced
within dead_ms plus a heartbeat and rejoins under a new epoch when
restarted; a stopped one is fenced and, continued, fences itself and
rejoins; a heartbeat stopped by injection is fenced and rejoins; doorbells
that fabricd or the module drop are made up for by the periodic rescan; a
partition scribbling over its rings is fenced for protocol while the others
carry on.  Then every partition's kernel log, the killed boot's console,
and rmmod in each (the module lets go of everything).

The partitions' tables are read as named records (Lab.partitions,
`xpmemctl --json`), never by column position.  Prints "PLAN N" and exactly
N verdicts ("PASS partition: ..." / "FAIL partition: ..."); exits 1 on any
failure.  After a failed check the lab is healed (every partition running,
UP, no injection left) so that the next check judges only itself.

XPMEM_MEMBERSHIP_ONLY=WORD[,WORD] runs only the checks whose name holds a
WORD (the others say SKIP, and so do the final checks unless a WORD selects
them: xpmemlab.closing; the first check always runs).  Logs:
$XPMEM_PARTITION_LOGS/membership.log (default build/lab/logs/partition/).
"""

import json
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # nothing written into the source tree
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))
from xpmemlab import Lab, LabError, now_ms, pairs, suite  # noqa: E402
from xpmemlab.closing import Closing  # noqa: E402
from xpmemlab.suite import expect  # noqa: E402

N = 3
DEAD_MS, HB_MS = 1000, 100      # the module's defaults, which the lab keeps
# The host's kill-to-view latency comes on top of dead_ms: at load 12-15 it
# measured 2157 and 2229 ms, so the slack is 2 s.
FENCE_SLACK_MS = 2000
# On the debug kernel (Lab.time_scale(), 4) both are scaled: a TCG
# partition under KASAN and lockdep on a loaded host misses heartbeats
# for more than a second (remote.py's first run there: every partition
# fenced itself within 15 minutes at load 17), and every reading through
# the lab is slower.  dead_ms is then set in every partition.


class Membership(suite.Suite):
    def __init__(self, lab, logdir, only=''):
        super().__init__('partition', os.path.join(logdir, 'membership.log'), only)
        self.lab = lab
        self.logdir = logdir
        self.ctl = lab.ctl
        self.doorbell = self._doorbell_kind()
        self.killed_consoles = []
        self.epoch2 = None          # 2's epoch before its kill (for restart)
        self.dead_ms = DEAD_MS * lab.time_scale()
        self.slack_ms = FENCE_SLACK_MS * lab.time_scale()

    def set_dead_ms(self, *parts):
        """dead_ms of the partitions (on the stock kernel: the default)."""
        if self.dead_ms != DEAD_MS:
            for p in parts:
                self.lab.set_tunable(p, 'dead_ms', self.dead_ms)

    def _doorbell_kind(self):
        try:
            with open(os.path.join(self.lab.run_dir(0), 'doorbell')) as f:
                return f.read().strip() or 'msix'
        except OSError:
            return 'msix'

    # ---- helpers ------------------------------------------------------------

    def row(self, viewer, part):
        r = self.lab.partitions(viewer).get(part)
        expect(r is not None, f'partition {viewer} has no row for {part}')
        return r

    def doorbells_received(self, part):
        """Doorbells part's module received: its doorbell device's count
        (MSI-X; 0 or no count at all when polled), or xpmem_rdma's receive
        completions."""
        if self.doorbell == 'rdma':
            out = self.lab.exec(part, ['cat', '/sys/module/xpmem_rdma/parameters/stats'],
                                timeout=30)
        else:
            out = self.lab.exec(part, ['sh', '-c', 'cat /sys/bus/pci/devices/*/xpmem_doorbells '
                                       '2>/dev/null; true'], timeout=30)
        got = [pairs(l) for l in out.splitlines() if l.strip()]
        if not got and self.doorbell == 'poll':
            return 0
        expect(len(got) == 1 and 'received' in got[0],
               f'partition {part}: one doorbell count expected, read {out.strip()!r}')
        return int(got[0]['received'])

    def fabric_stats(self):
        """fabricd's counters, {id: {'connected': '1', 'dropped': '0', ...}}."""
        _, out, _ = self.lab.run('fabric', 'stats', timeout=60)
        rows = {}
        for line in out.splitlines():
            d = pairs(line)
            if 'id' in d:
                rows[int(d['id'])] = d
        return rows

    def wait_fenced(self, viewer, part, limit_ms=None):
        """Until viewer shows part DEAD (by default within 3 dead_ms, and
        the host's slack beyond the stock one); returns (row, ms it took)."""
        if limit_ms is None:
            limit_ms = 3 * self.dead_ms + self.slack_ms - FENCE_SLACK_MS
        t0 = now_ms()
        r = self.lab.wait_state(viewer, part, 'DEAD', limit_ms / 1000)
        return r, now_ms() - t0

    def restart(self, part, tag):
        """restart `part`; keep the killed boot's console for the final check."""
        self.lab.restart(part, log=os.path.join(self.logdir, f'membership-{tag}.restart'))
        self.set_dead_ms(part)
        keep = os.path.join(self.logdir, f'membership-{tag}.console-killed.log')
        shutil.copyfile(self.lab.killed_console(part), keep)
        self.killed_consoles.append(keep)

    def rejoined(self, part, old_epoch, timeout=30):
        """Until 0 shows part UP under an epoch newer than old_epoch, and
        part's own table agrees on that epoch; returns it."""
        r = self.lab.wait_row(f'partition 0 sees {part} UP under an epoch after {old_epoch}',
                              0, part, lambda r: r['state'] == 'UP' and r['epoch'] > old_epoch,
                              timeout)
        mine = self.row(part, part)['epoch']
        expect(mine == r['epoch'], f'partition {part} calls itself epoch {mine}, 0 says '
               f'{r["epoch"]}')
        self.say(f'{part}: epoch {old_epoch} -> {r["epoch"]}')
        return r['epoch']

    def heal(self):
        """After a failed check: every partition running and UP, no
        injection, no doorbell dropped by fabricd."""
        self.say('heal: bringing every partition back')
        for p in range(N):
            self.lab.run('cont', p, timeout=60, check=False)
            self.lab.run('fabric', 'drop-to', p, 'off', timeout=60, check=False)
        for p in range(N):
            st, _, _ = self.lab.run('exec', p, '--timeout', 20, '--', 'true', timeout=60,
                                    check=False)
            if st != 0:
                self.restart(p, f'heal-{p}-{int(time.time())}')
        for p in range(N):
            for inj in ('stop_heartbeat', 'drop_doorbells'):
                self.lab.run('exec', p, '--timeout', 30, '--', self.ctl, 'inject', inj, 0,
                             timeout=90, check=False)
        for p in range(N):
            for q in range(N):
                self.lab.wait_state(p, q, 'UP', 120)

    # ---- the checks ---------------------------------------------------------

    def all_up(self):
        """Every partition sees every one (itself too) UP, under the epoch
        that one gives itself."""
        for p in range(N):
            for q in range(N):
                self.lab.wait_state(p, q, 'UP', 20)
        own = {q: self.row(q, q)['epoch'] for q in range(N)}
        for p in range(N):
            rows = self.lab.partitions(p)
            self.say(f'partition {p}: {rows}')
            for q in range(N):
                expect(rows[q]['state'] == 'UP' and rows[q]['epoch'] == own[q] >= 1,
                       f'partition {p} sees {q} as {rows[q]}, {q} says epoch {own[q]}')

    def windows(self):
        """Every partition found each peer's window (by its tag), a window
        of its own for each peer."""
        for p in range(N):
            rows = self.lab.partitions(p)
            w = {q: int(rows[q]['window']) for q in range(N) if q != p}
            self.say(f'partition {p}: windows {w}')
            expect(all(i >= 0 for i in w.values()), f'partition {p}: no window for '
                   f'{[q for q, i in w.items() if i < 0]}')
            expect(len(set(w.values())) == len(w), f'partition {p}: one window for two '
                   f'peers: {w}')

    def pings(self):
        for src in range(N):
            for dst in range(N):
                if src != dst:
                    self.say(f'PING {src} -> {dst}: {self.lab.ping(src, dst)} ns')

    def module_doorbells(self, part):
        """The module's own counts: (doorbells_sent, doorbells_received)."""
        c = self.lab.counters(part)
        return int(c['doorbells_sent']), int(c['doorbells_received'])

    def doorbells_arrive(self):
        """A PING to p is a doorbell rung at p: p's count grows (MSI-X,
        RDMA), and so do the modules' own counters (`xpmemctl stats`):
        the pinger's doorbells_sent, p's doorbells_received; polled, no
        doorbell is sent or arrives at all."""
        for p in range(N):
            src = (p + 1) % N
            before = self.doorbells_received(p)
            sent0, _ = self.module_doorbells(src)
            _, recv0 = self.module_doorbells(p)
            self.lab.ping(src, p)
            after = self.doorbells_received(p)
            sent1, _ = self.module_doorbells(src)
            _, recv1 = self.module_doorbells(p)
            self.say(f'partition {p}: {self.doorbell} doorbells received {before} -> {after}; '
                     f'module counters: {src} sent {sent0} -> {sent1}, {p} received '
                     f'{recv0} -> {recv1}')
            if self.doorbell == 'poll':
                expect(after == 0 and sent1 == 0 and recv1 == 0,
                       f'partition {p} polls, yet doorbells received {after}, module counters '
                       f'{src} sent {sent1}, {p} received {recv1}')
            else:
                expect(after > before, f'partition {p}: doorbells received {before} -> '
                       f'{after} across a PING to it')
                expect(sent1 > sent0 and recv1 > recv0,
                       f'module counters across a PING {src} -> {p}: {src} doorbells_sent '
                       f'{sent0} -> {sent1}, {p} doorbells_received {recv0} -> {recv1}')

    def doorbells_shown(self):
        """xpmemctl --json partitions in every partition: each live peer
        up, with the lab's doorbell (an RDMA connection comes up in the
        background: allowed 30 s)."""
        def peers(p):
            recs = self.lab.xpmemctl_json(p, 'partitions')['partitions']
            return {r['id']: (r['state'], r['doorbell']) for r in recs if not r['self']}
        want = {p: {q: ('up', self.doorbell) for q in range(N) if q != p} for p in range(N)}
        seen = {}

        def probe():
            for p in range(N):
                seen[p] = peers(p)
            return seen == want
        try:
            self.lab.wait_until('every peer up with its doorbell', probe, 30, period=1)
        finally:
            self.say(f'xpmemctl --json partitions: {seen}')

    def lost_doorbells(self):
        """Doorbells to 1 lost: PING 0 -> 1 is still answered (1's rescan).
        MSI-X: fabricd drops them (its count for 1 must grow); otherwise
        0's module swallows every doorbell it rings (drop_doorbells)."""
        if self.doorbell == 'msix':
            d0 = int(self.fabric_stats()[1]['dropped'])
            self.lab.run('fabric', 'drop-to', 1, 'on', timeout=60)
            try:
                self.lab.ping(0, 1)
            finally:
                self.lab.run('fabric', 'drop-to', 1, 'off', timeout=60)
            d1 = int(self.fabric_stats()[1]['dropped'])
            self.say(f'fabricd dropped {d1 - d0} doorbell(s) to 1')
        else:
            d0 = self.lab.dropped_doorbells(0)
            self.lab.inject(0, 'drop_doorbells', 1)
            try:
                self.lab.ping(0, 1)
            finally:
                self.lab.inject(0, 'drop_doorbells', 0)
            d1 = self.lab.dropped_doorbells(0)
            self.say(f'partition 0 dropped {d1 - d0} doorbell(s)')
        expect(d1 > d0, f'no doorbell was dropped ({d0} -> {d1}): the PING proved nothing')

    def killed(self):
        """kill 2: 0 shows it DEAD, reason heartbeat, within dead_ms plus a
        heartbeat or two and the host's slack.  xpmemctl monitor runs
        detached in 0 through the kill and the restart (its bound, 600 s, is
        far above a restart: one with RDMA doorbells took 87 s)."""
        self.epoch2 = self.row(0, 2)['epoch']
        self.lab.exec(0, ['sh', '-c', f'setsid {self.ctl} --json monitor --timeout 600 '
                          '</dev/null >/tmp/monitor.log 2>&1 & echo $! >/tmp/monitor.pid'],
                      timeout=30)
        self.monitor_listening()
        self.lab.kill(2)
        bound = self.dead_ms + 2 * HB_MS + self.slack_ms
        r, ms = self.wait_fenced(0, 2, max(3 * self.dead_ms, bound))
        self.say(f'fenced {ms:.0f} ms after the kill: {r}')
        expect(ms <= bound, f'fenced {ms:.0f} ms after the kill (dead_ms {self.dead_ms}, '
               f'slack {self.slack_ms})')
        expect(r['reason'] == 'heartbeat', f'fenced for {r["reason"]}, not heartbeat')
        expect(r['epoch'] == self.epoch2, f'0 fenced epoch {r["epoch"]} of 2, not '
               f'{self.epoch2}')

    def monitor_listening(self):
        """Until 0's monitor waits in poll(), which it enters only after
        joining the events group: a kill before that is an event it cannot
        see.  On the debug kernel (load 12) the first run's monitor showed
        2's rejoin but not its fence (6.4 s after the kill); the next run
        saw its monitor in poll() 6.1 s after its start returned."""
        pid = self.lab.exec(0, ['cat', '/tmp/monitor.pid'], timeout=30).strip()

        def polling():
            out = self.lab.exec(0, ['cat', f'/proc/{pid}/syscall'], timeout=30)
            return out.split()[:1] in (['7'], ['271'])     # poll, ppoll (x86-64)
        t0 = now_ms()
        self.lab.wait_until(f'0\'s monitor (pid {pid}) waiting in poll()', polling,
                            30 * self.lab.time_scale(), period=0.5)
        self.say(f'monitor in 0 listening {now_ms() - t0:.0f} ms after its start returned')

    def restarted(self):
        expect(self.epoch2 is not None, 'no epoch of 2 before its kill (the kill check failed)')
        self.restart(2, 'kill2')
        self.rejoined(2, self.epoch2)
        self.lab.ping(0, 2)
        self.lab.ping(2, 0)

    def monitor_saw(self):
        """What 0's monitor printed: 2's old epoch fenced (reason
        heartbeat) and shown fenced, both before 2 shown up under its new
        epoch."""
        e_new = self.row(0, 2)['epoch']
        old = self.epoch2
        events = []

        def first(match):
            return next((i for i, e in enumerate(events) if e.get('id') == 2 and match(e)),
                        None)

        def probe():
            out = self.lab.exec(0, ['cat', '/tmp/monitor.log'], timeout=30)
            events[:] = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
            fence = first(lambda e: e['event'] == 'fence' and e['epoch'] == old and
                          e['reason'] == 'heartbeat')
            fenced = first(lambda e: e['event'] == 'partition' and e['state'] == 'fenced' and
                           e['epoch'] == old)
            up = first(lambda e: e['event'] == 'partition' and e['state'] == 'up' and
                       e['epoch'] == e_new)
            return None not in (fence, fenced, up) and max(fence, fenced) < up
        try:
            self.lab.wait_until(f'0\'s monitor shows 2 fenced (epoch {old}, heartbeat), then '
                                f'up (epoch {e_new})', probe, 20, period=1)
        finally:
            self.say(f'monitor: {events}')
            self.lab.exec(0, ['sh', '-c', 'kill "$(cat /tmp/monitor.pid)"'], timeout=30)

    def stopped(self):
        """stop 1: DEAD (heartbeat); cont 1: it fences itself and rejoins
        under a new epoch."""
        e0 = self.row(0, 1)['epoch']
        self.lab.stop(1)
        try:
            r, ms = self.wait_fenced(0, 1)
            self.say(f'1 stopped: fenced after {ms:.0f} ms: {r}')
            expect(r['reason'] == 'heartbeat', f'fenced for {r["reason"]}, not heartbeat')
        finally:
            self.lab.cont(1)
        self.rejoined(1, e0)
        log = self.lab.exec(1, ['dmesg'], timeout=30)
        expect('fenced ourselves' in log, '1 never said it fenced itself')

    def injected_hang(self):
        """inject stop_heartbeat in 1: 0 fences it (heartbeat); disarmed,
        1 rejoins under a new epoch."""
        e0 = self.row(0, 1)['epoch']
        self.lab.inject(1, 'stop_heartbeat', 1)
        try:
            r, ms = self.wait_fenced(0, 1)
            self.say(f'1 silent: fenced after {ms:.0f} ms: {r}')
            expect(r['reason'] == 'heartbeat', f'fenced for {r["reason"]}, not heartbeat')
        finally:
            self.lab.inject(1, 'stop_heartbeat', 0)
        self.rejoined(1, e0)

    def injected_drops(self):
        """inject drop_doorbells in 0: every doorbell 0 rings is swallowed,
        PINGs to 1 and 2 are still answered (the peers' rescan)."""
        d0 = self.lab.dropped_doorbells(0)
        self.lab.inject(0, 'drop_doorbells', 1)
        try:
            self.lab.ping(0, 1)
            self.lab.ping(0, 2)
            d1 = self.lab.dropped_doorbells(0)
        finally:
            self.lab.inject(0, 'drop_doorbells', 0)
        self.say(f'doorbells dropped by partition 0: {d0} -> {d1}')
        expect(d1 - d0 >= 2, f'doorbells dropped by 0: {d0} -> {d1}, not one per PING')

    def rogue(self):
        """2 scribbles over its rings: 0 fences it for protocol; 0 and 1
        keep working.  Last: 2 stays fenced."""
        e1 = self.row(0, 1)['epoch']
        rogue = os.path.join(self.lab.build, 'tests', 'partition', 'xpmem-partition-rogue')
        st, _, _ = self.lab.run('exec', 2, '--timeout', 30, '--', 'test', '-e', '/dev/mem',
                                timeout=90, check=False)
        if st == 0:
            self.lab.exec(2, [rogue, 4], timeout=60)
        else:
            # No /dev/mem in 2 (the debug kernel is built without it): the
            # same bytes, written from the host into fabricd's region file,
            # the memory behind 2's BAR2.
            region = os.path.join(self.lab.run_dir(0), 'fabric', 'region')
            out = subprocess.run([rogue, '4', region, '2'], capture_output=True, text=True,
                                 timeout=60)
            self.say(f'no /dev/mem in 2: from the host: {(out.stdout + out.stderr).strip()}')
            expect(out.returncode == 0, f'rogue on the host failed (status {out.returncode})')
        r, _ = self.wait_fenced(0, 2)
        self.say(f'0 sees 2 as {r}')
        expect(r['reason'] == 'protocol', f'2 fenced for {r["reason"]}, not protocol')
        r1 = self.row(0, 1)
        expect(r1['state'] == 'UP' and r1['epoch'] == e1, f'1 was touched: {r1} (epoch {e1})')
        self.lab.ping(0, 1)
        self.lab.ping(1, 0)


def main():
    build = os.environ.get('XPMEM_BUILD_DIR', os.path.join(REPO, 'build'))
    logdir = os.environ.get('XPMEM_PARTITION_LOGS',
                            os.path.join(build, 'lab', 'logs', 'partition'))
    os.makedirs(logdir, exist_ok=True)
    lab = Lab(REPO, build)
    s = Membership(lab, logdir, os.environ.get('XPMEM_MEMBERSHIP_ONLY', ''))
    checks = [
        (f'every partition sees all {N} UP, under the epoch each gives itself', s.all_up),
        ('every partition identified each peer\'s window by its tag', s.windows),
        ('PING between every two partitions, both ways', s.pings),
        ('doorbells arrive: a PING to each partition rings it', s.doorbells_arrive),
        ('xpmemctl --json partitions: every live peer up with the lab\'s doorbell, in every '
         'partition', s.doorbells_shown),
        ('doorbells to 1 dropped: PING still answered (rescan)', s.lost_doorbells),
        ('kill 2: partition 0 shows it DEAD (heartbeat) within dead_ms', s.killed),
        ('restart 2: UP again under a new epoch, answers PING both ways', s.restarted),
        ('xpmemctl monitor in partition 0 reported 2\'s fence and its rejoin, in order',
         s.monitor_saw),
        ('stop 1: DEAD; cont 1: fences itself and rejoins under a new epoch', s.stopped),
        ('inject stop_heartbeat in 1: fenced, disarmed: rejoins under a new epoch',
         s.injected_hang),
        ('inject drop_doorbells in 0: PINGs still answered (peers\' rescan)', s.injected_drops),
        ('rogue 2 scribbling its rings: fenced for protocol, 0 and 1 keep working', s.rogue),
    ]
    closing = Closing(s, lab, N, rmmod='threads stop, nothing leaked',
                      consoles=lambda: s.killed_consoles,
                      consoles_name='the killed boot\'s console log clean')
    s.plan(len(checks) + len(closing.names))
    rc = 1
    try:
        st = lab.boot(N, os.path.join(logdir, 'membership-up.log'))
        if st != 0:
            s.not_run([name for name, _ in checks] + closing.names,
                      f'up -n {N} failed (status {st})')
            return 1
        s.doorbell = s._doorbell_kind()
        s.say(f'doorbell: {s.doorbell}; dead_ms {s.dead_ms}')
        s.set_dead_ms(*range(N))
        s.run(checks, always=[s.all_up])
        closing.run()
        rc = s.failed
    except LabError as e:    # outside any check: the lab itself failed
        s.say(f'lab: {e}')
        print(f'membership.py: {e}', file=sys.stderr)
    finally:
        lab.power_off(os.path.join(logdir, 'membership-down.log'))
    return rc


if __name__ == '__main__':
    sys.exit(main())
