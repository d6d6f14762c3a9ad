#!/usr/bin/env bash
# bench/deploy.sh BUILD_DIR: the deploy figures of issue 3, measured in one
# run against the real dockerd, registry and etcd (scripts/servers start):
#  - a warm redeploy of examples/hello through `napc deploy`, against the
#    same steps by hand with the docker CLI and etcdctl (build, push,
#    run -P, inspect, put), and their ratio;
#  - announce latency: Docker's start event -> the entry's PUT seen by an
#    etcd watcher, both received by one process, for a container that
#    discovery-etcd announces itself (the orchestrator's instances are
#    announced once ready: bench/run heal measures those);
#  - removal latency: Docker's kill event -> the entry's DELETE, the same way;
#  - 20 apps deployed at once: total time and napd's peak resident memory;
#  - scale-out from 1 to 40 instances through napc (ready and announced)
#    against the docker CLI starting the same 40 containers 8 at a time.
set -euo pipefail
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nap-bench-deploy.XXXXXX)
sock=$work/napd.sock
export ETCDCTL_API=3 NAP_SOCKET=$sock
ROUNDS=${BENCH_ROUNDS:-7}
napc() { "$build/core/napc/napc" "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

cleanup() {
	[ -n "${NAPD_PID:-}" ] && kill "$NAPD_PID" 2>/dev/null && wait "$NAPD_PID" 2>/dev/null
	docker rm -f $(docker ps -aq --filter label=nap.bench=1) >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

cp -r "$top/examples/hello" "$work/hello"
"$work/hello/prepare"
plugin() { echo "$build/plugins/$1/.libs/$1.so"; }
cat >"$work/napd.conf" <<CONF
key_prefix = /nap-bench/
plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd) $(plugin notifier)
log_level = warning
CONF
"$build/core/napd/napd" --foreground --config "$work/napd.conf" --socket "$sock" 2>"$work/napd.log" &
NAPD_PID=$!
for _ in $(seq 1 200); do
	n=$(napc --json plugins 2>/dev/null | python3 -c 'import json,sys; print(sum(p["state"]=="running" for p in json.load(sys.stdin)))' 2>/dev/null || echo 0)
	[ "$n" = 4 ] && break
	sleep 0.05
done

# --- warm redeploy: nap vs by hand ---
app=bench-$$
napc deploy "$app" "$work/hello" >/dev/null # cold: fills the build cache
nap_times=()
for i in $(seq 1 "$ROUNDS"); do
	# Each redeploy on its own, as a user runs one: the previous one has
	# finished stopping its old release (napd queues operations on an app).
	sleep 1
	t0=$(now)
	napc deploy "$app" "$work/hello" >/dev/null
	nap_times+=("$(awk "BEGIN {print $(now) - $t0}")")
done
hand_times=()
for i in $(seq 1 "$ROUNDS"); do
	tag=127.0.0.1:5000/$app-hand:$i
	t0=$(now)
	docker build -q -t "$tag" "$work/hello" >/dev/null 2>&1
	docker push -q "$tag" >/dev/null
	cid=$(docker run -d -P --init --label nap.bench=1 "$tag")
	port=$(docker inspect -f '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}' "$cid")
	etcdctl --endpoints=http://127.0.0.1:2379 put "/services/$app-hand/127.0.0.1:1" \
		"{\"host\":\"127.0.0.1\",\"port\":$port,\"instance\":1,\"release\":$i}" >/dev/null
	hand_times+=("$(awk "BEGIN {print $(now) - $t0}")")
	docker rm -f "$cid" >/dev/null
done
etcdctl --endpoints=http://127.0.0.1:2379 del --prefix "/services/$app-hand/" >/dev/null
nap_med=$(printf '%s\n' "${nap_times[@]}" | median)
hand_med=$(printf '%s\n' "${hand_times[@]}" | median)
echo "deploy.warm_redeploy.nap_s: $nap_med"
echo "deploy.warm_redeploy.by_hand_s: $hand_med"
echo "deploy.warm_redeploy.ratio_nap_over_by_hand: $(awk "BEGIN {printf \"%.2f\", $nap_med / $hand_med}")"

# --- announce and removal latency, seen by an etcd watcher ---
image=127.0.0.1:5000/$app:1
# The containers started by hand are discovery-etcd's to announce (no
# nap.announced-by label): they carry the id of a second napd that runs only
# discovery-etcd, whose Docker follower this measures. (The bench napd's
# orchestrator would remove them: an app without a record is not wanted.)
cat >"$work/napd2.conf" <<CONF
plugins = $(plugin discovery-etcd)
log_level = warning
CONF
"$build/core/napd/napd" --foreground --config "$work/napd2.conf" --socket "$work/napd2.sock" \
	2>"$work/napd2.log" &
NAPD2_PID=$!
for _ in $(seq 1 100); do
	napc --socket "$work/napd2.sock" --json plugins 2>/dev/null | grep -q '"running"' && break
	sleep 0.05
done
python3 - "$image" "$ROUNDS" "$(hostname):$work/napd2.sock" <<'PY'
# Both clocks in one process: Docker's event stream (start, kill) and an
# etcd watch on the app's prefix, each stamped when it arrives here.
import base64, json, socket, subprocess, sys, threading, time, urllib.request
image, rounds, napd_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def b64(s): return base64.b64encode(s.encode()).decode()
docker_events = {}
def follow_docker():
    s = socket.socket(socket.AF_UNIX); s.connect("/var/run/docker.sock")
    q = urllib.request.quote(json.dumps({"label": ["nap.bench=1"], "type": ["container"]}))
    s.sendall(f"GET /v1.41/events?filters={q} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    f = s.makefile("rb")
    while f.readline() not in (b"\r\n", b""): pass
    while True:
        line = f.readline()
        if not line: return
        line = line.strip()
        if not line.startswith(b"{"): continue
        t = time.time(); ev = json.loads(line)
        docker_events.setdefault((ev.get("id"), ev.get("Action")), t)
threading.Thread(target=follow_docker, daemon=True).start()
def watch(prefix, events):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    req = urllib.request.Request("http://127.0.0.1:2379/v3/watch",
        data=json.dumps({"create_request": {"key": b64(prefix), "range_end": b64(end)}}).encode())
    with urllib.request.urlopen(req) as r:
        for line in r:
            t = time.time()
            for ev in json.loads(line).get("result", {}).get("events", []):
                events.append((t, ev.get("type", "PUT")))
def wait_for(cond):
    for _ in range(1000):
        if cond(): return True
        time.sleep(0.002)
    return False
time.sleep(0.3)
announce, removal = [], []
for i in range(rounds):
    app = f"lat-{i}-{int(time.time())}"
    events = []
    threading.Thread(target=watch, args=(f"/services/{app}/", events), daemon=True).start()
    time.sleep(0.3)
    cid = subprocess.check_output(["docker", "run", "-d", "-P", "--init", "--label", f"nap.app={app}",
        "--label", "nap.release=1", "--label", "nap.instance=1", "--label", "nap.bench=1",
        "--label", f"nap.napd={napd_id}", image]).decode().strip()
    if wait_for(lambda: any(e[1] == "PUT" for e in events)) and (cid, "start") in docker_events:
        announce.append((min(e[0] for e in events if e[1] == "PUT") - docker_events[(cid, "start")]) * 1000)
    subprocess.check_call(["docker", "kill", cid], stdout=subprocess.DEVNULL)
    if wait_for(lambda: any(e[1] == "DELETE" for e in events)) and (cid, "kill") in docker_events:
        removal.append((min(e[0] for e in events if e[1] == "DELETE") - docker_events[(cid, "kill")]) * 1000)
    subprocess.call(["docker", "rm", "-f", cid], stdout=subprocess.DEVNULL)
def med(a): a = sorted(a); return a[len(a)//2] if a else float("nan")
print(f"deploy.announce_latency_ms.median: {med(announce):.1f}")
print(f"deploy.announce_latency_ms.max: {max(announce) if announce else float('nan'):.1f}")
print(f"deploy.removal_latency_ms.median: {med(removal):.1f}")
print(f"deploy.removal_latency_ms.max: {max(removal) if removal else float('nan'):.1f}")
print(f"deploy.latency_samples: {len(announce)} announce, {len(removal)} removal of {rounds}")
PY
kill "$NAPD2_PID" 2>/dev/null && wait "$NAPD2_PID" 2>/dev/null

# --- 20 apps at once ---
t0=$(now)
pids=()
for i in $(seq 1 20); do
	napc deploy "par-$$-$i" "$work/hello" >"$work/par.$i" 2>&1 &
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
echo "deploy.twenty_apps_at_once.total_s: $(awk "BEGIN {print $(now) - $t0}")"
echo "deploy.twenty_apps_at_once.failed: $failed"
echo "deploy.napd_peak_rss_mb: $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$NAPD_PID/status)"
for i in $(seq 1 20); do napc destroy "par-$$-$i" >/dev/null 2>&1 || true; done

# --- scale-out to 40 instances: napc scale vs the docker CLI, 8 at a time ---
# napc scale returns once all 40 are ready (checked) and announced; the CLI
# only starts the containers.
napc scale "$app" 1 >/dev/null
t0=$(now)
napc scale "$app" 40 >/dev/null
nap_scale=$(awk "BEGIN {print $(now) - $t0}")
napc scale "$app" 1 >/dev/null
t0=$(now)
seq 1 40 | xargs -P 8 -I{} docker run -d -P --init --label nap.bench=1 --name "bench-$$-{}" \
	"127.0.0.1:5000/$app:1" >/dev/null
cli_scale=$(awk "BEGIN {print $(now) - $t0}")
docker rm -f $(docker ps -aq --filter label=nap.bench=1) >/dev/null 2>&1 || true
echo "deploy.scale_out_40.nap_s: $nap_scale"
echo "deploy.scale_out_40.docker_cli_8_at_a_time_s: $cli_scale"
echo "deploy.scale_out_40.ratio_nap_over_cli: $(awk "BEGIN {printf \"%.2f\", $nap_scale / $cli_scale}")"
napc destroy "$app" >/dev/null 2>&1 || true
docker rmi "127.0.0.1:5000/$app-hand:"{1..9} >/dev/null 2>&1 || true
