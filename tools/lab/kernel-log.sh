# shellcheck shell=bash
# kernel-log.sh - the one kernel-log check of the project: `xpmem-lab
# dmesg-check [P]` (a live partition) and `xpmem-lab log-check FILE...`
# (kept console logs, e.g. of killed boots).  Every suite, the demo and the
# benchmarks call these; no other copy of the patterns exists.  Sourced by
# tools/xpmem-lab after common.sh and vm.sh.
#
# Two sources for a live partition: its dmesg (through the agent) and the
# serial console log of the current or last boot (which still holds the
# messages of a guest that died: with panic_on_warn a WARNING ends in a
# panic, and the console is the only place its trace survives).  Patterns
# are matched with their case as the kernel prints them, so the command
# line's "oops=panic" does not count as an Oops.
#
# What counts: BUG (also KASAN and KFENCE reports, "BUG: sleeping function
# called from invalid context"), WARNING (also lockdep's "possible circular
# locking dependency" and refcount/list warnings), Oops, hung tasks, RCU
# stalls, list corruption (DEBUG_LIST), UBSAN, a panic, and kmemleak's
# "suspected memory leaks".  On the debug kernel (tools/lab/debug-kernel.sh)
# dmesg-check first has kmemleak scan and fails on what it reports.

LAB_BAD_LOG='BUG:|WARNING:|Oops|blocked for more than|Call Trace|general protection'
LAB_BAD_LOG+='|list_(add|del) corruption|Kernel panic|UBSAN:|detected stall'
LAB_BAD_LOG+='|suspected memory leak|possible (circular|recursive) locking|inconsistent lock state'
# kernel BUG() ("kernel BUG at mm/x.c:12!"), DEBUG_VM's page dumps, lockdep on
# an unregistered key, DEBUG_OBJECTS, and kmemleak's own report format (what
# `lab_kmemleak_check` reads from /sys/kernel/debug/kmemleak).
LAB_BAD_LOG+='|kernel BUG at|page dumped because|INFO: trying to register non-static key'
LAB_BAD_LOG+='|ODEBUG: [a-z_]+ |unreferenced object 0x'

lab_log_hits() { # FILE: offending lines, minus the echo of our own command line
	grep -aE "$LAB_BAD_LOG" "$1" | grep -av 'Kernel command line:'
}

# Kept log files (console logs of killed boots...): 0 when none shows errors.
lab_log_check() { # FILE...
	local f hits bad=0
	[ $# -gt 0 ] || { lab_say "log-check: no file given"; return 2; }
	for f in "$@"; do
		if [ ! -f "$f" ]; then
			lab_say "log-check: $f does not exist"
			bad=1
			continue
		fi
		hits=$(lab_log_hits "$f")
		if [ -n "$hits" ]; then
			printf 'xpmem-lab: %s shows kernel errors:\n%s\n' "$f" "$hits" >&2
			bad=1
		fi
	done
	return $bad
}

# kmemleak's "clear" forgets only what a scan has reported already (nothing
# scans on its own: DEBUG_KMEMLEAK_AUTO_SCAN is off), so scan first: what
# the boot left unreferenced is then not blamed on the first program.
lab_kmemleak_clear() {
	# shellcheck disable=SC2016  # expanded by the guest's shell
	lab_agent_client exec --timeout 600 -- sh -c \
		'f=/sys/kernel/debug/kmemleak; [ -e $f ] && echo scan >$f && echo clear >$f' >/dev/null 2>&1
}

# Debug kernel only (the stock one has no kmemleak): scan now, print what
# kmemleak suspects and fail if anything; reported objects are then cleared,
# so that the next check blames only new ones.  kmemleak ignores objects
# younger than 5 s: a leak made just before a scan shows at the next one.
lab_kmemleak_check() {
	local out rc=0
	[ "$LAB_KERNEL_KIND" = debug ] || return 0
	lab_qemu_pid >/dev/null || { lab_say "$(lab_tag)kmemleak: the VM is not up"; return 1; }
	# shellcheck disable=SC2016  # expanded by the guest's shell
	out=$(lab_agent_client exec --timeout 600 -- sh -c '
		f=/sys/kernel/debug/kmemleak
		[ -e $f ] || { echo "$f is missing (kmemleak disabled at boot?)"; exit 2; }
		echo scan >$f || exit 2
		cat $f
		echo clear >$f' 2>&1) || rc=$?
	if [ $rc -ne 0 ]; then
		printf 'xpmem-lab: %scannot scan kmemleak (status %s): %s\n' "$(lab_tag)" "$rc" "$out" >&2
		return 1
	fi
	[ -z "$out" ] && return 0
	printf 'xpmem-lab: %skmemleak suspects %s object(s):\n%s\n' "$(lab_tag)" \
		"$(grep -c 'unreferenced object' <<<"$out")" "$out" >&2
	return 1
}

lab_dmesg_check() { # [P]
	local bad=0 tmp hits
	if [ $# -gt 0 ]; then
		lab_check_part "$1" || return 2
		lab_select "$1"
	fi
	tmp=$(mktemp)
	if lab_qemu_pid >/dev/null; then
		lab_kmemleak_check || bad=1
		if lab_agent_client exec --timeout 60 -- dmesg >"$tmp" 2>&1; then
			hits=$(lab_log_hits "$tmp")
			if [ -n "$hits" ]; then
				printf 'xpmem-lab: guest dmesg shows kernel errors:\n%s\n' "$hits" >&2
				bad=1
			fi
		else
			lab_say "cannot read the guest's dmesg"
			bad=1
		fi
	fi
	if [ -f "$LAB_PRUN/console.log" ]; then
		hits=$(lab_log_hits "$LAB_PRUN/console.log")
		if [ -n "$hits" ]; then
			printf 'xpmem-lab: guest console log (%s) shows kernel errors:\n%s\n' \
				"${LAB_PRUN#"$LAB_REPO"/}/console.log" "$hits" >&2
			bad=1
		fi
	fi
	rm -f "$tmp"
	[ $bad = 0 ] && lab_say "kernel log clean"
	return $bad
}
