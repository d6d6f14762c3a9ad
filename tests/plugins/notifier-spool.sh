#!/bin/bash
# The notifier's spool: a notification accepted while its webhook is down
# survives a crash of the notifier (napd restarts it) and a restart of napd,
# and arrives once the receiver is up; the spool empties once every webhook
# has had it or refused it for good; one whose webhook stays down past its
# retries stays in the spool.
. "$top_srcdir/tests/plugins/notifier-lib.sh"
# The SIGSEGV below is sent on purpose: under AddressSanitizer the plugin
# host must die of it as it would without it, not report it as a bug.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"

APP="nt-spool-$$"
PORT=$(closed_port)
HOOK="http://127.0.0.1:$PORT/hook"
notifier_restarts() { plugin_field notifier restarts; }
restarted() { [ "$(notifier_restarts)" -gt "$1" ]; }
# got NAME APP RELEASE: receiver NAME has had that notification.
got() {
	python3 - "$WORK/$1/requests.jsonl" "$2" "$3" <<'PY'
import json, sys
bodies = [json.loads(json.loads(l)["body"]) for l in open(sys.argv[1])]
sys.exit(not any(b["app"] == sys.argv[2] and b["release"] == int(sys.argv[3]) for b in bodies))
PY
}

# 1. The notifier crashes while the receiver is down.
ok "napd starts with the notifier and a webhook that is down" \
	start_notifier "webhooks = $HOOK" "retries = 20" "backoff_ms = 100"
notify -r 1 "$APP" >"$WORK/one.out"
ok "Notify answers OK" grep -q '^OK ' "$WORK/one.out"
ok "... with the notification in the spool" test "$(spooled)" -eq 1
ok "the notifier tries and fails" wait_until 10 log_has "deploy $APP release 1: attempt 1 failed"
before=$(notifier_restarts)
kill -SEGV "$(plugin_field notifier pid)"
ok "the notifier crashes and napd restarts it" wait_until 15 restarted "$before"
ok "... and it runs" wait_until 15 plugin_is notifier running
ok "... and finds the notification in its spool" \
	wait_until 10 log_has "notifier: 1 notification from the spool $SPOOL to deliver"
start_receiver late --port "$PORT"
ok "the receiver comes up and the notification arrives" wait_until 20 has_requests late 1
ok "... it is the one accepted before the crash" got late "$APP" 1
ok "... and the spool is empty again" wait_until 5 spool_empty
stop_receivers

# 2. napd stops (and the notifier with it) while the receiver is down.
ok "a new napd starts" start_notifier "webhooks = $HOOK" "retries = 20" "backoff_ms = 100"
notify -r 2 "$APP" >"$WORK/two.out"
ok "Notify answers OK" grep -q '^OK ' "$WORK/two.out"
ok "the notifier tries and fails" wait_until 10 log_has "deploy $APP release 2: attempt 1 failed"
stop_napd
ok "napd stops, saying the spool keeps the notification" \
	log_has "deploy $APP release 2 not delivered: napd is stopping the notifier (the spool keeps it for the next start)"
ok "... which is still in the spool" test "$(spooled)" -eq 1
rm -rf "$WORK/late"
start_receiver late --port "$PORT"
ok "napd starts again on the same configuration" start_napd
ok "... its notifier runs" wait_until 10 plugin_is notifier running
ok "the notification arrives" wait_until 20 has_requests late 1
ok "... it is release 2's" got late "$APP" 2
ok "... and the spool is empty again" wait_until 5 spool_empty
stop_receivers

# 3. A webhook that refuses (400) is not tried again: the spool empties.
start_receiver fine
FINE=$RECEIVER_URL
start_receiver refuses --status 400
ok "napd starts with a webhook that accepts and one that refuses" \
	start_notifier "webhooks = $FINE $RECEIVER_URL" "backoff_ms = 50"
notify -r 3 "$APP" >/dev/null
ok "both receive the notification" wait_until 10 bash -c "$(declare -f requests has_requests); WORK='$WORK'; has_requests fine 1 && has_requests refuses 1"
ok "... and the spool is empty" wait_until 5 spool_empty
ok "... and it was sent once to each" test "$(requests fine)$(requests refuses)" = 11

# 4. A webhook still down when its retries run out: kept, to try again.
ok "napd starts with a webhook that is down and no retries" \
	start_notifier "webhooks = $HOOK" "retries = 0"
notify -r 4 "$APP" >/dev/null
ok "the failure says it is tried again" \
	wait_until 10 log_has "deploy $APP release 4 not delivered after 1 attempt: cannot connect"
ok "... in 60 s" log_has "; tried again in 60 s"
ok "... and the spool keeps it" test "$(spooled)" -eq 1

stop_napd
ok "no sanitizer reports in napd's log" no_sanitizer_reports
done_testing
