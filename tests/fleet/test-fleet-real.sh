#!/bin/bash
# scheduler-fleet against the test server behaving like a real fleet v1.0.0
# (--fleet-like: placement after 1 s, /state 3 s late and never activating,
# a deleted unit's state dropped at once while a late agent still starts
# and stops it 4.8 s later, systemd's failed state kept across a re-submit,
# 503 while fleetd restarts). One case per bug of issue 10, each failing on
# the plugin before the fix:
#   1. a scale 2 -> 1 -> 2 cycle: `docker run` exits 143 after `docker
#      stop`, the unit failed, and the re-submitted name started as failed;
#   2. Remove returned while the containers still ran;
#   3. a failed Run left units that started and were announced afterwards;
#   4. with fleet's API down for good (503), a failed Run left its
#      instances running and announced;
# and issue 11's fleet part: the sidekick announces only what passes its
# check (TCP or an HTTP path), withdraws after failed checks and comes
# back; a dead container is restarted by its unit; Watch streams present,
# synced, started, died and removed with announcer "sidekick".
# SF_PLUGIN and SF_ANNOUNCE point at another build of the plugin and its
# script (to show the bugs on the old one). Skipped (77) when dockerd, etcd
# or the registry does not answer.
. "$(dirname "$0")/../integration/lib.sh"

skip() {
	echo "test-fleet-real: SKIP: $*" >&2
	T_FAILED=0
	exit 77
}
need_servers docker etcd registry
command -v python3 >/dev/null || skip "python3 is needed"

SRC=$(cd "$top_srcdir" && pwd)
SFC=${SFC:-$top_builddir/tests/plugins/scheduler-fleet-call}
PLUGIN=${SF_PLUGIN:-$top_builddir/plugins/scheduler-fleet/.libs/scheduler-fleet.so}
ANNOUNCE=${SF_ANNOUNCE:-$SRC/plugins/scheduler-fleet/nap-fleet-announce}
[ -f "$PLUGIN" ] || skip "scheduler-fleet is not built"
SERVER="$SRC/tests/fleet/fleet-test-server.py"
APP="sfr-$$"
IMG="127.0.0.1:5000/sfr-$$:1"
HOSTADDR=127.0.0.4 # keys of our own, apart from other tests'
FLEETSOCK="$WORK/fleet.sock"
SERVER_PID='' WATCH_PID=''
export ETCDCTL_API=3

