#!/bin/bash
# The single-host deploy, end to end, against the real dockerd, registry and
# etcd: napd with the builder, scheduler-local, discovery-etcd and notifier
# plugins, driven by napc. Issue 3's list: deploy and fetch from every
# endpoint, two instances, a redeploy under load without a failed request,
# env and rollback, scale, a broken Dockerfile, bad names, unreachable
# servers, a killed container, napd killed and restarted, destroy.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd notifier
export ETCDCTL_API=3
APP=dep-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
etcd_keys() { etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "$1" | grep -c . || true; }
containers() { docker ps -q --filter "label=nap.app=$1" | grep -c . || true; }
page_ok() { curl -sf --max-time 2 "$1" | grep -q "nap"; }
all_pages_ok() {
	local urls
	urls=$(napc endpoints "$APP") || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do page_ok "$u" || return 1; done
}

# The app: examples/hello with its static busybox copied in.
cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare"

# A webhook receiver for the notifier.
python3 - "$WORK/hooks" <<'PY' &
import http.server, sys, os
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f: f.write(body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(out + ".port", "w").write(str(s.server_address[1]))
s.serve_forever()
PY
HOOK_PID=$!
wait_until 10 test -s "$WORK/hooks.port"
trap 'kill $HOOK_PID 2>/dev/null; stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) >/dev/null 2>&1; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd) $(plugin notifier)" \
	"deploy_timeout = 60" \
	"[plugin notifier]" "webhooks = http://127.0.0.1:$(cat "$WORK/hooks.port")/hook"
ok "napd starts with the four plugins" start_napd
for p in builder scheduler-local discovery-etcd notifier; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

# Names are refused before any work starts, by napc and by napd itself.
for bad in "../x" "a;rm -rf /" "Upper" "$(printf 'a%.0s' $(seq 64))" ""; do
	napc deploy "$bad" "$WORK/hello" >"$WORK/bad.out" 2>&1
	st=$?
	ok "napc refuses the app name '$bad' (exit 2, the rule)" bash -c "[ $st -eq 2 ] && grep -q 'not a valid app name: app names are 1 to 63 characters' '$WORK/bad.out'"
	"$NAP_CALL" -s "$SOCK" -S nap.Control -m 2 "$bad" >"$WORK/bad2.out"
	st=$?
	ok "napd refuses it too (INVALID_ARGUMENT)" bash -c "[ $st -eq 3 ] && grep -q 'not a valid app name' '$WORK/bad2.out'"
done
ok "no work started for a bad name" bash -c "! grep -q 'deploy \.\./x\|deploy Upper' '$WORK/napd.log'"

# Deploy two instances and fetch the page from every endpoint.
napc deploy "$APP" "$WORK/hello" --instances 2 --memory 64M >"$WORK/deploy1.out" 2>&1
ok "deploy succeeds" test $? -eq 0
ok "... printing two endpoints" test "$(grep -c 'http://127.0.0.1:[0-9]* *instance' "$WORK/deploy1.out")" -eq 2
ok "... with build progress piped as plain lines" grep -q "^build: Step 1/" "$WORK/deploy1.out"
ok "every endpoint serves the page" all_pages_ok
ok "each instance has the 64 MiB memory limit" bash -c "for c in \$(docker ps -q --filter label=nap.app=$APP); do [ \$(docker inspect -f '{{.HostConfig.Memory}}' \$c) = 67108864 ] || exit 1; done"
ok "etcd holds both under /services/$APP/" test "$(etcd_keys "/services/$APP/")" -eq 2
ok "each entry is {host, port, instance, release, container_port}" bash -c "etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --print-value-only /services/$APP/ | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line); assert set(d) == {\"host\", \"port\", \"instance\", \"release\", \"container_port\"}, d; assert (d[\"release\"], d[\"container_port\"]) == (1, 8080)'"
ok "napc status --json: release 1, 2 instances, running" bash -c "'$NAPC' --socket '$SOCK' --json status $APP | python3 -c 'import json,sys; d=json.load(sys.stdin); assert (d[\"release\"], d[\"instances\"], d[\"state\"], len(d[\"endpoints\"])) == (1, 2, \"running\", 2), d'"
ok "napc ls lists it" bash -c "'$NAPC' --socket '$SOCK' ls | grep -q '^$APP  *running  *1'"
ok "the webhook heard of the deploy" wait_until 10 bash -c "grep -q '\"app\": *\"$APP\"' '$WORK/hooks' && grep '\"app\": *\"$APP\"' '$WORK/hooks' | grep -q succeeded"

# Redeploy while a client keeps fetching: no request may fail.
fetch_loop_start "$WORK" 300 "$NAPC" "$SOCK" "$APP"
echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
napc deploy "$APP" "$WORK/hello" >"$WORK/deploy2.out" 2>&1
ok "a redeploy succeeds" test $? -eq 0
fetch_loop_stop
ok "no failed request during the redeploy ($FETCHED fetches, $FETCH_FAILS failed)" test "$FETCH_FAILS" -eq 0 -a "$FETCHED" -gt 0
ok "release 2 serves the new page" bash -c "u=\$('$NAPC' --socket '$SOCK' endpoints $APP | head -1); curl -sf \$u | grep -q 'release 2'"
ok "release 1 is gone: 2 containers, 2 entries" wait_until 10 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ] && [ \$(docker ps -q --filter label=nap.app=$APP --filter label=nap.release=1 | wc -l) -eq 0 ]"
ok "... and 2 entries, all release 2" bash -c "[ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --print-value-only /services/$APP/ | grep -c '\"release\":2') -eq 2 ]"

