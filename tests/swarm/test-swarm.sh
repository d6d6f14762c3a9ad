#!/bin/bash
# scheduler-swarm on a real swarm of 3 engines this test starts (tests/swarm/
# cluster.sh): napd with orchestrator, builder, scheduler-swarm and
# discovery-etcd; deploy 3 instances spread over the 3 nodes, a killed task
# replaced, a whole node lost, a redeploy under a fetching client, a
# constraint no node satisfies, destroy. etcd is a 3-member cluster of the
# test's own (tests/swarm/etcd-cluster.sh): an orchestrator takes on every
# app recorded in the etcd it is given, so a shared etcd would bring other
# tests' apps onto this swarm. Heavy (3 dockerd, namespaces,
# iptables): it runs only with NAP_SWARM=1 (make check-swarm), as root.
. "$(dirname "$0")/../integration/lib.sh"

if [ "${NAP_SWARM:-0}" != 1 ]; then
	echo "SKIP: the swarm tests run with NAP_SWARM=1 (make check-swarm)" >&2
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: the swarm tests need root (namespaces, dockerd)" >&2; exit 77; }
need_servers docker registry
need_plugins orchestrator builder scheduler-swarm discovery-etcd
export ETCDCTL_API=3
APP=sw-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { etcdctl --endpoints=$ETCD get --prefix --keys-only "/services/$1/" | grep -c . || true; }
. "$(dirname "$0")/cluster.sh"
EC_BASE=${EC_BASE:-23750}
. "$(dirname "$0")/etcd-cluster.sh"
ETCD=$EC_CSV

NAPD2_PID=
cleanup() {
	[ -n "$NAPD2_PID" ] && kill "$NAPD2_PID" 2>/dev/null
	stop_napd
	[ -n "${SW_REUSE:-}" ] || cluster_down
	ec_down
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT
if [ -n "${SW_REUSE:-}" ]; then # a cluster left up by hand (development)
	SW_ID=$SW_REUSE
	. "$(dirname "$0")/cluster.sh"
else
	ok "a swarm of 3 engines comes up" cluster_up || exit 1
fi
ok "a 3-member etcd of the test's own comes up" ec_up || exit 1

cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare" >/dev/null
engines=""
for n in $SW_NODES; do engines="$engines $(sw_addr "$n")=unix://$(sw_sock "$n"),"; done
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-swarm) $(plugin discovery-etcd)" \
	"deploy_timeout = 120" \
	"[plugin orchestrator]" "ready_timeout = 60" "backoff_ms = 300" \
	"[plugin scheduler-swarm]" "manager = $(sw_manager)" "node_engines = ${engines%,}" \
	"[plugin discovery-etcd]" "etcd = $EC_ENDPOINTS"
ok "napd starts with scheduler-swarm" start_napd
for p in orchestrator builder scheduler-swarm discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

services() { sw_docker 1 service ls -q --filter "label=nap.app=$APP" | grep -c . || true; }
fetch_all() {
	local u urls
	urls=$(napc endpoints "$APP") || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do curl -sf --max-time 2 "$u" | grep -q nap || return 1; done
}
export NAPC SOCK APP
export -f napc fetch_all

# --- deploy: 3 instances spread over the 3 nodes
t0=$(date +%s%N)
napc deploy "$APP" "$WORK/hello" --instances 3 >"$WORK/d1.out" 2>&1
st=$?
DEPLOY_MS=$((($(date +%s%N) - t0) / 1000000))
ok "deploy of 3 instances on the swarm ($DEPLOY_MS ms)" test $st -eq 0
cat "$WORK/d1.out" | sed 's/^/# /'
ok "... 3 services, one per instance" test "$(services)" -eq 3
hosts=$(napc endpoints "$APP" | sed 's|http://||; s|:.*||' | sort -u | wc -l)
ok "... on 3 distinct nodes ($hosts)" test "$hosts" -eq 3
ok "... every endpoint serves" fetch_all
ok "... etcd holds one key per task" test "$(keys "$APP")" -eq 3

