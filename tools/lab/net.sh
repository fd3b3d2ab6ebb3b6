# shellcheck shell=bash
# net.sh - `up -n N --net`: an Ethernet link between every two partitions, so
# that programs in different partitions can find each other (MPI launchers,
# ucx_perftest's TCP handshake) while their data goes through xpmem.
# Sourced by tools/xpmem-lab after vm.sh.
#
# No root on the host: each pair P<Q gets a virtio-net NIC in both VMs whose
# backend is `-netdev dgram` over two UNIX datagram sockets in run/net/
# (P-Q.sock bound by P, Q-P.sock by Q), so frames never touch a host network.
# NICs sit at PCI slots 09.. (one per peer, in peer order), which limits --net
# to 8 partitions.  The MAC 52:54:00:77:P:Q names both ends.
#
# In the guest (tools/lab/guest-net.sh) partition P has the address
# 169.254.77.<P+1> (link-local) on every NIC, with a host route to each peer
# through the NIC that leads to it; lo is up.  run/net exists while the lab
# has links; restart keeps them.

LAB_NET_MAX=8

lab_net_addr() { echo "169.254.77.$(($1 + 1))"; }

lab_net_enabled() { [ -d "$LAB_RUN/net" ]; }

# QEMU arguments of partition $LAB_P's NICs (appended to LAB_QEMU_ARGS).
lab_net_args() { # NPARTS
	local n=$1 q slot=9
	for ((q = 0; q < n; q++)); do
		[ "$q" = "$LAB_P" ] && continue
		rm -f "$LAB_RUN/net/$LAB_P-$q.sock" # a restart binds it again
		# shellcheck disable=SC2054  # commas belong to QEMU option values
		LAB_QEMU_ARGS+=(
			-netdev "dgram,id=net$q,local.type=unix,local.path=$LAB_RUN/net/$LAB_P-$q.sock,remote.type=unix,remote.path=$LAB_RUN/net/$q-$LAB_P.sock"
			-device "virtio-net-pci,netdev=net$q,mac=52:54:00:77:$(printf '%02x:%02x' "$LAB_P" "$q"),addr=$(printf '%02x' $slot).0"
		)
		slot=$((slot + 1))
	done
}

# The guest kernel's virtio_net and its dependencies, in load order (the
# guest's root is the host's tree: the modules are read from the kernel's
# root under build/); none when built in.
lab_net_modules() {
	lab_guest_modules kernel/drivers/net/virtio_net.ko
}

# Brings partition $LAB_P's links up and checks that every running peer that
# already has its links answers a ping.
lab_net_up() { # NPARTS
	local n=$1 mods list
	list=$(lab_net_modules) || { lab_say "partition $LAB_P: cannot find virtio_net in the guest kernel"; return 1; }
	mapfile -t mods < <(printf '%s' "$list" | sed '/^$/d')
	# Generous: on a loaded host a TCG guest takes tens of seconds to load modules.
	lab_agent_client exec --timeout 240 -- sh "$LAB_REPO/tools/lab/guest-net.sh" "$LAB_P" "$n" "${mods[@]}" ||
		{ lab_say "partition $LAB_P: network setup failed"; return 1; }
	lab_say "partition $LAB_P: network up, $(lab_net_addr "$LAB_P")"
}
