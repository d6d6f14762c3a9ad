#!/bin/bash
# Two napds on one Docker host and one etcd (as the tests run, or two
# operators' napds): each one's plugins announce, reconcile and clean up only
# what that napd started (containers labelled nap.napd=<its id>). A second
# napd starting, reconciling and dying leaves the first one's app announced
# under the first one's lease, its containers untouched.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
APP=ftwo-$$
SOCK_B=$WORK/b.sock
trap '[ -n "$B_PID" ] && kill -9 $B_PID 2>/dev/null; stop_napd; scrub_app $APP; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
B_PID=
prepare_hello

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)"
ok "napd A starts" start_napd
plugins_run() { plugin_is builder running && plugin_is scheduler-local running && plugin_is discovery-etcd running; }
ok "its plugins run" wait_until 30 plugins_run
napc deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy.out" 2>&1
ok "A deploys the app (two instances)" test $? -eq 0
ok "its containers carry A's id" test "$(docker ps -q --filter "label=nap.app=$APP" --filter "label=nap.napd=$(napd_id)" | wc -l)" -eq 2

leases() { etcdctl --endpoints="$ETCD" get --prefix "/services/$APP/" -w json |
	python3 -c 'import json,sys; print(" ".join(sorted(str(k.get("lease",0)) for k in json.load(sys.stdin).get("kvs",[]))))'; }
before=$(leases)
ok "both entries are under a lease" bash -c "[ \$(echo '$before' | wc -w) -eq 2 ] && ! echo '$before' | grep -qw 0"

# napd B: its own socket, its discovery with a short lease.
cat >"$WORK/b.conf" <<EOC
key_prefix = $NAP_KEY_PREFIX
plugins = $(plugin scheduler-local) $(plugin discovery-etcd)
[plugin discovery-etcd]
lease_ttl = 2
EOC
"$NAPD" --foreground --config "$WORK/b.conf" --socket "$SOCK_B" --log-level debug 2>>"$WORK/napd-b.log" &
B_PID=$!
b_runs() { "$NAPC" --socket "$SOCK_B" --json plugins 2>/dev/null | python3 -c '
import json, sys
ps = json.load(sys.stdin)
sys.exit(0 if ps and all(p["state"] == "running" for p in ps) else 1)'; }
ok "napd B starts on the same host and etcd" wait_until 30 b_runs
sleep 3 # B's reconcile and a lease period
ok "B did not take A's entries over (same leases)" test "$(leases)" = "$before"
ok "B logged nothing about A's app" bash -c "! grep -q '$APP' '$WORK/napd-b.log'"

kill -9 $B_PID
wait $B_PID 2>/dev/null
B_PID=
sleep 4 # longer than B's lease: anything B held is gone now
ok "with B gone, A's app still has both entries" test "$(etcd_count "/services/$APP/")" -eq 2
ok "... and serves" serves "$APP"
ok "... its containers are all there" test "$(docker ps -q --filter "label=nap.app=$APP" | wc -l)" -eq 2

napc destroy "$APP" >/dev/null 2>&1
ok "A destroys it: no entry left" test "$(etcd_count "/services/$APP/")" -eq 0
done_testing
