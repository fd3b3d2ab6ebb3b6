# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.lab - the lab and the processes running in its partitions.

Everything goes through tools/xpmem-lab (exec, kill, stop, cont, restart,
up, down, dmesg-check), so the lab of XPMEM_BUILD_DIR is the one used and
the QEMU and process plumbing stays in bash.  A partition's agent runs one
command at a time: a long-running process started with Lab.spawn (an
exporter, an attacher, a watch) occupies its partition until it exits;
one that must leave its partition free is a puppet (xpmemlab.puppet).

Every wait has a bound; a process that outlives its bound is killed (the
lab's client then kills it in the guest) and the run fails with a message.
"""

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time


class LabError(Exception):
    pass


def now_ms():
    return time.monotonic() * 1000.0


def kv(line):
    """'word a=1 b=x' -> {'a': '1', 'b': 'x'} (values as strings)."""
    return dict(re.findall(r'(\w+)=(\S+)', line))


def pairs(text):
    """'received 4 sent 7' -> {'received': '4', 'sent': '7'} (the "key
    value ..." lines of sysfs files and the lab's programs)."""
    w = text.split()
    return dict(zip(w[0::2], w[1::2]))


class Proc:
    """A command running in a partition, its output read line by line as it
    comes (stdout and stderr both, stderr lines prefixed with 'stderr: ')."""

    def __init__(self, lab, part, argv, timeout, name, env=None):
        self.name = name
        self.part = part
        self.lines = queue.Queue()
        self.log = []
        self.eofs = 0       # streams (of 2) read to their end
        cmd = [lab.lab, 'exec', str(part), '--timeout', str(int(timeout))]
        for k, v in (env or {}).items():
            cmd += ['--env', f'{k}={v}']
        cmd += ['--'] + [str(a) for a in argv]
        # Its own process group: tools/xpmem-lab is a shell that runs the
        # agent's client as a child, and stop() must end the client (whose
        # exit kills the command in the guest), not only the shell.
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=lab.env, cwd=lab.repo, start_new_session=True)
        for stream, prefix in ((self.p.stdout, ''), (self.p.stderr, 'stderr: ')):
            threading.Thread(target=self._read, args=(stream, prefix),
                             daemon=True).start()

    def _read(self, stream, prefix):
        for line in stream:
            self.lines.put((now_ms(), prefix + line.rstrip('\n')))
        self.lines.put((now_ms(), None))

    def expect(self, word, timeout):
        """Waits for a line whose first word is `word` (or one of a tuple of
        words); returns (host ms, line).  Lines before it are kept in
        self.log; stderr lines are printed."""
        words = word if isinstance(word, tuple) else (word,)
        deadline = now_ms() + timeout * 1000
        while True:
            left = (deadline - now_ms()) / 1000
            if left <= 0:
                raise LabError(f'{self.name} (partition {self.part}): no "{word}" '
                               f'line within {timeout} s; it said: {self.tail()}')
            if self.eofs >= 2 and self.lines.empty():
                rc = self.p.wait()
                raise LabError(f'{self.name} (partition {self.part}) exited '
                               f'(status {rc}) before "{word}"; it said: {self.tail()}')
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.eofs += 1
                continue
            self.log.append(line)
            if line.startswith('stderr: '):
                print(f'    [{self.name}] {line}', file=sys.stderr)
            if line.split(' ', 1)[0] in words:
                return t, line

    def result(self, timeout):
        """The JSON of its 'result {...}' line."""
        _, line = self.expect('result', timeout)
        return json.loads(line.split(' ', 1)[1])

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise LabError(f'{self.name} (partition {self.part}) did not exit '
                           f'within {timeout} s; it said: {self.tail()}')
        # Drain what is left, for the log.
        while True:
            try:
                _, line = self.lines.get(timeout=1)
            except queue.Empty:
                break
            if line is not None:
                self.log.append(line)
        if rc != 0:
            raise LabError(f'{self.name} (partition {self.part}) exited with '
                           f'status {rc}; it said: {self.tail()}')
        return rc

    def running(self):
        """Whether it still runs; the lines it printed so far are then in
        self.log (without waiting for more)."""
        while True:
            try:
                _, line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.eofs += 1
            else:
                self.log.append(line)
        return self.p.poll() is None

    def stop(self):
        """Ends it whatever it is doing: the lab's shell and its client (the
        client's exit kills the command in the guest and frees the
        partition's agent)."""
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue

    def tail(self, n=6):
        return ' | '.join(self.log[-n:]) or '(nothing)'


class Lab:
    def __init__(self, repo, build):
        self.repo = repo
        self.build = build
        self.lab = os.path.join(repo, 'tools', 'xpmem-lab')
        self.role = os.path.join(build, 'tools', 'bench', 'remote', 'xpmem-role')
        self.ctl = os.path.join(build, 'tools', 'xpmemctl', 'xpmemctl')
        self.env = dict(os.environ, XPMEM_BUILD_DIR=build)
        self.procs = []

    # --- the lab itself -------------------------------------------------

    def run(self, *args, timeout=300, check=True):
        """tools/xpmem-lab ARGS; returns (status, stdout, stderr)."""
        try:
            r = subprocess.run([self.lab] + [str(a) for a in args], env=self.env,
                               cwd=self.repo, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f'xpmem-lab {" ".join(map(str, args))}: no answer '
                           f'within {timeout} s')
        if check and r.returncode != 0:
            raise LabError(f'xpmem-lab {" ".join(map(str, args))} failed '
                           f'(status {r.returncode}): {r.stderr.strip()}')
        return r.returncode, r.stdout, r.stderr

    def boot(self, nparts, log, *args):
        """A fresh lab of `nparts` partitions with the module loaded in each
        (down, then up -n N ARGS: `--doorbell rdma`...), up's output kept in
        `log`; returns up's status."""
        self.run('down', timeout=300, check=False)
        st, out, err = self.run('up', '-n', nparts, *args, timeout=900 * self.time_scale(),
                                check=False)
        with open(log, 'w') as f:
            f.write(out + err)
        return st

    def power_off(self, log):
        """down, whatever happened before (a suite's last step), its output
        kept in `log`."""
        _, out, err = self.run('down', timeout=300, check=False)
        with open(log, 'w') as f:
            f.write(out + err)

    def nparts(self):
        try:
            with open(os.path.join(self.build, 'lab', 'run', 'partitions')) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 0

    def one_vm_up(self):
        try:
            with open(os.path.join(self.build, 'lab', 'run', 'qemu.pid')) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return self.nparts() == 0
        except (OSError, ValueError):
            return False

    def exec(self, part, argv, timeout=120):
        """Runs argv in the partition; returns its stdout; fails on a
        non-zero status.  `timeout` is in seconds on the stock kernel, times
        time_scale(): on the debug kernel a short command (a counter read, a
        daemon started in the background) took more than 30 s at load 12."""
        timeout *= self.time_scale()
        return self.run('exec', part, '--timeout', timeout, '--',
                        *argv, timeout=timeout + 60)[1]

    def spawn(self, part, argv, timeout=600, name=None, env=None):
        """argv started in the partition (its agent is busy until it exits);
        env: variables set for it there."""
        p = Proc(self, part, argv, timeout, name or os.path.basename(str(argv[0])), env)
        self.procs.append(p)
        return p

    def role_spawn(self, part, role, *args, timeout=600, name=None):
        return self.spawn(part, [self.role, role, '--timeout', timeout] +
                          [str(a) for a in args], timeout=3 * timeout + 30,
                          name=name or f'{role} in {part}')

    def stop_all(self):
        for p in self.procs:
            p.stop()
        self.procs = []

    def kill(self, *parts):
        """SIGKILL to the QEMU of each partition, all at once (one lab
        command per partition, started together)."""
        procs = [subprocess.Popen([self.lab, 'kill', str(p)], env=self.env, cwd=self.repo,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for p in parts]
        for p, part in zip(procs, parts):
            out, _ = p.communicate(timeout=60)
            if p.returncode != 0:
                raise LabError(f'xpmem-lab kill {part} failed: {out.strip()}')

    def stop(self, part):
        self.run('stop', part, timeout=60)

    def cont(self, part):
        self.run('cont', part, timeout=60)

    def restart(self, part, log=None, module=True):
        """Boots partition `part` again on its RAM file and id (with the
        module loaded, unless module=False); the killed boot's console log
        is then run/pP/console.prev.log (see killed_console)."""
        _, out, err = self.run('restart', part, *([] if module else ['--no-module']),
                               timeout=600 * self.time_scale())
        if log:
            with open(log, 'a') as f:
                f.write(out + err)

    def run_dir(self, part):
        d = os.path.join(self.build, 'lab', 'run')
        return d if part == 0 else os.path.join(d, f'p{part}')

    def module_file(self):
        """The xpmem.ko of the kernel the lab runs."""
        if self.kernel() == 'debug':
            return os.path.join(self.build, 'debug-kernel', 'kmod', 'xpmem.ko')
        return os.path.join(self.build, 'kmod', 'xpmem.ko')

    def kernel(self):
        """'debug' or 'stock', chosen as tools/xpmem-lab chooses
        (common.sh): XPMEM_LAB_KERNEL, else the kernel the running lab
        booted (run/kernel), else stock."""
        kind = self.env.get('XPMEM_LAB_KERNEL', '')
        if not kind:
            try:
                with open(os.path.join(self.build, 'lab', 'run', 'kernel')) as f:
                    kind = f.read().strip()
            except OSError:
                kind = 'stock'
        return 'debug' if kind == 'debug' else 'stock'

    def time_scale(self):
        """How many times slower than the stock kernel the lab's kernel is
        taken to run: XPMEM_DEBUG_TIME_SCALE (default 4) on the debug
        kernel (KASAN, lockdep, kmemleak under TCG), 1 on the stock one.
        tests/run scales its bounds by the same number; a suite scales
        the windows a kill must land in and the host's slack with it,
        never what a check asserts."""
        if self.kernel() != 'debug':
            return 1
        return int(self.env.get('XPMEM_DEBUG_TIME_SCALE', '') or 4)

    def kernel_root(self):
        """The tree of the guest kernel the lab runs (its lib/modules)."""
        if self.kernel() == 'debug':
            return os.path.join(self.build, 'debug-kernel', 'root')
        return os.path.join(self.build, 'lab', 'kernel')

    def ram_file(self, part):
        return os.path.join(self.run_dir(part), 'ram')

    def killed_console(self, part):
        """The console log of the boot of `part` before its last restart."""
        return os.path.join(self.run_dir(part), 'console.prev.log')

    def log_check(self, *files):
        """tools/xpmem-lab log-check FILE...: the offending lines, [] if clean."""
        status, out, err = self.run('log-check', *files, timeout=120, check=False)
        return [] if status == 0 else [l for l in (out + err).splitlines() if l.strip()]

    # --- the kernel's view ----------------------------------------------

    def partitions(self, viewer):
        """viewer's /sys/kernel/xpmem/partitions as {id: row dict}."""
        rows = {}
        names = ['id', 'state', 'epoch', 'hb_age_ms', 'reason', 'window',
                 'quarantined', 'inflight']
        for line in self.exec(viewer, ['cat', '/sys/kernel/xpmem/partitions']).splitlines():
            f = line.split()
            if len(f) < 5:
                continue
            r = dict(zip(names, f))
            for k in ('id', 'epoch', 'hb_age_ms', 'quarantined', 'inflight'):
                if k in r:
                    r[k] = int(r[k])
            rows[r['id']] = r
        return rows

    def xpmemctl_json(self, part, *args):
        return json.loads(self.exec(part, [self.ctl, '--json'] + list(args)))

    def tunables(self, part):
        return {t['name']: t for t in self.xpmemctl_json(part, 'tunables')['tunables']}

    def set_tunable(self, part, name, value):
        self.exec(part, [self.ctl, 'set', name, str(value)])

    def inject(self, part, name, value):
        self.exec(part, [self.ctl, 'inject', name, str(value)])

    def stats(self, part):
        return self.xpmemctl_json(part, 'stats')

    def counters(self, part):
        """`xpmemctl --json stats`' counters of `part` (a dict by name)."""
        return self.stats(part)['counters']

    def wait_until(self, what, probe, timeout, period=0.2, seen=None):
        """Calls probe() until it returns something true; returns that, or
        raises naming `what` and what was last seen: seen() if given (a
        probe that returns None for "not yet" says more through it), else
        probe's last value."""
        deadline = now_ms() + timeout * 1000
        last = None
        while True:
            try:
                last = probe()
            except LabError as e:
                last = e
            if last and not isinstance(last, LabError):
                return last
            if now_ms() >= deadline:
                said = seen() if seen else f'last: {last}'
                raise LabError(f'{what}: not within {timeout} s ({said})')
            time.sleep(period)

    def wait_row(self, what, viewer, part, ok, timeout=60):
        """Until viewer's row of part satisfies ok(row); returns the row.
        Raises naming `what` and the last row read (or that none was:
        no such row, or the table could not be read)."""
        last = {}

        def probe():
            try:
                r = self.partitions(viewer).get(part)
            except LabError as e:
                last['error'] = e
                raise
            last['row'] = r
            last.pop('error', None)
            return r if r and ok(r) else None

        def seen():
            if 'row' not in last:
                return f'nothing read: {last.get("error", "no reading")}'
            said = f'last read: {last["row"]}' if last['row'] else \
                f'partition {viewer} has no row for {part}'
            return said + (f'; since then: {last["error"]}' if 'error' in last else '')
        return self.wait_until(what, probe, timeout, seen=seen)

    def wait_state(self, viewer, part, state, timeout=60):
        """Until viewer's table shows part in `state`; returns its row."""
        return self.wait_row(f'partition {viewer} sees {part} {state}', viewer, part,
                             lambda r: r['state'] == state, timeout)

    def wait_counter(self, part, name, value, timeout=30):
        return self.wait_until(f'partition {part}: {name} == {value}',
                               lambda: self.counters(part)[name] == value, timeout)

    def leaks(self, part):
        """What programs that exited left behind in `part`: contexts,
        segments, permits, attachments, exports of its segments (tokens
        peers hold) beyond the quarantine's, and pins beyond the
        quarantine.  [] when nothing (the survivors are checked before a
        restart)."""
        c = self.counters(part)
        q = sum(r.get('quarantined', 0) for r in self.partitions(part).values())
        bad = [f'{k} {c[k]}' for k in ('contexts', 'segments', 'permits', 'attachments') if c[k]]
        if c['pinned_pages'] != q:
            bad.append(f"pinned_pages {c['pinned_pages']} but {q} quarantined")
        exports = self.exports(part)
        if exports and not q:
            bad.append(f'exports {exports} with nothing quarantined')
        return bad

    def ping(self, src, dst, timeout=30):
        """PING dst from src's module (/sys/kernel/xpmem/ping); returns the
        round trip (ns) src read; raises unless dst answered."""
        st, out, err = self.run('exec', src, '--timeout', timeout, '--', 'sh', '-c',
                                f'echo {dst} > /sys/kernel/xpmem/ping && '
                                'cat /sys/kernel/xpmem/ping', timeout=timeout + 60, check=False)
        res = pairs(out)
        rtt = res.get('rtt_ns', '')
        if st != 0 or res.get('peer') != str(dst) or not rtt.isdigit() or int(rtt) <= 0:
            raise LabError(f'PING {src} -> {dst}: status {st}, "{(out + err).strip()}"')
        return int(rtt)

    def dropped_doorbells(self, part):
        """Doorbells `part`'s module swallowed (inject drop_doorbells)."""
        return int(self.exec(part, ['cat', '/sys/kernel/xpmem/doorbells_dropped'], timeout=30))

    def exports(self, part):
        """Live exports of `part`'s segments (tokens its peers hold)."""
        return int(self.exec(part, ['cat', '/sys/kernel/xpmem/exports'], timeout=30))

    def doorbell(self):
        """The doorbell the lab's modules use (msix, rdma, poll)."""
        try:
            with open(os.path.join(self.build, 'lab', 'run', 'doorbell')) as f:
                return f.read().strip() or 'msix'
        except OSError:
            return 'msix'

    def fabric_stats(self):
        """fabricd's counters, {id: {'rung': N, 'delivered': N, 'dropped': N,
        ...}} (its lines are "id P KEY VALUE KEY VALUE ...")."""
        out = {}
        for line in self.run('fabric', 'stats', timeout=60)[1].splitlines():
            w = line.split()
            if len(w) >= 2 and w[0] == 'id':
                out[int(w[1])] = {k: int(v) for k, v in zip(w[2::2], w[3::2])
                                  if v.lstrip('-').isdigit()}
        return out

    def dmesg_hits(self, part):
        """Partition `part`'s kernel log through the lab's one check
        (tools/lab/kernel-log.sh): the offending lines, [] if clean."""
        status, out, err = self.run('dmesg-check', part, timeout=120, check=False)
        return [] if status == 0 else \
            [l for l in (out + err).splitlines() if l.strip()] or [f'dmesg-check said {status}']

    def dmesg_check(self, nparts):
        """Every partition's kernel log: returns the offending lines."""
        return [f'partition {p}: {l}' for p in range(nparts) for l in self.dmesg_hits(p)]


def median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return float('nan')
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def shell_quote(argv):
    return ' '.join(shlex.quote(str(a)) for a in argv)
