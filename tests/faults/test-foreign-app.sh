#!/bin/bash
# Several napds may share one etcd (one per host; the tests' many). Each
# app record names the napd whose orchestrator keeps it ("napd"), and each
# orchestrator reconciles, lists and changes only its own apps: another
# napd's app is left exactly as it is (no container started for it, its
# record untouched), and an operation on it is refused naming that napd. A
# record that names no napd (written by nap 0.1) is adopted by the napd
# whose scheduler runs its instances, or by the first operation on it.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
APP=fforeign-$$
trap 'stop_napd; scrub_app $APP; scrub_app $APP-old; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
prepare_hello

OTHER="elsewhere:/run/other-napd.sock"
RECORD="{\"app\":\"$APP\",\"napd\":\"$OTHER\",\"release\":1,\"state\":\"running\",\"instances\":2,\"slots\":[1,2],\"releases\":[{\"release\":1,\"image\":\"127.0.0.1:5000/$APP:1\",\"env\":{},\"created\":1}]}"
ok "another napd's running app is in etcd" etcdctl --endpoints="$ETCD" put "${NAP_KEY_PREFIX}apps/$APP/app" "$RECORD"

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)"
ok "napd starts" start_napd
plugins_run() { plugin_is orchestrator running && plugin_is scheduler-local running && plugin_is discovery-etcd running; }
ok "its plugins run" wait_until 30 plugins_run
# Give the reconciler time to (wrongly) act before looking.
sleep 2
ok "no container is started for it" test "$(docker ps -aq --filter "label=nap.app=$APP" | wc -l)" -eq 0
ok "... its record is untouched" bash -c "[ '$(etcdctl --endpoints="$ETCD" get --print-value-only "${NAP_KEY_PREFIX}apps/$APP/app")' = '$RECORD' ]"
ok "... and napc ls does not list it" bash -c "! '$NAPC' --socket '$SOCK' ls | grep -q '^$APP '"

napc deploy "$APP" "$WORK/hello" >"$WORK/refused.out" 2>&1
ok "a deploy of that app is refused (exit 1)" test $? -eq 1
ok "... naming the other napd" grep -qF "app $APP belongs to the napd at $OTHER" "$WORK/refused.out"
napc scale "$APP" 3 >"$WORK/scale.out" 2>&1
ok "so is a scale" grep -qF "belongs to the napd at $OTHER" "$WORK/scale.out"
ok "... and the record is still untouched" bash -c "[ '$(etcdctl --endpoints="$ETCD" get --print-value-only "${NAP_KEY_PREFIX}apps/$APP/app")' = '$RECORD' ]"

# A record without an owner (nap 0.1) is adopted: a deploy works on it.
etcdctl --endpoints="$ETCD" del "${NAP_KEY_PREFIX}apps/$APP/app" >/dev/null
ok "with the other napd's app destroyed, the name is free here" napc deploy "$APP" "$WORK/hello"
ok "... the record names this napd" bash -c "etcdctl --endpoints='$ETCD' get --print-value-only ${NAP_KEY_PREFIX}apps/$APP/app | grep -qF '\"napd\":\"$(napd_id)\"'"
ok "... and the app serves" serves "$APP"
napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no entry and no record" bash -c "[ $(etcd_count "/services/$APP/") -eq 0 ] && [ \$(etcdctl --endpoints='$ETCD' get --prefix --keys-only ${NAP_KEY_PREFIX}apps/$APP/ | grep -c .) -eq 0 ]"
done_testing
