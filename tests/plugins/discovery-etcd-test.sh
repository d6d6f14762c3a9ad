#!/bin/bash
# discovery-etcd through napd, against the real etcd and dockerd: containers
# started by hand with nap labels are announced at once and withdrawn at
# once when killed; a stale key is removed when the plugin starts; a lost
# lease is re-granted and everything re-announced; Resolve, Watch (with
# min_instances), Announce/Withdraw, the records (under the run's key_prefix) with refused keys,
# and UNAVAILABLE naming the address when etcd cannot be reached; containers
# labelled nap.announced-by=orchestrator are withdrawn when they stop but
# never announced, =sidekick neither. Measures
# the announce and withdraw latency (Docker's event → key seen by a watcher).
. "$top_srcdir/tests/integration/lib.sh"

ETCD=http://127.0.0.1:2379
export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=$ETCD
if ! curl -sf -m 2 -X POST -d '{}' "$ETCD/v3/maintenance/status" >/dev/null; then
	echo "SKIP: etcd does not answer at $ETCD (scripts/servers start)" >&2
	exit 77
fi
if ! curl -sf -m 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
	echo "SKIP: dockerd does not answer on /var/run/docker.sock (scripts/servers start)" >&2
	exit 77
fi
if ! command -v etcdctl >/dev/null || ! command -v docker >/dev/null; then
	echo "SKIP: needs etcdctl and docker" >&2
	exit 77
fi

APP=dt-$$
IMAGE=nap-$APP:1
HOSTKEY=/services/$APP/127.0.0.1
CLIENT=$top_builddir/tests/plugins/discovery-etcd-client
PLUGIN=$top_builddir/plugins/discovery-etcd/.libs/discovery-etcd.so
dc() { "$CLIENT" -s "$SOCK" "$@"; }

cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=nap.app=$APP")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	docker rmi -f "$IMAGE" >/dev/null 2>&1
	etcdctl del --prefix "/services/$APP/" >/dev/null 2>&1
	etcdctl del --prefix "${NAP_KEY_PREFIX}test-$APP/" >/dev/null 2>&1
}
trap 'stop_napd; cleanup; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

# The value stored under a key, or nothing.
value_of() { etcdctl get --print-value-only "$1"; }
has_key() { [ -n "$(value_of "$1")" ]; }
no_key() { [ -z "$(value_of "$1")" ]; }
run_instance() { # run_instance N: a hello container labelled as instance N of release 1
	docker run -d -P --init --label "nap.app=$APP" --label nap.release=1 \
		--label "nap.instance=$1" --label "nap.napd=$(napd_id)" "$IMAGE"
}
host_port() { docker port "$1" 8080/tcp | sed -n 's/^0\.0\.0\.0:\([0-9]*\)$/\1/p' | head -n 1; }

# ---- the image ----
cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
ok "the hello image builds" bash -c "'$WORK/hello/prepare' && docker build -q -t '$IMAGE' '$WORK/hello'"

# ---- start-up: stale keys of our host go, other hosts' stay ----
etcdctl put "$HOSTKEY:9" '{"host":"127.0.0.1","port":1,"instance":9,"release":1}' >/dev/null
etcdctl put "/services/$APP/10.9.9.9:1" '{"host":"10.9.9.9","port":1,"instance":1,"release":1}' >/dev/null
write_config "plugins = $PLUGIN" "" "[plugin discovery-etcd]" "etcd = $ETCD" "lease_ttl = 3"
start_napd
ok "the plugin runs" wait_until 10 plugin_is discovery-etcd running
ok "a stale key of this host (no such container) is removed at start-up" wait_until 5 no_key "$HOSTKEY:9"
ok "... a key of another host is left alone" has_key "/services/$APP/10.9.9.9:1"
etcdctl del "/services/$APP/10.9.9.9:1" >/dev/null

# ---- a container started by hand is announced at once ----
C1=$(run_instance 1)
ok "instance 1 is announced" wait_until 2 has_key "$HOSTKEY:1"
P1=$(host_port "$C1")
ok "... with exactly host, port, instance, release and container_port" \
	test "$(value_of "$HOSTKEY:1")" = "{\"host\":\"127.0.0.1\",\"port\":$P1,\"instance\":1,\"release\":1,\"container_port\":8080}"
