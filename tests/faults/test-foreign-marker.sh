#!/bin/bash
# Several napds may share one etcd (one per host; the tests' many). An
# in-progress marker that another napd stored is not this napd's to settle
# while that operation may still run: at start-up it is left alone, and an
# operation on the app is refused, naming the other napd. Once the marker is
# older than any operation can last (its napd is gone), the next operation
# settles it and goes on.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
APP=fforeign-$$
trap 'stop_napd; scrub_app $APP; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
prepare_hello

OTHER="elsewhere:/run/other-napd.sock"
marker() { # marker STARTED: another napd's deploy of release 1, begun at STARTED
	etcdctl --endpoints="$ETCD" put "/nap/apps/$APP/pending" \
		"{\"op\":\"deploy\",\"release\":1,\"old\":0,\"stage\":\"build\",\"started\":$1,\"owner\":\"$OTHER\"}" >/dev/null
}
ok "a marker of another napd's deploy, begun now" marker "$(date +%s)"

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)"
ok "napd starts" start_napd
plugins_run() { plugin_is builder running && plugin_is scheduler-local running && plugin_is discovery-etcd running; }
ok "its plugins run" wait_until 30 plugins_run
# The start-up scan runs as soon as Discovery and Scheduler answer; give it
# time to (wrongly) act before looking.
sleep 2
ok "the start-up scan leaves the other napd's marker alone" \
	test "$(etcd_count "/nap/apps/$APP/pending")" -eq 1
ok "... and says nothing about settling it" bash -c "! grep -q '$APP: an operation was interrupted' '$WORK/napd.log'"

napc deploy "$APP" "$WORK/hello" >"$WORK/refused.out" 2>&1
ok "a deploy of that app is refused (exit 1)" test $? -eq 1
ok "... naming the other napd and saying to wait" \
	grep -qF "by the napd at $OTHER is in progress; try again when it has ended" "$WORK/refused.out"
ok "... leaving the marker" test "$(etcd_count "/nap/apps/$APP/pending")" -eq 1

ok "the marker is made older than any deploy can last" marker 1000
napc deploy "$APP" "$WORK/hello" >"$WORK/deploy.out" 2>&1
ok "the next deploy settles it and succeeds" test $? -eq 0
ok "... logging whose operation it settled" grep -qF "$APP: settling the deploy the napd at $OTHER left unfinished" "$WORK/napd.log"
ok "... the marker is gone" test "$(etcd_count "/nap/apps/$APP/pending")" -eq 0
ok "... and the app serves" serves "$APP"
napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no entry" test "$(etcd_count "/services/$APP/")" -eq 0
done_testing
