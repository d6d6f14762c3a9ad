#!/bin/bash
# etcd restarted while apps run, on a private etcd of the test's own (other
# ports, data under $WORK) so that tests running beside it are not
# disturbed: killed with SIGKILL and started again on the same data, then
# started again with its data lost. Each time the app's entries come back
# (discovery-etcd grants a lease again and puts its keys again), a running
# `napc endpoints --watch` keeps going and prints the endpoints again, and
# `napc endpoints` answers.
. "$(dirname "$0")/lib.sh"

ETCD_PORT=${NAP_FAULT_ETCD_PORT:-23790}
ETCD=http://127.0.0.1:$ETCD_PORT
need_servers docker registry
need_plugins orchestrator builder scheduler-local discovery-etcd
command -v etcd >/dev/null || { echo "SKIP: no etcd binary" >&2; exit 77; }
if curl -sf --max-time 2 "$ETCD/health" >/dev/null; then
	echo "SKIP: something already answers on $ETCD (another run of this test?)" >&2
	exit 77
fi
APP=fetcd-$$
ETCD_PID=
WATCH=
trap 'kill $WATCH 2>/dev/null; stop_napd; scrub_app $APP; [ -z "$ETCD_PID" ] || kill -9 $ETCD_PID 2>/dev/null; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

start_etcd() {
	mkdir -p "$WORK/etcd"
	chmod 700 "$WORK/etcd"
	etcd --name fault --data-dir "$WORK/etcd" --logger zap --log-outputs stderr \
		--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
		--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
		--initial-cluster "fault=http://127.0.0.1:$((ETCD_PORT + 10))" >>"$WORK/etcd.log" 2>&1 &
	ETCD_PID=$!
	wait_until 30 curl -sf --max-time 2 "$ETCD/health"
}
kill_etcd() {
	kill -9 "$ETCD_PID"
	wait "$ETCD_PID" 2>/dev/null
	ETCD_PID=
}
urls() { napc endpoints "$APP" | sort; }
two_urls() { [ "$(napc endpoints "$APP" | grep -c http://)" -eq 2 ]; }

ok "a private etcd starts on $ETCD" start_etcd
prepare_hello
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"[plugin discovery-etcd]" "etcd = $ETCD" "lease_ttl = 4" \
	"[plugin orchestrator]" "resync_ms = 1000"
ok "napd starts, discovery on the private etcd" start_napd
ok "its plugins run" wait_until 30 plugin_is discovery-etcd running
napc deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy.out" 2>&1
ok "the app deploys with two instances" test $? -eq 0
ok "... its record is in the private etcd" test "$(etcd_count "${NAP_KEY_PREFIX}apps/$APP/app")" -eq 1
ok "... and so are its two entries" consistent "$APP" 2
before=$(urls)

napc endpoints "$APP" --watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH=$!
ok "napc endpoints --watch prints the endpoints" wait_until 10 grep -q http:// "$WORK/watch.out"

# 1. SIGKILL, down for longer than the lease's TTL, same data again.
kill_etcd
napc endpoints "$APP" >"$WORK/down.out" 2>&1
ok "while etcd is down napc endpoints fails in one line naming it" \
	bash -c "[ \$(wc -l <'$WORK/down.out') -eq 1 ] && grep -q 'etcd at $ETCD' '$WORK/down.out'"
sleep 6 # longer than lease_ttl: the lease may run out
lines=$(wc -l <"$WORK/watch.out")
ok "etcd starts again on the same data" start_etcd
ok "the two entries come back" wait_until 30 consistent "$APP" 2
ok "napc endpoints answers as before" wait_until 10 bash -c "[ \"\$('$NAPC' --socket '$SOCK' endpoints $APP | sort)\" = \"$before\" ]"
ok "the watch still runs" kill -0 "$WATCH"
ok "... and printed the endpoints again" wait_until 30 bash -c "[ \$(tail -n +$((lines + 1)) '$WORK/watch.out' | grep -c http://) -ge 2 ]"
ok "... without an error" test ! -s "$WORK/watch.err"

# 2. SIGKILL and the data lost: everything is announced again.
kill_etcd
rm -rf "$WORK/etcd"
lines=$(wc -l <"$WORK/watch.out")
ok "etcd starts again with no data" start_etcd
ok "the two entries are announced again" wait_until 30 bash -c "[ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -c .) -eq 2 ]"
ok "napc endpoints answers as before" wait_until 10 bash -c "[ \"\$('$NAPC' --socket '$SOCK' endpoints $APP | sort)\" = \"$before\" ]"
ok "the watch still runs" kill -0 "$WATCH"
ok "... and printed the endpoints again" wait_until 30 bash -c "[ \$(tail -n +$((lines + 1)) '$WORK/watch.out' | grep -c http://) -ge 2 ]"
ok "... without an error" test ! -s "$WORK/watch.err"
ok "every endpoint serves" serves "$APP"
# The orchestrator holds the desired state it read: a record lost with
# etcd's data is written again (it compares every resync_ms, 1 s here).
ok "the app's record is written again" wait_until 30 test "$(etcd_count "${NAP_KEY_PREFIX}apps/$APP/app")" -eq 1
kill "$WATCH"
wait "$WATCH" 2>/dev/null
WATCH=
napc destroy "$APP" >/dev/null 2>&1
scrub_app "$APP"
ok "nothing of the app is left" bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ]"
done_testing