ok "... under a lease" bash -c "etcdctl get -w json '$HOSTKEY:1' | grep -q '\"lease\":[1-9]'"
dc resolve "$APP" >"$WORK/resolve.out"
ok "Resolve returns it with its URL" grep -qx "EP 127.0.0.1 $P1 1 1 http://127.0.0.1:$P1" "$WORK/resolve.out"
ok "Resolve of another release returns nothing" bash -c "'$CLIENT' -s '$SOCK' resolve $APP 2 | grep -c '^EP' | grep -qx 0"

# ---- Watch with min_instances ends once the second one is up ----
dc watch "$APP" 1 2 20000 >"$WORK/watch.out" &
WPID=$!
wait_until 5 grep -q '^LIST 1' "$WORK/watch.out"
ok "Watch sends the current list first" grep -q '^LIST 1' "$WORK/watch.out"
C2=$(run_instance 2)
wait "$WPID"
ok "Watch min_instances=2 ends OK once instance 2 starts" \
	bash -c "grep -q '^LIST 2' '$WORK/watch.out' && tail -n 1 '$WORK/watch.out' | grep -q '^END OK'"
P2=$(host_port "$C2")
ok "... and lists instance 2 at its port" grep -q "^EP 127.0.0.1 $P2 2 1 " "$WORK/watch.out"

dc watch "$APP" 0 0 >"$WORK/watch2.out" &
WPID=$!
wait_until 5 grep -q '^LIST' "$WORK/watch2.out"
dc announce "$APP" 10.0.0.5 8080 7 2 >/dev/null
wait_until 5 grep -q '^LIST 3' "$WORK/watch2.out"
ok "a Watch sends the full list again after a change" grep -q '^LIST 3' "$WORK/watch2.out"
{ kill -TERM "$WPID"; wait "$WPID"; } 2>/dev/null

t0=$(date +%s%N)
dc watch "$APP" 0 0 500 >"$WORK/deadline.out"
st=$?
t1=$(date +%s%N)
ok "a Watch past its deadline ends DEADLINE_EXCEEDED" test $st -eq 4
ok "... promptly (took $(((t1 - t0) / 1000000)) ms for a 500 ms deadline)" test $(((t1 - t0) / 1000000)) -lt 1500

# ---- kill: the key is gone within 1 s ----
t0=$(date +%s%N)
docker kill "$C1" >/dev/null
wait_until 2 no_key "$HOSTKEY:1"
t1=$(date +%s%N)
ok "docker kill: the key is gone within 1 s (took $(((t1 - t0) / 1000000)) ms, polled with etcdctl)" \
	bash -c "no_key() { [ -z \"\$(etcdctl get --print-value-only '$HOSTKEY:1')\" ]; }; no_key && [ $(((t1 - t0) / 1000000)) -lt 1000 ]"
ok "... and instance 2 stays" has_key "$HOSTKEY:2"

# ---- the lease: lost → re-granted, everything re-announced ----
lease=$(etcdctl get -w json "$HOSTKEY:2" | python3 -c 'import json,sys; print("%x" % json.load(sys.stdin)["kvs"][0]["lease"])')
etcdctl lease revoke "$lease" >/dev/null
ok "a revoked lease: instance 2 and the announced endpoint come back under a new lease" \
	bash -c "for i in \$(seq 100); do v=\$(etcdctl get --print-value-only '$HOSTKEY:2'); w=\$(etcdctl get --print-value-only '/services/$APP/10.0.0.5:7'); [ -n \"\$v\" ] && [ -n \"\$w\" ] && exit 0; sleep 0.05; done; exit 1"

