# shellcheck shell=bash
# kernel-log.sh - `xpmem-lab dmesg-check`: fail on signs of a kernel bug.
# Sourced by tools/xpmem-lab after common.sh and vm.sh.
#
# Two sources: the live guest's dmesg (through the agent) and the serial
# console log of the current or last boot (which still holds the messages of
# a guest that died: with panic_on_warn a WARNING ends in a panic, and the
# console is the only place its trace survives).  Patterns are matched with
# their case as the kernel prints them, so the command line's "oops=panic"
# does not count as an Oops.

LAB_BAD_LOG='BUG:|WARNING:|Oops|blocked for more than|Call Trace|general protection|list_del corruption|Kernel panic'

lab_log_hits() { # FILE: offending lines, minus the echo of our own command line
	grep -aE "$LAB_BAD_LOG" "$1" | grep -av 'Kernel command line:'
}

lab_dmesg_check() {
	local bad=0 tmp hits
	tmp=$(mktemp)
	if lab_qemu_pid >/dev/null; then
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
	if [ -f "$LAB_RUN/console.log" ]; then
		hits=$(lab_log_hits "$LAB_RUN/console.log")
		if [ -n "$hits" ]; then
			printf 'xpmem-lab: guest console log (%s) shows kernel errors:\n%s\n' \
				"${LAB_RUN#"$LAB_REPO"/}/console.log" "$hits" >&2
			bad=1
		fi
	fi
	rm -f "$tmp"
	[ $bad = 0 ] && lab_say "kernel log clean"
	return $bad
}
