#!/bin/sh
# guest-net.sh P NPARTS MODULE... - run in partition P's guest by the lab
# (tools/lab/net.sh): loads the virtio_net modules given (dependencies
# first), brings lo up, and gives every NIC 52:54:00:77:P:Q the address
# 169.254.77.<P+1>/32 with a route to peer Q's 169.254.77.<Q+1>.
# Idempotent: a second run changes nothing.
set -u
p=$1 n=$2
shift 2
for m in "$@"; do
	name=$(basename "$m" .ko | tr - _)
	grep -q "^$name " /proc/modules && continue
	busybox insmod "$m" || { echo "guest-net: insmod $m failed" >&2; exit 1; }
done
ip link set lo up || exit 1
# The driver probes the NICs asynchronously: wait (60 s at most) for all n-1.
want=$((n - 1)) i=0
while [ "$(ls -d /sys/class/net/eth* 2>/dev/null | wc -l)" -lt $want ]; do
	i=$((i + 1))
	[ $i -gt 60 ] && { echo "guest-net: $want NICs expected, $(ls /sys/class/net)" >&2; exit 1; }
	sleep 1
done
me=169.254.77.$((p + 1))
for dev in /sys/class/net/eth*; do
	nic=${dev##*/}
	mac=$(cat "$dev/address")
	case $mac in 52:54:00:77:*) ;; *) continue ;; esac
	q=$((0x${mac##*:}))
	ip link set "$nic" up || exit 1
	ip addr replace "$me/32" dev "$nic" || exit 1
	ip route replace "169.254.77.$((q + 1))/32" dev "$nic" src "$me" || exit 1
done
exit 0
