#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/remote.py - cross-partition XPMEM in the lab.

Three partitions with xpmem.ko (tools/xpmem-lab up -n 3), driven with the
lab library (tools/lab/xpmemlab): an exporter
(build/tests/partition/xpart/xpmem-xpart-export) in one partition and its
attacher in another, meeting in a control page they both map.  First the
data path (both ways, holes, removed segment, exporter exit, fork COW,
100,000 pages, readers racing munmap/remap, two partitions invalidating
each other's memory while serving each other's faults, atomics, GUP), then
the failures the contract covers: a stalled or flooded fault service, GETs
racing, corrupted and lost messages, lost doorbells, a late completion, one
slow target among 17 exports, a FUSE page that never comes, a partition
killed in the middle of an invalidation (fenced, its pages quarantined and
never reused, released when it rejoins), stop/cont, the exporter's whole
partition killed under a FAULT in flight, the fabric device unbound and
bound again (unbind.py).  Ends with every partition's kernel log, the
killed boots' consoles, and rmmod.

The partition table is read through the library (Lab.partitions: named
fields), counters through `xpmemctl --json stats`, leaks through
Lab.leaks; the programs in the guests print "key value" lines.

Prints "PLAN N" and exactly N verdicts ("PASS partition: ..." /
"FAIL partition: ..."); exits 1 on any failure.  Logs (what each check
saw, each program's output): $XPMEM_PARTITION_LOGS/remote/ (default
build/lab/logs/partition/remote/).  XPMEM_LAB_RING_SLOTS (read by
`xpmem-lab up`) is how the soak suite runs it with full rings.

