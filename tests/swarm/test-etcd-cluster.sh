#!/bin/bash
# etcd as a 3-member cluster (tests/swarm/etcd-cluster.sh, loopback ports of
# the test's own): discovery-etcd is given all three members; a member
# killed during a deploy costs nothing; with two killed (no quorum) a deploy
# fails with one line that says so and nothing is half-written; once they
# are back, everything converges without a user command. The app runs with
# scheduler-local (this is about etcd, not Swarm). Runs with NAP_SWARM=1.
. "$(dirname "$0")/../integration/lib.sh"

if [ "${NAP_SWARM:-0}" != 1 ]; then
	echo "SKIP: the swarm tests run with NAP_SWARM=1 (make check-swarm)" >&2
	exit 77
fi
need_servers docker registry
need_plugins orchestrator builder scheduler-local discovery-etcd
command -v etcd >/dev/null || { echo "SKIP: etcd (etcd-server) is not installed" >&2; exit 77; }
export ETCDCTL_API=3
APP=ec-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
. "$(dirname "$0")/etcd-cluster.sh"
# Reads that do not need a quorum: what the member that is up holds.
keys() { etcdctl --endpoints="$EC_CSV" get --consistency=s --prefix --keys-only "/services/$APP/" | grep -c . || true; }
record_release() {
	etcdctl --endpoints="$EC_CSV" get --consistency=s --print-value-only "${NAP_KEY_PREFIX}apps/$APP/app" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])'
}

trap 'stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) >/dev/null 2>&1; ec_down; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

export NAPC SOCK
export -f napc
ok "a 3-member etcd cluster comes up" ec_up || exit 1
cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare" >/dev/null
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60" \
	"[plugin orchestrator]" "resync_ms = 2000" \
	"[plugin discovery-etcd]" "etcd = $EC_ENDPOINTS" "lease_ttl = 5"
ok "napd starts with discovery-etcd on the 3 members" start_napd
for p in orchestrator builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done
ok "a deploy of 2 instances succeeds" napc deploy "$APP" "$WORK/hello" --instances 2
ok "... 2 keys in the cluster" test "$(keys)" -eq 2

# --- the member nap talks to first (the first listed) dies during a deploy
echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
"$NAPC" --socket "$SOCK" deploy "$APP" "$WORK/hello" >"$WORK/d2.out" 2>&1 &
DEP=$!
wait_until 30 grep -q 'build' "$WORK/d2.out"
ec_kill 1
wait $DEP
ok "a member killed during a deploy costs nothing: it succeeds" test $? -eq 0
ok "... the record names release 2" test "$(record_release)" = 2
ok "... 2 keys, of release 2" bash -c "[ $(keys) -eq 2 ] && ! etcdctl --endpoints=$EC_CSV get --prefix /services/$APP/ --print-value-only | grep -v '\"release\":2'"

# --- two members down: no quorum
ec_kill 2
napc deploy "$APP" "$WORK/hello" >"$WORK/d3.out" 2>&1
st=$?
ok "without a quorum a deploy fails" test $st -ne 0
sed 's/^/#   /' "$WORK/d3.out" | tail -3
ok "... napd says so in one line: how many members answer" grep -q 'no quorum: 1 of 3 members answer' "$WORK/d3.out"
grep -h 'no quorum' "$WORK/napd.log" | head -1 | sed 's/^/# /'
ok "... nothing half-written: the record still names release 2" test "$(record_release)" = 2
ok "... the instances of release 2 keep running" test "$(docker ps -q --filter label=nap.app=$APP --filter label=nap.release=2 | wc -l)" -eq 2

# --- both back: everything converges without a user command
ec_start 1
ec_start 2
ok "the cluster is healthy again" wait_until 30 ec_healthy
ok "... the endpoints are in etcd again (2 keys of release 2)" wait_until 30 bash -c "[ \$(etcdctl --endpoints=$EC_CSV get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "... napc status: running, release 2" wait_until 20 bash -c "napc status $APP | grep -q '^$APP: running, release 2'"
ok "... and a deploy works again" napc deploy "$APP" "$WORK/hello"
ok "destroy leaves no key and no record" bash -c "napc destroy $APP >/dev/null && [ \$(etcdctl --endpoints=$EC_CSV get --prefix --keys-only /services/$APP/ ${NAP_KEY_PREFIX}apps/$APP/ | grep -c .) -eq 0 ]"
done_testing
