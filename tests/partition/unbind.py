# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/unbind.py - the fabric device unbound under traffic and
bound again (issue 10, defect 7): two checks of remote.py.

Partition 1 unbinds its doorbell device (the control region's BAR) with
`echo BDF > /sys/bus/pci/drivers/xpmem-fabric/unbind` while
 - an attacher in 1 reads fresh pages of an exporter in 2 in a loop, each
   checked against the pattern (owner-death scenario: it must end with
   SIGBUS, never wrong data);
 - a shootdown is in progress: an exporter in 0 munmaps pages an attacher
   in 1 wrote canaries into, and 1's invalidation thread sleeps 60 s in
   that INVALIDATE (inject delay_invalidate_ms; 0's inval_ms is 120 s), so
   0's munmap must end because 1 left, well before 60 s.
Before the module quiesced its threads on unbind, the rescan thread read
the unmapped region: the partition oopsed.  Then the device is bound
again: 1 rejoins under a new epoch and everything works as before.
"""

import os

from xpmemlab import LabError, xpart
from xpmemlab.suite import expect

BDF = '0000:00:08.0'
DRV = '/sys/bus/pci/drivers/xpmem-fabric'

# Runs in partition 1 as one command (the agent runs one at a time): both
# attachers in the background; once the reader is reading and 1's
# invalidation thread is in the INVALIDATE, the unbind; then their output.
GUEST = r'''
bin=$1 ctl=$2 bdf=$3 drv=$4
"$bin/xpmem-xpart-attach" owner-death "$5" "$6" --hold-ms 120000 >/tmp/reader.att 2>&1 &
reader=$!
i=0
until grep -q "^ready" /tmp/reader.att; do
	i=$((i + 1))
	[ $i -ge 600 ] && { echo "the reader never got ready"; break; }
	sleep 0.1
done
echo "reader: $(cat /tmp/reader.att)"
"$bin/xpmem-xpart-attach" canary "$7" "$8" --hold-ms 60000 >/tmp/canary.att 2>&1 &
canary=$!
in_service() {
	"$ctl" stats | awk "\$1 == \"invalidates_in_service\" { print \$2 }"
}
i=0
until [ "$(in_service)" -ge 1 ]; do
	i=$((i + 1))
	[ $i -ge 300 ] && { echo "no INVALIDATE in service"; break; }
	sleep 0.1
done
echo "canary attacher: $(cat /tmp/canary.att)"
echo "unbinding; invalidates_in_service $(in_service)"
echo "$bdf" >"$drv/unbind"
echo "unbind status $?"
wait $reader
echo "reader exit $?"
sed "s/^/    reader: /" /tmp/reader.att
kill $canary 2>/dev/null
wait $canary
sed "s/^/    canary attacher: /" /tmp/canary.att
'''


class Unbind:
    def __init__(self, suite):
        self.s = suite
        self.lab = suite.lab
        self.epoch = None     # 1's epoch in 0's view before the unbind

    def checks(self):
        return [
            ('remote: unbind 1\'s fabric device under reads and a shootdown: reader gets SIGBUS, '
             'the munmap ends as 1 leaves, 0 and 2 see 1 fenced (disconnect), 1\'s log clean',
             self.under_traffic),
            ('remote: bind 1\'s fabric device again: UP under a new epoch, quarantine released, '
             'pattern both ways, nothing leaked', self.rebind),
        ]

    def under_traffic(self):
        s, lab = self.s, self.lab
        self.epoch = s.row(0, 1)['epoch']
        # 1 sleeps 60 s in the INVALIDATE, 0 would wait 120 s: the unbind
        # comes in the middle, and 0's munmap must end before 1 would have
        # answered, because 1 left.
        lab.inject(1, 'delay_invalidate_ms', 60000)
        lab.set_tunable(0, 'inval_ms', 120000)
        try:
            self.unbind_run()
        finally:
            lab.set_tunable(0, 'inval_ms', 1000)
        # Peers see 1 fenced, for leaving; 0 holds back what 1 had pinned.
        for p in (0, 2):
            row = lab.wait_state(p, 1, 'DEAD', 5)
            s.say(f'partition {p} sees 1: {row}')
            expect(row['reason'] == 'disconnect',
                   f'partition {p}: 1 fenced for {row["reason"]}, not disconnect')
        q = s.row(0, 1)['quarantined']
        expect(q > 0, 'partition 0 quarantined nothing for 1')
        s.say(s.guest(1, "dmesg | grep -E 'xpmem.*(leaves|fenced)'; true", timeout=30))
        s.log_clean(1)

    def unbind_run(self):
        s, lab = self.s, self.lab
        # The reader's pages come from 2, the shootdown's from 0.
        reader = xpart.Exporter(lab, 2, 'owner-death', ['--hold-ms', 300000],
                                name='unbind-reader', logdir=s.logs)
        try:
            shoot = xpart.Exporter(lab, 0, 'canary', name='unbind-shootdown', logdir=s.logs)
            try:
                st, out, err = lab.run('exec', 1, '--timeout', 240, '--', 'sh', '-c', GUEST,
                                       'unbind', s.bin, lab.ctl, BDF, DRV, *reader.segids,
                                       *shoot.segids, timeout=300, check=False)
                text = out + err
                with open(os.path.join(s.logs, 'unbind.guest'), 'w') as f:
                    f.write(text)
                s.say(text)
                lines = text.splitlines()
                expect(st == 0, f'the unbind run in 1 failed or hung (status {st})')
                expect('unbind status 0' in lines, 'the unbind failed')
                expect(any(l.startswith('    reader: PASS ') for l in lines),
                       'the reader in 1 did not end with SIGBUS')
                expect(any(l.startswith('    canary attacher: canaries written') for l in lines),
                       'the canary attacher in 1 wrote no canaries')
            finally:
                # Its munmap ends as 1 leaves (or at inval_ms): bounded.
                try:
                    shoot.p.wait(300)
                except LabError as e:   # its status is not the verdict: munmap_ms is
                    s.say(f'the shootdown exporter: {e}')
                shoot.stop()
        finally:
            reader.stop()
        log = [l for l in shoot.p.log if not l.startswith('pfn ')]
        s.say('\n'.join('    shootdown exporter: ' + l for l in log))
        ms = xpart.value(log, 'munmap_ms')
        s.say(f'the munmap waiting on 1 took {ms} ms (1 sleeps 60 s in it, inval_ms 120000)')
        expect(ms is not None and int(ms) < 55000,
               f'the munmap waiting on 1 took {ms} ms: it did not end as 1 left')

    def rebind(self):
        s, lab = self.s, self.lab
        s.guest(1, 'echo "$1" >"$2/bind"', BDF, DRV)
        lab.inject(1, 'delay_invalidate_ms', 0)
        lab.wait_state(0, 1, 'UP', 60)
        lab.wait_state(2, 1, 'UP', 60)
        lab.wait_state(1, 0, 'UP', 60)
        e1 = s.row(0, 1)['epoch']
        s.say(f'epoch of 1: {self.epoch} -> {e1}')
        expect(self.epoch is not None and e1 > self.epoch,
               f'epoch of 1: {self.epoch} -> {e1}, not newer')
        # 1 dropped its mappings of 0 before rejoining: 0 releases its pins.
        s.wait_unquarantined(0, 1)
        s.pair('rebound-0-1', 0, 1, 'pattern')
        s.pair('rebound-1-0', 1, 0, 'pattern')
        s.no_leaks(1)
        s.log_clean(1)
