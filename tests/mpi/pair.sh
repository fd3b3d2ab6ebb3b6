#!/bin/sh
# pair.sh N SERVER-ARGV(N words) CLIENT-ARGV... - a server and its client in
# one guest (the lab's agent runs one command at a time): the server in the
# background, the client 2 s later.  Prints the client's output, then the
# server's after a "--- server" line; exits with the client's status, or
# the server's if the client passed.
n=$1
shift
out=$(mktemp)
i=0 server_argv=
while [ $i -lt "$n" ]; do
	server_argv="$server_argv '$(printf '%s' "$1" | sed "s/'/'\\\\''/g")'"
	shift
	i=$((i + 1))
done
eval "timeout 500 $server_argv" >"$out" 2>&1 &
server=$!
sleep 2
timeout 480 "$@"
rc=$?
wait $server
src=$?
echo "--- server"
cat "$out"
rm -f "$out"
[ $rc -eq 0 ] && rc=$src
exit $rc
