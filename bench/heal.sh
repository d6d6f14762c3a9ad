#!/usr/bin/env bash
# bench/heal.sh BUILD_DIR: how fast nap heals, against the real dockerd,
# registry and etcd (scripts/servers start):
#  - kill -> replacement: `docker kill` of an instance until its key is back
#    in etcd with the replacement's port, over BENCH_KILLS kills (default
#    10), beside kill -> the replacement container's start event, so the
#    difference is what nap adds (its check and announce);
#  - a redeploy of an app that listens 3 s after it starts, 2 instances,
#    under a client that looks the endpoints up and fetches 20 times a second:
#    failed requests and the redeploy's time;
#  - memory with 50 apps reconciled: napd's and the orchestrator's RSS when
#    they run and BENCH_HEAL_SECONDS later (default 60; the issue asks 600).
set -euo pipefail
build=$(realpath "$1")
keep=${BENCH_KEEP:-}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nap-bench-heal.XXXXXX)
sock=$work/napd.sock
export ETCDCTL_API=3 NAP_SOCKET=$sock
napc() { "$build/core/napc/napc" "$@"; }
plugin() { echo "$build/plugins/$1/.libs/$1.so"; }
APP=hb-$$
# shellcheck source=tests/integration/fetch-loop.sh
. "$top/tests/integration/fetch-loop.sh"

