#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/doorbell.py - RDMA doorbells in the lab.

Boots `tools/xpmem-lab up -n 2 --doorbell rdma` (xpmem_rdma.ko over
Soft-RoCE; docs/lab.md) and checks, with the lab library
(tools/lab/xpmemlab), that each module says it rings over RDMA,
`xpmemctl --json partitions` shows "rdma" for the live peer both ways,
PINGs are rung over RDMA (xpmem_rdma's receive completions and the
modules' own doorbell counters grow in both partitions), and the failures:
  - 0's doorbells swallowed (inject drop_doorbells): PING 0 -> 1 still
    answered (1's rescan), nothing left 0 over RDMA;
  - partition 1's links cut while a shootdown from 0 is in flight: the
    munmap completes through polling, nobody is fenced (heartbeats are in
    shared memory), 1's doorbell to 0 shows "poll"; restored: "rdma"
    again both ways, PINGs received over RDMA;
  - links cut and 1's heartbeat stopped: 1 is fenced (heartbeat) exactly
    as with MSI-X, rejoins under a new epoch once it beats again, and
    reconnects after the restore;
  - partition 1 killed: rmmod xpmem in 0 tears its queue pairs down, and
    xpmem_rdma.ko unloads;
  - with no RDMA device left in 0, xpmem.ko doorbell=rdma loads and says
    it polls, before and after xpmem_rdma.ko comes.
Then (xpmemlab.closing) 0's kernel log, the killed 1's console, and rmmod
xpmem in 0 (the module loaded without an RDMA device lets go of all).

Tables are read as named records (`xpmemctl --json partitions`,
Lab.partitions), the modules' counters through `xpmemctl --json stats`,
xpmem_rdma's from its `stats` parameter.  Prints "PLAN N" and exactly N
verdicts ("PASS partition: doorbell: ..." / "FAIL ..."); exits 1 on any
failure.  After a failed check the lab is healed (links restored,
injections cleared, both UP) while partition 1 lives.

XPMEM_DOORBELL_ONLY=WORD[,WORD] runs the checks whose name holds a WORD
(and the first; the others SKIP, and so do the closing checks unless a
WORD selects them).  Logs:
$XPMEM_PARTITION_LOGS/doorbell/ (default build/lab/logs/partition/).
"""

import os
import shutil
import sys

sys.dont_write_bytecode = True   # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'lab'))
from xpmemlab import Lab, LabError, now_ms, pairs, suite, xpart  # noqa: E402
from xpmemlab.closing import Closing  # noqa: E402
from xpmemlab.suite import expect  # noqa: E402

N = 2
STATS = '/sys/module/xpmem_rdma/parameters/stats'
SAYS_RDMA = 'xpmem: doorbells: rdma'
SAYS_WAITING = 'xpmem: doorbell=rdma: xpmem_rdma.ko is not loaded yet; polling'
SAYS_BOUND = 'xpmem: doorbells: rdma (xpmem_rdma.ko bound)'
# Deletes every Soft-RoCE link of the partition; prints how many RDMA
# devices are left.
DELETE_LINKS = r'''
for l in $(rdma link show | sed -n "s/^link \([^/]*\)\/.*/\1/p"); do
	rdma link delete "$l" || exit 1
done
ls /sys/class/infiniband | wc -l
'''


class Doorbell(suite.Suite):
    def __init__(self, lab, logs, only=''):
        super().__init__('partition: doorbell', os.path.join(logs, 'doorbell.log'), only)
        self.lab, self.logs = lab, logs
        self.healing = True     # off once partition 1 is killed on purpose
        self.killed_consoles = []

    # ---- helpers ------------------------------------------------------------

    def peers(self, part):
        """part's `xpmemctl --json partitions`, its peers' records by id."""
        recs = self.lab.xpmemctl_json(part, 'partitions')['partitions']
        return {r['id']: r for r in recs if not r['self']}

    def wait_doorbell(self, part, peer, kind, timeout):
        """Until part's record of peer shows doorbell `kind`; says how long."""
        last = {}
        t0 = now_ms()

        def probe():
            last['rec'] = self.peers(part).get(peer)
            return last['rec'] and last['rec']['doorbell'] == kind
        self.lab.wait_until(f'partition {part}: doorbell to {peer} is {kind}', probe, timeout,
                            period=0.5, seen=lambda: f'last read: {last.get("rec")}')
        self.say(f'partition {part}: doorbell to {peer} is {kind} after {now_ms() - t0:.0f} ms')

    def rdma_stats(self, part):
        """xpmem_rdma's counters in part (sent, unsent, received, ...)."""
        return {k: int(v) for k, v in pairs(self.lab.exec(part, ['cat', STATS], timeout=30))
                .items()}

    def received(self):
        """{part: (xpmem_rdma's receive completions, the module's
        doorbells_received)} for both partitions."""
        return {p: (self.rdma_stats(p)['received'], self.lab.counters(p)['doorbells_received'])
                for p in range(N)}

    def pings_received(self, rounds):
        """PINGs both ways `rounds` times: every partition's receive
        completions and the module's doorbells_received must grow."""
        before = self.received()
        for _ in range(rounds):
            self.lab.ping(0, 1)
            self.lab.ping(1, 0)
        after = self.received()
        self.say(f'(receive completions, doorbells_received): {before} -> {after}')
        for p in range(N):
            expect(after[p][0] > before[p][0] and after[p][1] > before[p][1],
                   f'partition {p}: receive completions {before[p][0]} -> {after[p][0]}, '
                   f'doorbells_received {before[p][1]} -> {after[p][1]} across the PINGs')

    def says(self, part, text):
        """How many lines of part's kernel log hold `text`."""
        return sum(text in l for l in self.lab.exec(part, ['dmesg'], timeout=30).splitlines())

    def module_lines(self, part, n=8):
        lines = [l for l in self.lab.exec(part, ['dmesg'], timeout=30).splitlines()
                 if 'xpmem: ' in l or 'xpmem_rdma: ' in l]
        self.say('\n'.join(lines[-n:]))

    def net(self, how, part):
        self.lab.run('net', how, part, timeout=60)

    def heal(self):
        """While 1 lives: its links restored, no injection, the tunables
        back, both UP, and RDMA both ways again."""
        if not self.healing:
            return
        self.say('heal: links restored, injections cleared')
        self.lab.run('net', 'restore', 1, timeout=60, check=False)
        for p in range(N):
            for name in ('drop_doorbells', 'stop_heartbeat', 'delay_invalidate_ms'):
                self.lab.run('exec', p, '--timeout', 30, '--', self.lab.ctl, 'inject', name, 0,
                             timeout=90, check=False)
            self.lab.set_tunable(p, 'inval_ms', 1000)
        for p in range(N):
            self.lab.wait_state(p, 1 - p, 'UP', 120)
        self.reconnected()

    # ---- the checks ---------------------------------------------------------

    def says_rdma(self):
        for p in range(N):
            self.lab.wait_state(p, 1 - p, 'UP', 30)
            self.module_lines(p)
            expect(self.says(p, SAYS_RDMA), f'partition {p} never logged "{SAYS_RDMA}"')

    def every_peer_rdma(self):
        for p in range(N):
            self.wait_doorbell(p, 1 - p, 'rdma', 30)
        for p in range(N):
            self.say(f'partition {p}: {self.peers(p)}')

    def pings_over_rdma(self):
        self.pings_received(3)

    def lost_doorbells(self):
        """0 swallows every doorbell it rings: 1 finds 0's PING and 0 the
        answer by rescanning; no doorbell left 0, by RDMA or otherwise."""
        s0, c0 = self.rdma_stats(0)['sent'], self.lab.counters(0)['doorbells_sent']
        d0 = self.lab.dropped_doorbells(0)
        self.lab.inject(0, 'drop_doorbells', 1)
        try:
            self.lab.ping(0, 1)
        finally:
            self.lab.inject(0, 'drop_doorbells', 0)
        s1, c1 = self.rdma_stats(0)['sent'], self.lab.counters(0)['doorbells_sent']
        d1 = self.lab.dropped_doorbells(0)
        self.say(f'partition 0: xpmem_rdma sent {s0} -> {s1}, doorbells_sent {c0} -> {c1}, '
                 f'doorbells_dropped {d0} -> {d1}')
        expect(d1 > d0, f'doorbells_dropped {d0} -> {d1}: no doorbell was swallowed, the PING '
               f'proved nothing')
        expect(s1 == s0 and c1 == c0, f'doorbells left 0 while it dropped them: xpmem_rdma '
               f'sent {s0} -> {s1}, doorbells_sent {c0} -> {c1}')

    def cut_mid_shootdown(self):
        """A shootdown from 0 of memory 1 maps; 1 handles the INVALIDATE
        5 s late, and its links are cut meanwhile: its completion reaches
        0 through shared memory and 0's polling, 1's doorbell to 0 cannot
        go.  No fence (the heartbeats are in shared memory), munmap within
        inval_ms.  inval_ms 30000 keeps the deadline far from the 5 s delay
        on a loaded host."""
        lab, tag = self.lab, 'cut-shootdown'
        before = lab.partitions(0)[1]
        lab.set_tunable(0, 'inval_ms', 30000)
        lab.inject(1, 'delay_invalidate_ms', 5000)
        try:
            exp = xpart.Exporter(lab, 0, 'canary', name=tag, logdir=self.logs, timeout=300)
            try:
                att = lab.spawn(1, [xpart.prog(lab, 'attach'), 'canary'] + exp.segids +
                                ['--hold-ms', 6000], timeout=120, name=f'{tag} attacher in 1',
                                env={'XPMEMCTL': lab.ctl})
                try:
                    exp.p.expect('munmap', 60)
                    self.say('the exporter began its munmap: cutting 1\'s links')
                    self.net('cut', 1)
                    att.wait(180)
                finally:
                    att.stop()
                    self.say('\n'.join('    attacher: ' + l for l in att.log))
                lines = exp.finish(360)
            except BaseException:
                exp.stop()
                raise
            finally:
                self.say('\n'.join('    exporter: ' + l for l in exp.p.log
                                   if not l.startswith('pfn ')))
        finally:
            lab.inject(1, 'delay_invalidate_ms', 0)
            lab.set_tunable(0, 'inval_ms', 1000)
        ms = xpart.value(lines, 'munmap_ms')
        self.say(f'munmap_ms {ms} with 1\'s links cut (inval_ms 30000, INVALIDATE delayed '
                 f'5000 ms)')
        expect(ms is not None and int(ms) < 30000, f'munmap_ms {ms}, not under inval_ms 30000')
        now = lab.partitions(0)[1]
        self.say(f'0\'s view of 1: {before} -> {now}')
        expect(now['state'] == 'UP' and now['epoch'] == before['epoch'],
               f'0 fenced 1: {before["state"]} epoch {before["epoch"]} -> {now["state"]} '
               f'epoch {now["epoch"]} ({now["reason"]})')
        # 1's doorbell to 0 could not be delivered: its connection is down.
        self.wait_doorbell(1, 0, 'poll', 30)

    def reconnected(self):
        """After a restore: 0 reconnects (the lower id connects); PINGs,
        which also make a stale connection fail and be replaced, until
        both show rdma; then PINGs are received over RDMA both ways."""
        def both_rdma():
            self.lab.ping(0, 1)
            self.lab.ping(1, 0)
            return all(self.peers(p).get(1 - p, {}).get('doorbell') == 'rdma'
                       for p in range(N))
        self.lab.wait_until('both partitions reconnected (doorbell rdma both ways)',
                            both_rdma, 60, period=1)
        self.pings_received(1)

    def restored(self):
        self.net('restore', 1)
        self.reconnected()

    def cut_and_silent(self):
        """Links cut and 1's heartbeat stopped: fenced by heartbeat, as
        ever.  Beating again (links still cut), it finds itself fenced and
        rejoins under a new epoch; restored, it is reached over RDMA again."""
        lab = self.lab
        e0 = lab.partitions(0)[1]['epoch']
        self.net('cut', 1)
        lab.inject(1, 'stop_heartbeat', 1)
        try:
            r = lab.wait_state(0, 1, 'DEAD', 15)
            self.say(f'0\'s view of 1: {r}')
            expect(r['reason'] == 'heartbeat', f'1 fenced for {r["reason"]}, not heartbeat')
        finally:
            lab.inject(1, 'stop_heartbeat', 0)
        r = lab.wait_row(f'0 sees 1 UP under an epoch after {e0}', 0, 1,
                         lambda r: r['state'] == 'UP' and r['epoch'] > e0, 30)
        self.say(f'epoch of 1: {e0} -> {r["epoch"]}')
        self.restored()

    def rmmod_peer_dead(self):
        """With 1 dead, rmmod in 0 must not wait for it: every queue pair
        goes, and the provider unloads."""
        lab = self.lab
        self.healing = False
        lab.kill(1)
        keep = os.path.join(self.logs, 'doorbell-kill1.console-killed.log')
        shutil.copyfile(os.path.join(lab.run_dir(1), 'console.log'), keep)
        self.killed_consoles.append(keep)
        lab.exec(0, ['busybox', 'rmmod', 'xpmem'], timeout=60)
        stopped = [l for l in lab.exec(0, ['dmesg'], timeout=30).splitlines()
                   if 'xpmem_rdma: stopped' in l]
        self.say('\n'.join(stopped))
        expect(any('queue pairs torn down' in l for l in stopped),
               f'no "xpmem_rdma: stopped, N queue pairs torn down" in 0\'s log: {stopped}')
        lab.exec(0, ['busybox', 'rmmod', 'xpmem_rdma'], timeout=60)
        st, _, _ = lab.run('exec', 0, '--timeout', 30, '--', 'test', '-e',
                           '/sys/module/xpmem_rdma', timeout=90, check=False)
        expect(st != 0, 'xpmem_rdma is still loaded after its rmmod')

    def no_rdma_device(self):
        """Where no RDMA device exists (0's Soft-RoCE links deleted),
        xpmem.ko doorbell=rdma still loads and says what it does: first
        without the provider (polling until xpmem_rdma.ko comes), then with
        it (bound, peers polled until connected); the one peer's doorbell
        reads "poll".  Both stay loaded: the closing rmmod unloads xpmem.ko
        (xpmem_rdma's own unload is the check before)."""
        lab = self.lab
        ko = lab.module_file()
        rko = os.path.join(os.path.dirname(ko), 'xpmem_rdma.ko')
        waiting, bound = self.says(0, SAYS_WAITING), self.says(0, SAYS_BOUND)
        left = lab.exec(0, ['sh', '-c', DELETE_LINKS], timeout=60).split()
        self.say(f'RDMA devices left in 0: {left}')
        expect(left[-1:] == ['0'], f'RDMA devices left in 0: {left}')
        lab.exec(0, ['busybox', 'insmod', ko, 'doorbell=rdma'], timeout=60)
        lab.wait_until('/dev/xpmem in 0', lambda: lab.run(
            'exec', 0, '--timeout', 30, '--', 'test', '-c', '/dev/xpmem', timeout=90,
            check=False)[0] == 0, 10, period=0.5)
        expect(self.says(0, SAYS_WAITING) > waiting,
               'xpmem.ko did not say it polls without xpmem_rdma.ko')
        rec = self.peers(0).get(1)
        self.say(f'without the provider: {rec}')
        expect(rec and rec['doorbell'] == 'poll', f'without the provider, 0 shows 1 as {rec}')
        lab.exec(0, ['busybox', 'insmod', rko, 'addr_base=169.254.77.1'], timeout=60)
        lab.wait_until('the provider bound', lambda: self.says(0, SAYS_BOUND) > bound, 30,
                       period=1)
        self.module_lines(0, 4)
        rec = self.peers(0).get(1)
        self.say(f'with the provider: {rec}')
        expect(rec and rec['doorbell'] == 'poll', f'with the provider, 0 shows 1 as {rec}')


def main():
    build = os.environ.get('XPMEM_BUILD_DIR', os.path.join(REPO, 'build'))
    logs = os.path.join(os.environ.get('XPMEM_PARTITION_LOGS',
                                       os.path.join(build, 'lab', 'logs', 'partition')),
                        'doorbell')
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    lab = Lab(REPO, build)
    s = Doorbell(lab, logs, os.environ.get('XPMEM_DOORBELL_ONLY', ''))
    checks = [
        ('each partition\'s module says it uses RDMA doorbells', s.says_rdma),
        ('xpmemctl --json partitions: doorbell rdma for the live peer, both ways',
         s.every_peer_rdma),
        ('PINGs both ways rung over RDMA (receive completions and doorbells_received in both)',
         s.pings_over_rdma),
        ('doorbells from 0 lost: PING 0 -> 1 still answered (rescan), none sent',
         s.lost_doorbells),
        ('links of 1 cut mid-shootdown: munmap completes through polling, no fence, doorbell '
         'poll', s.cut_mid_shootdown),
        ('links of 1 restored: reconnected, doorbells rdma both ways again', s.restored),
        ('links of 1 cut and its heartbeat stopped: fenced (heartbeat), rejoins, RDMA again',
         s.cut_and_silent),
        ('1 killed: rmmod xpmem in 0 tears its queue pairs down, xpmem_rdma unloads',
         s.rmmod_peer_dead),
        ('no RDMA device in 0: xpmem.ko doorbell=rdma loads, says it polls, binds xpmem_rdma.ko',
         s.no_rdma_device),
    ]
    # Partition 1 was killed on purpose: only 0's log and rmmod, and 1's
    # console, are judged.
    closing = Closing(s, lab, 1, rmmod='no RDMA device, nothing leaked',
                      consoles=lambda: s.killed_consoles,
                      consoles_name='partition 1 (killed): its console log clean')
    s.plan(len(checks) + len(closing.names))
    rc = 1
    try:
        st = lab.boot(N, os.path.join(logs, 'up.log'), '--doorbell', 'rdma')
        if st != 0:
            s.not_run([n for n, _ in checks] + closing.names, f'up -n {N} --doorbell rdma '
                      f'failed (status {st}, {os.path.join(logs, "up.log")})')
            return 1
        s.run(checks, always=[s.says_rdma])
        s.healing = False   # the closing checks judge the lab as the checks left it
        closing.run()
        rc = s.failed
    except LabError as e:    # outside any check: the lab itself failed
        s.say(f'lab: {e}')
        print(f'doorbell.py: {e}', file=sys.stderr)
    finally:
        lab.power_off(os.path.join(logs, 'down.log'))
    return rc


if __name__ == '__main__':
    sys.exit(main())
