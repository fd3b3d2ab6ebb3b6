# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab - the lab, driven from Python.

One library for the programs that play scenarios across the lab's
partitions: the partition suites (tests/partition/scenarios.py,
remote.py, membership.py, soak.py, highmem.py), the remote
demo (tools/demo/xpmem-remote-demo) and the remote benchmark
(tools/bench/xpmem-remote-bench).

  lab     Lab (tools/xpmem-lab: exec, kill, stop, cont, restart, the
          partition table, `xpmemctl --json`, the one kernel-log check) and
          Proc (a command running in a partition, read with expect)
  puppet  Puppet: a process in a partition driven one command at a time,
          which leaves its partition's agent free
  ram     the partitions' RAM files, read from the host
  kmi     kill_mid_invalidate() and kill_owner_mid_fault(), confirmed by the
          victim's kernel; rejoin()
  xpart   the xpmem-xpart-* programs: pair(), Exporter, attach(), Daemon
  suite   Suite: a script suite's PLAN and verdicts, checks that raise,
          selection of checks; expect() and Fail
  closing Closing: the checks that end a partition suite (kernel logs,
          the killed boots' consoles, rmmod), counted in its PLAN

Import it with tools/lab on sys.path (see the users).
"""

from .lab import Lab, LabError, Proc, kv, median, now_ms, pairs, shell_quote  # noqa: F401
from .puppet import Puppet  # noqa: F401
from . import closing, kmi, ram, suite, xpart  # noqa: F401

__all__ = ['Lab', 'LabError', 'Proc', 'Puppet', 'closing', 'kmi', 'kv', 'median', 'now_ms',
           'pairs', 'ram', 'shell_quote', 'suite', 'xpart']
