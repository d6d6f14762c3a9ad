#!/bin/bash
# Apps that stay up, against the real dockerd, registry and etcd: an
# instance is announced only once ready, a redeploy of a slow-starting app
# drops no request, a killed instance is replaced, a release that exits at
# once or never gets ready fails at "ready" with the previous one serving, a
# crash loop backs off, a cancelled deploy or an expired scale leaves what
# the docs say, stop means stopped, and a napd that was down heals what died
# meanwhile.
. "$(dirname "$0")/../integration/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
export ETCDCTL_API=3
APP=heal-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "/services/$1/" | grep -c . || true; }
containers() { docker ps -q --filter "label=nap.app=$1" "${@:2}" | grep -c . || true; }
all_containers() { docker ps -aq --filter "label=nap.app=$1" | grep -c . || true; }
status_json() { napc --json status "$APP"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# mkapp DIR SCRIPT: examples/hello whose container runs SCRIPT with busybox sh.
mkapp() {
	cp -r "$top_srcdir/examples/hello" "$WORK/$1"
	chmod -R u+w "$WORK/$1"
	"$WORK/$1/prepare"
	cat >"$WORK/$1/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
EXPOSE 8080
USER 65534:65534
CMD ["/bin/busybox", "sh", "-c", "$2"]
DOCKERFILE
}
SERVE='exec /bin/busybox httpd -f -p 8080 -h /www'
mkapp slow "/bin/busybox sleep 3; $SERVE"
mkapp quick "$SERVE"
mkapp dies "exit 7"
mkapp flaky "/bin/busybox httpd -p 8080 -h /www; /bin/busybox sleep 1; exit 3"
# A worker: no EXPOSE, no port, just a loop.
mkapp worker "while true; do /bin/busybox sleep 1; done"
sed -i '/^EXPOSE/d' "$WORK/worker/Dockerfile"
# A Dockerfile HEALTHCHECK that never passes: its port answers, Docker says
# unhealthy.
mkapp sick "$SERVE"
sed -i 's|^CMD|HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/no-such-page"]\nCMD|' "$WORK/sick/Dockerfile"

trap 'stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) $(docker ps -aq --filter label=nap.app=$APP-w) >/dev/null 2>&1; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60" \
	"[plugin orchestrator]" "ready_timeout = 12" "backoff_ms = 500" "backoff_max_ms = 4000"
ok "napd starts with the orchestrator" start_napd
for p in orchestrator builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

# --- readiness: a slow app is announced only once it listens
t0=$(date +%s%N)
napc deploy "$APP" "$WORK/slow" --instances 2 >"$WORK/d1.out" 2>&1
st=$?
took=$((($(date +%s%N) - t0) / 1000000))
ok "a slow-starting app deploys" test $st -eq 0
ok "... only once it listens (took $took ms, it sleeps 3 s)" test $took -ge 3000
fetch_all() {
	local u
	for u in $(napc endpoints "$APP"); do curl -sf --max-time 2 "$u" >/dev/null || return 1; done
}
# The checks below run napc and fetch_all in bash -c.
export NAPC SOCK APP
export -f napc fetch_all
ok "... and every endpoint serves at once" fetch_all
ok "status: running, 2 of 2 ready" bash -c "napc status $APP | grep -q '^$APP: running' && [ \$(napc --json status $APP | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"ready\"])') = 2 ]"

# --- a redeploy of the slow app under a client that looks up and fetches every 50 ms
fetch_loop_start "$WORK" 90 "$NAPC" "$SOCK" "$APP"
sleep 0.5
echo "<p>nap release 2</p>" >>"$WORK/slow/index.html"
napc deploy "$APP" "$WORK/slow" >"$WORK/d2.out" 2>&1
ok "a redeploy of the slow app succeeds" test $? -eq 0
sleep 0.5
fetch_loop_stop
ok "... with no failed request ($FETCH_FAILS of $FETCHED failed)" test "$FETCH_FAILS" -eq 0 -a "$FETCHED" -ge 20
ok "... and the old release is gone: 2 containers, 2 keys" wait_until 20 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ] && [ $(keys "$APP") -eq 2 ]"