cleanup() {
	[ -n "${FETCH_PID:-}" ] && kill "$FETCH_PID" 2>/dev/null
	[ -n "${NAPD_PID:-}" ] && kill "$NAPD_PID" 2>/dev/null && wait "$NAPD_PID" 2>/dev/null
	docker rm -f $(docker ps -aq --filter "label=nap.napd=$(hostname):$sock") >/dev/null 2>&1 || true
	etcdctl --endpoints=http://127.0.0.1:2379 del --prefix /services/hb- >/dev/null 2>&1 || true
	etcdctl --endpoints=http://127.0.0.1:2379 del --prefix /nap-bench/apps/hb- >/dev/null 2>&1 || true
	[ -n "$keep" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

mkapp() { # mkapp DIR SCRIPT
	cp -r "$top/examples/hello" "$work/$1"
	"$work/$1/prepare"
	cat >"$work/$1/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
EXPOSE 8080
USER 65534:65534
CMD ["/bin/busybox", "sh", "-c", "$2"]
DOCKERFILE
}
mkapp quick 'exec /bin/busybox httpd -f -p 8080 -h /www'
mkapp slow '/bin/busybox sleep 3; exec /bin/busybox httpd -f -p 8080 -h /www'

cat >"$work/napd.conf" <<CONF
key_prefix = /nap-bench/
plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)
log_level = warning
CONF
"$build/core/napd/napd" --foreground --config "$work/napd.conf" --socket "$sock" 2>"$work/napd.log" &
NAPD_PID=$!
for _ in $(seq 1 200); do
	n=$(napc --json plugins 2>/dev/null | python3 -c 'import json,sys; print(sum(p["state"]=="running" for p in json.load(sys.stdin)))' 2>/dev/null || echo 0)
	[ "$n" = 4 ] && break
	sleep 0.05
done

# --- kill -> replacement ready and announced ---
# One kill per instance: a second kill of the same instance within 10 s
# would meet the crash-loop back-off, which is not what this measures.
kills=${BENCH_KILLS:-10}
napc deploy "$APP" "$work/quick" --instances "$kills" >/dev/null
python3 - "$APP" "$kills" <<'PY'
import base64, json, subprocess, sys, time, urllib.request, statistics
app, kills = sys.argv[1], int(sys.argv[2])
def endpoints():
    k = base64.b64encode(f"/services/{app}/".encode()).decode()
    end = base64.b64encode(f"/services/{app}0".encode()).decode()
    req = urllib.request.Request("http://127.0.0.1:2379/v3/kv/range",
        data=json.dumps({"key": k, "range_end": end}).encode())
    out = json.load(urllib.request.urlopen(req, timeout=2))
    return {e["instance"]: e for e in (json.loads(base64.b64decode(kv["value"])) for kv in out.get("kvs", []))}
heal, start = [], []
for inst in range(1, kills + 1):
    time.sleep(1.0)
    old = endpoints().get(inst)
    if not old:
        sys.exit(f"instance {inst} is not announced")
    cid = subprocess.check_output(["docker", "ps", "-q", "--filter", f"label=nap.app={app}",
                                   "--filter", f"label=nap.instance={inst}"], text=True).split()[0]
    since = time.time()
    t0 = time.monotonic()
    subprocess.check_call(["docker", "kill", cid], stdout=subprocess.DEVNULL)
    while True:
        e = endpoints().get(inst)
        if e and e["port"] != old["port"]:
            break
        if time.monotonic() - t0 > 30:
            sys.exit(f"instance {inst}: no replacement within 30 s")
        time.sleep(0.005)
    heal.append((time.monotonic() - t0) * 1000)
    ev = subprocess.check_output(["docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
        "--filter", f"label=nap.app={app}", "--filter", f"label=nap.instance={inst}",
        "--filter", "event=start", "--format", "{{.TimeNano}}"], text=True).split()
    if ev:
        start.append(int(ev[-1]) / 1e6 - since * 1000)
print(f"heal.kill_to_announced_ms.median: {statistics.median(heal):.1f}")
print(f"heal.kill_to_announced_ms.max: {max(heal):.1f}")
if start:
    print(f"heal.kill_to_replacement_start_ms.median: {statistics.median(start):.1f}")
    print(f"heal.added_by_nap_ms.median: {statistics.median([h - s for h, s in zip(heal, start)]):.1f}")
print(f"heal.kills: {len(heal)}")
PY
napc destroy "$APP" >/dev/null

# --- redeploy of a 3 s slow-start app, 2 instances, under a 20 req/s client ---
napc deploy "$APP-slow" "$work/slow" --instances 2 >/dev/null
fetch_loop_start "$work" 120 "$build/core/napc/napc" "$sock" "$APP-slow"
sleep 1
echo "<p>again</p>" >>"$work/slow/index.html"
t0=$(date +%s.%N)
napc deploy "$APP-slow" "$work/slow" >/dev/null
t1=$(date +%s.%N)
sleep 1
fetch_loop_stop
n=$FETCHED fails=$FETCH_FAILS
echo "heal.slow_redeploy_s: $(awk "BEGIN {printf \"%.2f\", $t1 - $t0}")"
echo "heal.slow_redeploy_requests: $n"
echo "heal.slow_redeploy_failed_requests: $fails"
napc destroy "$APP-slow" >/dev/null

# --- memory with 50 apps reconciled ---
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
orch=$(napc --json plugins | python3 -c 'import json,sys; print([p["pid"] for p in json.load(sys.stdin) if p["name"]=="orchestrator"][0])')
# (wait names its jobs: a bare wait would wait for napd too)
pids=()
for i in $(seq 1 50); do
	napc deploy "$APP-m$i" "$work/quick" >/dev/null 2>&1 &
	pids+=($!)
	if [ $((i % 5)) -eq 0 ]; then
		for p in "${pids[@]}"; do wait "$p" || true; done
		pids=()
	fi
done
echo "heal.apps: $(napc ls | grep -c "^$APP-m" || true)"
echo "heal.napd_rss_kb.start: $(rss "$NAPD_PID")"
echo "heal.orchestrator_rss_kb.start: $(rss "$orch")"
sleep "${BENCH_HEAL_SECONDS:-60}"
echo "heal.napd_rss_kb.end: $(rss "$NAPD_PID")"
echo "heal.orchestrator_rss_kb.end: $(rss "$orch")"
echo "heal.seconds: ${BENCH_HEAL_SECONDS:-60}"
pids=()
for i in $(seq 1 50); do
	napc destroy "$APP-m$i" >/dev/null 2>&1 &
	pids+=($!)
	if [ $((i % 10)) -eq 0 ]; then
		for p in "${pids[@]}"; do wait "$p" || true; done
		pids=()
	fi
done