sfc() { "$SFC" -s "$SOCK" "$@"; }
ectl() { etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=3s "$@"; }
# containers REL: running containers of the app's release REL
containers() { docker ps -q --filter "label=nap.app=$APP" --filter "label=nap.release=$1" | grep -c . || true; }
# keys REL: announcements of release REL
keys() { ectl get --prefix --print-value-only "/services/$APP/" | grep -c "\"release\":$1[,}]" || true; }
gone() { [ "$(containers "$1")" -eq 0 ] && [ "$(keys "$1")" -eq 0 ]; }
api() { curl -sf --max-time 5 --unix-socket "$FLEETSOCK" -X POST "http://fleet/_test/api?$1"; }
fleet_units() { curl -sf --max-time 5 --unix-socket "$FLEETSOCK" http://fleet/fleet/v1/units | grep -o "\"nap-$APP@[^\"]*\"" | sort -u; }
key_of() { ectl get --print-value-only "/services/$APP/$HOSTADDR:$1"; }
# keys_are REL N: release REL has N announcements
keys_are() { [ "$(keys "$1")" -eq "$2" ]; }
export -f sfc ectl containers keys gone fleet_units keys_are
export APP FLEETSOCK SFC SOCK HOSTADDR
# stays_gone REL SECONDS: nothing of REL shows up during SECONDS
stays_gone() {
	local end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		gone "$1" || { echo "release $1: $(containers "$1") containers, $(keys "$1") keys"; return 1; }
		sleep 0.3
	done
}

start_fleet() {
	python3 "$SERVER" --listen "unix://$FLEETSOCK" --machines "m1:role=web m2:role=web" \
		--fleet-like --state-dir "$WORK/fleet-state" -v >"$WORK/fleet.out" 2>"$WORK/fleet.err" &
	SERVER_PID=$!
	wait_until 15 grep -q '^listening on' "$WORK/fleet.out"
}
cleanup() {
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	stop_napd
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null
	fi
	ids=$(docker ps -aq --filter "label=nap.app=$APP")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	ectl del --prefix "/services/$APP/" >/dev/null 2>&1
	ectl del --prefix "${NAP_KEY_PREFIX}fleet/want/$APP/" >/dev/null 2>&1
	ectl del --prefix "${NAP_KEY_PREFIX}fleet/present/$APP/" >/dev/null 2>&1
	docker rmi -f "$IMG" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

cp -R "$SRC/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
ok "examples/hello prepares" "$WORK/hello/prepare"
ok "examples/hello builds as $IMG" docker build -q -t "$IMG" "$WORK/hello"
ok "... and is pushed" docker push -q "$IMG"
ok "the test server starts like a real fleet (--fleet-like)" start_fleet
write_config "plugins = $PLUGIN" "[plugin scheduler-fleet]" \
	"endpoint = unix://$FLEETSOCK" "etcd = http://127.0.0.1:2379" "host = $HOSTADDR" \
	"docker = $(command -v docker)" "announce = $ANNOUNCE" \
	"start_timeout = 60" "stop_timeout = 30" "api_retry = 3" "watch_interval = 500"
ok "napd starts with scheduler-fleet" start_napd
ok "scheduler-fleet runs" wait_until 10 plugin_is scheduler-fleet running

# ---- bug 1: scale 2 -> 1 -> 2 within one release ----
sfc run "$APP" 1 "$IMG" 1,2 >"$WORK/b1-run.out"
ok "bug 1: Run of 2 instances succeeds" test $? -eq 0
sfc remove "$APP" 1 2 >"$WORK/b1-rm.out"
ok "bug 1: Remove of instance 2 (scale 1) succeeds" test $? -eq 0
LOG1="$WORK/fleet-state/logs/nap-$APP@1-2.service.1.log"
wait_until 15 grep -q 'state inactive/dead\|state failed/failed' "$LOG1"
ok "bug 1: its stop leaves no failed unit behind (docker run's 143 is a success)" \
	bash -c "! grep -h 'failed with result' '$LOG1'"
wait_until 15 grep -q 'gone from machine' "$LOG1" # the old unit has left the machine
sfc run "$APP" 1 "$IMG" 2 >"$WORK/b1-rerun.out"
st=$?
ok "bug 1: Run of instance 2 again (scale 2) succeeds ($(tail -1 "$WORK/b1-rerun.out"))" test $st -eq 0
ok "bug 1: both instances serve" bash -c "[ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ] && [ \$(ectl get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"

# ---- bug 2: Remove returns only once the containers have stopped ----
sfc remove "$APP" 0 >"$WORK/b2-rm.out"
st=$?
n=$(docker ps -q --filter "label=nap.app=$APP" | grep -c .)
ok "bug 2: Remove of every instance succeeds" test $st -eq 0
ok "bug 2: ... and when it returns, no container of the app runs ($n)" test "$n" -eq 0
ok "bug 2: ... and no entry is left" test "$(keys 1)" -eq 0

# ---- bug 3: a failed Run leaves nothing that starts later ----
sfc run "$APP" 2 "$IMG" 1,2,3 >"$WORK/b3-run.out"
st=$?
ok "bug 3: 3 instances on 2 machines fail (FAILED_PRECONDITION)" test $st -eq 9
ok "bug 3: ... and when Run returns nothing of release 2 runs or is announced" gone 2
ok "bug 3: ... nor does anything start or get announced afterwards (6 s)" stays_gone 2 6
ok "bug 3: ... no unit of release 2 is left in fleet" bash -c "! fleet_units | grep -q '@2-'"

# ---- bug 4: the API down for good during a Run ----
api "after_puts=4&down_ms=-1" # fleetd "restarts" once both units of both instances are in
sfc -t 60000 run "$APP" 3 "$IMG" 1,2 >"$WORK/b4-run.out"
st=$?
ok "bug 4: with fleet answering 503 for good, Run fails UNAVAILABLE ($(tail -1 "$WORK/b4-run.out"))" test $st -eq 14
# fleet's machine starts the units in any case (the API is down, not the machines)
LOG4="$WORK/fleet-state/logs/nap-$APP@3-1.service.1.log"
wait_until 15 grep -q 'state active/running\|state failed/failed\|state inactive/dead' "$LOG4"
ok "bug 4: ... and within 15 s nothing of release 3 runs or is announced" wait_until 15 gone 3
ok "bug 4: ... and it stays so (4 s)" stays_gone 3 4
api "down_ms=0"
sfc remove "$APP" 0 >"$WORK/b4-rm.out"
ok "bug 4: once fleet answers again, Remove clears its units" bash -c "[ $? -eq 0 ] && [ -z \"\$(fleet_units)\" ]"

# ---- the sidekick's check (issue 11 b) ----
sfc -t 12000 run "$APP" 4 "$IMG" 1 -C /no-such-page >"$WORK/c-404.out"
st=$?
ok "check: an instance whose HTTP check never passes is never announced (Run: $(tail -1 "$WORK/c-404.out" | cut -c1-60))" \
	bash -c "[ $st -ne 0 ] && [ \$(keys 4) -eq 0 ]"
ok "check: ... and its Run removed it" wait_until 20 gone 4
sfc run "$APP" 5 "$IMG" 1 -C /index.html >"$WORK/c-ok.out"
ok "check: an instance whose HTTP check passes is announced" bash -c "[ $? -eq 0 ] && [ \$(keys 5) -eq 1 ]"
cname=nap-$APP-5-1
docker exec -u 0 "$cname" /bin/busybox mv /www/index.html /www/away.html 2>/dev/null
ok "check: after its page goes, 3 failed checks withdraw it" wait_until 10 keys_are 5 0
ok "... while its container still runs" test "$(containers 5)" -eq 1
docker exec -u 0 "$cname" /bin/busybox mv /www/away.html /www/index.html 2>/dev/null
ok "check: when the page is back, it is announced again" wait_until 10 keys_are 5 1
ectl del "/services/$APP/$HOSTADDR:1" >/dev/null
ok "check: an entry deleted by someone else is put back" wait_until 10 keys_are 5 1

# ---- a dead container is restarted by its unit (issue 11 a) ----
old=$(docker ps -q --filter "name=^$cname\$")
docker kill "$cname" >/dev/null
ok "restart: a killed container's entry goes at once" wait_until 3 keys_are 5 0
ok "restart: ... its unit starts it again and it is announced again" \
	wait_until 20 bash -c "[ \$(keys 5) -eq 1 ] && [ -n \"\$(docker ps -q --filter name=^$cname\$)\" ] && [ \"\$(docker ps -q --filter name=^$cname\$)\" != '$old' ]"

# ---- Watch (issue 11 c) ----
sfc watch "$APP" 25 >"$WORK/watch.out" &
WATCH_PID=$!
ok "watch: the current instance is present, then synced" \
	wait_until 10 bash -c "grep -q '^EVENT present $APP 5 1 $HOSTADDR [1-9][0-9]* running sidekick$' '$WORK/watch.out' && grep -q '^EVENT synced$' '$WORK/watch.out'"
sfc run "$APP" 5 "$IMG" 2 >/dev/null
ok "watch: a new instance is started, with its port and announcer sidekick" \
	wait_until 15 grep -q "^EVENT started $APP 5 2 $HOSTADDR [1-9][0-9]* running sidekick$" "$WORK/watch.out"
sfc remove "$APP" 5 2 >/dev/null
ok "watch: a removed one is removed" wait_until 10 grep -q "^EVENT removed $APP 5 2 " "$WORK/watch.out"
wait "$WATCH_PID"
WATCH_PID=
ok "watch: the stream ends CANCELLED when the caller cancels" grep -q '^END CANCELLED' "$WORK/watch.out"
sfc list "$APP" >"$WORK/list.out"
ok "list: instances are listed" grep -q "^INSTANCE $APP 5 1 " "$WORK/list.out"
sfc remove "$APP" 0 >/dev/null
ok "remove: nothing of the app is left" bash -c "gone 5 && [ -z \"\$(fleet_units)\" ]"

done_testing
