#!/bin/bash
# Several schedulers in one napd: scheduler-local and scheduler-fleet (the
# fleet test server) side by side. An app runs on the first one listed
# unless `napc deploy --scheduler PLUGIN` names another; moving it is a
# redeploy, and a client that looks the endpoints up and fetches every 50 ms
# sees no failed request while it moves there and back. A scheduler that
# does not run is refused before any build.
. "$(dirname "$0")/../integration/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local scheduler-fleet discovery-etcd
SRC=$(cd "$top_srcdir" && pwd)
SERVER="$SRC/tests/fleet/fleet-test-server.py"
APP=ftwo-$$
FLEETSOCK="$WORK/fleet.sock"
FLEET_PID=
export ETCDCTL_API=3
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "/services/$APP/" | grep -c . || true; }
fleet_units() {
	curl -sf --max-time 5 --unix-socket "$FLEETSOCK" http://fleet/fleet/v1/units |
		python3 -c 'import json,sys; print(sum(u["name"].startswith("nap-"+sys.argv[1]+"@") for u in json.load(sys.stdin).get("units", [])))' "$APP"
}
sched_of() { napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scheduler"])' 2>&1; }
# The checks below run napc in bash -c.
export NAPC SOCK APP
export -f napc
cleanup() {
	[ -n "${FETCH_PID:-}" ] && kill "$FETCH_PID" 2>/dev/null
	stop_napd
	[ -n "$FLEET_PID" ] && kill "$FLEET_PID" 2>/dev/null && wait "$FLEET_PID" 2>/dev/null
	docker rm -f $(docker ps -aq --filter "label=nap.app=$APP") >/dev/null 2>&1
	etcdctl --endpoints=http://127.0.0.1:2379 del --prefix "/services/$APP/" >/dev/null 2>&1
	etcdctl --endpoints=http://127.0.0.1:2379 del --prefix "${NAP_KEY_PREFIX}apps/$APP/" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

cp -R "$SRC/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare"
python3 "$SERVER" --listen "unix://$FLEETSOCK" --machines "m1:role=web m2:role=web" \
	--state-dir "$WORK/fleet-state" >"$WORK/fleet.out" 2>"$WORK/fleet.err" &
FLEET_PID=$!
ok "the fleet test server starts" wait_until 15 grep -q '^listening on' "$WORK/fleet.out"
write_config \
	"plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin scheduler-fleet) $(plugin discovery-etcd)" \
	"deploy_timeout = 120" \
	"[plugin scheduler-fleet]" "endpoint = unix://$FLEETSOCK" \
	"etcd = http://127.0.0.1:2379" "host = 127.0.0.1" "docker = $(command -v docker)" \
	"announce = $SRC/plugins/scheduler-fleet/nap-fleet-announce" \
	"start_timeout = 90" "stop_timeout = 30"
ok "napd starts with both schedulers" start_napd
for p in orchestrator scheduler-local scheduler-fleet discovery-etcd; do
	ok "$p runs" wait_until 30 plugin_is "$p" running
done

ok "an app deploys on the first scheduler listed" napc deploy "$APP" "$WORK/hello" --instances 2
s=$(sched_of)
ok "... status names it: scheduler-local ($s)" test "$s" = scheduler-local

napc deploy "$APP" "$WORK/hello" --scheduler nosuch >"$WORK/nosuch.out" 2>&1
ok "a scheduler napd does not run is refused, naming the ones it runs" \
	bash -c "grep -q \"no scheduler plugin 'nosuch' runs in this napd (it runs: scheduler-local, scheduler-fleet)\" '$WORK/nosuch.out'"

fetch_loop_start "$WORK" 240 "$NAPC" "$SOCK" "$APP"
ok "the app moves to fleet (a redeploy naming it)" napc deploy "$APP" "$WORK/hello" --scheduler scheduler-fleet
s=$(sched_of)
ok "... status names scheduler-fleet ($s)" test "$s" = scheduler-fleet
ok "... fleet runs two unit pairs, no container of scheduler-local is left" \
	wait_until 30 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP --filter label=nap.napd | wc -l) -eq 0 ] && [ \$(curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | python3 -c 'import json,sys; print(sum(u[\"name\"].startswith(\"nap-$APP@\") for u in json.load(sys.stdin).get(\"units\", [])))') -eq 4 ]"
ok "... two entries" wait_until 20 bash -c "[ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "a redeploy keeps it on fleet" napc deploy "$APP" "$WORK/hello"
s=$(sched_of)
ok "... status still names scheduler-fleet ($s)" test "$s" = scheduler-fleet
ok "and it moves back to this host" napc deploy "$APP" "$WORK/hello" --scheduler scheduler-local
ok "... no unit of it left in fleet" wait_until 60 bash -c "[ \$(curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | python3 -c 'import json,sys; print(sum(u[\"name\"].startswith(\"nap-$APP@\") for u in json.load(sys.stdin).get(\"units\", [])))') -eq 0 ]"
sleep 1
fetch_loop_stop
ok "no failed request while it moved there and back ($FETCH_FAILS of $FETCHED)" test "$FETCH_FAILS" -eq 0 -a "$FETCHED" -ge 20

# Placement constraints, kept with the app and passed to the scheduler.
napc deploy "$APP" "$WORK/hello" --constraint zone==a >"$WORK/local-cons.out" 2>&1
ok "scheduler-local refuses a placement constraint, saying which schedulers can" \
	grep -q "placement constraints (zone==a...) need a scheduler of several machines" "$WORK/local-cons.out"
ok "... and the release before keeps serving" bash -c "napc status $APP | grep -q '^$APP: running'"
ok "on fleet, a constraint its machines meet (role=web) is kept with the app" \
	napc deploy "$APP" "$WORK/hello" --scheduler scheduler-fleet --constraint role=web
ok "... status shows it" bash -c "napc status $APP | grep -q '^  constraint role=web'"
napc deploy "$APP" "$WORK/hello" --constraint role=db >"$WORK/fleet-cons.out" 2>&1
ok "a constraint no machine meets fails, naming it, the release before serving" \
	bash -c "grep -q 'failed at schedule' '$WORK/fleet-cons.out' && grep -q 'role=db' '$WORK/fleet-cons.out' && grep -q 'keeps serving' '$WORK/fleet-cons.out'"
ok "--constraint none clears them" napc deploy "$APP" "$WORK/hello" --constraint none
ok "... status shows none" bash -c "! napc status $APP | grep -q '^  constraint'"

ok "destroy" napc destroy "$APP"
ok "... leaves no container, unit or key" wait_until 20 bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ] && [ \$(etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /services/$APP/ | grep -c .) -eq 0 ] && [ \$(curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get(\"units\", [])))') -eq 0 ]"
done_testing
