# A 3-member etcd cluster of the test's own on loopback (sourced), never the
# shared one: members 1..3 answer clients on 127.0.0.1:$((EC_BASE+N)) and
# peers on 127.0.0.1:$((EC_BASE+10+N)); data under $EC_DIR. ec_up starts
# all, ec_kill N / ec_start N one member (same data: it rejoins), ec_down
# stops them and removes the data (call it from an EXIT trap).
EC_BASE=${EC_BASE:-23790}
EC_DIR=${EC_DIR:-$WORK/etcd}
EC_TOKEN=nap-test-$$
ec_client() { echo "http://127.0.0.1:$((EC_BASE + $1))"; }
ec_peer() { echo "http://127.0.0.1:$((EC_BASE + 10 + $1))"; }
EC_ENDPOINTS="$(ec_client 1), $(ec_client 2), $(ec_client 3)"
EC_CSV="$(ec_client 1),$(ec_client 2),$(ec_client 3)"
ec_cluster() { echo "m1=$(ec_peer 1),m2=$(ec_peer 2),m3=$(ec_peer 3)"; }

ec_start() {
	local n=$1
	mkdir -p "$EC_DIR/m$n"
	etcd --name "m$n" --data-dir "$EC_DIR/m$n/data" \
		--listen-client-urls "$(ec_client "$n")" --advertise-client-urls "$(ec_client "$n")" \
		--listen-peer-urls "$(ec_peer "$n")" --initial-advertise-peer-urls "$(ec_peer "$n")" \
		--initial-cluster "$(ec_cluster)" --initial-cluster-token "$EC_TOKEN" \
		--initial-cluster-state new --heartbeat-interval 100 --election-timeout 1000 \
		>>"$EC_DIR/m$n/etcd.log" 2>&1 &
	echo $! >"$EC_DIR/m$n/pid"
}
ec_kill() {
	local p
	p=$(cat "$EC_DIR/m$1/pid" 2>/dev/null) || return 0
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rm -f "$EC_DIR/m$1/pid"
}
ec_healthy() { ETCDCTL_API=3 etcdctl --endpoints="$EC_CSV" endpoint health >/dev/null 2>&1; }
ec_up() {
	local n
	for p in 1 2 3 11 12 13; do
		if curl -s --max-time 1 "http://127.0.0.1:$((EC_BASE + p))/" >/dev/null 2>&1; then
			echo "# port $((EC_BASE + p)) is taken: set EC_BASE" >&2
			return 1
		fi
	done
	for n in 1 2 3; do ec_start "$n"; done
	wait_until 30 ec_healthy
}
ec_down() {
	local n
	for n in 1 2 3; do ec_kill "$n"; done
	rm -rf "$EC_DIR"
}
# ec_leader: the number of the member that leads now.
ec_leader() {
	local n
	for n in 1 2 3; do
		curl -s --max-time 1 -X POST -d '{}' "$(ec_client "$n")/v3/maintenance/status" |
			python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["leader"]==d["header"]["member_id"] else 1)' 2>/dev/null &&
			{ echo "$n"; return 0; }
	done
	return 1
}
