#!/bin/bash
# scheduler-fleet through napd against tests/fleet/fleet-test-server.py (a
# fleet API v1 test fixture with two simulated machines that RUNS the units
# with the real dockerd and etcd): Run examples/hello (built here by hand)
# with 2 instances, both endpoints from etcd serve the page; a killed
# container's sidekick withdraws its entry; List; Remove one, then all; 3
# instances on 2 machines end FAILED_PRECONDITION naming the unplaceable
# unit; an unmatched MachineMetadata too; a nasty env value reaches the
# container exactly and runs nothing; fleet unreachable is UNAVAILABLE.
# Skipped (77) when dockerd, etcd or the registry does not answer.
. "$(dirname "$0")/../integration/lib.sh"

skip() {
	echo "scheduler-fleet-test: SKIP: $*" >&2
	T_FAILED=0
	exit 77
}
docker info >/dev/null 2>&1 || skip "dockerd does not answer on /var/run/docker.sock"
ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s endpoint health \
	>/dev/null 2>&1 || skip "etcd does not answer at http://127.0.0.1:2379"
curl -sf http://127.0.0.1:5000/v2/ >/dev/null || skip "the registry does not answer at 127.0.0.1:5000"

SRC=$(cd "$top_srcdir" && pwd)
SFC="$top_builddir/tests/plugins/scheduler-fleet-call"
PLUGIN="$top_builddir/plugins/scheduler-fleet/.libs/scheduler-fleet.so"
SERVER="$SRC/tests/fleet/fleet-test-server.py"
APP="sft-$$"
IMG="127.0.0.1:5000/sft-$$:1"
# A host of our own (any 127/8 address reaches the published ports) keeps
# our etcd keys apart from a discovery-etcd test running beside us.
HOSTADDR=127.0.0.3
FLEETSOCK="$WORK/fleet.sock"
SERVER_PID=
export ETCDCTL_API=3

sfc() { "$SFC" -s "$SOCK" "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
keys() { etcdctl get --prefix --keys-only "/services/$APP/$HOSTADDR:" | grep -c . ; }

start_fleet() { # start_fleet "machines"
	python3 "$SERVER" --listen "unix://$FLEETSOCK" --machines "$1" \
		--state-dir "$WORK/fleet-state" >"$WORK/fleet.out" 2>"$WORK/fleet.err" &
	SERVER_PID=$!
	wait_until 15 grep -q '^listening on' "$WORK/fleet.out"
}
stop_fleet() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null
	fi
	SERVER_PID=
}