# ---- Announce / Withdraw ----
dc announce "$APP" 10.0.0.5 8081 8 2 >/dev/null
ok "Announce puts the endpoint" test "$(value_of "/services/$APP/10.0.0.5:8")" = '{"host":"10.0.0.5","port":8081,"instance":8,"release":2}'
ok "Resolve of release 2 lists the two announced" test "$(dc resolve "$APP" 2 | grep -c '^EP')" = 2
ok "Withdraw of release 2 instance 7 removes 1" bash -c "'$CLIENT' -s '$SOCK' withdraw $APP 2 7 | grep -qx 'REMOVED 1'"
ok "Withdraw of release 3 removes nothing" bash -c "'$CLIENT' -s '$SOCK' withdraw $APP 3 | grep -qx 'REMOVED 0'"
ok "Withdraw of every release removes the last 2" bash -c "'$CLIENT' -s '$SOCK' withdraw $APP 0 | grep -qx 'REMOVED 2'"
dc announce "Bad_App" 10.0.0.5 8081 8 2 >"$WORK/bad.out"
ok "Announce of a bad app name: INVALID_ARGUMENT" test $? -eq 3
dc resolve "../x" >"$WORK/bad.out"
ok "Resolve of a bad app name: INVALID_ARGUMENT" test $? -eq 3
dc announce "$APP" "a/b" 80 1 1 >"$WORK/bad.out"
ok "Announce of a host with a slash: INVALID_ARGUMENT" test $? -eq 3
docker rm -f "$C1" "$C2" >/dev/null

# ---- records ----
R=test-$APP
ok "PutRecord" dc put "$R/apps/one" '{"release":1}'
ok "PutRecord again" dc put "$R/apps/two" 'two'
ok "... stored under napd.conf's key_prefix ($NAP_KEY_PREFIX)" test "$(value_of "${NAP_KEY_PREFIX}$R/apps/one")" = '{"release":1}'
dc get "$R/apps/" >"$WORK/get.out"
ok "GetRecords returns them relative to the prefix, sorted" \
	test "$(grep '^REC' "$WORK/get.out")" = "$(printf 'REC %s/apps/one {"release":1}\nREC %s/apps/two two' "$R" "$R")"
for bad in "../etc" "$R/../x" "/abs" "Upper" "a b" "" "$(printf 'x%.0s' $(seq 201))"; do
	dc put "$bad" v >"$WORK/bad.out"
	ok "PutRecord refuses key '${bad:0:20}' with INVALID_ARGUMENT" test $? -eq 3
done
dc delete "" >"$WORK/bad.out"
ok "DeleteRecords refuses the empty prefix" test $? -eq 3
ok "DeleteRecords of a prefix" dc delete "$R/apps/"
ok "... leaves nothing" test "$(dc get "$R/" | grep -c '^REC')" = 0

# ---- latency over 10 containers ----
"$CLIENT" probe "$ETCD" "$APP" "$IMAGE" 10 "$(napd_id)" >"$WORK/probe.out"
ok "the probe saw every key come and go" test $? -eq 0
sed 's/^/# /' "$WORK/probe.out"
ann=$(awk '/^ANNOUNCE/ {print $2}' "$WORK/probe.out")
wd=$(awk '/^WITHDRAW/ {print $3}' "$WORK/probe.out")
ok "announce latency median ${ann} ms is under 50 ms" awk -v v="$ann" 'BEGIN { exit !(v != "" && v < 50) }'
ok "withdraw latency max ${wd} ms is under 1000 ms" awk -v v="$wd" 'BEGIN { exit !(v != "" && v < 1000) }'

# ---- nap.announced-by=orchestrator: withdrawn, never announced ----
run_labelled() { # run_labelled INSTANCE RELEASE ANNOUNCED_BY: as run_instance, with the label
	docker run -d -P --init --label "nap.app=$APP" --label "nap.release=$2" \
		--label "nap.instance=$1" --label "nap.napd=$(napd_id)" --label "nap.announced-by=$3" "$IMAGE"
}
O1=$(run_labelled 21 1 orchestrator)
P21=$(host_port "$O1")
# Docker's events come in order: once instance 30 (ours) is announced, the
# start of instance 21 has been seen too.
S1=$(run_instance 30)
wait_until 2 has_key "$HOSTKEY:30"
ok "an orchestrator-labelled container is not announced when it starts" no_key "$HOSTKEY:21"
dc announce "$APP" 127.0.0.1 "$P21" 21 1 >/dev/null
ok "... the orchestrator's Announce puts it" has_key "$HOSTKEY:21"
t0=$(date +%s%N)
docker kill "$O1" >/dev/null
wait_until 2 no_key "$HOSTKEY:21"
t1=$(date +%s%N)
ok "... and docker kill withdraws it within 1 s (took $(((t1 - t0) / 1000000)) ms)" \
	bash -c "[ -z \"\$(etcdctl get --print-value-only '$HOSTKEY:21')\" ] && [ $(((t1 - t0) / 1000000)) -lt 1000 ]"

