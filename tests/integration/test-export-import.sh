#!/bin/bash
# napc export / napc import against the real dockerd, registry and etcd:
# export two apps (one running with env, memory and a check, one stopped),
# lose everything nap had of them (etcd's records under this test's prefix,
# endpoints, containers: as after losing etcd's data and a host reboot),
# import the export, and the running one serves again as it was, the
# stopped one stays stopped. An import naming an app that exists changes
# nothing unless --force; one naming a release whose image is gone says so.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
export ETCDCTL_API=3
ETCD=http://127.0.0.1:2379
WEB=exw-$$
OFF=exo-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { etcdctl --endpoints=$ETCD get --prefix --keys-only "$1" | grep -c . || true; }
running() { docker ps -q --filter "label=nap.app=$1" | grep -c . || true; }
field() { napc --json status "$1" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"; }
serves() {
	local urls u
	urls=$(napc endpoints "$WEB") || return 1
	[ "$(echo "$urls" | grep -c .)" -eq 2 ] || return 1
	for u in $urls; do curl -sf --max-time 2 "$u" | grep -q nap || return 1; done
}
lose_everything() { # what a user has after etcd lost its data and the host rebooted
	local app ids
	for app in "$WEB" "$OFF"; do
		ids=$(docker ps -aq --filter "label=nap.app=$app")
		[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
		etcdctl --endpoints=$ETCD del --prefix "/services/$app/" >/dev/null
	done
	etcdctl --endpoints=$ETCD del --prefix "$NAP_KEY_PREFIX" >/dev/null
}
cleanup() {
	stop_napd
	lose_everything 2>/dev/null
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

copy_hello
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60"
ok "napd starts" start_napd

ok "deploy $WEB: 2 instances, env, memory, an HTTP check" napc deploy "$WEB" "$WORK/hello" --instances 2 --env GREETING=hi --memory 64M --check-http /index.html
ok "deploy $OFF, then stop it" bash -c "'$NAPC' --socket '$SOCK' deploy $OFF '$WORK/hello' >/dev/null && '$NAPC' --socket '$SOCK' stop $OFF >/dev/null"

napc export >"$WORK/apps.json" 2>"$WORK/export.err"
ok "napc export writes one JSON document" test $? -eq 0
ok "... with both apps, their releases, env, instances, memory, check and state" python3 - "$WORK/apps.json" "$WEB" "$OFF" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["nap_export"] == 1, doc
apps = {a["app"]: a for a in doc["apps"]}
web, off = apps[sys.argv[2]], apps[sys.argv[3]]
assert web["instances"] == 2 and web["state"] == "running", web
assert web["memory"] == 64 << 20, web
assert web["check"]["http_path"] == "/index.html", web
assert web["releases"][-1]["env"] == {"GREETING": "hi"}, web
assert web["releases"][-1]["image"].endswith("/%s:1" % sys.argv[2]), web
assert off["state"] == "stopped", off
PY

napc import "$WORK/apps.json" >"$WORK/exists.out" 2>&1
st=$?
ok "import over existing apps changes nothing and fails (exit 1), naming them" bash -c "[ $st -eq 1 ] && grep -q 'nothing imported: .*$WEB' '$WORK/exists.out' && grep -q -- '--force' '$WORK/exists.out'"
echo '{"apps": 3}' | napc import - >"$WORK/bad.out" 2>&1
ok "a document that is not an export is refused in one line" bash -c "grep -q 'not a napc export' '$WORK/bad.out' && [ \$(wc -l <'$WORK/bad.out') -eq 1 ]"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["apps"][0]["releases"][0]["image"]="x y; rm -rf /"; print(json.dumps(d))' "$WORK/apps.json" >"$WORK/odd.json"
napc import --force "$WORK/odd.json" >"$WORK/odd.out" 2>&1
st=$?
ok "an odd image reference is refused before anything changes (exit 2)" bash -c "[ $st -eq 2 ] && grep -q 'has no release number, image reference or env object' '$WORK/odd.out'"

stop_napd
lose_everything
ok "etcd lost the records (this test's prefix) and the containers are gone" bash -c "[ $(keys "$NAP_KEY_PREFIX") -eq 0 ] && [ $(running "$WEB") -eq 0 ]"
ok "napd starts again" start_napd
napc ls >"$WORK/ls.out" 2>&1
ok "... and knows no app" bash -c "! grep -q '$WEB' '$WORK/ls.out'"

napc import <"$WORK/apps.json" >"$WORK/import.out" 2>&1
st=$?
sed 's/^/#   /' "$WORK/import.out"
ok "napc import (from stdin) restores both" bash -c "[ $st -eq 0 ] && grep -q '^$WEB imported (release 1)' '$WORK/import.out' && grep -q '^$OFF imported' '$WORK/import.out'"
ok "$WEB serves again, on 2 instances" wait_until 60 serves
ok "... with its env, memory and check" bash -c "[ \"\$('$NAPC' --socket '$SOCK' env $WEB)\" = 'GREETING=hi' ] && [ \$(docker inspect -f '{{.HostConfig.Memory}}' \$(docker ps -q --filter label=nap.app=$WEB | head -1)) -eq $((64 << 20)) ] && '$NAPC' --socket '$SOCK' status $WEB | grep -q 'check /index.html'"
ok "... its record names this napd" bash -c "etcdctl --endpoints=$ETCD get --print-value-only ${NAP_KEY_PREFIX}apps/$WEB/app | grep -qF '\"napd\":\"$(napd_id)\"'"
ok "$OFF is back, stopped, with no container" bash -c "[ \"\$('$NAPC' --socket '$SOCK' --json status $OFF | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = stopped ] && [ $(running "$OFF") -eq 0 ]"

# A release whose image is gone: the document names release 7 of $WEB.
python3 - "$WORK/apps.json" "$WEB" >"$WORK/missing.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for a in doc["apps"]:
    if a["app"] == sys.argv[2]:
        gone = dict(a["releases"][-1], release=7)
        gone["image"] = gone["image"].rsplit(":", 1)[0] + ":7"
        a["releases"].insert(0, gone)
print(json.dumps(doc))
PY
napc import --force "$WORK/missing.json" >"$WORK/force.out" 2>&1
st=$?
sed 's/^/#   /' "$WORK/force.out"
ok "import --force replaces the records and says which image is missing" bash -c "[ $st -eq 0 ] && grep -q '^$WEB imported (release 1), its record replaced' '$WORK/force.out' && grep -q \"release 7's image is not in the registry: no rollback to it\" '$WORK/force.out'"
ok "... and $WEB keeps serving" wait_until 20 serves

# etcd alone loses its data (the containers live on) and napd restarts: the
# import adopts the instances that run instead of starting others.
ids_before=$(docker ps -q --filter "label=nap.app=$WEB" | sort | tr '\n' ' ')
stop_napd
etcdctl --endpoints=$ETCD del --prefix "$NAP_KEY_PREFIX" >/dev/null
etcdctl --endpoints=$ETCD del --prefix "/services/$WEB/" >/dev/null
ok "napd restarts without records" start_napd
ok "napc import restores them" napc import "$WORK/apps.json"
ok "$WEB serves again" wait_until 30 serves
ok "... from the same containers ($ids_before)" test "$(docker ps -q --filter "label=nap.app=$WEB" | sort | tr '\n' ' ')" = "$ids_before"

ok "destroy both" bash -c "'$NAPC' --socket '$SOCK' destroy $WEB && '$NAPC' --socket '$SOCK' destroy $OFF"

done_testing
