# SPDX-License-Identifier: GPL-2.0-only
"""tests/partition/unbind.py - devices unbound and the module unloaded under
traffic (issue 10): six checks of remote.py.

First one peer window (an ivshmem-plain device: BAR2 is a peer's RAM) is
unbound: partition 1's window onto 0, found in sysfs by its xpmem_window
index (the window field of 1's table), while a reader in 1 reads 0's pages
again and again through mappings it already has.  The reader must get
SIGBUS (its mappings of the window's frames are dropped before the BAR
goes), 0 and 1 stay UP under the same epochs (a window is not a fence),
and binding the device again restores the data path; nothing is left
behind.  Before the window's removal dropped the mappings, the reader read
on through the stale mappings for its whole 30 s and never got SIGBUS.

Then the fabric device itself (defect 7): partition 1 unbinds its doorbell
device (the control region's BAR) with
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

Last `rmmod xpmem` in 0 while peers are UP (see rmmod_announced).
"""

import os

from xpmemlab import LabError, now_ms, ram, xpart
from xpmemlab.suite import expect

BDF = '0000:00:08.0'
DRV = '/sys/bus/pci/drivers/xpmem-fabric'

# What the guest scripts below share (prefixed to each): the bounded waits
# of a script for a program it started in the background.
#   wait_line FILE REGEX WHAT  until a line of FILE matches REGEX (60 s; else
#                              "WHAT never came", and the script goes on)
#   in_service                 1's invalidates_in_service gauge (xpmemctl)
#   wait_in_service TENTHS     until it reads at least 1
GUEST_LIB = r'''
wait_line() {
	i=0
	until grep -qE "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge 600 ] && { echo "$3 never came"; return 1; }
		sleep 0.1
	done
}
in_service() {
	"$ctl" stats | awk "\$1 == \"invalidates_in_service\" { print \$2 }"
}
wait_in_service() {
	i=0
	until [ "$(in_service)" -ge 1 ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge "$1" ] && { echo "no INVALIDATE in service"; return 1; }
		sleep 0.1
	done
}
'''

# Runs in partition 1: the window device with index $3, the reader in the
# background until it mapped its pages (segids $4 $5, SIGBUS awaited for $6
# ms from then), the unbind, then its output.
WINDOW_GUEST = GUEST_LIB + r'''
bin=$1 drv=$2 w=$3
bdf=
for d in "$drv"/0000:*; do
	[ "$(cat "$d/xpmem_role" 2>/dev/null)" = window ] &&
		[ "$(cat "$d/xpmem_window" 2>/dev/null)" = "$w" ] && bdf=${d##*/}
done
[ -n "$bdf" ] || { echo "no window device with index $w"; exit 1; }
echo "window $w is $bdf"
"$bin/xpmem-xpart-attach" window-loss "$4" "$5" --hold-ms "$6" >/tmp/window.att 2>&1 &
reader=$!
wait_line /tmp/window.att "^ready" "the reader's ready"
echo "reader: $(head -n 1 /tmp/window.att)"
echo "unbinding at_ms $(awk "{ printf \"%d\", \$1 * 1000 }" /proc/uptime)"
echo "$bdf" >"$drv/unbind"
echo "unbind status $?"
wait $reader
echo "reader exit $?"
sed "s/^/    reader: /" /tmp/window.att
'''

# In partition 0: an exporter, rmmod under it, the exporter killed, rmmod.
RMMOD_GUEST = GUEST_LIB + r'''
bin=$1
"$bin/xpmem-xpart-export" owner-death --hold-ms 300000 >/tmp/rmmod.exp 2>&1 &
exp=$!
wait_line /tmp/rmmod.exp "^segids " "the exporter's segids"
grep "^segids " /tmp/rmmod.exp
busybox rmmod xpmem
echo "rmmod under the exporter: status $?"
grep -q "^xpmem " /proc/modules && echo "module still loaded"
kill $exp
wait $exp
busybox rmmod xpmem
echo "rmmod status $? at_ms $(awk "{ printf \"%d\", \$1 * 1000 }" /proc/uptime)"
'''

# In partition 1: the canary attacher; once 0's INVALIDATE is in service
# (1 sleeps in it), say so and wait for the attacher.
QUARANTINE_GUEST = GUEST_LIB + r'''
bin=$1 ctl=$2
"$bin/xpmem-xpart-attach" canary "$3" "$4" --hold-ms 20000 >/tmp/rq.att 2>&1 &
att=$!
wait_in_service 600
echo "attacher: $(cat /tmp/rq.att)"
echo "in service: $(in_service)"
wait $att
echo "attacher exit $?"
'''