O2=$(run_labelled 22 1 orchestrator)
dc announce "$APP" 127.0.0.1 "$(host_port "$O2")" 22 2 >/dev/null
docker kill "$O2" >/dev/null
docker kill "$S1" >/dev/null
wait_until 2 no_key "$HOSTKEY:30"
ok "the death of release 1 leaves release 2's announcement of the instance alone" \
	bash -c "etcdctl get --print-value-only '$HOSTKEY:22' | grep -q '\"release\":2}'"

# A replacement of the same instance runs and is announced before the old
# container's events are seen (they lag, or it is removed late).
O3=$(run_labelled 23 1 orchestrator)
O3B=$(run_labelled 23 1 orchestrator)
dc announce "$APP" 127.0.0.1 "$(host_port "$O3B")" 23 1 >/dev/null
docker rm -f "$O3" >/dev/null
S1=$(run_instance 30)
wait_until 2 has_key "$HOSTKEY:30"
ok "the old container's death leaves its running replacement's announcement alone" has_key "$HOSTKEY:23"
O4=$(run_labelled 24 1 orchestrator)
dc announce "$APP" 127.0.0.1 "$(host_port "$O4")" 24 1 >/dev/null
docker stop -t 1 "$O4" >/dev/null
ok "docker stop withdraws an orchestrator-labelled container" wait_until 2 no_key "$HOSTKEY:24"

K1=$(run_labelled 25 1 sidekick)
etcdctl put "$HOSTKEY:25" '{"host":"127.0.0.1","port":1,"instance":25,"release":1}' >/dev/null
docker kill "$K1" >/dev/null
docker kill "$S1" >/dev/null
wait_until 2 no_key "$HOSTKEY:30"
ok "a sidekick-labelled container's key is left to its sidekick" has_key "$HOSTKEY:25"
etcdctl del "$HOSTKEY:25" >/dev/null
dc withdraw "$APP" 2 22 >/dev/null

# At start-up: a running one's key is live, a stopped one's is stale, and
# a running one without a key is not announced.
docker rm -f "$O1" "$O2" "$O4" "$K1" >/dev/null
O5=$(run_labelled 26 1 orchestrator)
O6=$(run_labelled 27 1 orchestrator)
docker kill "$O6" >/dev/null
O7=$(run_labelled 28 1 orchestrator)
stop_napd
etcdctl put "$HOSTKEY:26" "{\"host\":\"127.0.0.1\",\"port\":$(host_port "$O5"),\"instance\":26,\"release\":1}" >/dev/null
etcdctl put "$HOSTKEY:27" '{"host":"127.0.0.1","port":1,"instance":27,"release":1}' >/dev/null
start_napd
ok "at start-up, a stopped orchestrator-labelled container's key is stale" wait_until 10 no_key "$HOSTKEY:27"
ok "... a running one's key is live" has_key "$HOSTKEY:26"
ok "... and a running one is not announced" no_key "$HOSTKEY:28"
docker rm -f "$O3B" "$O5" "$O6" "$O7" "$S1" >/dev/null
etcdctl del --prefix "$HOSTKEY:" >/dev/null

# ---- etcd unreachable ----
stop_napd
write_config "plugins = $PLUGIN" "" "[plugin discovery-etcd]" "etcd = http://127.0.0.1:1"
start_napd
wait_until 10 plugin_is discovery-etcd running
dc resolve "$APP" >"$WORK/down.out"
ok "etcd unreachable: UNAVAILABLE" test $? -eq 14
ok "... naming the address" grep -q 'cannot reach etcd at http://127.0.0.1:1: .*; is etcd running?' "$WORK/down.out"
dc put "$R/x" v >"$WORK/down.out"
ok "... for records too" test $? -eq 14

done_testing
