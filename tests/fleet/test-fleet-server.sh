#!/bin/bash
# Tests of the fleet API TEST SERVER itself (tests/fleet/fleet-test-server.py,
# a fixture, not fleet): the answers a real fleetd v1.0.0 gave (see
# tests/fleet/README.md), pagination, placement ([X-Fleet] MachineOf,
# MachineMetadata, Conflicts), and units really executed: Exec lines split
# like systemd, specifiers, ExecStop, the '-' prefix, Environment= quoting,
# BindsTo stop propagation, a Docker container, and a clean SIGTERM.
# TAP output; exit 0/1; 77 (skip) without python3 or curl.
set -u

if ! command -v python3 >/dev/null 2>&1; then
	echo "test-fleet-server: SKIP: python3 is needed" >&2
	exit 77
fi
if ! command -v curl >/dev/null 2>&1; then
	echo "test-fleet-server: SKIP: curl is needed" >&2
	exit 77
fi

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# ok, wait_until, $WORK and done_testing (TAP) are the integration tests'.
. "$HERE/../integration/lib.sh"
top_srcdir=${top_srcdir:-$(CDPATH='' cd -- "$HERE/../.." && pwd)}
SERVER_PY="$top_srcdir/tests/fleet/fleet-test-server.py"
REF_DISCOVERY="$top_srcdir/tests/fleet/fleet-v1-discovery.json"
FLEET_SOCK="$WORK/fleet.sock"
SERVER_PID=
TAG="fts$$"

# A check this machine cannot make (no dockerd): counted and said so.
skip() { T_COUNT=$((T_COUNT + 1)); echo "ok $T_COUNT - $1 # SKIP $2"; }

# ---- the server -------------------------------------------------------------
MACHINES="m1:role=web,region=a m2:role=web,region=b m3:role=db,region=a"

start_server() { # start_server [options]: on $FLEET_SOCK, state in $WORK/state
	python3 "$SERVER_PY" --listen "unix://$FLEET_SOCK" --machines "$MACHINES" \
		--state-dir "$WORK/state" --timeout-stop-sec 3 -v "$@" \
		>"$WORK/server.out" 2>>"$WORK/server.log" &
	SERVER_PID=$!
	wait_until 10 grep -q '^listening on unix://' "$WORK/server.out"
}
stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		wait "$SERVER_PID"
	fi
	SERVER_PID=
}

