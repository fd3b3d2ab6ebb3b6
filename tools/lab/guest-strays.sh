#!/bin/sh
# guest-strays.sh [--kill] - run inside the lab VM (tools/xpmem-lab exec):
# print the processes still running besides the agent (PID 1), kernel
# threads and this script's own session, one "pid command" per line; with
# --kill, SIGKILL them and wait (bounded) until they are gone.
#
# tests/run calls it after each test program: a program that leaves a
# process behind (which may hold /dev/xpmem and block rmmod) is reported
# against that program, then cleaned up so the next one starts clean.

mode=${1:-}
read -r self_line </proc/self/stat
# shellcheck disable=SC2086  # split the fields on purpose
set -- ${self_line##*) }
self_sid=$4 # fields after "(comm) ": state ppid pgrp session ...

# No subshell per process: under TCG a fork costs milliseconds.
strays() {
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = 1 ] && continue
		line=
		read -r line <"$d/stat" 2>/dev/null || continue
		# shellcheck disable=SC2086
		set -- ${line##*) }
		[ "$4" = "$self_sid" ] && continue
		[ "$pid" = 2 ] || [ "$2" = 2 ] && continue # kernel threads
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
		[ -n "$cmd" ] || continue
		echo "$pid $cmd"
	done
}

list=$(strays)
[ -n "$list" ] || exit 0
echo "$list"
[ "$mode" = --kill ] || exit 1
echo "$list" | while read -r pid _; do kill -9 "$pid" 2>/dev/null; done
for _ in $(seq 50); do
	[ -z "$(strays)" ] && exit 1
	sleep 0.1
done
echo "still running after SIGKILL:"
strays
exit 1
