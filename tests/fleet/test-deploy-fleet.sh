#!/bin/bash
# The fleet deployment end to end, through napd and napc: napd with the
# builder, scheduler-fleet and discovery-etcd, scheduler-fleet pointed at
# tests/fleet/fleet-test-server.py (a fleet API v1 test fixture with two
# simulated machines that RUNS the units with the real dockerd, registry and
# etcd). Issue 4's list: deploy examples/hello to two instances on two
# machines and fetch the page from both endpoints; one entry per instance
# (discovery-etcd leaves containers that a sidekick announces alone); a
# killed container's entry vanishes at once and its unit restarts it; scale
# 1 and 2 (the same unit name submitted again);
# a redeploy without a failed request; napd restarted keeps the entries;
# --env with shell metacharacters; 3 instances on 2 machines fail naming
# the unit; destroy leaves nothing; fleet unreachable is named.
# Skipped (77) when dockerd, etcd or the registry does not answer.
. "$(dirname "$0")/../integration/lib.sh"

skip() {
	echo "test-deploy-fleet: SKIP: $*" >&2
	T_FAILED=0
	exit 77
}
curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://x/_ping >/dev/null ||
	skip "dockerd does not answer on /var/run/docker.sock (scripts/servers start)"
curl -sf --max-time 2 http://127.0.0.1:2379/health >/dev/null ||
	skip "etcd does not answer at http://127.0.0.1:2379"
curl -sf --max-time 2 http://127.0.0.1:5000/v2/ >/dev/null ||
	skip "the registry does not answer at 127.0.0.1:5000"
for p in builder scheduler-fleet discovery-etcd; do
	[ -f "$top_builddir/plugins/$p/.libs/$p.so" ] || skip "plugin $p is not built"
done

SRC=$(cd "$top_srcdir" && pwd)
SERVER="$SRC/tests/fleet/fleet-test-server.py"
APP=fdep-$$
# The sidekicks announce the address discovery-etcd writes for what it
# announces itself (its default): its reconcile must then keep their keys,
# and a discovery-etcd of another test running beside us writes no
# second key. That ours leaves the fleet containers alone is read in its log.
FHOST=127.0.0.1
FLEETSOCK="$WORK/fleet.sock"
FLEET_PID=
export ETCDCTL_API=3

plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
ectl() { etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=3s "$@"; }
keys() { ectl get --prefix --keys-only "/services/$APP/" | grep -c . || true; }
containers() { docker ps -q --filter "label=nap.app=$APP" | grep -c . || true; }
fleet_get() { curl -sf --max-time 5 --unix-socket "$FLEETSOCK" "http://fleet/fleet/v1/$1"; }
# fleet_units: the names of the app's units fleet knows, one a line.
fleet_units() {
	fleet_get units | python3 -c '
import json, sys
for u in json.load(sys.stdin).get("units", []):
    if u["name"].startswith("nap-" + sys.argv[1] + "@"): print(u["name"])' "$APP"
}
# unit_active NAME: fleet's /state shows the unit active.
unit_active() {
	fleet_get state | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin).get("states", []) if x["name"] == sys.argv[1]]