# --- kill a task's container on node 2: withdrawn within 1 s, replaced, announced
cid=$(sw_docker 2 ps -q --filter "label=nap.app=$APP" | head -1)
if [ -n "$cid" ]; then
	t0=$(date +%s%N)
	sw_docker 2 kill "$cid" >/dev/null
	ok "a killed task's endpoint leaves etcd within 1 s" wait_until 1 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
	ok "... it is replaced and announced again" wait_until 60 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 3 ]"
	ok "... every endpoint serves" fetch_all
else
	ok "node 2 runs a task of $APP" false
fi

# --- lose node 3 entirely
t0=$(date +%s%N)
node_stop 3
ok "node 3's endpoints are withdrawn once Swarm marks it down" wait_until 30 bash -c "! napc endpoints $APP | grep -q '$(sw_addr 3):'"
LOSS_WITHDRAW_MS=$((($(date +%s%N) - t0) / 1000000))
ok "... its tasks are rescheduled on the others and announced" wait_until 60 bash -c "[ \$(napc endpoints $APP | grep -c .) -eq 3 ] && ! napc endpoints $APP | grep -q '$(sw_addr 3):'"
LOSS_REPLACE_MS=$((($(date +%s%N) - t0) / 1000000))
echo "# node loss: withdrawn after $LOSS_WITHDRAW_MS ms, replacements announced after $LOSS_REPLACE_MS ms"
ok "... every endpoint serves" fetch_all

# --- redeploy under a client that looks up and fetches every 50 ms
fetch_loop_start "$WORK" 150 "$NAPC" "$SOCK" "$APP"
sleep 0.5
echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
napc deploy "$APP" "$WORK/hello" >"$WORK/d2.out" 2>&1
ok "a redeploy succeeds" test $? -eq 0
sleep 0.5
fetch_loop_stop
ok "... with no failed request ($FETCH_FAILS of $FETCHED failed)" test "$FETCH_FAILS" -eq 0 -a "$FETCHED" -ge 10
ok "... the old release's services are gone" wait_until 30 bash -c "[ \$(docker -H unix://$(sw_sock 1) service ls -q --filter label=nap.app=$APP --filter label=nap.release=1 | grep -c .) -eq 0 ]"

# --- scale, stop, start as on one host
ok "scale to 4" napc scale "$APP" 4
ok "... 4 services, 4 keys, all serving" bash -c "[ \$(docker -H unix://$(sw_sock 1) service ls -q --filter label=nap.app=$APP | grep -c .) -eq 4 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 4 ] && fetch_all"
ok "scale to 2" napc scale "$APP" 2
ok "... 2 services, 2 keys" wait_until 20 bash -c "[ \$(docker -H unix://$(sw_sock 1) service ls -q --filter label=nap.app=$APP | grep -c .) -eq 2 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "stop" napc stop "$APP"
ok "... no service, no key" wait_until 20 bash -c "[ \$(docker -H unix://$(sw_sock 1) service ls -q --filter label=nap.app=$APP | grep -c .) -eq 0 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 0 ]"
ok "start" napc start "$APP"
ok "... 2 keys, serving" wait_until 20 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ] && fetch_all"

