#!/usr/bin/env bash
# bench/fleet.sh BUILD_DIR: the fleet figures of issue 4, measured in one run
# against the real dockerd, registry and etcd (scripts/servers start) and
# tests/fleet/fleet-test-server.py (a fleet API v1 test fixture with two
# simulated machines, which runs the units on this host), by default with a
# real fleet's delays (--fleet-like: placement 1 s, /state 3 s late, DELETEs
# acted on 4.8 s late; BENCH_FLEET_SERVER_ARGS="" for the fast server):
#  - a warm redeploy of examples/hello with two instances, from `napc
#    deploy` until it returns with both endpoints announced (napc endpoints
#    then lists two), through scheduler-fleet and the test server, against
#    the same deployment with scheduler-local, and their ratio (median of
#    BENCH_ROUNDS, default 5, each);
#  - for every instance the fleet rounds started: Docker's start event of
#    its container -> the PUT of its entry seen by an etcd watcher, both
#    received by one process (median and max; the seed's sidekick needed up
#    to 45 s).
set -euo pipefail
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nap-bench-fleet.XXXXXX)
export ETCDCTL_API=3
ROUNDS=${BENCH_ROUNDS:-5}
app=fbench-$$
napc() { "$build/core/napc/napc" --timeout 300 "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
plugin() { echo "$build/plugins/$1/.libs/$1.so"; }
NAPD_PID='' FLEET_PID='' WATCH_PID=''

stop_napd() {
	if [ -n "$NAPD_PID" ]; then
		kill "$NAPD_PID" 2>/dev/null || true
		wait "$NAPD_PID" 2>/dev/null || true
	fi
	NAPD_PID=
}
cleanup() {
	for a in "$app-fleet" "$app-local"; do
		[ -S "$work/napd-${a##*-}.sock" ] && NAP_SOCKET=$work/napd-${a##*-}.sock napc destroy "$a" >/dev/null 2>&1 || true
	done
	stop_napd
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
	if [ -n "$FLEET_PID" ]; then
		kill "$FLEET_PID" 2>/dev/null || true
		wait "$FLEET_PID" 2>/dev/null || true
	fi
	for a in "$app-fleet" "$app-local"; do
		ids=$(docker ps -aq --filter "label=nap.app=$a")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
		etcdctl del --prefix "/services/$a/" >/dev/null 2>&1 || true
		etcdctl del --prefix "/nap-bench/apps/$a/" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

cp -r "$top/examples/hello" "$work/hello"
chmod -R u+w "$work/hello"
"$work/hello/prepare" >/dev/null

# shellcheck disable=SC2086 # options, split on purpose
python3 "$top/tests/fleet/fleet-test-server.py" --listen "unix://$work/fleet.sock" \
	--machines "m1:role=web m2:role=web" --state-dir "$work/fleet-state" ${BENCH_FLEET_SERVER_ARGS---fleet-like} \
	>"$work/fleet.out" 2>"$work/fleet.err" &
FLEET_PID=$!
for _ in $(seq 1 300); do grep -qs '^listening on' "$work/fleet.out" && break; sleep 0.05; done

# start_napd NAME SCHEDULER [settings...]: napd on $work/NAME.sock.
start_napd() {
	local name=$1 sched=$2
	shift 2
	{
		echo "key_prefix = /nap-bench/"
		echo "plugins = $(plugin builder) $(plugin "$sched") $(plugin discovery-etcd)"
		echo "log_level = warning"
		echo "deploy_timeout = 180"
		for l in "$@"; do echo "$l"; done
	} >"$work/$name.conf"
	export NAP_SOCKET=$work/napd-$name.sock
	"$build/core/napd/napd" --foreground --config "$work/$name.conf" --socket "$NAP_SOCKET" \
		2>"$work/$name.log" &
	NAPD_PID=$!
	for _ in $(seq 1 200); do
		kill -0 "$NAPD_PID" 2>/dev/null || { echo "napd did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
		n=$("$build/core/napc/napc" --timeout 5 --json plugins 2>/dev/null | python3 -c 'import json,sys; print(sum(p["state"]=="running" for p in json.load(sys.stdin)))' 2>/dev/null || echo 0)
		[ "$n" = 3 ] && break
		sleep 0.05
	done
}

# rounds APP: a cold deploy (fills the build cache), then ROUNDS timed
# redeploys of two instances; prints the median in seconds.
rounds() {
	local a=$1 times=() t0 n
	napc deploy "$a" "$work/hello" --instances 2 >/dev/null
	for _ in $(seq 1 "$ROUNDS"); do
		sleep 1 # the previous release has stopped (napd queues operations on an app)
		t0=$(now)
		napc deploy "$a" "$work/hello" >/dev/null
		times+=("$(awk "BEGIN {print $(now) - $t0}")")
		n=$(napc endpoints "$a" | grep -c .)
		[ "$n" -eq 2 ] || echo "# $a: napc endpoints listed $n endpoints, not 2" >&2
	done
	printf '%s\n' "${times[@]}" | median
}

# Stamps Docker's start events and the etcd PUTs of the fleet app in one
# process, one line each: "start|put RELEASE INSTANCE SECONDS".
python3 - "$app-fleet" "$work/stamps" <<'PY' &
import base64, json, socket, sys, threading, time, urllib.parse, urllib.request
app, out = sys.argv[1], open(sys.argv[2], "w", buffering=1)
lock = threading.Lock()
def stamp(kind, rel, inst, t):
    with lock: out.write(f"{kind} {rel} {inst} {t:.6f}\n")
def follow_docker():
    s = socket.socket(socket.AF_UNIX); s.connect("/var/run/docker.sock")
    q = urllib.parse.quote(json.dumps({"label": [f"nap.app={app}"], "type": ["container"], "event": ["start"]}))
    s.sendall(f"GET /v1.41/events?filters={q} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    f = s.makefile("rb")
    while f.readline() not in (b"\r\n", b""): pass
    for line in f:
        t = time.time(); line = line.strip()
        if not line.startswith(b"{"): continue
        a = json.loads(line).get("Actor", {}).get("Attributes", {})
        stamp("start", a.get("nap.release"), a.get("nap.instance"), t)
def b64(s): return base64.b64encode(s.encode()).decode()
threading.Thread(target=follow_docker, daemon=True).start()
prefix = f"/services/{app}/"
req = urllib.request.Request("http://127.0.0.1:2379/v3/watch", data=json.dumps(
    {"create_request": {"key": b64(prefix), "range_end": b64(prefix[:-1] + "0")}}).encode())
with urllib.request.urlopen(req) as r:
    for line in r:
        t = time.time()
        for ev in json.loads(line).get("result", {}).get("events", []):
            if ev.get("type", "PUT") == "PUT":
                v = json.loads(base64.b64decode(ev["kv"]["value"]))
                stamp("put", v["release"], v["instance"], t)
PY
WATCH_PID=$!
sleep 0.5

start_napd fleet scheduler-fleet "[plugin scheduler-fleet]" "endpoint = unix://$work/fleet.sock" \
	"docker = $(command -v docker)" "announce = $top/plugins/scheduler-fleet/nap-fleet-announce"
fleet_med=$(rounds "$app-fleet")
napc destroy "$app-fleet" >/dev/null
stop_napd
kill "$WATCH_PID" 2>/dev/null || true
WATCH_PID=

start_napd local scheduler-local
local_med=$(rounds "$app-local")
napc destroy "$app-local" >/dev/null
stop_napd

server_args=${BENCH_FLEET_SERVER_ARGS---fleet-like}
echo "fleet.test_server: ${server_args:-fast (no options)}"
echo "fleet.deploy_two_instances.fleet_s: $fleet_med"
echo "fleet.deploy_two_instances.local_s: $local_med"
echo "fleet.deploy_two_instances.ratio_fleet_over_local: $(awk "BEGIN {printf \"%.2f\", $fleet_med / $local_med}")"
python3 - "$work/stamps" <<'PY'
# The first PUT of each (release, instance) after its container's start.
import sys
starts, puts = {}, {}
for line in open(sys.argv[1]):
    kind, rel, inst, t = line.split()
    d = starts if kind == "start" else puts
    d.setdefault((int(rel), int(inst)), float(t))
lat = sorted((puts[k] - starts[k]) * 1000 for k in starts if k in puts and puts[k] >= starts[k])
med = lat[len(lat) // 2] if lat else float("nan")
print(f"fleet.container_start_to_etcd_ms.median: {med:.1f}")
print(f"fleet.container_start_to_etcd_ms.max: {max(lat) if lat else float('nan'):.1f}")
print(f"fleet.container_start_to_etcd.samples: {len(lat)} of {len(starts)} instances started")
PY