sys.exit(0 if s and s[0]["systemdActiveState"] == "active" else 1)' "$1"
}
not() { ! "$@"; }
page_ok() { curl -sf --max-time 2 "$1" | grep -q "Hello from nap"; }
all_pages_ok() {
	local urls
	urls=$(napc endpoints "$APP") || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do page_ok "$u" || return 1; done
}
# n_endpoints N: napc endpoints lists N endpoints, all under the sidekicks' host.
n_endpoints() {
	local urls
	urls=$(napc endpoints "$APP") || return 1
	[ "$(echo "$urls" | grep -c "^http://$FHOST:[0-9]*$")" -eq "$1" ] &&
		[ "$(echo "$urls" | grep -c .)" -eq "$1" ]
}
# one_entry_each N: N keys under /services/APP/, one per instance, all the
# sidekicks' (host FHOST), each {host, port, instance, release,
# container_port} for the default port (8080).
one_entry_each() {
	ectl get --prefix "/services/$APP/" | python3 -c '
import json, sys
lines = sys.stdin.read().split("\n")
kv = dict(zip(lines[0::2], lines[1::2]))
kv.pop("", None)
want, host = int(sys.argv[1]), sys.argv[2]
inst = []
for k, v in kv.items():
    d = json.loads(v)
    assert set(d) == {"host", "port", "instance", "release", "container_port"}, d
    assert d["container_port"] == 8080, d
    assert k.endswith("/%s:%d" % (host, d["instance"])) and d["host"] == host, (k, d)
    inst.append(d["instance"])
assert len(inst) == want and len(set(inst)) == want, kv' "$1" "$FHOST"
}

start_fleet() {
	python3 "$SERVER" --listen "unix://$FLEETSOCK" --machines "m1:role=web m2:role=web" \
		--state-dir "$WORK/fleet-state" >"$WORK/fleet.out" 2>"$WORK/fleet.err" &
	FLEET_PID=$!
	wait_until 15 grep -q '^listening on' "$WORK/fleet.out"
}
stop_fleet() {
	if [ -n "$FLEET_PID" ] && kill -0 "$FLEET_PID" 2>/dev/null; then
		kill -TERM "$FLEET_PID"
		wait "$FLEET_PID" 2>/dev/null
	fi
	FLEET_PID=
}
cleanup() {
	[ -n "${FETCH_PID:-}" ] && kill "$FETCH_PID" 2>/dev/null
	stop_napd
	stop_fleet
	ids=$(docker ps -aq --filter "label=nap.app=$APP")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	ectl del --prefix "/services/$APP/" >/dev/null 2>&1
	ectl del --prefix "${NAP_KEY_PREFIX}apps/$APP/" >/dev/null 2>&1
	for i in $(docker images -q "127.0.0.1:5000/$APP" | sort -u); do
		docker rmi -f "$i" >/dev/null 2>&1
	done
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT
[ -f "$SERVER" ] || skip "tests/fleet/fleet-test-server.py is not there"

cp -R "$SRC/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
ok "examples/hello prepares" "$WORK/hello/prepare"
ok "the fleet test server starts with two machines" start_fleet

napd_config() {
	write_config \
		"plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-fleet) $(plugin discovery-etcd)" \
		"deploy_timeout = 120" \
		"[plugin scheduler-fleet]" "endpoint = unix://$FLEETSOCK" \
		"etcd = http://127.0.0.1:2379" "host = $FHOST" "docker = $(command -v docker)" \
		"announce = $SRC/plugins/scheduler-fleet/nap-fleet-announce" \
		"start_timeout = 90" "stop_timeout = 30"
}
napd_config
ok "napd starts with builder, scheduler-fleet and discovery-etcd" start_napd
for p in builder scheduler-fleet discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done
ok "nap.Scheduler is scheduler-fleet's" bash -c "'$NAPC' --socket '$SOCK' plugins | grep scheduler-fleet | grep -q nap.Scheduler"

# ---- deploy two instances on two machines ----
napc --timeout 180 deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy1.out" 2>&1
st=$?
ok "napc deploy --instances 2 through fleet succeeds" test "$st" -eq 0
ok "... printing two endpoints on the sidekicks' host" \
	test "$(grep -c "http://$FHOST:[0-9]* *instance" "$WORK/deploy1.out")" -eq 2
ok "napc endpoints gives both" n_endpoints 2
ok "the page is fetched from each" all_pages_ok
ok "one etcd entry per instance, the sidekick's (discovery-etcd adds none)" one_entry_each 2
ok "discovery-etcd did not announce the fleet containers itself" \
	bash -c "! grep -q 'discovery-etcd: announced $APP ' '$WORK/napd.log'"
ok "fleet runs a run unit and a sidekick per instance" test "$(fleet_units | grep -c .)" -eq 4
ok "... on two distinct machines" test "$(fleet_get state | python3 -c '
import json, sys
print(len({s["machineID"] for s in json.load(sys.stdin).get("states", [])
           if s["name"].startswith("nap-'"$APP"'@") and not s["name"].endswith("-discovery.service")}))')" -eq 2
ok "two containers run, labelled for the sidekick" \
	bash -c "[ \$(docker ps -q --filter label=nap.app=$APP --filter label=nap.announced-by=sidekick | wc -l) -eq 2 ]"

# ---- a container dies: its entry goes at once, its unit restarts it ----
victim=$(docker ps --filter "label=nap.app=$APP" --filter label=nap.instance=2 --format '{{.Names}}')
ok "instance 2 has a container" test -n "$victim"
victim_id=$(docker ps -q --filter "name=^$victim\$")
docker kill "$victim" >/dev/null 2>&1
ok "its entry leaves etcd at once" wait_until 5 one_entry_each 1
ok "instance 1 still serves" all_pages_ok
# Restart=on-failure: the run unit starts it again, its sidekick announces it
ok "its unit restarts it: two entries again" wait_until 20 one_entry_each 2
ok "... a new container" bash -c "[ \"\$(docker ps -q --filter name=^$victim\$)\" != '$victim_id' ] && [ -n \"\$(docker ps -q --filter name=^$victim\$)\" ]"
both_serve() { n_endpoints 2 && all_pages_ok; }
ok "... and napc endpoints gives both, serving" wait_until 10 both_serve

# ---- scale ----
ok "napc scale $APP 1" napc --timeout 120 scale "$APP" 1
ok "... one unit pair left in fleet" test "$(fleet_units | grep -c .)" -eq 2
ok "... one entry" one_entry_each 1
ok "napc scale $APP 2" napc --timeout 180 scale "$APP" 2
ok "... two entries" one_entry_each 2
ok "... both serving" all_pages_ok
ok "... four units in fleet" test "$(fleet_units | grep -c .)" -eq 4

# ---- napd restarted: discovery-etcd's reconcile (which deletes keys of its
# host that no running container accounts for) keeps the sidekicks' entries ----
before=$(napc endpoints "$APP" | sort)
stop_napd
ok "napd starts again" start_napd
ok "... discovery-etcd runs" wait_until 20 plugin_is discovery-etcd running
sleep 2 # its reconcile: what a missing fix would delete does so at once
ok "... the entries are still there, one per instance" one_entry_each 2
ok "... napc endpoints answers as before" bash -c "[ \"\$('$NAPC' --socket '$SOCK' endpoints $APP | sort)\" = \"$before\" ]"

# ---- redeploy: the old release serves until the new one is announced ----
cat >"$WORK/fetch.sh" <<SH
fails=0 n=0
while [ ! -e "$WORK/stop-fetch" ]; do
	n=\$((n + 1)); ok=0
	for u in \$("$NAPC" --socket "$SOCK" endpoints $APP); do
		curl -sf --max-time 2 "\$u" >/dev/null && { ok=1; break; }
	done
	[ \$ok = 1 ] || fails=\$((fails + 1))
done
echo "\$n \$fails" >"$WORK/fetch.result"
SH
bash "$WORK/fetch.sh" &
FETCH_PID=$!
echo "<p>nap release 2</p>" >>"$WORK/hello/index.html"
napc --timeout 180 deploy "$APP" "$WORK/hello" >"$WORK/deploy2.out" 2>&1
st=$?
touch "$WORK/stop-fetch"
wait $FETCH_PID
FETCH_PID=
read -r fetched fails <"$WORK/fetch.result"
ok "a redeploy (release 2) succeeds" test "$st" -eq 0
ok "no failed request during it ($fetched fetches, $fails failed)" test "$fails" -eq 0 -a "$fetched" -gt 0
all_release_2() {
	local urls
	urls=$(napc endpoints "$APP") || return 1
	[ "$(echo "$urls" | grep -c .)" -eq 2 ] || { echo "endpoints: $urls"; return 1; }
	for u in $urls; do
		curl -sf --max-time 5 "$u" | grep -q 'release 2' || { echo "$u does not serve release 2"; return 1; }
	done
}
ok "both endpoints serve release 2" wait_until 10 all_release_2
ok "release 1 is gone from etcd" wait_until 10 one_entry_each 2
ok "... and from fleet (4 units, all release 2)" wait_until 30 bash -c "
	[ \$(curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | grep -o '\"nap-$APP@[0-9]*-' | sort -u) = '\"nap-$APP@2-' ] &&
	[ \$(curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | grep -o '\"name\":\"nap-$APP@' | wc -l) -eq 4 ]"
ok "... and from Docker" wait_until 30 bash -c "[ \$(docker ps -q --filter label=nap.app=$APP --filter label=nap.release=1 | wc -l) -eq 0 ]"

# ---- --env with shell metacharacters ----
NASTY='$(touch '"$WORK"'/pwned1); touch '"$WORK"'/pwned2 ; echo "dq" '"'"'sq'"'"' `touch '"$WORK"'/pwned3` %n ${HOME} \ end
second line'
napc --timeout 180 deploy "$APP" "$WORK/hello" --env "NASTY=$NASTY" --env 'PLAIN=a;b' >"$WORK/deploy3.out" 2>&1
ok "napc deploy --env with \$(..), ;, quotes, a newline succeeds" test $? -eq 0
cid=$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=3 | head -1)
docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$cid" >"$WORK/env.out" 2>&1
printf 'NASTY=%s\n' "$NASTY" >"$WORK/nasty.want"
ok "the container has exactly that value" bash -c "grep -A1 '^NASTY=' '$WORK/env.out' | cmp - '$WORK/nasty.want'"
ok "... and PLAIN=a;b" grep -qxF 'PLAIN=a;b' "$WORK/env.out"
ok "... and nothing else was executed" bash -c "! ls '$WORK'/pwned* 2>/dev/null | grep -q ."
ok "release 3 serves" all_pages_ok

# ---- more instances than machines under Conflicts ----
t0=$(date +%s)
napc --timeout 180 deploy "$APP" "$WORK/hello" --instances 3 >"$WORK/three.out" 2>&1
st=$?
t1=$(date +%s)
echo "# 3 instances on 2 machines: exit $st after $((t1 - t0)) s: $(tail -1 "$WORK/three.out")"
ok "napc deploy --instances 3 on 2 machines fails (exit 1)" test "$st" -eq 1
ok "... with one line naming the unit that cannot be placed" bash -c "
	[ \$(grep -c 'cannot be placed' '$WORK/three.out') -eq 1 ] &&
	grep -q 'unit nap-$APP@4-[0-9]*.service cannot be placed: 2 machines, each already runs an instance of $APP release 4 (Conflicts)' '$WORK/three.out'"
ok "... saying release 3 keeps serving" grep -q 'release 3 keeps serving' "$WORK/three.out"
ok "... before the 90 s deadline (start_timeout; took $((t1 - t0)) s)" test $((t1 - t0)) -lt 90
ok "release 3 still serves, two entries" one_entry_each 2
ok "... both pages" all_pages_ok
ok "... nothing of release 4 is left in fleet or Docker" wait_until 30 bash -c "
	! curl -sf --unix-socket '$FLEETSOCK' http://fleet/fleet/v1/units | grep -q 'nap-$APP@4-' &&
	[ \$(docker ps -aq --filter label=nap.app=$APP --filter label=nap.release=4 | wc -l) -eq 0 ]"

# ---- destroy ----
ok "napc destroy" napc --timeout 120 destroy "$APP"
ok "... no unit of it in fleet" test "$(fleet_units | grep -c .)" -eq 0
ok "... no entry under /services/$APP/" test "$(keys)" -eq 0
no_container() { [ "$(containers)" -eq 0 ]; }
ok "... no container (docker run --rm removes it once stopped)" wait_until 10 no_container
ok "... no record under ${NAP_KEY_PREFIX}apps/$APP/" test "$(ectl get --prefix --keys-only "${NAP_KEY_PREFIX}apps/$APP/" | grep -c .)" -eq 0

# ---- fleet unreachable ----
stop_fleet
napc --timeout 60 deploy "$APP" "$WORK/hello" >"$WORK/down.out" 2>&1
st=$?
ok "with fleet unreachable, napc deploy fails (exit 1)" test "$st" -eq 1
ok "... saying it cannot reach fleet at its endpoint" grep -qF "cannot reach fleet at unix://$FLEETSOCK" "$WORK/down.out"
ok "... in one line" test "$(grep -c 'fleet' "$WORK/down.out")" -eq 1
ok "... leaving no container" test "$(containers)" -eq 0

done_testing
