# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.kmi - kill partitions in the middle of an invalidation or a fault.

The one implementation, used by the scenario suite, the remote demo, the
remote benchmark and (through tests/partition/kmi.py) remote.py and
soak.py.  kill_owner_mid_fault() kills an owner's partition while an
attacher's FAULT is in flight, confirmed by the attacher's partition table
(its `inflight` count for the owner), the owner's fault service stalled
meanwhile; kill_mid_invalidate(), below, kills holders mid-INVALIDATE.  A region exported in the owner's partition is attached
and touched from the holders' partitions (each victim stamps a canary into
every page: its own value, which the host can look for in the owner's RAM
file); the victims' invalidation threads are made slow
(`xpmemctl inject delay_invalidate_ms`); the owner unmaps the region,
which sends each holder an INVALIDATE.  Then, for each victim, the host
waits until the victim's gauge `invalidates_in_service` shows it holding
the INVALIDATE (received, not completed: the injected sleep is inside that
window) and kills the victims together.  Mid-invalidate is so confirmed by
the victim's own kernel, not assumed after a sleep; the kill must land
within the injected delay after that reading, and the victim's console
(complete after a kill) must not show that it fenced itself meanwhile, or
the run fails.

The window: a victim holds the INVALIDATE until the owner gives up on it
(inval_ms) and fences it; the victim then finds itself fenced, fences
itself (which ends the injected sleep) and rejoins.  Reading a counter
through the lab takes about a second here, so the owner's inval_ms is
raised to `inval_ms` (default 10 s) for the munmap and put back after; the
kill must land inside it.  A killed victim is then fenced by whichever
comes first: its silence (dead_ms) or the owner's deadline.