cleanup() {
	stop_napd
	stop_fleet
	ids=$(docker ps -aq --filter "label=nap.app=$APP")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	etcdctl del --prefix "/services/$APP/" >/dev/null 2>&1
	docker rmi -f "$IMG" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$SERVER" ] || skip "tests/fleet/fleet-test-server.py is not there"

# ---- the image, built and pushed by hand ----
cp -R "$SRC/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
ok "examples/hello prepares" "$WORK/hello/prepare"
ok "examples/hello builds as $IMG" docker build -q -t "$IMG" "$WORK/hello"
ok "... and is pushed" docker push -q "$IMG"

ok "the fleet test server starts with two machines" start_fleet "m1:role=web m2:role=web"

write_config "plugins = $PLUGIN" "[plugin scheduler-fleet]" \
	"endpoint = unix://$FLEETSOCK" "etcd = http://127.0.0.1:2379" "host = $HOSTADDR" \
	"docker = $(command -v docker)" "announce = $SRC/plugins/scheduler-fleet/nap-fleet-announce" \
	"start_timeout = 60" "stop_timeout = 30"
ok "napd starts with scheduler-fleet" start_napd
ok "scheduler-fleet runs" wait_until 10 plugin_is scheduler-fleet running

# ---- Run two instances, one with a nasty environment value ----
NASTY='$(touch '"$WORK"'/pwned); touch '"$WORK"'/pwned2 ; echo "dq" '"'"'sq'"'"' `touch '"$WORK"'/pwned3` %n %% ${HOME} \ end
second line'
etcdctl watch --prefix "/services/$APP/" | while read -r line; do
	echo "$(date +%s%N) $line"
done >"$WORK/watch.out" 2>/dev/null &
WATCH_PID=$!
t0=$(ms)
sfc run "$APP" 1 "$IMG" 1,2 'GREETING=hello world' "NASTY=$NASTY" >"$WORK/run.out"
st=$?
t1=$(ms)
echo "# Run of 2 instances through fleet: $((t1 - t0)) ms"
cat "$WORK/run.out" | sed 's/^/#   /'
ok "Run of 2 instances succeeds" test "$st" -eq 0
ok "... reporting both instances running with their machine" \
	test "$(grep -c "^INSTANCE $APP 1 [12] nap-$APP@1-[12].service $HOSTADDR [1-9][0-9]* running [0-9a-f]\{32\}$" "$WORK/run.out")" -eq 2
ok "... on two distinct machines" \
	test "$(awk '$1 == "INSTANCE" {print $9}' "$WORK/run.out" | sort -u | wc -l)" -eq 2
for i in 1 2; do
	v=$(etcdctl get --print-value-only "/services/$APP/$HOSTADDR:$i")
	port=$(echo "$v" | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
	ok "instance $i is in etcd ($v)" test -n "$port"
	ok "... with the port Run reported" grep -q "^INSTANCE $APP 1 $i .* $port running " "$WORK/run.out"
	ok "... whose endpoint serves the page" bash -c "curl -sf 'http://$HOSTADDR:$port/' | grep -q 'Hello from nap'"
	eval "port$i=$port"
done
ok "the key carries host, port, instance, release and container_port" \
	bash -c "etcdctl get --print-value-only /services/$APP/$HOSTADDR:1 | grep -qx '{\"host\":\"$HOSTADDR\",\"port\":$port1,\"instance\":1,\"release\":1,\"container_port\":8080}'"
ok "the key is held by a lease" \
	bash -c "etcdctl get -w json /services/$APP/$HOSTADDR:1 | grep -q '\"lease\":[1-9]'"
# The time from a container's start to its endpoint in etcd.
started=$(docker inspect -f '{{.State.StartedAt}}' "nap-$APP-1-1")
started_ns=$(date -d "$started" +%s%N)
put_ns=$(awk -v k="/services/$APP/$HOSTADDR:1" '$2 == k {print $1; exit}' "$WORK/watch.out")
if [ -n "$put_ns" ]; then
	echo "# container start -> endpoint in etcd: $(((put_ns - started_ns) / 1000000)) ms"
	ok "the endpoint is in etcd within 1 s of the container's start" \
		test $(((put_ns - started_ns) / 1000000)) -lt 1000
fi
kill "$WATCH_PID" 2>/dev/null

docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "nap-$APP-1-1" >"$WORK/env.out"
ok "env with spaces arrives exactly" grep -qxF 'GREETING=hello world' "$WORK/env.out"
printf 'NASTY=%s\n' "$NASTY" >"$WORK/nasty.want"
ok "env with \$(..), ;, quotes, %, \${..}, a backslash and a newline arrives exactly" \
	bash -c "grep -A1 '^NASTY=' '$WORK/env.out' | cmp - '$WORK/nasty.want'"
ok "... and no injected command ran" bash -c "! ls '$WORK'/pwned* 2>/dev/null | grep -q ."
ok "containers run with --init and labels" bash -c "
	[ \"\$(docker inspect -f '{{.HostConfig.Init}} {{index .Config.Labels \"nap.instance\"}}' nap-$APP-1-2)\" = 'true 2' ]"

sfc list "$APP" >"$WORK/list.out"
ok "List shows both instances running with ports and machines" bash -c "
	grep -q '^INSTANCE $APP 1 1 nap-$APP@1-1.service $HOSTADDR $port1 running [0-9a-f]' '$WORK/list.out' &&
	grep -q '^INSTANCE $APP 1 2 nap-$APP@1-2.service $HOSTADDR $port2 running [0-9a-f]' '$WORK/list.out'"
sfc run "$APP" 1 "$IMG" 1,2 'GREETING=hello world' "NASTY=$NASTY" >"$WORK/rerun.out"
ok "Run again with the same units is quick and keeps them" bash -c "
	[ $? -eq 0 ] && grep -q ' $port1 running' '$WORK/rerun.out'"

# ---- a container dies: its sidekick withdraws the entry ----
t0=$(ms)
docker kill "nap-$APP-1-2" >/dev/null
ok "killing instance 2's container removes its etcd entry" \
	wait_until 10 bash -c "[ -z \"\$(etcdctl get --keys-only /services/$APP/$HOSTADDR:2)\" ]"
echo "# container killed -> entry gone: $(($(ms) - t0)) ms"
ok "... and its sidekick stops" wait_until 10 bash -c "
	curl -s --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/state |
	python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin).get(\"states\",[]) if x[\"name\"]==\"nap-$APP@1-2-discovery.service\"]; sys.exit(0 if not s or s[0][\"systemdActiveState\"]!=\"active\" else 1)'"
ok "... while instance 1 is still announced" \
	test -n "$(etcdctl get --keys-only "/services/$APP/$HOSTADDR:1")"

# ---- Remove one, then all ----
t0=$(ms)
sfc remove "$APP" 1 2 >"$WORK/rm1.out"
st=$?
echo "# Remove of 1 instance: $(($(ms) - t0)) ms"
ok "Remove of instance 2 removes one" bash -c "[ $st -eq 0 ] && grep -qx 'REMOVED 1' '$WORK/rm1.out'"
ok "... its units are gone from fleet" bash -c "
	! curl -s --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | grep -q 'nap-$APP@1-2'"
ok "... instance 1 stays" bash -c "docker ps --filter label=nap.app=$APP --format '{{.Names}}' | grep -qx nap-$APP-1-1"
t0=$(ms)
sfc remove "$APP" 0 >"$WORK/rmall.out"
st=$?
echo "# Remove of all (1 instance): $(($(ms) - t0)) ms"
ok "Remove of all removes the last" bash -c "[ $st -eq 0 ] && grep -qx 'REMOVED 1' '$WORK/rmall.out'"
ok "... no container of the app is left" \
	wait_until 10 test -z "$(docker ps -aq --filter "label=nap.app=$APP")"
ok "... and no etcd entry" test "$(keys)" -eq 0
sfc list "$APP" >"$WORK/list2.out"
ok "List is then empty" bash -c "[ \$(grep -c '^INSTANCE' '$WORK/list2.out') -eq 0 ]"
sfc remove "$APP" 9 >"$WORK/rmnone.out"
st=$?
ok "Remove of a release that has no units is OK, removing 0 (a retried clean-up)" \
	bash -c "[ $st -eq 0 ] && grep -qx 'REMOVED 0' '$WORK/rmnone.out'"

# ---- placement that cannot be ----
t0=$(ms)
sfc -t 60000 run "$APP" 2 "$IMG" 1,2,3 >"$WORK/three.out"
st=$?
t1=$(ms)
echo "# 3 instances on 2 machines ended after $((t1 - t0)) ms: $(tail -1 "$WORK/three.out")"
ok "3 instances on 2 machines end FAILED_PRECONDITION" test "$st" -eq 9
ok "... naming the unit that cannot be placed and why" \
	grep -qF "unit nap-$APP@2-3.service cannot be placed: 2 machines, each already runs an instance of $APP release 2 (Conflicts)" "$WORK/three.out"
ok "... well before the deadline" test $((t1 - t0)) -lt 20000
ok "... leaving no unit and no container" bash -c "
	! curl -s --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | grep -q 'nap-$APP@' &&
	[ -z \"\$(docker ps -aq --filter label=nap.app=$APP)\" ]"

sfc -t 60000 run "$APP" 3 "$IMG" 1 -M role=db >"$WORK/meta.out"
ok "metadata no machine has ends FAILED_PRECONDITION" test $? -eq 9
ok "... saying so" grep -qF "unit nap-$APP@3-1.service cannot be placed: none of fleet's 2 machines matches role=db" "$WORK/meta.out"

# ---- bad input ----
sfc run 'Bad;x' 1 "$IMG" 1 >/dev/null
ok "a bad app name is INVALID_ARGUMENT" test $? -eq 3
sfc run "$APP" 1 "$IMG;touch $WORK/pwned4" 1 >/dev/null
ok "an image reference with a ';' is INVALID_ARGUMENT" test $? -eq 3
sfc run "$APP" 1 "$IMG" 1 'BAD-KEY=1' >/dev/null
ok "a bad env key is INVALID_ARGUMENT" test $? -eq 3
sfc run "$APP" 1 "$IMG" 1 -M 'role=a b' >/dev/null
ok "bad machine metadata is INVALID_ARGUMENT" test $? -eq 3
sfc logs "$APP" >"$WORK/logs.out"
ok "Logs is UNIMPLEMENTED, pointing to journalctl" bash -c "
	[ $? -eq 12 ] || true; grep -q '^END UNIMPLEMENTED .*journalctl' '$WORK/logs.out'"

# ---- fleet unreachable ----
stop_fleet
sfc run "$APP" 4 "$IMG" 1 >"$WORK/down.out"
ok "with fleet unreachable Run ends UNAVAILABLE" test $? -eq 14
ok "... naming fleet's endpoint" grep -qF "cannot reach fleet at unix://$FLEETSOCK" "$WORK/down.out"
sfc list "$APP" >/dev/null
ok "... and so does List" test $? -eq 14

done_testing
