#!/bin/bash
# dockerd restarted while an app runs (a SERIAL test: it restarts the
# dockerd every test shares, so `make check-serial` runs it alone). dockerd
# runs with live-restore (scripts/servers starts it so): the containers
# keep running while it is down. One of the two instances dies while
# dockerd is down; once it is back, discovery-etcd follows Docker's events
# again and withdraws it, and the orchestrator replaces it: two instances
# announced and serving, without a user command. Then dockerd restarts
# without live-restore, as on a host reboot: every container dies with it,
# and every instance comes back by itself.
. "$(dirname "$0")/lib.sh"

SERVERS="$top_srcdir/scripts/servers"
if [ "${NAP_SERIAL:-}" != 1 ]; then
	echo "SKIP: this test restarts the shared dockerd: run it alone with 'make check-serial'" >&2
	exit 77
fi
need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
if ! "$SERVERS" status dockerd | grep -q "started by scripts/servers"; then
	echo "SKIP: dockerd was not started by scripts/servers: this test does not restart it" >&2
	exit 77
fi
if [ "$(docker info -f '{{.LiveRestoreEnabled}}')" != true ]; then
	echo "SKIP: dockerd runs without live-restore; restart it with 'scripts/servers restart dockerd'" >&2
	exit 77
fi
APP=fdocker-$$
trap 'docker_up || "$SERVERS" start dockerd >/dev/null; stop_napd; scrub_app $APP; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

prepare_hello
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 120"
ok "napd starts" start_napd
ok "its plugins run" wait_until 30 plugin_is discovery-etcd running
napc deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy1.out" 2>&1
ok "the app deploys with two instances" test $? -eq 0
ok "... both announced" consistent "$APP" 2
pid1=$(docker inspect -f '{{.State.Pid}}' "$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.instance=1)")
pid2=$(docker inspect -f '{{.State.Pid}}' "$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.instance=2)")
url1=$(napc --json endpoints "$APP" | python3 -c 'import json,sys; print([e["url"] for e in json.load(sys.stdin) if e["instance"] == 1][0])')

from=$(($(wc -l <"$WORK/napd.log") + 1))
ok "dockerd stops" "$SERVERS" stop dockerd
ok "... the containers keep running (live-restore)" kill -0 "$pid1"
kill -9 "$pid2"
ok "instance 2 is killed while dockerd is down" wait_until 10 bash -c "! kill -0 $pid2"
# Its port is forwarded by dockerd's docker-proxy, which does not survive
# dockerd: whether it answers meanwhile is Docker's business, not nap's.
if page_ok "$url1"; then echo "# the living instance answered while dockerd was down"; else echo "# the living instance's port did not answer while dockerd was down (docker-proxy)"; fi
ok "dockerd starts again" "$SERVERS" start dockerd
ok "discovery-etcd follows Docker's events again" \
	wait_until 60 bash -c "tail -n +$from '$WORK/napd.log' | grep -q \"following Docker's events again\""
ok "the dead instance is replaced and both are announced again" \
	wait_until 60 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ] && [ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ]"
ok "napc endpoints still lists the living one" bash -c "'$NAPC' --socket '$SOCK' endpoints $APP | grep -qx '$url1'"
ok "... which serves" page_ok "$url1"
"$NAPC" --socket "$SOCK" --json status "$APP" >"$WORK/status13.json" 2>&1
ok "status counts the restart of instance 2" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [i for i in d["instance_states"] if i["instance"] == 2][0]["restarts"] >= 1, d' "$WORK/status13.json"

# A host reboot, as far as the containers know: dockerd without
# live-restore takes them down with it.
ok "dockerd stops" "$SERVERS" stop dockerd
ok "dockerd starts without live-restore" env NAP_DOCKERD_LIVE_RESTORE=false "$SERVERS" start dockerd
ok "... and stops again, taking the containers with it" "$SERVERS" stop dockerd
ok "dockerd starts again (live-restore back on)" "$SERVERS" start dockerd
ok "both instances come back, announced, without a user command" \
	wait_until 90 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "... and serve" wait_until 30 serves "$APP" "nap"

echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
napc --timeout 300 deploy "$APP" "$WORK/hello" >"$WORK/deploy2.out" 2>&1
ok "the next deploy succeeds" test $? -eq 0
ok "... release 2 serves on two instances" wait_until 20 serves "$APP" "release 2"
ok "... and nothing of release 1 is left (the dead container neither)" wait_until 30 consistent "$APP" 2
napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no container and no key" bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only ${NAP_KEY_PREFIX}apps/$APP/ /services/$APP/ | grep -c .) -eq 0 ]"
done_testing