For working on it: XPMEM_REMOTE_ONLY=WORD[,WORD] runs the checks whose
name contains a WORD (and the first, which sets the tunables), the others
SKIP, and so do the final checks unless a WORD selects them ("kernel log",
"console logs", "rmmod xpmem": xpmemlab.closing); XPMEM_REMOTE_REUSE=1 uses
(and leaves up) a running lab of 3 partitions.
"""

import glob
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True   # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))
sys.path.insert(0, HERE)
from xpmemlab import Lab, LabError, Puppet, now_ms, ram, suite, xpart  # noqa: E402
from xpmemlab.closing import Closing  # noqa: E402
from xpmemlab.suite import expect  # noqa: E402
import kmi as kills  # noqa: E402  (tests/partition/kmi.py: the confirmed kills' checks)
import unbind  # noqa: E402

N = 3
PROGS = ('export', 'attach', 'pressure', 'fanout', 'getrace', 'fuse', 'puppet', 'atomics',
         'gup')


class Remote(suite.Suite):
    def __init__(self, lab, logs, only=''):
        super().__init__('partition', os.path.join(logs, 'remote.log'), only)
        self.lab, self.logs = lab, logs
        self.bin = os.path.join(lab.build, 'tests', 'partition', 'xpart')
        # The partitions' dead_ms between checks: the module's 1000, times
        # the lab's time scale on the debug kernel, where a TCG partition
        # under KASAN and lockdep on a loaded host misses heartbeats for
        # more than a second (every partition fenced itself there, one
        # twice, in the first 15 minutes at load 17: self-stale-epoch).
        self.dead_ms = 1000 * lab.time_scale()
        # The host's bounds on a protocol round trip (an export made or
        # released, pins dropped, a rejoin seen), in seconds on the stock
        # kernel: times the same scale, as every message is handled by a
        # partition that many times slower.  What a check asserts (a GET
        # given up near fault_ms, "not stuck") is never scaled.
        self.scale = lab.time_scale()

    # ---- helpers ------------------------------------------------------------

    def prog(self, name):
        return xpart.prog(self.lab, name)

    def pair(self, name, e, a, scenario, eargs=(), aargs=()):
        return xpart.pair(self.lab, name, e, a, scenario, eargs, aargs, self.logs, self.say)

    def row(self, viewer, part):
        return self.lab.partitions(viewer)[part]

    def counter(self, part, name):
        return self.lab.counters(part)[name]

    def ctl(self, part, *args):
        """xpmemctl ARGS in the partition."""
        return self.lab.exec(part, [self.lab.ctl] + [str(a) for a in args], timeout=30)

    def set_all(self, name, value):
        for p in range(N):
            self.lab.set_tunable(p, name, value)

    def not_fenced(self, viewer, part, before):
        """viewer still sees part UP under the epoch of row `before`."""
        now = self.row(viewer, part)
        expect(now['state'] == 'UP' and now['epoch'] == before['epoch'],
               f'{viewer} fenced {part}: {before["state"]} epoch {before["epoch"]} -> '
               f'{now["state"]} epoch {now["epoch"]} ({now["reason"]})')

    def wait_exports(self, part, count, timeout=10):
        """Until `part` has `count` live exports (within `timeout` s on the
        stock kernel, scaled); a miss names the count last read."""
        seen = []

        def probe():
            seen[:] = [self.lab.exports(part)]
            return seen[0] == count
        self.lab.wait_until(f'partition {part}: {count} exports', probe,
                            timeout * self.scale,
                            seen=lambda: f'last read {seen[0] if seen else "nothing"}')

    def wait_unquarantined(self, viewer, part, timeout=10):
        self.lab.wait_until(f'partition {viewer} quarantines nothing for {part}',
                            lambda: self.row(viewer, part)['quarantined'] == 0,
                            timeout * self.scale)

    def wait_unpinned(self, part, timeout=10):
        """`part` pins nothing (its peers' UNPIN and RELEASE served)."""
        self.lab.wait_counter(part, 'pinned_pages', 0, timeout * self.scale)

    def no_leaks(self, part, settle_s=15):
        """Nothing left behind in `part` by programs that exited (their
        teardown may trail the exit: `settle_s` to settle)."""
        kills.no_leaks(self.lab, part, settle_s, say=self.say)

    def log_clean(self, part):
        """Partition `part`'s kernel log clean now, mid-suite (gup and the
        unbind checks): the closing checks' own check."""
        Closing(self, self.lab, N).log_clean(part)

    def restart(self, part, tag):
        """Boots `part` again; its last boot's console is kept as
        TAG.console-killed.log for the final check."""
        self.lab.restart(part, log=os.path.join(self.logs, f'{tag}.restart'))
        shutil.copyfile(self.lab.killed_console(part),
                        os.path.join(self.logs, f'{tag}.console-killed.log'))

    def guest(self, part, script, *args, timeout=60):
        """A shell snippet in the partition (sh -c SCRIPT ARGS)."""
        return self.lab.exec(part, ['sh', '-c', script, 'sh'] + [str(a) for a in args],
                             timeout=timeout)

    # ---- setup and the data path ---------------------------------------------------

    def all_up(self):
        for p in range(N):
            for q in range(N):
                self.lab.wait_state(p, q, 'UP', 30)
        # The deadlines the checks below are measured against, set explicitly.
        self.set_all('inval_ms', 1000)
        self.set_all('fault_ms', 1000)
        self.set_all('dead_ms', self.dead_ms)

    def data_path(self, name, e, a, scenario, eargs=(), aargs=()):
        return lambda: self.pair(name, e, a, scenario, eargs, aargs)

    # 0 and 1 each export a region (race exporters left running) that the
    # other races on for `secs` (xpmem-xpart-attach race: readers against
    # the exporter's munmap/remap): each invalidates its own memory while
    # serving the other's faults.
    # Each exporter waits for its attacher's readers (--wait-ms, 60 s on the
    # stock kernel): 0's waits while the host starts 1's exporter and both
    # attachers, which took more than 60 s on the debug kernel (1's GET of
    # 0's control segment then met 0's exporter gone: ENOENT), so the wait
    # is scaled with the host's other bounds.
    def race_both_ways(self, tag, secs):
        lab = self.lab
        wait = ['--wait-ms', 60000 * self.scale]
        ex = [xpart.Daemon(lab, p, f'{tag}{p}', [self.prog('export'), 'race', '--seconds', 8] +
                           wait, '^segids ') for p in (0, 1)]
        segs = [xpart.values(d.lines, 'segids')[:2] for d in ex]
        self.say(f'race segids in 0: {segs[0]}; in 1: {segs[1]}')
        att = [lab.spawn(p, [self.prog('attach'), 'race'] + segs[1 - p] +
                         ['--threads', 2, '--seconds', secs], timeout=120,
                         name=f'race attacher in {p}') for p in (0, 1)]
        bad = []
        for p, a in zip((0, 1), att):
            try:
                a.wait(180)
            except LabError as e:
                bad.append(str(e))
            self.say('\n'.join(f'    race attacher in {p}: {l}' for l in a.log))
        for p, d in zip((0, 1), ex):
            ok, lines = d.result()
            self.say('\n'.join(f'    race exporter in {p}: {l}' for l in lines))
            if not ok:
                bad.append(f'the race exporter in {p}: {" | ".join(lines[-3:])}')
        expect(not bad, '; '.join(bad))

    def mutual(self):
        r0, r1 = self.row(0, 1), self.row(1, 0)
        t = [self.counter(p, 'timeouts') for p in (0, 1)]
        self.race_both_ways('mutual', 5)
        self.not_fenced(0, 1, r0)
        self.not_fenced(1, 0, r1)
        now = [self.counter(p, 'timeouts') for p in (0, 1)]
        deferred = [self.counter(p, 'faults_deferred') for p in (0, 1)]
        expect(now == t, f'a request timed out: timeouts {t} -> {now} '
                         f'(faults_deferred now {deferred}, not timeouts)')

    # One xpmem-xpart-PROG pair: "PROG export 40" in 0 prints its segid,
    # "PROG attach SEGID" in 1 works on it; the exporter's own "PASS TAG" is
    # the verdict (and the attacher's status).
    def export_then_attach(self, name, tag):
        lab = self.lab
        e = lab.spawn(0, [self.prog(name), 'export', 40], timeout=60, name=f'{name} exporter')
        try:
            _, line = e.expect('segid', 30 * self.scale)
        except LabError:
            e.stop()
            raise
        seg = line.split()[1]
        st, out, err = lab.run('exec', 1, '--timeout', 30, '--', self.prog(name), 'attach', seg,
                               timeout=90, check=False)
        self.say(f'attacher in 1 (status {st}):\n{out}{err}')
        e.wait(90 * self.scale)
        self.say('exporter in 0:\n' + '\n'.join(e.log))
        expect(st == 0, f'the {name} attacher in 1 exited {st}: {(out + err).strip()[-300:]}')
        expect(xpart.passed(e.log, tag), f'the {name} exporter did not pass: {e.tail()}')

    def atomics(self):
        self.export_then_attach('atomics', 'atomics')

    # futex, O_DIRECT and vmsplice on a remote attachment of a THP and a
    # 4 KiB source: each works or fails with EFAULT, the same for both, and
    # nothing oopses (GUP-fast on a PMD of peer-window frames, which have no
    # struct page, did where the module mapped PMDs the kernel does not mark
    # special).
    def gup(self):
        self.export_then_attach('gup', 'gup')
        self.log_clean(1)

    # ---- stalls, races, floods -------------------------------------------------

    # An owner whose fault service stalls (3 s a request) does not hold the
    # asker: its GET gives up at fault_ms (1000) with ETIMEDOUT; nobody is
    # fenced; the late answer, once it comes, is handed back (RELEASE) by
    # the asker, which counts it (dropped_stale_epoch).  The owner is a
    # puppet, so the stall is injected while it holds the segment, and the
    # segment is still there after: a GET without the stall attaches and
    # reads it.
    def stalled_owner(self):
        lab = self.lab
        r0 = self.row(1, 0)
        o = Puppet(lab, 0, 'stalled-owner', life=300)
        g = Puppet(lab, 1, 'stalled-getter', life=300)
        o('map', 'x', 8, 31)
        seg = o('make', 'x', '0600')['segid']
        s0 = self.counter(1, 'dropped_stale_epoch')
        e0 = lab.exports(0)
        lab.inject(0, 'stall_fault_service_ms', 3000)
        try:
            t0 = now_ms()
            ok, d, line = g.try_('get', seg, 'rw')
            ms = now_ms() - t0
            self.say(f'GET with 0 stalled: {line} ({ms:.0f} ms through the lab; fault_ms 1000)')
            expect(not ok and d.get('errno') == 'ETIMEDOUT', f'the GET said "{line}", not '
                   f'ETIMEDOUT')
            expect(ms < 10000, f'the GET waited {ms:.0f} ms, far past fault_ms')
            # 0 answers about 3 s after the GET; 1 has nobody waiting for it.
            s1 = lab.wait_until('the late answer comes back to 1 (dropped_stale_epoch)',
                                lambda: (lambda v: v if v > s0 else None)(
                                    self.counter(1, 'dropped_stale_epoch')),
                                15 * self.scale, period=0.3)
            self.say(f'partition 1: answers nobody waited for (dropped_stale_epoch) {s0} -> {s1}')
        finally:
            lab.inject(0, 'stall_fault_service_ms', 0)
        # The re-posts of the GET queued in 0 are served at once now, but the
        # one being served finishes its 3 s.
        time.sleep(3.5)
        # Every answer to the GET given up is handed back (RELEASE, served by
        # 0's fault service, no longer stalled): the exports 0 made for it are
        # gone while 0 still holds the segment (its exit would drop them all).
        self.wait_exports(0, e0, 10)
        apid = g('get', seg, 'rw')['apid']
        g('attach', 'x', apid, 8)
        g('check', 'x', 31)
        g.exit()
        o.exit()
        self.not_fenced(1, 0, r0)
        self.no_leaks(0)
        self.no_leaks(1)

    # A getrace exporter left running in partition P as UID: (daemon, segid).
    # It lives `secs` on the stock kernel, scaled: its segment must outlast
    # the host's steps that use it (every check stops it at its end).  On
    # the debug kernel a 60 s one had exited, its exports with it, before
    # the RELEASE check counted them (0 exports, not 1).
    def getrace_exporter(self, part, uid, secs):
        d = xpart.Daemon(self.lab, part, 'getrace',
                         [self.prog('getrace'), 'export', secs * self.scale, uid], '^segid ')
        return d, d.first('segid')

    def still_running(self, d):
        """Raises, naming it, if daemon d already printed its verdict (a
        count that then misses is about its end, not the protocol)."""
        ok, lines = d.result(0)
        expect(not any(l.startswith(('PASS ', 'FAIL ')) for l in lines),
               f'{d.tag} in {d.part} had already ended: {" | ".join(lines[-2:])}')

    # The checks below assert "no fence" of a kind the defects caused (a
    # request or invalidation timeout); a partition the loaded host starves
    # of CPU for dead_ms (self-stalled, heartbeat) is not one: dead_ms is
    # raised meanwhile.
    def patient(self, fn):
        def run():
            self.set_all('dead_ms', max(10000, self.dead_ms))
            try:
                fn()
            finally:
                self.set_all('dead_ms', self.dead_ms)
        return run

    # User A (uid 1000) GETs her 0600 segment in 0 while user B (uid 1001)
    # GETs the same segid (EACCES each); 0's fault service takes 300 ms a
    # request (fault_ms 1000: GETs are re-posted every 250 ms), so GETs are
    # answered twice, and late.  An answer reaches only the GET it answers
    # (its rid): B never gets a permit; second answers are handed back
    # (RELEASE) or dropped, counted as stale: their count shows the race ran.
    def two_users_get(self):
        lab = self.lab
        r0 = self.row(1, 0)
        s0 = self.counter(1, 'dropped_stale_epoch')
        d, seg = self.getrace_exporter(0, 1000, 60)
        self.say(f'segid {seg}')
        lab.inject(0, 'stall_fault_service_ms', 300)
        try:
            st, out, err = lab.run('exec', 1, '--timeout', 120, '--', self.prog('getrace'),
                                   'race', seg, 15, 1000, 1001, timeout=180, check=False)
        finally:
            lab.inject(0, 'stall_fault_service_ms', 0)
            d.stop()
        self.say(out + err)
        expect(st == 0 and xpart.passed(out.splitlines(), 'getrace'),
               f'getrace race (status {st}): {(out + err).strip()[-300:]}')
        s1 = self.counter(1, 'dropped_stale_epoch')
        self.say(f'partition 1: answers nobody waited for (dropped_stale_epoch) {s0} -> {s1}')
        expect(s1 > s0, 'no GET was answered twice: the race was not run')
        self.not_fenced(1, 0, r0)

    # The attacher holds two proxies of the same pages (two probers, two
    # GETs: two exports on the owner); the owner unmaps a page they both
    # read, and its first INVALIDATE to 1 is corrupted (dropped by 1).  The
    # second one's completion must not acknowledge the first: the owner
    # waits for the re-post, and both proxies get SIGBUS (no unpin while
    # still mapped).
    def two_proxies(self):
        r = self.row(0, 1)
        m0 = self.counter(1, 'dropped_malformed')
        self.pair('two-proxies', 0, 1, 'two-proxies',
                  ['--arm-before-munmap', 'inject corrupt_next 1'])
        m1 = self.counter(1, 'dropped_malformed')
        self.say(f'partition 1 dropped_malformed {m0} -> {m1}')
        expect(m1 - m0 == 1, f'partition 1 dropped {m1 - m0} malformed messages, not 1')
        self.not_fenced(0, 1, r)

    # 0's fault service is stuck (8 s a request) and 1 floods it with GETs
    # until its queue is full; meanwhile 1 invalidates 0's attachment of 1's
    # memory (pattern 1 -> 0: munmap and remap).  0's poller must keep
    # taking the INVALIDATEs and replies (the GETs it has no room for are
    # dropped and counted, their requesters re-post): no fence either way.
    def blocked_fault_service(self):
        lab = self.lab
        r0, r1 = self.row(0, 1), self.row(1, 0)
        d, seg = self.getrace_exporter(0, 1000, 120)
        d0 = self.counter(0, 'dropped_queue_full')
        lab.inject(0, 'stall_fault_service_ms', 8000)
        try:
            xpart.Daemon(lab, 1, 'flood', [self.prog('getrace'), 'flood', seg, 25, 8])
            time.sleep(8)
            self.pair('blocked', 1, 0, 'pattern')
            d1 = self.counter(0, 'dropped_queue_full')
        finally:
            lab.inject(0, 'stall_fault_service_ms', 0)
        _, out = xpart.Daemon.of(lab, 1, 'flood').result(60)
        self.say('\n'.join('    flood: ' + l for l in out))
        d.stop()
        self.say(f'partition 0 dropped_queue_full {d0} -> {d1}')
        expect(d1 > d0, 'the fault-service queue never filled: nothing was tested')
        self.not_fenced(0, 1, r0)
        self.not_fenced(1, 0, r1)

    def went_remote(self):
        f, i = self.counter(1, 'remote_faults'), self.counter(0, 'remote_invalidations')
        self.say(f'partition 1 remote_faults {f}, partition 0 remote_invalidations {i}')
        expect(f > 0 and i > 0, f'remote_faults {f} in 1, remote_invalidations {i} in 0')
        for p in range(N):
            self.wait_unpinned(p)
            self.lab.wait_counter(p, 'attachments', 0, 10 * self.scale)

    # ---- lost and corrupted messages -----------------------------------------------

    # Doorbells to P dropped during a pattern run (0 -> 1): by fabricd, or
    # with RDMA or polled doorbells (nothing reaches fabricd) by P's peers,
    # which swallow every doorbell they ring (drop_doorbells).
    def dropped_doorbells(self, part):
        lab = self.lab
        if lab.doorbell() != 'msix':
            peers = [q for q in range(N) if q != part]
            for q in peers:
                lab.inject(q, 'drop_doorbells', 1)
            try:
                self.pair(f'drop-to-{part}', 0, 1, 'pattern')
            finally:
                for q in peers:
                    lab.inject(q, 'drop_doorbells', 0)
            d = int(lab.exec(1 - part, ['cat', '/sys/kernel/xpmem/doorbells_dropped'],
                             timeout=30))
            self.say(f'doorbells to {part} dropped by partition {1 - part}: {d}')
            expect(d > 0, f'partition {1 - part} dropped no doorbell to {part}')
            return
        d0 = lab.fabric_stats()[part]['dropped']
        lab.run('fabric', 'drop-to', part, 'on', timeout=60)
        try:
            self.pair(f'drop-to-{part}', 0, 1, 'pattern')
        finally:
            lab.run('fabric', 'drop-to', part, 'off', timeout=60)
        d1 = lab.fabric_stats()[part]['dropped']
        self.say(f'doorbells to {part} dropped: {d0} -> {d1}')
        expect(d1 > d0, f'fabricd dropped no doorbell to {part}')

    # corrupt_next on the sender: the receiver drops the message as
    # malformed, the sender's resend (every deadline/4) completes the
    # operation, nobody is fenced.
    def corrupt(self, who):
        recv = 0 if who == 'attacher' else 1
        m0 = self.counter(recv, 'dropped_malformed')
        r = self.row(0, 1)
        if who == 'attacher':
            self.pair(f'corrupt-{who}', 0, 1, 'pattern', (),
                      ['--arm-before-touch', 'inject corrupt_next 1'])
        else:
            self.pair(f'corrupt-{who}', 0, 1, 'pattern',
                      ['--arm-before-munmap', 'inject corrupt_next 1'])
        m1 = self.counter(recv, 'dropped_malformed')
        self.say(f'partition {recv} dropped_malformed {m0} -> {m1}')
        expect(m1 - m0 == 1, f'partition {recv} dropped {m1 - m0} malformed messages, not 1')
        self.not_fenced(0, 1, r)

    # A completion that comes after the owner gave up: 1 handles the
    # INVALIDATE 3 s late (inval_ms 1000).  The owner fences 1 and
    # quarantines the pages; 1's late completion must change nothing; 1
    # then finds itself fenced, fences itself and rejoins, which releases
    # the quarantine.
    def late_completion(self):
        lab = self.lab
        e0 = self.row(0, 1)['epoch']
        lab.inject(1, 'delay_invalidate_ms', 3000)
        try:
            out = self.pair('late', 0, 1, 'canary', (), ['--hold-ms', 8000])
        finally:
            lab.inject(1, 'delay_invalidate_ms', 0)
        ms = xpart.value(out, 'munmap_ms')
        self.say(f'munmap_ms {ms} (inval_ms 1000)')
        expect(ms is not None and int(ms) < 3000, f'munmap_ms {ms}: not ended at inval_ms')
        row = lab.wait_state(0, 1, 'UP', 30)
        self.say(f'epoch of 1: {e0} -> {row["epoch"]}')
        expect(row['epoch'] > e0, f'1 was not fenced (epoch {e0} -> {row["epoch"]})')
        self.wait_unquarantined(0, 1)
        self.wait_unpinned(0)

    # One page, 17 exports: 16 GETs from 1, then one from 2.  1 handles
    # INVALIDATEs 3 s late (inval_ms 1000).  The munmap asks all 17 at
    # once, each with its own deadline: 1 is fenced at its deadline, 2
    # answers at once and must stay UP under the same epoch (a deadline
    # shared by batches of 16 fenced it: its batch started after 1's had
    # used up inval_ms).
    def fanout_one_slow(self):
        lab = self.lab
        v0 = lab.partitions(0)
        env = {'XPMEMCTL': lab.ctl}
        e = lab.spawn(0, [self.prog('fanout'), 'export', 90], timeout=120, env=env,
                      name='fanout exporter')
        procs = [e]
        try:
            seg = e.expect('segid', 30 * self.scale)[1].split()[1]
            procs.append(lab.spawn(1, [self.prog('fanout'), 'attach', seg, 16, 1, 15,
                                       'inject delay_invalidate_ms 3000'], timeout=120,
                                   env=env, name='fanout attacher in 1'))
            while e.expect('ready', 90 * self.scale)[1] != 'ready 1':
                pass
            procs.append(lab.spawn(2, [self.prog('fanout'), 'attach', seg, 1, 2, 10],
                                   timeout=120, name='fanout attacher in 2'))
            bad = []
            for p in procs:
                try:
                    p.wait(180)
                except LabError as x:
                    bad.append(str(x))
        finally:
            for p in procs:
                p.stop()
            lab.inject(1, 'delay_invalidate_ms', 0)
        for p, who in zip(procs, ('exporter', 'attacher in 1', 'attacher in 2')):
            self.say('\n'.join(f'    {who}: {l}' for l in p.log))
        expect(not bad, '; '.join(bad))
        expect(xpart.passed(e.log, 'fanout'), f'the fanout exporter: {e.tail()}')
        ms = xpart.value(e.log, 'munmap_ms')
        self.say(f'munmap_ms {ms} (inval_ms 1000)')
        expect(ms is not None and int(ms) < 3000, f'munmap_ms {ms}: 1 not fenced at inval_ms')
        now = lab.partitions(0)
        self.say(f'partition 2 in 0\'s view, before: {v0[2]}; after: {now[2]}')
        self.not_fenced(0, 2, v0[2])
        expect(now[1]['epoch'] != v0[1]['epoch'] or now[1]['state'] == 'DEAD',
               f'0 did not fence the slow partition 1: {v0[1]} -> {now[1]}')
        lab.wait_state(0, 1, 'UP', 30)
        self.wait_unquarantined(0, 1)
        self.wait_unpinned(0)

    # A lost RELEASE leaks no export (tests/model/rpc.pml, no_export_leaked).
    # A process in 1 GETs a segment of 0 (one export in 0), then releases it
    # with corrupt_next armed in 1: the RELEASE is dropped by 0's check, and
    # 1's rescan re-posts it until 0 acknowledges; 0's exports come back to
    # their count.  Before, RELEASE was posted once: the export stayed until
    # 1's next epoch.  A fence of 1 meanwhile (a loaded host starving its
    # heartbeat: it then finds itself fenced, self-stale-epoch) takes the
    # export with 1's old incarnation, as it must: the check runs patient
    # and, should 1 be fenced anyway, says so rather than blame the RELEASE.
    def lost_release(self):
        lab = self.lab
        r1 = self.row(0, 1)
        d, seg = self.getrace_exporter(0, 0, 60)
        self.say(f'segid {seg}')
        try:
            e0, m0 = lab.exports(0), self.counter(0, 'dropped_malformed')
            self.guest(1, 'rm -f /tmp/hold.go', timeout=30)
            h = xpart.Daemon(lab, 1, 'hold', [self.prog('getrace'), 'hold', seg, '/tmp/hold.go'],
                             '^(got|FAIL)')
            expect('got' in h.lines, f'the holder in 1: {h.lines}')
            try:
                self.wait_exports(0, e0 + 1, 10)
            except LabError:
                self.not_fenced(0, 1, r1)
                self.still_running(d)
                raise
            lab.inject(1, 'corrupt_next', 1)
            try:
                lab.exec(1, ['touch', '/tmp/hold.go'], timeout=30)
                ok, lines = h.result()
                self.say('\n'.join('    holder: ' + l for l in lines))
                expect(ok, f'the holder in 1: {lines[-3:]}')
                self.still_running(d)
                self.wait_exports(0, e0, 10)
                self.not_fenced(0, 1, r1)
                m1 = self.counter(0, 'dropped_malformed')
                self.say(f'partition 0: exports {e0} -> {e0 + 1} -> {lab.exports(0)}; '
                         f'dropped_malformed {m0} -> {m1}')
                expect(m1 > m0, 'no message was corrupted: the RELEASE was not lost')
            finally:
                lab.inject(1, 'corrupt_next', 0)
        finally:
            d.stop()

    # Defect 4 (issue 9): a segment in 0 backed by a FUSE file whose daemon
    # blocks every read (xpmem-xpart-fuse).  1 faults on it (fault_ms 15000
    # in 1): 0's fault service gives up on that page a quarter of fault_ms at
    # a time without answering (1 re-posts), so meanwhile it serves 1's
    # other faults while 0 and 1 invalidate each other's memory (the race of
    # `mutual`), and the FUSE exporter's own mmap/munmap go on (nothing
    # holds its mmap_lock); 1's fault ends with SIGBUS at its deadline,
    # nobody is fenced.  Once the daemon answers, the page comes: the
    # partition recovered.  Before, the fault service slept on the FUSE
    # page, holding the exporter's mmap_lock, until the daemon answered.
    # The FUSE exporter lives `life` s at most (FUSE_STOP ends it before):
    # 180 on the stock kernel, scaled, as the check's steps took more than
    # 6 minutes on the debug kernel (a 180 s exporter had exited, and the
    # last GET met ENOENT).
    FUSE_SETUP = '''bin=$1 fuseko=$2 life=$3
[ -e /dev/fuse ] || insmod "$fuseko"
mkdir -p /tmp/xfuse; rm -f /tmp/fuse.gate /tmp/fuse.stop
setsid "$bin/xpmem-xpart-fuse" serve /tmp/xfuse /tmp/fuse.gate >/tmp/fuse-serve.out 2>&1 </dev/null &
i=0; while [ $i -lt 300 ] && [ ! -e /tmp/xfuse/data ]; do i=$((i + 1)); sleep 0.1; done
setsid "$bin/xpmem-xpart-fuse" export /tmp/xfuse/data "$life" /tmp/fuse.stop >/tmp/fuse-export.out 2>&1 </dev/null &
i=0; while [ $i -lt 300 ]; do grep -q '^segid ' /tmp/fuse-export.out && break; i=$((i + 1)); sleep 0.1; done
cat /tmp/fuse-serve.out; head -n 1 /tmp/fuse-export.out'''
    FUSE_STOP = '''touch /tmp/fuse.stop; i=0; while [ $i -lt 300 ]; do
grep -q '^PASS fuse-export' /tmp/fuse-export.out && break; i=$((i + 1)); sleep 0.1; done
tail -n 1 /tmp/fuse-export.out; umount /tmp/xfuse; grep -q '^PASS fuse-export' /tmp/fuse-export.out'''

    def fuse_cycles(self):
        return int(self.guest(0, "awk '/^cycles /{ n = $2 } END { print n + 0 }' "
                              "/tmp/fuse-export.out", timeout=30))

    def fuse_fault(self):
        lab = self.lab
        mods = glob.glob(os.path.join(lab.kernel_root(), 'lib', 'modules', '*', '**',
                                      'fuse.ko*'), recursive=True)
        r0, r1 = self.row(0, 1), self.row(1, 0)
        d0, t0 = lab.counters(0).get('faults_deferred', 0), self.counter(0, 'timeouts')
        out = self.guest(0, self.FUSE_SETUP, self.bin, mods[0] if mods else '/none',
                         180 * self.scale, timeout=90)
        self.say(out)
        seg = xpart.value(out.splitlines(), 'segid')
        expect(seg, f'the FUSE exporter in 0 printed no segid (fuse.ko: {mods[:1]})')
        lab.set_tunable(1, 'fault_ms', 15000)
        try:
            stuck = xpart.Daemon(lab, 1, 'fuse-stuck', [self.prog('fuse'), 'attach', seg,
                                                        'sigbus'])
            time.sleep(1)
            c1 = self.fuse_cycles()
            # Meanwhile, the I6 race both ways; 1's readers need 0's fault
            # service.
            self.race_both_ways('fuse', 4)
            c2 = self.fuse_cycles()
            self.say(f'the FUSE exporter\'s mmap/munmap cycles while the fault was stuck: '
                     f'{c1} -> {c2}')
            expect(c2 > c1, 'the FUSE exporter\'s mmap_lock was held')
            # The stuck fault: SIGBUS at its deadline (15 s), not when the
            # daemon answers, nor at once (an error would not show the fault
            # was stuck).
            ok, lines = stuck.result()
            self.say('\n'.join('    stuck attacher: ' + l for l in lines))
            ms = None
            for l in lines:
                w = l.split()
                if l.startswith('PASS fuse-attach: ') and w[-1] == 'ms':
                    ms = int(w[-2])
            expect(ok and ms is not None and ms >= 7500,
                   f'the stuck fault ended after {ms} ms ({lines[-1:]}), before half of 1\'s '
                   f'fault_ms: not stuck')
            # 0 left that FAULT for 1's re-posts, a quarter of fault_ms at
            # a time: deferrals, none of them a timeout of 0's (the stuck
            # requester's own deadline is 1's).
            d1, t1 = lab.counters(0).get('faults_deferred', 0), self.counter(0, 'timeouts')
            self.say(f'partition 0: faults_deferred {d0} -> {d1}, timeouts {t0} -> {t1}')
            expect(d1 > d0, 'partition 0 counted no deferred FAULT while one was stuck')
            expect(t1 == t0, f'partition 0 counted its deferrals as timeouts: {t0} -> {t1}')
            # The daemon answers: the page comes.
            lab.exec(0, ['touch', '/tmp/fuse.gate'], timeout=30)
        finally:
            lab.set_tunable(1, 'fault_ms', 1000)
        st, out, err = lab.run('exec', 1, '--timeout', 90, '--', self.prog('fuse'), 'attach',
                               seg, 'data', timeout=150, check=False)
        self.say('\n'.join('    attacher after the gate: ' + l
                           for l in (out + err).splitlines()))
        expect(st == 0, f'after the gate, the attacher in 1 exited {st}: {(out + err)[-200:]}')
        self.say(self.guest(0, self.FUSE_STOP, timeout=60))
        self.not_fenced(0, 1, r0)
        self.not_fenced(1, 0, r1)

    # Nothing under the fabric mutex may enter reclaim (reclaim can run our
    # notifier, which takes that mutex to post INVALIDATE).  Fencing 2 and
    # its rejoin run partition 0's state callbacks under the mutex, in the
    # rescan and peer threads, which do everything else under it too: while
    # 2 is stopped and continued, partition 0 traces every allocation those
    # threads make that may reclaim directly (__GFP_DIRECT_RECLAIM, 0x400);
    # none may.
    TRACE = r'''t=/sys/kernel/tracing how=$1
[ -d $t/events/kmem ] || mount -t tracefs nodev $t || exit 2
echo 0 >$t/tracing_on
if [ $how = on ]; then echo >$t/trace; fi
for ev in kmalloc kmalloc_node kmem_cache_alloc kmem_cache_alloc_node mm_page_alloc; do
	[ -d $t/events/kmem/$ev ] || continue
	if [ $how = on ]; then
		echo '(comm == "xpmem-rescan" || comm ~ "xpmem-peer*") && gfp_flags & 0x400' \
			>$t/events/kmem/$ev/filter || exit 3
		echo 1 >$t/events/kmem/$ev/enable
	else
		echo 0 >$t/events/kmem/$ev/enable
		echo 0 >$t/events/kmem/$ev/filter
	fi
done
if [ $how = on ]; then echo 1 >$t/tracing_on; else grep -v '^#' $t/trace; echo >$t/trace; fi'''

    def no_reclaim_under_fabric_mutex(self):
        lab = self.lab
        self.guest(0, self.TRACE, 'on')
        e0 = self.row(0, 2)['epoch']
        try:
            lab.stop(2)
            try:
                lab.wait_state(0, 2, 'DEAD', 10 * lab.time_scale())
            finally:
                lab.cont(2)
            lab.wait_state(0, 2, 'UP', 60)
        finally:
            trace = self.guest(0, self.TRACE, 'off')
        with open(os.path.join(self.logs, 'no-reclaim.trace'), 'w') as f:
            f.write(trace)
        expect(self.row(0, 2)['epoch'] != e0, '2 was not fenced')
        hits = [l for l in trace.splitlines() if l.strip()]
        self.say(f'allocations that may reclaim, by partition 0\'s rescan and peer threads: '
                 f'{len(hits)}\n' + '\n'.join(hits[:10]))
        expect(not hits, f'{len(hits)} allocations that may reclaim: {hits[:2]}')

    # ---- partitions dying --------------------------------------------------------

    def kill_mid_invalidate(self):
        kills.invalidate(self.lab, self.logs, 'kmi-once', True, say=self.say)
        self.lab.set_tunable(1, 'dead_ms', self.dead_ms)   # restarted: the default

    # The control for the check above: the same canaries, an INVALIDATE
    # handled in time, so the munmap frees the pages; the same pressure must
    # then wipe most of them from the RAM file (else "kept" would prove
    # nothing).
    def freed_reused(self):
        lab = self.lab
        out = self.pair('control', 0, 1, 'canary', (), ['--hold-ms', 3000])
        self.say(lab.exec(0, [self.prog('pressure'), 48], timeout=300))
        frames = [l.split() for l in out if l.startswith('pfn ')]
        expect(frames, 'the exporter printed no frames')
        pfns = [int(f[2], 16) for f in frames]
        want = [int(f[4], 16) for f in frames]
        kept = ram.frames_holding(lab.ram_file(0), pfns, lambda i: want[i])
        self.say(f'{len(frames)} frames read from the RAM file, {kept} still hold the canary')
        expect(kept * 2 <= len(frames), f'{kept} of {len(frames)} freed frames never reused '
               f'under pressure: the quarantine check could not fail')
        self.wait_unpinned(0)

    def stop_cont(self):
        lab = self.lab
        e0 = self.row(0, 1)['epoch']
        lab.stop(1)
        try:
            lab.wait_state(0, 1, 'DEAD', 5 * lab.time_scale())
        finally:
            lab.cont(1)
        row = lab.wait_state(0, 1, 'UP', 30)
        self.say(f'epoch of 1: {e0} -> {row["epoch"]}')
        expect(row['epoch'] > e0, f'epoch of 1: {e0} -> {row["epoch"]}')
        st, _, _ = lab.run('exec', 1, '--timeout', 30, '--', 'sh', '-c',
                           'dmesg | grep -q "fenced ourselves"', timeout=90, check=False)
        expect(st == 0, '1 did not say it fenced itself')
        self.pair('after-cont', 0, 1, 'pattern')

    # The exporter's partition dies while an attacher's FAULT is in flight
    # (0's fault service stalled; 1's table shows the request in flight
    # when the kill lands): the fault ends in SIGBUS when 1 fences 0
    # (dead_ms), not at its own fault_ms; 1 and 2 hold nothing; 0 restarts
    # and rejoins.
    def kill_owner_mid_fault(self):
        kills.fault(self.lab, self.logs, 'kof-once', say=self.say)
        self.lab.set_tunable(0, 'dead_ms', self.dead_ms)   # restarted: the default

    def after_restarts(self):
        self.set_all('inval_ms', 1000)
        self.pair('restarted-1-0', 1, 0, 'pattern')
        self.pair('restarted-0-2', 0, 2, 'pattern')

    # ---- after a failed check ----------------------------------------------------

    def heal(self):
        """Every partition running, UP, no injection, the suite's tunables,
        no program left: the next check starts where it expects."""
        lab = self.lab
        self.say('heal: bringing every partition back')
        for p in range(N):
            lab.run('cont', p, timeout=60, check=False)
            lab.run('fabric', 'drop-to', p, 'off', timeout=60, check=False)
        # A lab command takes seconds on the debug kernel: its bounds are
        # scaled (an unscaled `test` timed out there, and the insmod that
        # followed found the module loaded: only a clear "no" loads it).
        t = 20 * self.scale
        for p in range(N):
            st, _, _ = lab.run('exec', p, '--timeout', t, '--', 'true', timeout=t + 40,
                               check=False)
            if st != 0:
                self.restart(p, f'heal-{p}-{int(time.time())}')
            elif lab.run('exec', p, '--timeout', t, '--', 'test', '-e', '/sys/module/xpmem',
                         timeout=t + 40, check=False)[0] == 1:
                lab.exec(p, ['busybox', 'insmod', lab.module_file()], timeout=120)
        for p in range(N):
            lab.run('exec', p, '--timeout', 60, '--', 'sh',
                    os.path.join(REPO, 'tools', 'lab', 'guest-strays.sh'), '--kill',
                    timeout=120, check=False)
            for name in ('delay_invalidate_ms', 'stall_fault_service_ms', 'corrupt_next',
                         'drop_doorbells'):
                lab.inject(p, name, 0)
            for name in ('inval_ms', 'fault_ms'):
                lab.set_tunable(p, name, 1000)
            lab.set_tunable(p, 'dead_ms', self.dead_ms)
        for p in range(N):
            for q in range(N):
                lab.wait_state(p, q, 'UP', 120)


# The data path's plain pairs: (scenario, exporter's partition, attacher's,
# what it shows).  Segids carry the owner's partition: the pairs go several
# ways.
DATA_PATH = [
    ('pattern', 0, 1, 'pattern both ways and after a remap'),
    ('holes', 0, 1, 'holes at attach time and made later: SIGBUS'),
    ('remove', 2, 0, 'removed segment: SIGBUS, get ENOENT'),
    ('exit', 1, 2, 'exporter exits: SIGBUS, never stale data'),
    ('fork', 0, 1, 'exporter forks: attacher follows the parent\'s COW pages'),
    ('scale', 0, 1, '100,000 pages stamped and checked'),
]


def checks(s):
    """The checks, in the order they run: (name, function)."""
    u = unbind.Unbind(s)
    c = [(f'remote: all {N} partitions UP, inval_ms and fault_ms 1000', s.all_up)]
    # ---- the data path: one pair each, named by what it shows
    c += [(f'remote: {what} ({e} -> {a})', s.data_path(sc, e, a, sc))
          for sc, e, a, what in DATA_PATH]
    c += [
        ('remote: 4 readers vs munmap/remap generations: nothing stale (0 -> 1)',
         s.data_path('race', 0, 1, 'race', ['--seconds', 5], ['--threads', 4, '--seconds', 5])),
        ('remote: 0 and 1 invalidate each other\'s memory while serving each other\'s faults: '
         'no fence, no timeout (I6)', s.mutual),
        ('remote: atomics on a page first read (lock add, xchg, cmpxchg) complete, values right',
         s.atomics),
        ('remote: futex, O_DIRECT, vmsplice on THP and 4 KiB remote attachments: clean, no oops',
         s.gup),
        # ---- stalls, races, floods (issue 9)
        ('remote: stalled fault service: GET gives up at fault_ms (ETIMEDOUT), the late answer '
         'handed back, no fence', s.stalled_owner),
        ('remote: two users GET one segid from a stalled owner: B never gets A\'s answer (rid)',
         s.patient(s.two_users_get)),
        ('remote: two proxies of one page, the first INVALIDATE corrupted: SIGBUS through both, '
         'no fence', s.two_proxies),
        ('remote: 0\'s fault service stuck and flooded: 1\'s INVALIDATEs still complete, '
         'no fence (I6)', s.patient(s.blocked_fault_service)),
        ('remote: the faults and invalidations went over the fabric; nothing pinned after',
         s.went_remote),
        # ---- lost and corrupted messages
        ('remote: doorbells to the attacher\'s partition dropped: data path still right',
         lambda: s.dropped_doorbells(1)),
        ('remote: doorbells to the owner\'s partition dropped: data path still right',
         lambda: s.dropped_doorbells(0)),
        ('remote: corrupted FAULT dropped as malformed by the owner, resent, fault completes',
         lambda: s.corrupt('attacher')),
        ('remote: corrupted INVALIDATE dropped by the attacher\'s partition, resent, munmap '
         'completes, no fence', lambda: s.corrupt('owner')),
        ('remote: late completion: 1 fenced at inval_ms, rejoins, quarantine released',
         s.late_completion),
        ('remote: 17 exports, 1 slow past inval_ms: only 1 fenced, 2 stays UP (per-target '
         'deadlines)', s.fanout_one_slow),
        ('remote: a RELEASE corrupted on its way is re-posted: the owner\'s exports return to '
         'their count', s.patient(s.lost_release)),
        ('remote: a fault on a FUSE page whose daemon blocks: answered at its deadline, '
         'INVALIDATEs and other faults go on, recovers (defect 4)', s.patient(s.fuse_fault)),
        ('remote: a fence and a rejoin allocate nothing that may reclaim under the fabric mutex',
         s.no_reclaim_under_fabric_mutex),
        # ---- partitions dying
        ('remote: kill 1 mid-invalidate (seen in service by 1\'s kernel): munmap within dead_ms '
         'of the kill, pages quarantined and kept through memory pressure, released on restart',
         s.kill_mid_invalidate),
        ('remote: control: frames freed by a normal munmap are reused under the same pressure',
         s.freed_reused),
        ('remote: stop 1: fenced; cont 1: fences itself, rejoins, data path works again',
         s.stop_cont),
        ('remote: kill 0 with a FAULT of 1 in flight (seen in 1\'s table): SIGBUS at the fence, '
         'nothing left; 0 restarts', s.kill_owner_mid_fault),
        ('remote: after the restarts: pattern 1 -> 0 and 0 -> 2', s.after_restarts),
    ]
    return c + u.checks()


def main():
    build = os.environ.get('XPMEM_BUILD_DIR', os.path.join(REPO, 'build'))
    logs = os.path.join(os.environ.get('XPMEM_PARTITION_LOGS',
                                       os.path.join(build, 'lab', 'logs', 'partition')),
                        'remote')
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    lab = Lab(REPO, build)
    s = Remote(lab, logs, os.environ.get('XPMEM_REMOTE_ONLY', ''))
    cs = checks(s)
    # The killed boots' consoles, kept by restart() and tests/partition/kmi.py:
    # two kills at least (mid-invalidate, mid-fault).
    closing = Closing(s, lab, N, prefix='remote: ', at_least=2, consoles=lambda: glob.glob(
        os.path.join(logs, '*.console-killed.log')))
    s.plan(len(cs) + len(closing.names))
    names = [n for n, _ in cs] + closing.names
    missing = [p for p in PROGS if not os.access(xpart.prog(lab, p), os.X_OK)]
    if missing:
        s.not_run(names, f'not built: {", ".join(missing)} in {s.bin}')
        return 1
    reuse = os.environ.get('XPMEM_REMOTE_REUSE') == '1' and lab.nparts() == N
    rc = 1
    try:
        st = 0 if reuse else lab.boot(N, os.path.join(logs, 'up.log'))
        if st != 0:
            s.not_run(names, f'up -n {N} with the module failed (status {st}, '
                      f'{os.path.join(logs, "up.log")})')
            return 1
        s.run(cs, always=[s.all_up])
        closing.run()
        rc = s.failed
    finally:
        if not reuse:
            lab.power_off(os.path.join(logs, 'down.log'))
    return rc


if __name__ == '__main__':
    sys.exit(main())
