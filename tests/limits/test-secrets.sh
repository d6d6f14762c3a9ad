#!/bin/bash
# Secrets set with `napc deploy --env` and `napc env` reach the containers and
# `napc env APP` (the app owner's view, as `heroku config`), and nothing else:
# not napd's log or its plugins' (at --log-level debug), not deploy progress,
# not error messages, not the notifier's webhook bodies or log lines, not
# `napc status`. Deploy, change env, roll back, fail a deploy on purpose,
# then grep everything captured for the secret.
. "$(dirname "$0")/../integration/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd notifier
APP=sec-$$
SECRET="s3cr3t-$$-$(date +%s%N)-xyzzy"
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
etcd_keys() { etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "$1" | grep -c . || true; }
container_env() { # container_env RELEASE: the env of one container of that release
	local cid
	cid=$(docker ps -q --filter "label=nap.app=$APP" --filter "label=nap.release=$1" | head -1)
	[ -n "$cid" ] && docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$cid"
}
export ETCDCTL_API=3

cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare"
cp -r "$WORK/hello" "$WORK/broken"
sed -i 's|^COPY index.html|COPY missing.html|' "$WORK/broken/Dockerfile"

# A webhook receiver that keeps every body.
python3 - "$WORK/hooks" <<'PY' &
import http.server, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f: f.write(self.path.encode() + b" " + body + b"\n")
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
	"[plugin notifier]" "webhooks = http://127.0.0.1:$(cat "$WORK/hooks.port")/hook" "log = true"
ok "napd starts with the four plugins at --log-level debug" start_napd
for p in builder scheduler-local discovery-etcd notifier; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

# Everything napc prints goes to $WORK/out.* and is searched at the end.
napc deploy "$APP" "$WORK/hello" --env "API_TOKEN=$SECRET" --env PLAIN=visible >"$WORK/out.deploy1" 2>&1
ok "deploy --env succeeds" test $? -eq 0
ok "... the container has the secret" bash -c "$(declare -f container_env); APP=$APP; container_env 1 | grep -qxF 'API_TOKEN=$SECRET'"
napc env "$APP" "DB_PASSWORD=$SECRET-db" >"$WORK/out.env1" 2>&1
ok "napc env sets a second secret (release 2)" grep -q "release 2" "$WORK/out.env1"
ok "... the container has it" bash -c "$(declare -f container_env); APP=$APP; container_env 2 | grep -qxF 'DB_PASSWORD=$SECRET-db'"
napc status "$APP" >"$WORK/out.status" 2>&1
ok "napc status shows the keys" bash -c "grep -q 'API_TOKEN' '$WORK/out.status' && grep -q 'DB_PASSWORD' '$WORK/out.status'"
napc --json status "$APP" >"$WORK/out.status-json" 2>&1
ok "napc --json status lists keys only" python3 -c "import json; d=json.load(open('$WORK/out.status-json')); assert sorted(d['env']) == ['API_TOKEN', 'DB_PASSWORD', 'PLAIN'], d['env']"
ok "napc ls answers" bash -c "'$NAPC' --socket '$SOCK' ls >'$WORK/out.ls' 2>&1 && '$NAPC' --socket '$SOCK' --json ls >>'$WORK/out.ls' 2>&1"
ok "napc env APP shows the owner the values" bash -c "'$NAPC' --socket '$SOCK' env $APP | grep -qxF 'API_TOKEN=$SECRET'"
napc rollback "$APP" >"$WORK/out.rollback" 2>&1
ok "rollback makes release 3 from release 1" grep -q "release 3" "$WORK/out.rollback"
napc scale "$APP" 2 >"$WORK/out.scale" 2>&1
ok "scale to 2" test $? -eq 0
napc deploy "$APP" "$WORK/broken" --env "BROKEN_TOKEN=$SECRET-broken" >"$WORK/out.broken" 2>&1
ok "a deploy that fails on purpose fails (exit 1)" test $? -eq 1
napc env "$APP" "BIG=$SECRET$(head -c 40000 /dev/zero | tr '\0' x)" >"$WORK/out.big" 2>&1
ok "a value past the limit is refused by napc (exit 2), without echoing it" bash -c "[ $? -eq 2 ] && grep -q 'the limit is 32768' '$WORK/out.big'"
napc env "$APP" "bad key=$SECRET" >"$WORK/out.badkey" 2>&1
ok "a bad key is refused (exit 2)" test $? -eq 2
napc env "$APP" "=$SECRET" >"$WORK/out.noname" 2>&1
ok "a setting without a name is refused (exit 2)" test $? -eq 2
lcall() { "$top_builddir/tests/limits/limits-call" "$SOCK" "$@"; }
lcall SetEnv app="$APP" env-name="TOKEN=$SECRET" >"$WORK/out.raw-eq" 2>&1
ok "napd refuses a name holding KEY=VALUE without repeating it" grep -q "INVALID_ARGUMENT an environment variable name contains '='" "$WORK/out.raw-eq"
napc env "$APP" --unset DB_PASSWORD >"$WORK/out.unset" 2>&1
ok "unset works" grep -q "release 4" "$WORK/out.unset"
ok "the webhook heard of every operation" wait_until 15 bash -c "[ \$(grep -c '\"app\": *\"$APP\"' '$WORK/hooks') -ge 5 ]"
ok "the log notifier logged them" wait_until 15 grep -q "notifier.*$APP" "$WORK/napd.log"
ok "destroy" napc destroy "$APP"
stop_napd

hits() { grep -rlF -- "$SECRET" "$@" 2>/dev/null | sed "s|$WORK/||"; }
ok "the secret is nowhere in napd's log or its plugins' (debug level)" test -z "$(hits "$WORK/napd.log")"
ok "... nor in any webhook body" test -z "$(hits "$WORK/hooks")"
ok "... nor in anything napc printed but 'napc env APP'" test -z "$(hits "$WORK"/out.*)"
ok "the log was at debug level and saw the operations" bash -c "grep -q 'debug' '$WORK/napd.log' && grep -q 'env $APP' '$WORK/napd.log'"
ok "nothing left in etcd" test "$(etcd_keys "/services/$APP/")$(etcd_keys "${NAP_KEY_PREFIX}apps/$APP/")" = 00

done_testing