# --- a killed instance is replaced and announced again
cid=$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.instance=$(napc --json status $APP | python3 -c 'import json,sys; print(json.load(sys.stdin)["instance_states"][0]["instance"])') | head -1)
inst=$(docker inspect -f '{{index .Config.Labels "nap.instance"}}' "$cid")
docker kill "$cid" >/dev/null
ok "a killed instance leaves discovery at once" wait_until 2 bash -c "[ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 1 ]"
ok "... is replaced by a new container" wait_until 20 bash -c "docker ps -q --filter label=nap.app=$APP --filter label=nap.instance=$inst | grep -v $cid | grep -q ."
ok "... which is announced again once ready" wait_until 20 bash -c "[ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "... and status shows the restart and exit 137" bash -c "napc --json status $APP | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = [x for x in d[\"instance_states\"] if x[\"instance\"] == $inst][0]
assert i[\"restarts\"] == 1 and i[\"last_exit_code\"] == 137 and i[\"state\"] == \"ready\", i
assert d[\"state\"] == \"running\"'"
ok "every endpoint serves" fetch_all

# --- a release that exits at once fails at "ready", the previous one serves
serving=$(napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')
t0=$(date +%s%N)
napc deploy "$APP" "$WORK/dies" >"$WORK/dies.out" 2>&1
st=$?
took=$((($(date +%s%N) - t0) / 1000000))
ok "a release that exits at once fails (exit 1, $took ms)" test $st -eq 1 -a $took -lt 12000
ok "... at ready, naming the exit code and the release that serves" bash -c "grep -q 'failed at ready' '$WORK/dies.out' && grep -q 'exited with code 7' '$WORK/dies.out' && grep -q 'release $serving keeps serving' '$WORK/dies.out'"
ok "... leaves no container of it" wait_until 20 bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP --filter label=nap.release=$((serving + 1)) | wc -l) -eq 0 ]"
ok "... and release $serving serves, running" bash -c "napc status $APP | grep -q '^$APP: running, release $serving' && fetch_all"

# --- an HTTP check that never passes fails at "ready" within the ready timeout
napc deploy "$APP" "$WORK/quick" --check-http /nothing-here >"$WORK/http.out" 2>&1
ok "a release whose check path answers 404 fails at ready" bash -c "grep -q 'failed at ready' '$WORK/http.out' && grep -q 'GET /nothing-here answered 404' '$WORK/http.out'"
ok "napc check sets the path kept with the app" napc check "$APP" --http /index.html
ok "... status shows it" bash -c "napc status $APP | grep -q 'check /index.html'"
ok "a deploy with the working path succeeds" napc deploy "$APP" "$WORK/quick"

# --- a Dockerfile HEALTHCHECK is honoured: unhealthy never gets ready
napc deploy "$APP" "$WORK/sick" >"$WORK/sick.out" 2>&1
ok "a release whose HEALTHCHECK fails fails at ready, naming it" bash -c "grep -q 'failed at ready' '$WORK/sick.out' && grep -q \"HEALTHCHECK says\" '$WORK/sick.out'"
ok "... the release before serves" fetch_all

# --- a cancelled deploy (napc interrupted while the new release starts)
serving=$(napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')
napc check "$APP" --tcp >/dev/null
"$NAPC" --socket "$SOCK" deploy "$APP" "$WORK/slow" >"$WORK/cancel.out" 2>&1 &
DEP=$!
wait_until 30 grep -q 'starting' "$WORK/cancel.out"
kill -TERM $DEP # (a background job ignores SIGINT; Ctrl-C ends napc the same way)
wait $DEP
ok "an interrupted deploy leaves release $serving serving" wait_until 20 bash -c "napc status $APP | grep -q '^$APP: running, release $serving'"
ok "... and nothing of the cancelled release" wait_until 20 bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP --filter label=nap.release=$((serving + 1)) | wc -l) -eq 0 ]"
ok "... 2 keys, all release $serving" bash -c "[ $(keys $APP) -eq 2 ] && ! etcdctl --endpoints=http://127.0.0.1:2379 get --prefix /services/$APP/ --print-value-only | grep -v '\"release\":$serving'"

# --- a scale whose caller gives up still converges (documented)
napc deploy "$APP" "$WORK/slow" >/dev/null 2>&1
t0=$(date +%s%N)
napc --timeout 1 scale "$APP" 3 >"$WORK/scale.out" 2>&1
st=$?
took=$((($(date +%s%N) - t0) / 1000000))
ok "scale with a 1 s timeout ends DEADLINE_EXCEEDED within 2 s ($took ms)" bash -c "[ $st -ne 0 ] && [ $took -lt 2000 ] && grep -q DEADLINE_EXCEEDED '$WORK/scale.out'"
ok "... and the app still converges to 3 ready" wait_until 20 bash -c "napc status $APP | grep -q '^$APP: running, release .*, 3 instances' && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 3 ]"
napc scale "$APP" 1 >/dev/null

# --- a crash loop backs off
napc deploy "$APP" "$WORK/flaky" >"$WORK/flaky.out" 2>&1
ok "a release that serves for 1 s deploys" test $? -eq 0
since=$(date +%s)
sleep 12
starts=$(docker events --since "$since" --until "$(date +%s)" --filter "label=nap.app=$APP" --filter event=start --format '{{.ID}}' | wc -l)
# Back-off 500 ms doubling to 4 s (and ~1 s of life each): at most 7 starts
# in 12 s; at least 2 even when Docker takes seconds to start a container.
ok "... and then crash-loops with back-off ($starts starts in 12 s)" test "$starts" -ge 2 -a "$starts" -le 7
ok "... status shows it restarting or crashed, restarts counted, app not running" bash -c "napc --json status $APP | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = d[\"instance_states\"][0]
assert i[\"restarts\"] >= 2 and i[\"last_exit_code\"] == 3, i
assert d[\"state\"] != \"running\" or i[\"state\"] == \"ready\", d[\"state\"]'"
wait_until 10 bash -c "napc status $APP | grep -q restarting" 
ok "... with the back-off in napc status" bash -c "napc status $APP | grep -q 'back-off: starts again in'"
napc deploy "$APP" "$WORK/quick" >/dev/null 2>&1

# --- stop means stopped; start brings it back
ok "stop" napc stop "$APP"
ok "... no container left (none for docker start to revive), no key" bash -c "[ $(all_containers $APP) -eq 0 ] && [ $(keys $APP) -eq 0 ]"
ok "... status says stopped" bash -c "napc status $APP | grep -q '^$APP: stopped'"
ok "start" napc start "$APP"
ok "... serves again" fetch_all

# --- what died while napd was down comes back without a user command
kill -9 "$NAPD_PID"
wait "$NAPD_PID" 2>/dev/null
NAPD_PID=
rm -f "$SOCK"
docker kill $(docker ps -q --filter "label=nap.app=$APP") >/dev/null
ok "napd starts again" start_napd
ok "... and the instance killed meanwhile is back and announced" wait_until 30 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 1 ] && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 1 ]"
ok "... serving" wait_until 10 fetch_all

# --- a worker (no port) deploys, runs, heals and scales with no endpoint
W=$APP-w
ok "a worker without EXPOSE deploys" napc deploy "$W" "$WORK/worker" --instances 2
ok "... status: running, 2 ready, no endpoint" bash -c "napc status $W | grep -q '^$W: running' && [ -z \"\$(napc endpoints $W)\" ] && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$W/ | grep -c .) -eq 0 ]"
wcid=$(docker ps -q --filter "label=nap.app=$W" | head -1)
docker kill "$wcid" >/dev/null
ok "... a killed worker is replaced" wait_until 20 bash -c "[ \$(docker ps -q --filter label=nap.app=$W | grep -v $wcid | wc -l) -eq 2 ] && napc status $W | grep -q '^$W: running'"
ok "... and scales" napc scale "$W" 3
ok "... 3 containers" test "$(docker ps -q --filter "label=nap.app=$W" | wc -l)" -eq 3
ok "... destroy" napc destroy "$W"

ok "destroy" napc destroy "$APP"
ok "... leaves nothing" bash -c "[ $(all_containers $APP) -eq 0 ] && [ $(keys $APP) -eq 0 ]"
done_testing