cleanup() {
	stop_server 2>/dev/null
	docker rm -f "$TAG-web" >/dev/null 2>&1
	docker rmi -f "$TAG-hello:1" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

# api METHOD PATH [BODY [CONTENT-TYPE]]: status in $WORK/status, body in
# $WORK/body, headers in $WORK/headers. PATH is under /fleet/v1 unless it
# starts with /.
api() {
	local method=$1 path=$2 body=${3-} ctype=${4-application/json}
	case $path in /*) ;; *) path="/fleet/v1/$path" ;; esac
	local args=(-sS --unix-socket "$FLEET_SOCK" -X "$method" -D "$WORK/headers" -o "$WORK/body"
		-w '%{http_code}')
	if [ $# -ge 3 ]; then
		if [ -n "$ctype" ]; then args+=(-H "Content-Type: $ctype"); else args+=(-H "Content-Type:"); fi
		args+=(--data-binary "$body")
	fi
	curl "${args[@]}" "http://fleet$path" >"$WORK/status"
}
status_is() { [ "$(cat "$WORK/status")" = "$1" ] || { echo "status $(cat "$WORK/status"), want $1"; cat "$WORK/body"; return 1; }; }
body_is() { [ "$(cat "$WORK/body")" = "$1" ] || { echo "body: $(cat "$WORK/body")"; echo "want: $1"; return 1; }; }
answers() { # answers METHOD PATH STATUS [BODY] [REQUEST BODY [CTYPE]]
	local m=$1 p=$2 st=$3 want=${4-__any__}
	shift 4 2>/dev/null || shift $#
	api "$m" "$p" "$@" || return 1
	status_is "$st" || return 1
	[ "$want" = "__any__" ] || body_is "$want"
}
# js EXPR: evaluate a Python expression on the JSON body ($WORK/body) as d.
js() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$WORK/body" "$1"; }
check_js() { [ "$(js "$1")" = "True" ] || { echo "false: $1"; cat "$WORK/body"; return 1; }; }

# unit NAME DESIRED OPTION...: PUT a unit; OPTION is Section.Name=value.
unit() {
	local name=$1 desired=$2
	shift 2
	local body
	body=$(python3 -c '
import json, sys
opts = []
for a in sys.argv[2:]:
    k, _, v = a.partition("=")
    sec, _, n = k.partition(".")
    opts.append({"section": sec, "name": n, "value": v})
print(json.dumps({"desiredState": sys.argv[1], "options": opts}))' "$desired" "$@")
	api PUT "units/$name" "$body"
}
desire() { api PUT "units/$1" "{\"desiredState\":\"$2\"}"; }

state_of() { # state_of UNIT: "active/sub@machineID" or "none"
	curl -sS --unix-socket "$FLEET_SOCK" "http://fleet/fleet/v1/state?unitName=$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = d.get("states", [])
print("%s/%s@%s" % (s[0]["systemdActiveState"], s[0]["systemdSubState"], s[0]["machineID"]) if s else "none")'
}
state_is() { # state_is UNIT ACTIVE/SUB
	local s
	s=$(state_of "$1")
	[ "${s%@*}" = "$2" ] || { echo "$1 is $s, want $2"; return 1; }
}
machine_of() { api GET "units/$1" && js 'd.get("machineID", "")'; }
machine_id() { # machine_id NAME: the id /machines gives machine NAME (by metadata)
	case $1 in m1) echo "$M1" ;; m2) echo "$M2" ;; m3) echo "$M3" ;; esac
}
state_gone() { [ "$(state_of "$1")" = none ] || { echo "$1 is $(state_of "$1")"; return 1; }; }
pid_gone() { ! kill -0 "$(cat "$1")" 2>/dev/null; }
unit_log() { cat "$WORK/state/logs/$1.log"; }

# =============================================================================
echo "# fleet test server: $SERVER_PY"
ok "the server starts on a unix socket and says where it listens" start_server
ok "it printed exactly 'listening on unix://$FLEET_SOCK'" \
	test "$(cat "$WORK/server.out")" = "listening on unix://$FLEET_SOCK"

# ---- API: what a real fleet answered (fleet-observed/README.md) ----------
ok "GET /machines: 200 with the three simulated machines" \
	answers GET machines 200
ok "responses carry Content-Type: application/json and Server: fleetd/v1.0.0" \
	sh -c "grep -qi '^Content-Type: application/json' '$WORK/headers' && grep -qi '^Server: fleetd/v1.0.0' '$WORK/headers'"
ok "machines: ids are 32 hex digits, primaryIP 127.0.0.1, metadata as given" check_js \
	'len(d["machines"]) == 3 and all(len(m["id"]) == 32 and int(m["id"], 16) >= 0 and m["primaryIP"] == "127.0.0.1" for m in d["machines"]) and sorted((m["metadata"]["role"], m["metadata"]["region"]) for m in d["machines"]) == [("db","a"),("web","a"),("web","b")]'
M1=$(js '[m["id"] for m in d["machines"] if m["metadata"] == {"role":"web","region":"a"}][0]')
M2=$(js '[m["id"] for m in d["machines"] if m["metadata"] == {"role":"web","region":"b"}][0]')
M3=$(js '[m["id"] for m in d["machines"] if m["metadata"]["role"] == "db"][0]')
cp "$WORK/body" "$WORK/machines.json"
ok "an empty unit list is {}" answers GET units 200 '{}'
ok "an empty state list is {}" answers GET state 200 '{}'
ok "the /v1-alpha prefix answers too" answers GET /v1-alpha/units 200 '{}'
t_discovery() { api GET discovery && status_is 200 && cmp "$WORK/body" "$REF_DISCOVERY"; }
ok "GET /discovery: 200, fleet's discovery document" t_discovery
ok "PUT without Content-Type: application/json: 415" \
	answers PUT units/a.service 415 __any__ '{"desiredState":"inactive","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}' text/plain
ok "PUT of a name without a dot: 400 'unit name must contain \".\"'" \
	answers PUT units/nodot 400 '{"error":{"code":400,"message":"unit name must contain \".\""}}' '{"desiredState":"inactive"}'
ok "PUT of a name with a bad character: 400" \
	answers PUT 'units/a%21b.service' 400 '{"error":{"code":400,"message":"invalid character '"'"'!'"'"' in unit name"}}' '{"desiredState":"inactive"}'
t_notjson() { api PUT units/a.service 'not json' && status_is 400 && grep -q '"message":"unable to decode body: ' "$WORK/body"; }
ok "PUT of a body that is not JSON: 400 'unable to decode body: …'" t_notjson
ok "PUT of a missing unit without options: 409" \
	answers PUT units/missing.service 409 '{"error":{"code":409,"message":"unit does not exist and options field empty"}}' '{"desiredState":"launched"}'
ok "PUT of a new unit: 201, empty body" \
	unit api1.service inactive Service.ExecStart=/bin/true
ok "  (201)" sh -c "[ \"\$(cat '$WORK/status')\" = 201 ] && [ ! -s '$WORK/body' ]"
unit api1.service inactive Service.ExecStart=/bin/true
ok "PUT with identical options: 204" status_is 204
desire api1.service loaded
ok "PUT of desiredState only: 204" status_is 204
unit api1.service inactive Service.ExecStart=/bin/false
ok "PUT with different options on an existing unit: 201 (replaced)" status_is 201
t_getunit() {
	api GET units/api1.service && status_is 200 &&
		check_js 'd == {"name":"api1.service","desiredState":"inactive","currentState":"inactive","options":[{"section":"Service","name":"ExecStart","value":"/bin/false"}]}'
}
ok "GET of the unit: its options, desiredState, currentState" t_getunit
ok "PUT of an existing unit without desiredState: 409" \
	answers PUT units/api1.service 409 '{"error":{"code":409,"message":"must provide DesiredState to update existing unit"}}' '{}'
t_running() { api PUT units/api1.service '{"desiredState":"running"}' && status_is 400 && grep -q 'invalid desiredState' "$WORK/body"; }
ok "PUT of desiredState 'running' is refused with 400 (fleet would break the unit)" t_running
ok "a name in the body that differs from the URL: 400" \
	answers PUT units/api1.service 400 '{"error":{"code":400,"message":"name in URL \"api1.service\" differs from unit name in request body \"other.service\""}}' '{"name":"other.service","desiredState":"loaded"}'
ok "POST to a unit: 405" answers POST units/api1.service 405 \
	'{"error":{"code":405,"message":"only GET, PUT and DELETE supported against this resource"}}' '{}'
ok "a bad nextPageToken: 400 'illegal base64 data…'" answers GET 'units?nextPageToken=%25%25%25' 400 \
	'{"error":{"code":400,"message":"illegal base64 data at input byte 0"}}'
ok "a template unit can be stored inactive" unit tmpl@.service inactive Service.ExecStart=/bin/true
ok "  (201)" status_is 201
ok "a template unit cannot be launched: 400 (PUT an instance instead)" \
	answers PUT units/tmpl@.service 400 __any__ '{"desiredState":"launched"}'
t_global() { unit g.service launched X-Fleet.Global=true Service.ExecStart=/bin/true; status_is 400; }
ok "Global=true is refused: 400 (not supported by the test server)" t_global
ok "DELETE: 204" answers DELETE units/api1.service 204 ''
ok "the same DELETE again: 404 'unit does not exist' (as fleet-observed/404.json)" \
	answers DELETE units/api1.service 404 '{"error":{"code":404,"message":"unit does not exist"}}'
ok "GET of a missing unit: 404" \
	answers GET units/api1.service 404 '{"error":{"code":404,"message":"unit does not exist"}}'
answers DELETE units/tmpl@.service 204 ''

# ---- pagination (a server of its own with --page-size 2) -----------------
stop_server
start_server --page-size 2
for i in 1 2 3 4 5; do unit "page$i.service" inactive Service.ExecStart=/bin/true; done
api GET units
ok "page 1: 2 units and a nextPageToken" check_js 'len(d["units"]) == 2 and "nextPageToken" in d'
T1=$(js 'd["nextPageToken"]')
ok "the token is fleet's: base64 of limit and page (little-endian uint16)" \
	test "$T1" = "AgACAA=="
api GET "units?nextPageToken=$(printf %s "$T1" | sed 's/=/%3D/g')"
ok "page 2: 2 more units and a token" check_js 'len(d["units"]) == 2 and "nextPageToken" in d'
T2=$(js 'd["nextPageToken"]')
api GET "units?nextPageToken=$T2"
ok "page 3: the last unit, no token" check_js '[u["name"] for u in d["units"]] == ["page5.service"] and "nextPageToken" not in d'
ok "a token for another page size: 400 'token limit must be 2'" \
	answers GET 'units?nextPageToken=ZAABAA==' 400 '{"error":{"code":400,"message":"token limit must be 2"}}'
ok "a token for page 0: 400" \
	answers GET 'units?nextPageToken=AgAAAA==' 400 '{"error":{"code":400,"message":"token page must be greater than zero"}}'
stop_server
rm -rf "$WORK/state"

# ---- placement ---------------------------------------------------------------
start_server
t_sameids() { api GET machines && cmp "$WORK/body" "$WORK/machines.json"; }
ok "the same machine names give the same machine ids after a restart" t_sameids
SLEEP=/bin/sleep
t0=$(date +%s%N)
unit meta.service launched "X-Fleet.MachineMetadata=region=b" "Service.ExecStart=$SLEEP 1000"
wait_until 30 state_is meta.service active/running
t1=$(date +%s%N)
ok "MachineMetadata=region=b: placed on m2" test "$(machine_of meta.service)" = "$M2"
# The time is reported, not asserted: these machines are shared and loaded.
ok "  and running ($(((t1 - t0) / 1000000)) ms after the PUT)" state_is meta.service active/running
unit meta2.service launched "X-Fleet.MachineMetadata=role=web" "X-Fleet.MachineMetadata=region=a" "Service.ExecStart=$SLEEP 1000"
wait_until 5 state_is meta2.service active/running
ok "two MachineMetadata keys must both match: m1" test "$(machine_of meta2.service)" = "$M1"
unit meta3.service launched "X-Fleet.MachineMetadata=role=db role=cache" "Service.ExecStart=$SLEEP 1000"
wait_until 5 state_is meta3.service active/running
ok "several values for one key match any of them: m3" test "$(machine_of meta3.service)" = "$M3"
unit peer.service launched "X-Fleet.MachineOf=meta.service" "Service.ExecStart=$SLEEP 1000"
wait_until 5 state_is peer.service active/running
ok "MachineOf=meta.service: on meta's machine" test "$(machine_of peer.service)" = "$M2"
unit waiter.service launched "X-Fleet.MachineOf=later.service" "Service.ExecStart=$SLEEP 1000"
sleep 0.4
ok "MachineOf a unit that is not placed yet: waits (not in /state)" state_gone waiter.service
unit later.service launched "X-Fleet.MachineID=$M3" "Service.ExecStart=$SLEEP 1000"
wait_until 5 state_is waiter.service active/running
ok "MachineID=m3's id: on m3" test "$(machine_of later.service)" = "$M3"
ok "  and the waiting MachineOf unit followed it there" test "$(machine_of waiter.service)" = "$M3"
unit nowhere.service launched "X-Fleet.MachineMetadata=role=gpu" "Service.ExecStart=$SLEEP 1000"
sleep 0.5
api GET units/nowhere.service
ok "no machine matches: the unit stays unplaced (currentState inactive, no machineID)" \
	check_js 'd["currentState"] == "inactive" and d["desiredState"] == "launched" and "machineID" not in d'
ok "  and it is not in /state" state_gone nowhere.service
for i in 1 2 3; do
	unit "cf$i.service" launched "X-Fleet.Conflicts=cf*.service" "X-Fleet.MachineMetadata=role=web" "Service.ExecStart=$SLEEP 1000"
done
sleep 0.6
placed() { # placed UNIT...: the machine ids of the placed ones
	local u m
	for u in "$@"; do m=$(machine_of "$u"); [ -n "$m" ] && echo "$m"; done
}
ok "Conflicts, three units for two machines: two placed, on different machines" \
	test "$(placed cf1.service cf2.service cf3.service | sort -u | wc -l)" = 2
ok "  and the third stays unplaced" test "$(placed cf1.service cf2.service cf3.service | wc -l)" = 2
api DELETE units/cf1.service
two_placed() { [ "$(placed cf2.service cf3.service | wc -l)" = 2 ]; }
wait_until 5 two_placed
ok "deleting one of them lets the third be placed" test "$(placed cf2.service cf3.service | sort -u | wc -l)" = 2
t_bymachine() {
	api GET "state?machineID=$M3" &&
		check_js 'sorted(s["name"] for s in d["states"]) == ["later.service", "meta3.service", "waiter.service"] and all(s["machineID"] == "'"$M3"'" for s in d["states"])'
}
ok "/state?machineID= filters by machine" t_bymachine
t_hash() {
	api GET 'state?unitName=meta.service' &&
		check_js 'len(d["states"]) == 1 and len(d["states"][0]["hash"]) == 40 and d["states"][0]["systemdLoadState"] == "loaded"'
}
ok "/state entries carry the unit's hash and loadState loaded" t_hash
for u in meta meta2 meta3 peer waiter later nowhere cf2 cf3; do api DELETE "units/$u.service"; done
wait_until 10 answers GET state 200 '{}'
ok "after deleting them all, /state is {} again" answers GET state 200 '{}'

# ---- execution -------------------------------------------------------------
OUT="$WORK/out"
mkdir -p "$OUT"
unit hello.service launched \
	'Service.ExecStart=/bin/sh -c "echo started %n on %H; echo $$$$ > '"$OUT"'/hello.pid; exec sleep 1000"' \
	"Service.ExecStop=/bin/sh -c \"echo stopped %n > $OUT/hello.stopped\"" \
	"X-Fleet.MachineID=$M1"
ok "a launched unit becomes active/running" wait_until 5 state_is hello.service active/running
ok "its ExecStart ran, specifiers expanded (%n, %H = the machine name)" \
	wait_until 3 grep -qx 'started hello.service on m1' "$WORK/state/logs/hello.service.log"
ok "  with the main process alive" wait_until 3 kill -0 "$(cat "$OUT/hello.pid")"
api GET units/hello.service
ok "/units says currentState launched with the machineID" \
	check_js "d['currentState'] == 'launched' and d['machineID'] == '$M1'"
desire hello.service loaded
ok "desiredState loaded stops it: inactive/dead, still in /state" wait_until 10 state_is hello.service inactive/dead
ok "  ExecStop ran (it wrote its file)" grep -qx 'stopped hello.service' "$OUT/hello.stopped"
ok "  and the main process is gone" pid_gone "$OUT/hello.pid"
desire hello.service launched
ok "launched again: running again" wait_until 5 state_is hello.service active/running
ok "  with a new log file per run" test -f "$WORK/state/logs/hello.service.2.log"
desire hello.service inactive
ok "desiredState inactive: stopped and unscheduled (gone from /state)" wait_until 10 state_gone hello.service
api GET units/hello.service
ok "  /units: currentState inactive, no machineID" check_js '"machineID" not in d and d["currentState"] == "inactive"'
api DELETE units/hello.service

# -- the '-' prefix on ExecStartPre
unit pre.service launched \
	'Service.ExecStartPre=-/bin/false' \
	"Service.ExecStartPre=/bin/sh -c 'echo pre2 > $OUT/pre2'" \
	"Service.ExecStart=/bin/sh -c 'echo main > $OUT/pre-main; exec sleep 1000'"
ok "ExecStartPre=-/bin/false: failure ignored, the unit runs" wait_until 5 state_is pre.service active/running
t_pre() { grep -qx pre2 "$OUT/pre2" && wait_until 3 grep -qx main "$OUT/pre-main"; }
ok "  the next ExecStartPre ran, then ExecStart" t_pre
unit prefail.service launched \
	'Service.ExecStartPre=/bin/false' \
	"Service.ExecStart=/bin/sh -c 'echo main > $OUT/prefail-main; exec sleep 1000'"
ok "ExecStartPre=/bin/false without '-': the unit fails (failed/failed)" wait_until 5 state_is prefail.service failed/failed
ok "  and its ExecStart never ran" test ! -e "$OUT/prefail-main"
unit noexec.service launched "Service.ExecStart=$OUT/does-not-exist"
ok "an ExecStart that cannot be executed: failed/failed" wait_until 5 state_is noexec.service failed/failed
unit exit1.service launched "Service.ExecStart=/bin/sh -c 'exit 3'"
ok "a main process exiting non-zero: failed/failed" wait_until 5 state_is exit1.service failed/failed
unit exit0.service launched "Service.ExecStart=/bin/true"
ok "a main process exiting 0: inactive/dead" wait_until 5 state_is exit0.service inactive/dead
unit badspec.service launched "Service.ExecStart=/bin/echo %Z"
ok "an unknown specifier: loadState error, nothing runs" \
	wait_until 5 sh -c "curl -sS --unix-socket '$FLEET_SOCK' 'http://f/fleet/v1/state?unitName=badspec.service' | grep -q '\"systemdLoadState\":\"error\"'"
for u in pre prefail noexec exit1 exit0 badspec; do api DELETE "units/$u.service"; done

# -- Environment=: spaces and quotes reach the process exactly. The values
# below are what the unit file says (systemd syntax), verbatim.
ENV1=$(cat <<'EOF'
"GREETING=hello  world" "QUOTED=say \"hi\" \x26 'bye'" PLAIN=x
EOF
)
EXEC_ENV=$(cat <<'EOF'
/bin/sh -c 'for a in "$$@"; do echo "[$$a]"; done > @OUT@/env.args; env > @OUT@/env.env; exec sleep 1000' sh ${GREETING} $WORDS ${QUOTED} ${PLAIN}x $${PLAIN} $UNDEFINED
EOF
)
unit env.service launched "Service.Environment=$ENV1" 'Service.Environment=WORDS=one two' \
	'Service.Environment="WORDS=alpha  beta" UNIT=%n' "Service.ExecStart=${EXEC_ENV//@OUT@/$OUT}"
ok "a unit with Environment= lines runs" wait_until 5 state_is env.service active/running
wait_until 3 test -s "$OUT/env.args"
t_env() {
	local want
	for want in 'GREETING=hello  world' "QUOTED=say \"hi\" & 'bye'" 'PLAIN=x' 'UNIT=env.service' \
		'WORDS=alpha  beta'; do
		grep -qxF -- "$want" "$OUT/env.env" || { echo "missing: $want"; cat "$OUT/env.env"; return 1; }
	done
}
ok "Environment values with spaces and quotes reach the process exactly" t_env
printf '%s\n' '[hello  world]' '[alpha]' '[beta]' "[say \"hi\" & 'bye']" '[xx]' '[${PLAIN}]' >"$WORK/env.want"
ok "\${VAR} is one word, \$VAR alone is split, \$\$ is a literal \$, unset is dropped" \
	diff "$WORK/env.want" "$OUT/env.args"
api DELETE units/env.service

# -- BindsTo: stopping A stops its bound sidekick B
unit a.service launched "Service.ExecStart=/bin/sh -c 'echo \$\$\$\$ > $OUT/a.pid; exec sleep 1000'" \
	"Service.ExecStop=/bin/sh -c 'echo a >> $OUT/stop-order'"
unit a-sidekick.service launched "Unit.BindsTo=a.service" "Unit.After=a.service" \
	"X-Fleet.MachineOf=a.service" \
	"Service.ExecStart=/bin/sh -c 'echo \$\$\$\$ > $OUT/b.pid; while :; do sleep 1; done'" \
	"Service.ExecStop=/bin/sh -c 'echo b >> $OUT/stop-order'"
t_both() { wait_until 5 state_is a.service active/running && wait_until 5 state_is a-sidekick.service active/running; }
ok "a unit and its BindsTo sidekick both run" t_both
ok "  on the same machine (MachineOf)" test "$(machine_of a.service)" = "$(machine_of a-sidekick.service)"
desire a.service loaded
ok "stopping A stops its sidekick B (BindsTo)" wait_until 10 state_is a-sidekick.service inactive/dead
ok "  A is inactive too" wait_until 10 state_is a.service inactive/dead
ok "  B stopped first (After=A), and both ExecStops ran" test "$(tr '\n' ' ' <"$OUT/stop-order")" = "b a "
ok "  and both processes are gone" sh -c "! kill -0 \$(cat '$OUT/a.pid') 2>/dev/null && ! kill -0 \$(cat '$OUT/b.pid') 2>/dev/null"
api DELETE units/a-sidekick.service
api DELETE units/a.service
unit x.service launched "Service.ExecStart=/bin/sh -c 'while [ ! -e $OUT/x.exit ]; do sleep 0.05; done'"
unit x-sidekick.service launched "Unit.BindsTo=x.service" "Unit.After=x.service" \
	"X-Fleet.MachineOf=x.service" "Service.ExecStart=/bin/sleep 1000"
wait_until 5 state_is x-sidekick.service active/running
touch "$OUT/x.exit"
ok "when A's main process exits, its sidekick B is stopped too" wait_until 10 state_is x-sidekick.service inactive/dead
api DELETE units/x-sidekick.service
api DELETE units/x.service

# -- Restart=on-failure
unit rs.service launched "Service.Restart=on-failure" "Service.RestartSec=50ms" \
	"Service.ExecStart=/bin/sh -c 'echo run >> $OUT/rs.count; n=\$\$(wc -l < $OUT/rs.count); [ \$\$n -ge 3 ] && exec sleep 1000; exit 1'"
ok "Restart=on-failure restarts a failing main process until it stays up" wait_until 10 state_is rs.service active/running
ok "  (three runs)" test "$(wc -l <"$OUT/rs.count")" -eq 3
api DELETE units/rs.service
unit ra.service launched "Service.Restart=always" "Service.RestartSec=200ms" "Service.ExecStart=/bin/sleep 0.5"
unit ra-sidekick.service launched "Unit.BindsTo=ra.service" "Unit.After=ra.service" \
	"X-Fleet.MachineOf=ra.service" "Service.ExecStart=/bin/sleep 1000"
ok "when a unit restarts (Restart=always), its BindsTo sidekick restarts with it" \
	wait_until 10 test -f "$WORK/state/logs/ra-sidekick.service.2.log"
ok "  and runs again" wait_until 5 state_is ra-sidekick.service active/running
api DELETE units/ra-sidekick.service
api DELETE units/ra.service

# -- a real Docker container, built from examples/hello
if docker info >/dev/null 2>&1; then
	cp -R "$top_srcdir/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
	ok "examples/hello prepares (copy of the app in a temp dir)" "$WORK/hello/prepare"
	ok "examples/hello builds as $TAG-hello:1" docker build -q -t "$TAG-hello:1" "$WORK/hello"
	DOCKER=$(command -v docker)
	unit web.service launched "Unit.Requires=docker.service" "Unit.After=docker.service" \
		"Service.TimeoutStartSec=0" \
		"Service.ExecStartPre=-$DOCKER rm -f $TAG-web" \
		"Service.ExecStart=$DOCKER run --rm --init -P --name $TAG-web $TAG-hello:1" \
		"Service.ExecStop=$DOCKER stop -t 2 $TAG-web" \
		"X-Fleet.MachineMetadata=role=web"
	ok "a unit running 'docker run --rm -P' becomes active/running" wait_until 20 state_is web.service active/running
	ok "  docker publishes its port" wait_until 20 sh -c "docker port $TAG-web 8080/tcp | grep -q :"
	PORT=$(docker port "$TAG-web" 8080/tcp | head -n1 | sed 's/.*://')
	ok "  the container serves the page on 127.0.0.1:$PORT" \
		wait_until 10 sh -c "curl -sf 'http://127.0.0.1:$PORT/' | grep -q 'Hello from nap'"
	desire web.service inactive
	ok "stopping the unit (ExecStop = docker stop) removes the container" \
		wait_until 20 sh -c "! docker inspect $TAG-web >/dev/null 2>&1"
	ok "  and the unit leaves /state" wait_until 10 state_gone web.service
	api DELETE units/web.service
else
	skip "a unit runs a Docker container" "dockerd does not answer"
fi

# ---- what a real fleet and systemd do (issue 10) ----------------------------
T143="Service.ExecStart=/bin/sh -c 'trap \"exit 143\" TERM; while :; do sleep 0.1; done'"
unit t143.service launched "$T143" "X-Fleet.MachineID=$M1"
ok "a unit whose main process exits 143 on SIGTERM runs" wait_until 5 state_is t143.service active/running
api DELETE units/t143.service
ok "DELETE drops its state from /state at once, while it still stops" state_gone t143.service
ok "exit status 143 after the stop fails it, as in systemd (docker run after docker stop)" \
	wait_until 10 grep -q "failed with result 'exit-code'" "$WORK/state/logs/t143.service.log"
wait_until 10 grep -q 'gone from machine' "$WORK/state/logs/t143.service.log"
unit t143.service launched "$T143" "X-Fleet.MachineID=$M1"
ok "submitted again on that machine, it first reports systemd's old failed/failed" \
	wait_until 3 state_is t143.service failed/failed
ok "  then it starts" wait_until 5 state_is t143.service active/running
# (a unit of its own: re-submitting t143 while it runs races with its stop)
unit t143s.service launched "$T143" "Service.SuccessExitStatus=143" "X-Fleet.MachineID=$M1"
ok "with SuccessExitStatus=143 it runs" wait_until 10 state_is t143s.service active/running
desire t143s.service loaded
ok "  and a stop leaves it inactive/dead" wait_until 10 state_is t143s.service inactive/dead
api DELETE units/t143s.service
api DELETE units/t143.service
curl -sf --unix-socket "$FLEET_SOCK" -X POST "http://fleet/_test/api?down_ms=800" >/dev/null
ok "POST /_test/api?down_ms=800: the API answers 503 as fleetd does while restarting" \
	answers GET units 503 '{"error":{"code":503,"message":"fleet server unable to communicate with etcd"}}'
ok "  and answers again afterwards" wait_until 3 answers GET units 200

# ---- clean shutdown on SIGTERM -------------------------------------------
unit last.service launched "Service.ExecStart=/bin/sh -c 'echo \$\$\$\$ > $OUT/last.pid; exec sleep 1000'" \
	"Service.ExecStop=/bin/sh -c 'echo bye > $OUT/last.stopped'"
wait_until 5 state_is last.service active/running
wait_until 3 test -s "$OUT/last.pid"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=
ok "SIGTERM: the server exits 0" test "$rc" = 0
ok "  after running the units' ExecStop" grep -qx bye "$OUT/last.stopped"
ok "  and stopping their processes" pid_gone "$OUT/last.pid"
ok "  and it removes its socket" test ! -e "$FLEET_SOCK"

# ---- TCP, port 0 ------------------------------------------------------------
python3 "$SERVER_PY" --listen http://127.0.0.1:0 --state-dir "$WORK/state-tcp" >"$WORK/tcp.out" 2>&1 &
SERVER_PID=$!
wait_until 10 grep -q '^listening on http://127.0.0.1:[0-9]' "$WORK/tcp.out"
URL=$(sed -n 's/^listening on //p' "$WORK/tcp.out")
ok "--listen http://127.0.0.1:0 picks a port and prints it ($URL)" \
	sh -c "curl -sf '$URL/fleet/v1/machines' | grep -q primaryIP"
ok "  GET / is 405 and an unknown path 404, with fleet's error body" sh -c "
	[ \"\$(curl -s -w ' %{http_code}' '$URL/')\" = '{\"error\":{\"code\":405,\"message\":\"\"}} 405' ] &&
	[ \"\$(curl -s -w ' %{http_code}' '$URL/nope')\" = '{\"error\":{\"code\":404,\"message\":\"\"}} 404' ]"
stop_server

done_testing