# Runs in partition 1 as one command (the agent runs one at a time): both
# attachers in the background; once the reader is reading and 1's
# invalidation thread is in the INVALIDATE, the unbind; then their output.
GUEST = GUEST_LIB + r'''
bin=$1 ctl=$2 bdf=$3 drv=$4
"$bin/xpmem-xpart-attach" owner-death "$5" "$6" --hold-ms 120000 >/tmp/reader.att 2>&1 &
reader=$!
wait_line /tmp/reader.att "^ready" "the reader's ready"
echo "reader: $(cat /tmp/reader.att)"
"$bin/xpmem-xpart-attach" canary "$7" "$8" --hold-ms 60000 >/tmp/canary.att 2>&1 &
canary=$!
wait_in_service 300
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
        self.window_bdf = None  # the window device unbound

    def checks(self):
        return [
            ('remote: unbind 1\'s window onto 0 under a reader of mapped pages: SIGBUS, 0 and 1 '
             'stay UP, 1\'s log clean', self.window_unbind_under_reads),
            ('remote: bind 1\'s window onto 0 again: found by its tag, a fresh attach reads 0\'s '
             'data, nothing leaked', self.window_rebind),
            ('remote: unbind 1\'s fabric device under reads and a shootdown: reader gets SIGBUS, '
             'the munmap ends as 1 leaves, 0 and 2 see 1 fenced (disconnect), 1\'s log clean',
             self.under_traffic),
            ('remote: bind 1\'s fabric device again: UP under a new epoch, quarantine released, '
             'pattern both ways, nothing leaked', self.rebind),
            ('remote: rmmod in 0 refused under a live exporter; once it exits, rmmod announces: '
             '1 and 2 fence 0 for disconnect, not after dead_ms', self.rmmod_announced),
            ('remote: rmmod in 0 with pages quarantined for a stopped 1: kept pinned, frames keep '
             '1\'s canaries under pressure; 0 restarts', self.rmmod_keeps_quarantine),
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

    # ---- one peer window unbound and bound again ---------------------------------

    def window_unbind_under_reads(self):
        s, lab = self.s, self.lab
        v0, v1 = lab.partitions(0), lab.partitions(1)
        e0, e1, w = v1[0]['epoch'], v0[1]['epoch'], int(v1[0]['window'])
        s.say(f'1 sees 0 at epoch {e0} through window {w}; 0 sees 1 at epoch {e1}')
        expect(w >= 0, '1 has no window onto 0')
        exp = xpart.Exporter(lab, 0, 'owner-death', ['--hold-ms', 300000], name='window-owner',
                             logdir=s.logs)
        # How long the reader waits for its SIGBUS after it is ready: the
        # shell's wait for its ready line and the unbind come first, and on
        # the debug kernel they take seconds.
        hold_ms = 30000 * lab.time_scale()
        try:
            st, out, err = lab.run('exec', 1, '--timeout', 120 * lab.time_scale(), '--',
                                   'sh', '-c', WINDOW_GUEST, 'window', s.bin, DRV, w,
                                   *exp.segids, hold_ms, timeout=180 * lab.time_scale(),
                                   check=False)
        finally:
            exp.stop()
        text = out + err
        with open(os.path.join(s.logs, 'window.guest'), 'w') as f:
            f.write(text)
        s.say(text)
        lines = text.splitlines()
        expect(st == 0, f'the window run in 1 failed or hung (status {st})')
        self.window_bdf = next((l.split()[3] for l in lines
                                if l.startswith('window ') and ' is ' in l), None)
        expect('unbind status 0' in lines, 'the unbind failed')
        t_unbind = xpart.values(lines, 'unbinding')[1:2]   # "unbinding at_ms N"
        t_ready = [l.split()[-1] for l in lines
                   if l.startswith('reader: ready: ') and ' at_ms ' in l][:1]
        if t_unbind and t_ready:
            late = int(t_unbind[0]) - int(t_ready[0])
            s.say(f'the unbind began {late} ms after the reader was ready (hold {hold_ms} ms)')
            expect(late < hold_ms, f'the unbind began {late} ms after the reader was ready, '
                   f'past its hold of {hold_ms} ms: the check did not run')
        expect(any(l.startswith('    reader: PASS ') for l in lines),
               'the reader in 1 did not end with SIGBUS')
        t_sigbus = [l.split()[4] for l in lines if l.startswith('    reader: rereads ')][:1]
        if t_unbind and t_sigbus:
            s.say(f'SIGBUS {int(t_sigbus[0]) - int(t_unbind[0])} ms after the unbind began '
                  f'(uptime vs monotonic, +-10 ms)')
        # Not a fence: both stay UP under the epochs they had.
        v0, v1 = lab.partitions(0), lab.partitions(1)
        s.say(f'partition 1: {v1[0]}\npartition 0: {v0[1]}')
        expect(v1[0]['state'] == 'UP' and v1[0]['epoch'] == e0,
               f'1 no longer sees 0 UP at epoch {e0}: {v1[0]}')
        expect(v0[1]['state'] == 'UP' and v0[1]['epoch'] == e1,
               f'0 no longer sees 1 UP at epoch {e1}: {v0[1]}')
        expect(int(v1[0]['window']) == -1, '1 still shows a window onto 0')
        s.say(s.guest(1, "dmesg | grep -E 'xpmem.*(window|fenced)' | tail -n 5", timeout=30))
        s.log_clean(1)

    def window_rebind(self):
        s, lab = self.s, self.lab
        expect(self.window_bdf, 'no window was unbound')
        s.guest(1, 'echo "$1" >"$2/bind"', self.window_bdf, DRV)
        # The rescan finds the window again by 0's tag.
        t0 = now_ms()
        w = int(lab.wait_row('1 finds its window onto 0 again', 1, 0,
                             lambda r: int(r['window']) >= 0, 30)['window'])
        s.say(f'1 sees 0 through window {w} again after {now_ms() - t0:.0f} ms')
        s.pair('window-rebound', 0, 1, 'pattern')
        s.no_leaks(0)
        s.no_leaks(1)
        s.log_clean(0)
        s.log_clean(1)

    # ---- rmmod while peers are UP ----------------------------------------------
    # Issue 10 (unbind, item 2).  `rmmod xpmem` in 0 is refused while a
    # process there has /dev/xpmem open or an attachment (the module is in
    # use), so it never runs under a live export: what peers may still map
    # at unload is only what 0 quarantined.  What must hold: the unload
    # announces itself (0's word says DEAD, disconnect: peers fence 0 at
    # their next tick, not after dead_ms), and a quarantined page is never
    # returned to the allocator (kept pinned for ever, logged).  Before the
    # unload left the fabric, 1 and 2 fenced 0 for its heartbeat after
    # dead_ms; before it kept quarantined pins, they were unpinned at unload
    # and the frames reused under pressure.  A partition's agent runs one
    # command at a time: what must happen while a program runs there is done
    # by one guest script.

    def all_up(self):
        for p in range(3):
            for q in range(3):
                self.lab.wait_state(p, q, 'UP', 60)

    def rmmod_announced(self):
        s, lab = self.s, self.lab
        # 1 and 2 would fence 0 for its heartbeat only after 10 s.
        for p in (1, 2):
            lab.set_tunable(p, 'dead_ms', 10000)
        try:
            st, out, err = lab.run('exec', 0, '--timeout', 120, '--', 'sh', '-c', RMMOD_GUEST,
                                   'rmmod', s.bin, timeout=180, check=False)
            t0 = now_ms()
            text = out + err
            with open(os.path.join(s.logs, 'rmmod.guest'), 'w') as f:
                f.write(text)
            s.say(text)
            lines = text.splitlines()
            expect(st == 0, f'the run in 0 failed or hung (status {st})')
            refused = [l for l in lines if l.startswith('rmmod under the exporter: status ')]
            expect(refused and refused[0].split()[-1] != '0' and 'module still loaded' in lines,
                   f'rmmod was not refused under a live exporter: {refused}')
            expect(any(l.startswith('rmmod status 0 ') for l in lines), 'rmmod failed')
            for p in (1, 2):
                row = lab.wait_state(p, 0, 'DEAD', 20)
                s.say(f'{p} saw 0 DEAD within {now_ms() - t0:.0f} ms of the guest run\'s return '
                      f'(dead_ms 10000): {row}')
                expect(row['reason'] == 'disconnect', f'{p} fenced 0 for {row["reason"]}, not '
                       f'disconnect: the unload was not announced')
            s.say(s.guest(0, "dmesg | grep -E 'xpmem.*(leaves|unloading)'; true", timeout=30))
        finally:
            for p in (1, 2):
                lab.set_tunable(p, 'dead_ms', s.dead_ms)
        # The module again in 0: it rejoins under a new epoch.
        lab.exec(0, ['busybox', 'insmod', lab.module_file()], timeout=60)
        lab.set_tunable(0, 'dead_ms', s.dead_ms)
        self.all_up()
        lab.set_tunable(0, 'inval_ms', 1000)
        lab.set_tunable(0, 'fault_ms', 1000)
        s.log_clean(0)

    # 0 quarantines 1's pins (1 stopped inside 0's INVALIDATE, fenced for
    # its heartbeat), then unloads: the pins must stay, the frames keep 1's
    # canaries under memory pressure; 1, continued, sees 0 gone for
    # disconnect.
    def rmmod_keeps_quarantine(self):
        s, lab = self.s, self.lab
        # 0 would fence 1 at inval_ms 10 s: 1 is stopped well before, while
        # it holds the INVALIDATE, and fenced for its heartbeat meanwhile.
        lab.inject(1, 'delay_invalidate_ms', 60000)
        lab.set_tunable(0, 'inval_ms', 10000)
        stopped = False
        try:
            exp = xpart.Exporter(lab, 0, 'canary', name='rmmod-canary', logdir=s.logs)
            g = lab.spawn(1, ['sh', '-c', QUARANTINE_GUEST, 'quarantine', s.bin, lab.ctl] +
                          exp.segids, timeout=300, name='quarantine guest run')
            try:
                line = g.expect('in', 90)[1]
                expect(line.startswith('in service: ') and line.split()[-1] not in ('', '0'),
                       f'1 never held 0\'s INVALIDATE: {g.tail()}')
                # 1 stopped while it holds 0's INVALIDATE: 0 fences it (heartbeat).
                lab.stop(1)
                stopped = True
                out = exp.finish(120)
            except BaseException:
                exp.stop()
                g.stop()
                raise
            row = lab.wait_state(0, 1, 'DEAD', 10 * lab.time_scale())
            s.say(f'0 quarantined {row["quarantined"]} pages for 1')
            expect(row['quarantined'] > 0, '0 quarantined nothing for 1')
            t0 = now_ms()
            st, msg = self.rmmod(0)
            expect(st == 0, f'rmmod failed: {msg}')
            s.say(f'rmmod in 0 took {now_ms() - t0:.0f} ms (1 stopped: its quarantine cannot end)')
            log = s.guest(0, "dmesg | grep -E 'xpmem.*(leaves|unloading|pinned)'; true",
                          timeout=30)
            s.say(log)
            expect('stay pinned for ever' in log, '0 logged no pages kept pinned')
            s.say(lab.exec(0, [xpart.prog(lab, 'pressure'), 48], timeout=300))
            frames = [l.split() for l in out if l.startswith('pfn ')]
            expect(frames, 'the exporter printed no frames')
            want = [int(f[4], 16) for f in frames]
            kept = ram.frames_holding(lab.ram_file(0), [int(f[2], 16) for f in frames],
                                      lambda i: want[i])
            s.say(f'{len(frames)} frames read from the RAM file, {kept} keep 1\'s canary')
            expect(kept == len(frames), f'only {kept} of {len(frames)} frames kept 1\'s canary '
                   f'after the unload and pressure')
            lab.cont(1)
            stopped = False
            try:
                g.wait(120)
            except LabError as e:   # the attacher's end is not the verdict
                s.say(str(e))
            s.say('\n'.join(g.log))
            row = lab.wait_state(1, 0, 'DEAD', 30)
            s.say(f'partition 1: {row}')
            expect(row['reason'] == 'disconnect', f'1 fenced 0 for {row["reason"]}, not '
                   f'disconnect')
        finally:
            if stopped:
                lab.cont(1)
            lab.inject(1, 'delay_invalidate_ms', 0)
        s.say(s.guest(1, "dmesg | grep -E 'xpmem.*(fenced|partition 0)' | tail -n 5",
                      timeout=30))
        # A fresh boot of 0 drops the pages kept for ever.
        s.restart(0, 'rmmod')
        for p, q in ((1, 0), (0, 1), (0, 2)):
            lab.wait_state(p, q, 'UP', 60)
        lab.set_tunable(0, 'inval_ms', 1000)
        lab.set_tunable(0, 'fault_ms', 1000)
        lab.set_tunable(0, 'dead_ms', s.dead_ms)
        # 1's invalidation thread sleeps out the injected 60 s on the old
        # INVALIDATE whatever the knob says now; a pattern run before it is
        # done gets its INVALIDATE served late, 0 fences 1 for the timeout
        # and 1's attacher reads the old (quarantined) frames until 1 sees
        # it: seen once, munmap_ms 1013 and a stale word, then SIGBUS.
        lab.wait_counter(1, 'invalidates_in_service', 0, 120)
        s.pair('after-unload', 0, 1, 'pattern')
        s.log_clean(1)

    def rmmod(self, part):
        """rmmod xpmem in `part`: (status, output)."""
        st, out, err = self.lab.run('exec', part, '--timeout', 60, '--', 'busybox', 'rmmod',
                                    'xpmem', timeout=120, check=False)
        return st, (out + err).strip()