# Environment changes make releases; rollback goes back.
napc env "$APP" 'GREETING=hello; $(id) "quoted"' >"$WORK/env.out" 2>&1
ok "napc env sets a value (new release 3)" bash -c "grep -q 'release 3' '$WORK/env.out'"
cid=$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=3 | head -1)
ok "the container has exactly that value" bash -c "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' $cid | grep -qxF 'GREETING=hello; \$(id) \"quoted\"'"
ok "napc env lists it" bash -c "'$NAPC' --socket '$SOCK' env $APP | grep -qF 'GREETING=hello'"
napc rollback "$APP" >"$WORK/rb.out" 2>&1
ok "napc rollback makes release 4 from release 2" bash -c "grep -q 'release 4' '$WORK/rb.out'"
cid=$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=4 | head -1)
ok "... without GREETING" bash -c "[ -n '$cid' ] && ! docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' $cid | grep -q GREETING"
ok "every endpoint still serves" all_pages_ok

# Scale down and up.
ok "scale to 1" napc scale "$APP" 1
ok "... one container, one entry" bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 1 ] && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 1 ]"
ok "scale to 3" napc scale "$APP" 3
ok "... three containers, three entries, all serving" bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 3 ] && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 3 ]"
ok "... all serving" all_pages_ok

# A broken Dockerfile leaves the previous release serving.
cp -r "$WORK/hello" "$WORK/broken"
sed -i 's|^COPY index.html|COPY missing.html|' "$WORK/broken/Dockerfile"
napc deploy "$APP" "$WORK/broken" >"$WORK/broken.out" 2>&1
st=$?
ok "a failing Dockerfile fails the deploy (exit 1)" test "$st" -eq 1
ok "... naming the stage and the failing step" bash -c "grep -q 'failed at build' '$WORK/broken.out' && grep -qi 'step 3/' '$WORK/broken.out'"
ok "... and saying the previous release keeps serving" grep -q "release 4 keeps serving" "$WORK/broken.out"
ok "release 4 still serves" all_pages_ok
ok "nothing of the failed release runs" test "$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=5 | wc -l)" -eq 0

# A killed container's entry disappears at once.
victim=$(docker ps -q --filter "label=nap.app=$APP" | head -1)
docker kill "$victim" >/dev/null
ok "a killed container's entry leaves etcd" wait_until 3 bash -c "[ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
napc scale "$APP" 2 >/dev/null 2>&1

# napd killed and restarted keeps every app and endpoint.
before=$(napc endpoints "$APP" | sort)
kill -9 "$NAPD_PID"
wait "$NAPD_PID" 2>/dev/null
NAPD_PID=
rm -f "$SOCK"
ok "napd starts again after kill -9" start_napd
ok "... its plugins run" wait_until 20 plugin_is discovery-etcd running
ok "napc ls still knows the app" wait_until 10 bash -c "'$NAPC' --socket '$SOCK' ls | grep -q '^$APP '"
ok "napc endpoints answers as before" wait_until 10 bash -c "[ \"\$('$NAPC' --socket '$SOCK' endpoints $APP | sort)\" = \"$before\" ]"
ok "the app kept serving" all_pages_ok

# Destroy leaves nothing behind.
ok "destroy" napc destroy "$APP"
ok "... no container" test "$(containers "$APP")" -eq 0
ok "... no key under /services/$APP/" test "$(etcd_keys "/services/$APP/")" -eq 0
ok "... no key under ${NAP_KEY_PREFIX}apps/$APP/" test "$(etcd_keys "${NAP_KEY_PREFIX}apps/$APP/")" -eq 0
ok "... no image tag of it left" bash -c "! docker images --format '{{.Repository}}' | grep -qx '127.0.0.1:5000/$APP'"
napc status "$APP" >/dev/null 2>&1
ok "... and napc status says it is gone (exit 1)" test $? -eq 1
stop_napd

# Servers that cannot be reached are named.
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"[plugin builder]" "docker_socket = $WORK/no-docker.sock"
ok "napd starts with a builder pointed at no dockerd" start_napd
wait_until 20 plugin_is builder running
napc deploy "$APP-d" "$WORK/hello" >"$WORK/nodocker.out" 2>&1
ok "deploy fails naming Docker and its socket" bash -c "[ $? -ne 0 ] && grep -q 'Docker at $WORK/no-docker.sock' '$WORK/nodocker.out'"
stop_napd
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"[plugin builder]" "registry = 127.0.0.1:1"
ok "napd starts with a builder pointed at no registry" start_napd
wait_until 20 plugin_is builder running
napc deploy "$APP-r" "$WORK/hello" >"$WORK/noreg.out" 2>&1
ok "deploy fails naming the registry" bash -c "[ $? -ne 0 ] && grep -q '127.0.0.1:1' '$WORK/noreg.out' && grep -qi 'registry' '$WORK/noreg.out'"
stop_napd
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"[plugin discovery-etcd]" "etcd = http://127.0.0.1:1"
ok "napd starts with discovery pointed at no etcd" start_napd
wait_until 20 plugin_is discovery-etcd running
napc deploy "$APP-e" "$WORK/hello" >"$WORK/noetcd.out" 2>&1
ok "deploy fails naming etcd" bash -c "[ $? -ne 0 ] && grep -q 'etcd at http://127.0.0.1:1' '$WORK/noetcd.out'"
ok "no container was left by the failed deploys" test "$(for a in d r e; do docker ps -aq --filter "label=nap.app=$APP-$a"; done | wc -l)" -eq 0

done_testing
