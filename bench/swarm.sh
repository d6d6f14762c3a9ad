#!/usr/bin/env bash
# bench/swarm.sh BUILD_DIR: nap on a Docker Swarm of 3 engines this script
# starts on this machine (tests/swarm/cluster.sh: 3 dockerd in network
# namespaces; root), against the shared registry and etcd:
#  - deploy of 3 instances (a fresh app: build, push, 3 services, ready) on
#    the swarm vs the same app with scheduler-local: both times and the ratio;
#  - task ready -> endpoint in etcd: each task container's start event on its
#    node (busybox httpd listens at once) to its key's PUT in etcd, over the
#    first deploy and BENCH_SWARM_KILLS (default 5) kill -> replacement
#    rounds: median and max; kill -> endpoint withdrawn likewise;
#  - a node lost (its dockerd and containers killed): until its endpoints
#    are withdrawn, and until replacements on the others are announced, with
#    the swarm's dispatcher heartbeat at SW_HEARTBEAT (default 1s);
#  - etcd member loss: the etcd's leader killed, until the first successful
#    write trying the members in turn (as nap's etcd client does), and a
#    deploy with the dead member listed first.
# Prints "name: value" lines.
set -uo pipefail
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/nap-bench-swarm.XXXXXX)
SOCK=$WORK/napd.sock
export ETCDCTL_API=3
napc() { "$build/core/napc/napc" --socket "$SOCK" "$@"; }
plugin() { echo "$build/plugins/$1/.libs/$1.so"; }
wait_until() {
	local limit=$1
	shift
	local end=$(($(date +%s%N) + limit * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	"$@"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
APP=bs-$$
LAPP=bl-$$
. "$top/tests/swarm/cluster.sh"
EC_DIR=$WORK/etcd
EC_BASE=${EC_BASE:-23770}
. "$top/tests/swarm/etcd-cluster.sh"
PIDS=()
NAPD_PID=

stop_napd() {
	if [ -n "$NAPD_PID" ]; then
		kill "$NAPD_PID" 2>/dev/null
		wait "$NAPD_PID" 2>/dev/null
	fi
	NAPD_PID=
}
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	napc destroy "$LAPP" >/dev/null 2>&1
	stop_napd
	docker rm -f $(docker ps -aq --filter "label=nap.app=$LAPP") >/dev/null 2>&1
	cluster_down
	ec_down
	[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$WORK/napd.log" "$BENCH_KEEP_LOG"
	rm -rf "$WORK"
}
trap cleanup EXIT

start_napd() { # start_napd SCHEDULER ETCD [settings lines...]
	local sched=$1 etcd=$2
	shift 2
	{
		echo "key_prefix = /nap-bench/"
		echo "plugins = $(plugin orchestrator) $(plugin builder) $(plugin "$sched") $(plugin discovery-etcd)"
		echo "deploy_timeout = 120"
		echo "[plugin discovery-etcd]"
		echo "etcd = $etcd"
		for l in "$@"; do echo "$l"; done
	} >"$WORK/napd.conf"
	"$build/core/napd/napd" --foreground --config "$WORK/napd.conf" --socket "$SOCK" \
		--log-level debug 2>>"$WORK/napd.log" &
	NAPD_PID=$!
	wait_until 10 test -S "$SOCK" || exit 1
	wait_until 20 bash -c "'$build/core/napc/napc' --socket '$SOCK' plugins | grep -q '$sched.*running'"
}

cp -r "$top/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare" >/dev/null

ec_up >/dev/null || { echo "# etcd cluster did not come up"; exit 1; }
ETCD=$EC_CSV

# --- the same app with scheduler-local (first: the swarm's engines then
# do not share the 2 cores yet)
start_napd scheduler-local "$EC_ENDPOINTS"
t0=$(now_ms)
napc deploy "$LAPP" "$WORK/hello" --instances 3 >/dev/null 2>&1 || echo "# local deploy failed"
LOCAL_MS=$(($(now_ms) - t0))
echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
t0=$(now_ms)
napc deploy "$LAPP" "$WORK/hello" >/dev/null 2>&1 || echo "# local redeploy failed"
LOCAL_RE_MS=$(($(now_ms) - t0))
napc destroy "$LAPP" >/dev/null 2>&1
stop_napd
rm -f "$SOCK"

cluster_up >/dev/null || { echo "# the swarm did not come up"; exit 1; }
engines=""
for n in $SW_NODES; do engines="$engines $(sw_addr "$n")=unix://$(sw_sock "$n"),"; done
start_napd scheduler-swarm "$EC_ENDPOINTS" "[plugin scheduler-swarm]" "manager = $(sw_manager)" \
	"node_engines = ${engines%,}" "[plugin orchestrator]" "ready_timeout = 60" "backoff_ms = 200"

# Stamped streams: container start/die on each node, key PUT/DELETE in etcd.
stamp() { python3 -u -c '
import sys, time
for l in sys.stdin:
    print(time.time_ns() // 1000, l.rstrip("\n"), flush=True)'; }
for n in $SW_NODES; do
	sw_docker "$n" events --filter "label=nap.app=$APP" --filter type=container \
		--format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "com.docker.swarm.task.id"}} {{index .Actor.Attributes "nap.instance"}}' \
		>>"$WORK/events.$n" 2>/dev/null &
	PIDS+=($!)
done
etcdctl --endpoints=$ETCD watch --prefix "/services/$APP/" 2>/dev/null | stamp >"$WORK/keys" &
PIDS+=($!)
sleep 0.5

t0=$(now_ms)
napc deploy "$APP" "$WORK/hello" --instances 3 >"$WORK/d1.out" 2>&1 || { echo "# swarm deploy failed"; cat "$WORK/d1.out"; }
SWARM_MS=$(($(now_ms) - t0))
echo "<p>nap release 3</p>" >>"$WORK/hello/index.html"
t0=$(now_ms)
napc deploy "$APP" "$WORK/hello" >/dev/null 2>&1 || echo "# swarm redeploy failed"
SWARM_RE_MS=$(($(now_ms) - t0))

KILLS=${BENCH_SWARM_KILLS:-5}
for i in $(seq "$KILLS"); do
	n=$(((i % 3) + 1))
	cid=$(sw_docker "$n" ps -q --filter "label=nap.app=$APP" | head -1)
	[ -n "$cid" ] || continue
	sw_docker "$n" kill "$cid" >/dev/null
	wait_until 60 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 3 ]" >/dev/null
	sleep 0.5
done

# --- node 3 lost (after the kills' crash counts are over: 10 s ready)
sleep 11
t0=$(now_ms)
node_stop 3
wait_until 60 bash -c "! '$build/core/napc/napc' --socket '$SOCK' endpoints $APP | grep -q '$(sw_addr 3):'" >/dev/null
LOSS_W=$(($(now_ms) - t0))
wait_until 90 bash -c "[ \$('$build/core/napc/napc' --socket '$SOCK' endpoints $APP | grep -c .) -eq 3 ]" >/dev/null
LOSS_R=$(($(now_ms) - t0))
sleep 0.5
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
PIDS=()

# Latencies from the stamped streams: a start (ns) -> the PUT of that
# instance's key that follows it; a die -> the DELETE that follows.
LAT=$(cat "$WORK"/events.* | python3 -c '
import sys, statistics
ev = []
for l in sys.stdin:
    p = l.split()
    if len(p) >= 4 and p[1] in ("start", "die"):
        ev.append((int(p[0]) // 1000, p[1], p[3]))
keys = []
lines = open(sys.argv[1]).read().split("\n")
i = 0
while i < len(lines):
    p = lines[i].split(" ", 1)
    if len(p) == 2 and p[1] in ("PUT", "DELETE") and i + 1 < len(lines):
        key = lines[i + 1].split(" ", 1)[1]
        keys.append((int(p[0]), p[1], key.rsplit(":", 1)[-1]))
        i += 2
        continue
    i += 1
def lat(kind, op):
    out = []
    for t, k, inst in ev:
        if k != kind: continue
        later = [kt for kt, o, ki in keys if o == op and ki == inst and kt >= t]
        if later: out.append((min(later) - t) / 1000.0)
    return out
up, down = lat("start", "PUT"), lat("die", "DELETE")
def fmt(v):
    return "%.1f %.1f %d" % (statistics.median(v), max(v), len(v)) if v else "- - 0"
print(fmt(up)); print(fmt(down))' "$WORK/keys")
read -r UP_MED UP_MAX UP_N <<<"$(echo "$LAT" | sed -n 1p)"
read -r DN_MED DN_MAX DN_N <<<"$(echo "$LAT" | sed -n 2p)"
napc destroy "$APP" >/dev/null 2>&1
stop_napd
cluster_down

# --- etcd: the leader of the 3-member cluster killed -> first successful write
leader=$(ec_leader)
t0=$(date +%s%N)
ec_kill "$leader"
# as nap's etcd client does: each member in turn until one commits
until for n in 1 2 3; do
	curl -sf --max-time 1 -X POST -d '{"key":"L25hcC1iZW5jaA==","value":"eQ=="}' \
		"$(ec_client "$n")/v3/kv/put" >/dev/null && break
done; do sleep 0.01; done
EC_MS=$((($(date +%s%N) - t0) / 1000000))
# and through nap: discovery-etcd's client on the member list, the dead one first
rm -f "$SOCK"
list=$(ec_client "$leader")
for n in 1 2 3; do [ "$n" = "$leader" ] || list="$list, $(ec_client "$n")"; done
start_napd scheduler-local "$list"
t0=$(now_ms)
napc deploy "$LAPP" "$WORK/hello" --instances 1 >/dev/null 2>&1 && EC_DEPLOY=$(($(now_ms) - t0)) || EC_DEPLOY=failed
napc destroy "$LAPP" >/dev/null 2>&1

echo "swarm_nodes: 3 (1 manager, 2 workers; dispatcher heartbeat $SW_HEARTBEAT)"
echo "deploy_3_swarm_ms: $SWARM_MS"
echo "deploy_3_local_ms: $LOCAL_MS"
echo "deploy_3_swarm_vs_local: $(python3 -c "print('%.2f' % ($SWARM_MS / $LOCAL_MS))")"
echo "redeploy_3_swarm_ms: $SWARM_RE_MS"
echo "redeploy_3_local_ms: $LOCAL_RE_MS"
echo "redeploy_3_swarm_vs_local: $(python3 -c "print('%.2f' % ($SWARM_RE_MS / $LOCAL_RE_MS))")"
echo "task_ready_to_etcd_ms_median: $UP_MED"
echo "task_ready_to_etcd_ms_max: $UP_MAX"
echo "task_ready_to_etcd_samples: $UP_N"
echo "task_died_to_withdrawn_ms_median: $DN_MED"
echo "task_died_to_withdrawn_ms_max: $DN_MAX"
echo "task_died_to_withdrawn_samples: $DN_N"
echo "node_loss_to_withdrawn_s: $(python3 -c "print('%.1f' % ($LOSS_W / 1000))")"
echo "node_loss_to_replacements_announced_s: $(python3 -c "print('%.1f' % ($LOSS_R / 1000))")"
echo "etcd_leader_loss_to_first_write_ms: $EC_MS"
echo "etcd_deploy_with_a_dead_member_first_ms: $EC_DEPLOY"
