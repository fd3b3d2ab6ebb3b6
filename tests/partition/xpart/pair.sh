#!/bin/sh
# pair.sh - runs both halves of a cross-partition scenario in ONE partition
# (local xpmem keeps the same contract, so the programs can be checked
# without a fabric): the exporter in the background, the attacher once the
# exporter printed its segids.  Runs inside a lab guest:
#
#   tools/xpmem-lab exec -- tests/partition/xpart/pair.sh BUILD_DIR SCENARIO \
#       [EXPORTER ARGS] [-- ATTACHER ARGS]
#
# Prints both programs' output (prefixed) and exits non-zero unless both
# passed.
set -u
bin=$1/tests/partition/xpart
sc=$2
shift 2
eargs=
while [ $# -gt 0 ] && [ "$1" != -- ]; do eargs="$eargs $1"; shift; done
[ $# -gt 0 ] && shift
out=$(mktemp)
# shellcheck disable=SC2086  # word splitting of the argument lists is wanted
"$bin/xpmem-xpart-export" "$sc" $eargs >"$out" 2>&1 &
exp=$!
i=0
while ! grep -q '^segids ' "$out"; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 $exp 2>/dev/null; then
		sed 's/^/exporter: /' "$out"
		kill $exp 2>/dev/null
		exit 1
	fi
	sleep 0.1
done
# shellcheck disable=SC2046  # two segids, two words
set -- $(awk '/^segids /{ print $2, $3 }' "$out") "$@"
ok=1
aout=$(mktemp)
"$bin/xpmem-xpart-attach" "$sc" "$@" >"$aout" 2>&1 || ok=0
wait $exp || ok=0
sed 's/^/attacher: /' "$aout"
sed 's/^/exporter: /' "$out"
rm -f "$out" "$aout"
[ $ok = 1 ] || exit 1
exit 0