# --- placement, through the Scheduler itself (the orchestrator does not
# pass an app's placement yet), on a second napd with scheduler-swarm alone
# (another napd.id: the first napd's orchestrator does not see its
# services): a constraint no node satisfies is refused, naming it, and the
# release that serves goes on; one that node 2 satisfies lands there.
SLC="$top_builddir/tests/plugins/scheduler-local-call"
[ -x "$SLC" ] || make -C "$top_builddir" tests/plugins/scheduler-local-call >/dev/null 2>&1
{
	echo "plugins = $(plugin scheduler-swarm)"
	echo "[plugin scheduler-swarm]"
	echo "manager = $(sw_manager)"
} >"$WORK/napd2.conf"
"$NAPD" --foreground --config "$WORK/napd2.conf" --socket "$WORK/napd2.sock" 2>>"$WORK/napd2.log" &
NAPD2_PID=$!
ok "a second napd with scheduler-swarm alone starts" wait_until 20 bash -c "'$NAPC' --socket '$WORK/napd2.sock' plugins | grep -q 'scheduler-swarm.*running'"
rel=$(napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')
"$SLC" -s "$WORK/napd2.sock" run "$APP" 99 "127.0.0.1:5000/$APP:$rel" 1 -p node.labels.zone==nowhere >"$WORK/c1.out" 2>&1
sed 's/^/#   /' "$WORK/c1.out"
ok "a constraint no node satisfies: Run fails naming it" grep -q "^END FAILED_PRECONDITION.*no node satisfies the placement node.labels.zone==nowhere" "$WORK/c1.out"
ok "... no service of it is left" test "$(sw_docker 1 service ls -q --filter "label=nap.app=$APP" --filter label=nap.release=99 | grep -c .)" -eq 0
ok "... release $rel serves" fetch_all
"$SLC" -s "$WORK/napd2.sock" run "$APP" 98 "127.0.0.1:5000/$APP:$rel" 1 -p node.labels.zone==z2 >"$WORK/c2.out" 2>&1
sed 's/^/#   /' "$WORK/c2.out"
ok "a constraint node 2 satisfies: the task runs there" grep -q "^INSTANCE $APP 98 1 [^ ]* $(sw_addr 2) [0-9]* running" "$WORK/c2.out"
ok "... Remove of that instance removes its service" bash -c "'$SLC' -s '$WORK/napd2.sock' remove $APP 98 1 | grep -q 'REMOVED 1' && [ \$(docker -H unix://$(sw_sock 1) service ls -q --filter label=nap.release=98 | grep -c .) -eq 0 ]"
# a worker: an image without EXPOSE runs with no port published
mkdir -p "$WORK/worker"
cp "$WORK/hello/busybox" "$WORK/worker/"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "600"]\n' >"$WORK/worker/Dockerfile"
WIMG=127.0.0.1:5000/$APP-worker:1
docker build -q -t "$WIMG" "$WORK/worker" >/dev/null 2>&1 && docker push "$WIMG" >/dev/null 2>&1
"$SLC" -s "$WORK/napd2.sock" run "$APP-worker" 1 "$WIMG" 1 >"$WORK/w.out" 2>&1
sed 's/^/#   /' "$WORK/w.out"
ok "an image without EXPOSE runs as an instance with no port" grep -q "^INSTANCE $APP-worker 1 1 [^ ]* [0-9.]* 0 running" "$WORK/w.out"
ok "... and is removed" bash -c "'$SLC' -s '$WORK/napd2.sock' remove $APP-worker 1 | grep -q 'REMOVED 1'"
docker rmi "$WIMG" >/dev/null 2>&1
kill "$NAPD2_PID" 2>/dev/null
wait "$NAPD2_PID" 2>/dev/null
NAPD2_PID=

# --- logs: the services' logs through the manager
ok "napc logs answers" napc logs "$APP"
timeout 3 "$NAPC" --socket "$SOCK" logs "$APP" --follow >/dev/null 2>&1
ok "napc logs --follow follows until stopped" test $? -eq 124

# --- destroy leaves no service, task, key or record
napc destroy "$APP" >/dev/null 2>&1
ok "destroy succeeds" test $? -eq 0
ok "... no service is left" wait_until 30 test "$(services)" -eq 0
ok "... no task container on the nodes" wait_until 30 bash -c "for n in 1 2; do [ \$(docker -H unix://$SW_DIR/n\$n.sock ps -aq --filter label=nap.app=$APP | grep -c .) -eq 0 ] || exit 1; done"
ok "... no key" test "$(keys "$APP")" -eq 0
ok "... no record" test "$(etcdctl --endpoints=$ETCD get --prefix --keys-only "${NAP_KEY_PREFIX}apps/$APP/" | grep -c .)" -eq 0

{
	echo "deploy_ms: $DEPLOY_MS"
	echo "node_loss_withdrawn_ms: $LOSS_WITHDRAW_MS"
	echo "node_loss_replaced_ms: $LOSS_REPLACE_MS"
} >"${SW_FIGURES:-/dev/null}"
done_testing
