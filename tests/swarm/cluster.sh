# A Docker Swarm of 3 engines on this machine, for the swarm tests and
# bench/swarm.sh (sourced; needs root). Each node is a dockerd of its own
# (data-root, exec-root, pidfile, socket) in a network namespace of its own,
# joined to a bridge the test creates by a veth pair; node 1 is the manager,
# nodes 2 and 3 are workers. Nothing leaves this machine: the bridge's /24 is
# private and only the bridge's own traffic is accepted in FORWARD.
#
# The image registry: the builder pushes to the shared registry at
# 127.0.0.1:5000 and names images 127.0.0.1:5000/APP:REL. In each node's
# namespace, 127.0.0.1:5000 is sent on to the bridge's address (DNAT in the
# node's own OUTPUT chain, route_localnet), and on the host the bridge's
# address:5000 is sent to 127.0.0.1:5000 (DNAT in PREROUTING, only for
# packets from our bridge). So every node pulls the very name the builder
# pushed, the registry listens on loopback only, and dockerd treats it as
# insecure-allowed (127.0.0.0/8) without any --insecure-registry.
#
# cluster_up starts it all; cluster_down removes everything cluster_up made
# (dockerd processes, namespaces, veths, bridge, iptables rules, data dirs),
# also after a half-done cluster_up; call it from an EXIT trap.

SW_ID=${SW_ID:-$$}
SW_NET=10.$((200 + SW_ID % 50)).$((SW_ID % 250)) # a private /24
SW_BR=nswb$((SW_ID % 100000))
SW_BRIP=$SW_NET.1
SW_DIR=/tmp/nsw$SW_ID
SW_NODES="1 2 3"
SW_HEARTBEAT=${SW_HEARTBEAT:-1s} # swarm dispatcher heartbeat: how soon a lost node is down

sw_ns() { echo "nsw$SW_ID-$1"; }
sw_addr() { echo "$SW_NET.$((10 + $1))"; }
sw_sock() { echo "$SW_DIR/n$1.sock"; }
sw_docker() { # sw_docker NODE ARGS...: the docker CLI against a node
	local n=$1
	shift
	docker -H "unix://$(sw_sock "$n")" "$@"
}
sw_manager() { echo "unix://$(sw_sock 1)"; }

sw_log() { echo "# cluster: $*" >&2; }

sw_start_node() {
	local n=$1 ns addr d
	ns=$(sw_ns "$n")
	addr=$(sw_addr "$n")
	d=$SW_DIR/n$n
	mkdir -p "$d/data" "$d/exec"
	ip netns add "$ns" || return 1
	local host_end=nsv$((SW_ID % 100000))n$n
	ip link add "$host_end" type veth peer name eth0 netns "$ns" || return 1
	ip link set "$host_end" master "$SW_BR" up || return 1
	ip netns exec "$ns" ip addr add "$addr/24" dev eth0
	ip netns exec "$ns" ip link set eth0 up
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip route add default via "$SW_BRIP"
	# 127.0.0.1:5000 in the node = the registry, through the bridge.
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.eth0.route_localnet=1
	ip netns exec "$ns" iptables -t nat -A OUTPUT -d 127.0.0.1 -p tcp --dport 5000 \
		-j DNAT --to-destination "$SW_BRIP:5000"
	ip netns exec "$ns" iptables -t nat -A POSTROUTING -d "$SW_BRIP" -p tcp --dport 5000 \
		-j SNAT --to-source "$addr"
	# nsenter, not "ip netns exec" (which remounts /sys: dockerd then
	# finds no devices cgroup).
	nsenter --net="/var/run/netns/$ns" dockerd --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/pid" -H "unix://$(sw_sock "$n")" --iptables=true \
		>"$d/dockerd.log" 2>&1 &
	echo $! >"$d/dockerd.pid"
}

sw_node_up() { sw_docker "$1" version >/dev/null 2>&1; }

cluster_up() {
	mkdir -p "$SW_DIR" || return 1
	sw_log "bridge $SW_BR $SW_BRIP/24, nodes $(sw_addr 1) $(sw_addr 2) $(sw_addr 3), dir $SW_DIR"
	ip link add "$SW_BR" type bridge || return 1
	ip addr add "$SW_BRIP/24" dev "$SW_BR"
	ip link set "$SW_BR" up
	iptables -I FORWARD -i "$SW_BR" -o "$SW_BR" -j ACCEPT
	sysctl -qw "net.ipv4.conf.$SW_BR.route_localnet=1"
	iptables -t nat -I PREROUTING -i "$SW_BR" -d "$SW_BRIP" -p tcp --dport 5000 \
		-j DNAT --to-destination 127.0.0.1:5000
	local n
	for n in $SW_NODES; do sw_start_node "$n" || return 1; done
	for n in $SW_NODES; do
		wait_until 60 sw_node_up "$n" || {
			sw_log "node $n did not start:"
			tail -5 "$SW_DIR/n$n/dockerd.log" >&2
			return 1
		}
	done
	sw_docker 1 swarm init --advertise-addr "$(sw_addr 1)" --dispatcher-heartbeat "$SW_HEARTBEAT" \
		>/dev/null || return 1
	local token
	token=$(sw_docker 1 swarm join-token -q worker) || return 1
	for n in 2 3; do
		sw_docker "$n" swarm join --token "$token" --advertise-addr "$(sw_addr "$n")" \
			"$(sw_addr 1):2377" >/dev/null || return 1
	done
	# Node N gets the label zone=zN, for the placement tests.
	local id addr
	for id in $(sw_docker 1 node ls -q); do
		addr=$(sw_docker 1 node inspect -f '{{.Status.Addr}}' "$id")
		sw_docker 1 node update --label-add "zone=z${addr##*.1}" "$id" >/dev/null
	done
	wait_until 30 sw_all_ready || return 1
	sw_log "swarm of 3 ready"
}

sw_all_ready() {
	[ "$(sw_docker 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)" -eq 3 ]
}

# node_stop N: kills node N's dockerd (and its containers with it).
node_stop() {
	local d=$SW_DIR/n$1 pid
	pid=$(cat "$d/dockerd.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null
	# The containers of a killed dockerd keep running under their shims:
	# kill them too, as a lost machine would lose them.
	local p
	for p in $(ip netns pids "$(sw_ns "$1")" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	wait "$pid" 2>/dev/null
	rm -f "$d/dockerd.pid"
}

cluster_down() {
	local n ns p
	for n in $SW_NODES; do
		ns=$(sw_ns "$n")
		[ -f "$SW_DIR/n$n/dockerd.pid" ] && kill -TERM "$(cat "$SW_DIR/n$n/dockerd.pid")" 2>/dev/null
	done
	for n in $SW_NODES; do
		p=$(cat "$SW_DIR/n$n/dockerd.pid" 2>/dev/null) || continue
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in $SW_NODES; do
		ns=$(sw_ns "$n")
		if [ -e "/var/run/netns/$ns" ]; then
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			sleep 0.2
			ip netns del "$ns" 2>/dev/null
		fi
	done
	iptables -t nat -D PREROUTING -i "$SW_BR" -d "$SW_BRIP" -p tcp --dport 5000 \
		-j DNAT --to-destination 127.0.0.1:5000 2>/dev/null
	iptables -D FORWARD -i "$SW_BR" -o "$SW_BR" -j ACCEPT 2>/dev/null
	ip link del "$SW_BR" 2>/dev/null
	# Mounts dockerd left (overlay, shm, netns files) before removing its dirs.
	grep -o " $SW_DIR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$SW_DIR"
}