On the debug kernel (Lab.time_scale(), 4) everything takes longer, the
lab's readings too (the kill landed 10,275 ms after the munmap there):
the windows a kill must land in (inval_ms, the injected delay; the
stalled fault service and fault_ms) are scaled by it when not given.
What the kill must be is not: seen in the victim's own kernel, before the
owner's deadline and within the injected delay after that reading.
"""

import os

from .lab import LabError, now_ms
from .puppet import Puppet

CANARY = 0xC0DE5AFE00000000


def canary(part):
    """The value victim `part` stamps (xored with the page number)."""
    return CANARY | (part << 24)


class Kmi:
    """What a kill_mid_invalidate() saw."""

    def __init__(self):
        self.owner = None       # the owner's puppet (alive)
        self.holders = {}       # partition -> puppet (the victims' are gone)
        self.segid = None
        self.pfns = []          # frames of the region in the owner, page order
        self.in_service = {}    # victim -> gauge value read before the kill
        self.kill_after_ms = {}  # victim -> ms from that reading to the kill
        self.munmap_ms = None
        self.rows = {}          # the owner's partition table after the munmap
        self.counters = {}      # the owner's counters after the munmap
        self.epochs = {}        # the owner's view of each holder's epoch before
        self.inval_ms = None    # the owner's inval_ms during the munmap
        self.kill_at_ms = None  # from the munmap's start to the kill, host clock


def self_fences(lab, part):
    """How many times the current boot of `part` said it fenced itself
    (a warning, so on its console log, which a kill leaves complete)."""
    try:
        with open(os.path.join(lab.run_dir(part), 'console.log'), errors='replace') as f:
            return sum(1 for line in f if 'fenced ourselves' in line)
    except OSError:
        return 0


def kill_mid_invalidate(lab, owner, holders, victims, pages=64, delay_ms=None, tag='kmi',
                        inval_ms=None, say=lambda s: None):
    """holders: the partitions attaching the region; victims (a subset) are
    killed mid-invalidate.  delay_ms (default 30 s) and inval_ms (10 s)
    times lab.time_scale().  Returns a Kmi; raises LabError when a step
    fails.  Leaves the injection cleared in no victim: they are dead (a
    restarted partition starts with no injection)."""
    delay_ms = delay_ms or 30000 * lab.time_scale()
    inval_ms = inval_ms or 10000 * lab.time_scale()
    k = Kmi()
    victims = list(victims)
    if not set(victims) <= set(holders):
        raise LabError('every victim must hold the region')
    rows = lab.partitions(owner)
    k.epochs = {p: rows[p]['epoch'] for p in holders}
    for v in victims:
        lab.inject(v, 'delay_invalidate_ms', delay_ms)
    k.owner = Puppet(lab, owner, f'{tag}-owner')
    k.owner('map', 'x', pages, 1)
    k.segid = k.owner('make', 'x', '0600')['segid']
    k.pfns = k.owner.pfns('x')
    for p in holders:
        h = k.holders[p] = Puppet(lab, p, f'{tag}-holder{p}')
        apid = h('get', k.segid, 'rw')['apid']
        h('attach', 'x', apid, pages)
        h('check', 'x', 1, timeout=300)
    for p in victims:           # after every holder checked the pattern
        k.holders[p]('stamp', 'x', canary(p))
    say(f'{len(holders)} holder(s) attached and touched {pages} pages; '
        f'victims {victims} stamped their canaries')
    fenced_before = {v: self_fences(lab, v) for v in victims}
    old_inval = lab.tunables(owner)['inval_ms']['value']
    k.inval_ms = inval_ms
    lab.set_tunable(owner, 'inval_ms', inval_ms)
    try:
        t0 = now_ms()
        k.owner('munmap', 'x', 'async')
        _kill_in_service(lab, k, victims, delay_ms, t0, say)
        ev = k.owner.event('munmap', timeout=120 * lab.time_scale())
    finally:
        lab.set_tunable(owner, 'inval_ms', old_inval)
    # A victim that fenced itself before the kill (the owner gave up on it
    # first: its heartbeats starved on a loaded host) had ended the
    # invalidation: then this was no kill mid-invalidate.
    for v in victims:
        if self_fences(lab, v) != fenced_before[v]:
            raise LabError(f'partition {v} fenced itself before the kill landed: it was no '
                           f'longer in the middle of the INVALIDATE')
    if ev.get('rc') != '0':
        raise LabError(f'the owner\'s munmap failed: {ev}')
    k.munmap_ms = float(ev['ms'])
    k.rows = lab.partitions(owner)
    k.counters = lab.counters(owner)
    return k


def _kill_in_service(lab, k, victims, delay_ms, t0, say):
    for v in victims:
        def seen(v=v):
            n = lab.counters(v).get('invalidates_in_service')
            if n is None:
                raise LabError(f'partition {v}: no invalidates_in_service counter '
                               f'(module or xpmemctl too old)')
            return (n, now_ms()) if n > 0 else None
        k.in_service[v], t_seen = lab.wait_until(
            f'partition {v} handling the INVALIDATE', seen, timeout=k.inval_ms / 1000)
        k.kill_after_ms[v] = t_seen
    lab.kill(*victims)
    t_kill = now_ms()
    k.kill_at_ms = t_kill - t0
    if k.kill_at_ms >= k.inval_ms:
        raise LabError(f'the kill landed {k.kill_at_ms:.0f} ms after the munmap began, past '
                       f'the owner\'s inval_ms {k.inval_ms}: the owner may have fenced the '
                       f'victims first')
    for v in victims:
        k.kill_after_ms[v] = t_kill - k.kill_after_ms[v]
        k.holders[v].gone = True
        if k.kill_after_ms[v] >= delay_ms:
            raise LabError(f'partition {v} was killed {k.kill_after_ms[v]:.0f} ms after it was '
                           f'seen in its INVALIDATE, past the injected {delay_ms} ms: it may '
                           f'have completed it')
    say(f'victims seen holding the INVALIDATE ({k.in_service}) and killed '
        f'{max(k.kill_after_ms.values()):.0f} ms after that reading, '
        f'{t_kill - t0:.0f} ms after the munmap began')


class Kof:
    """What a kill_owner_mid_fault() saw."""

    def __init__(self):
        self.holder = None      # the holder's puppet (alive)
        self.inflight = None    # the holder's inflight count for the owner before the kill
        self.kill_after_ms = None  # from that reading to the kill, host clock
        self.kill_at_ms = None  # from sending the touch to the kill, host clock
        self.event = {}         # the touch's "- touch" event: fault=sigbus ms=...
        self.fault_ms = None    # the holder's fault_ms during the touch
        self.dead_ms = None     # the holder's dead_ms


def kill_owner_mid_fault(lab, owner, holder, pages=64, tag='kof', stall_ms=None,
                         fault_ms=None, say=lambda s: None):
    """The owner's partition is killed while a FAULT of `holder` is in
    flight: the owner's fault service is stalled (`stall_fault_service_ms`),
    the holder's puppet touches a page it never touched (an asynchronous
    remote fault), the host waits until the holder's partition table shows
    a request in flight to the owner and kills the owner, within the stall
    after that reading (else the answer may have come first: the run
    fails).  The holder's fault_ms is raised to `fault_ms` meanwhile so that
    only the owner's death can end the fault early.  stall_ms (default
    10 s) and fault_ms (15 s) times lab.time_scale().  Returns a Kof with
    the touch's event; raises LabError when a step fails."""
    stall_ms = stall_ms or 10000 * lab.time_scale()
    fault_ms = fault_ms or 15000 * lab.time_scale()
    k = Kof()
    o = Puppet(lab, owner, f'{tag}-owner')
    o('map', 'x', pages, 1)
    segid = o('make', 'x', '0600')['segid']
    h = k.holder = Puppet(lab, holder, f'{tag}-holder')
    h('attach', 'x', h('get', segid, 'rw')['apid'], pages)
    t = lab.tunables(holder)
    old_fault, k.dead_ms = t['fault_ms']['value'], t['dead_ms']['value']
    k.fault_ms = fault_ms
    lab.set_tunable(holder, 'fault_ms', fault_ms)
    try:
        lab.inject(owner, 'stall_fault_service_ms', stall_ms)
        t0 = now_ms()
        h('touch', 'x', pages // 2, 'read', 'async')

        def in_flight():
            n = lab.partitions(holder)[owner]['inflight']
            return (n, now_ms()) if n > 0 else None
        k.inflight, t_seen = lab.wait_until(f'partition {holder} has a request in flight '
                                            f'to {owner}', in_flight, stall_ms / 1000)
        lab.kill(owner)
        t_kill = now_ms()
        o.gone = True
        k.kill_at_ms, k.kill_after_ms = t_kill - t0, t_kill - t_seen
        if k.kill_after_ms >= stall_ms:
            raise LabError(f'partition {owner} was killed {k.kill_after_ms:.0f} ms after the '
                           f'request was seen in flight, past its {stall_ms} ms stall: it may '
                           f'have answered first')
        say(f'{holder} had {k.inflight} request(s) in flight to {owner}; {owner} killed '
            f'{k.kill_after_ms:.0f} ms after that reading')
        k.event = h.event('touch', timeout=fault_ms // 1000 + 30)
    finally:
        lab.set_tunable(holder, 'fault_ms', old_fault)
    return k


def rejoin(lab, viewer, part, old_epoch, timeout=120):
    """After `restart part`: until the viewer shows it UP under a newer
    epoch with nothing quarantined; returns the row."""
    return lab.wait_row(f'partition {viewer} sees {part} rejoined (UP, epoch after '
                        f'{old_epoch}, nothing quarantined)', viewer, part,
                        lambda r: r['state'] == 'UP' and r['epoch'] > old_epoch and
                        r.get('quarantined', 0) == 0, timeout)
