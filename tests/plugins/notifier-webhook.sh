#!/bin/bash
# The notifier plugin through napd, with webhook receivers on 127.0.0.1:
# Notify answers at once; the JSON body arrives with the right fields and
# headers; a receiver failing twice gets it on the 3rd try; a 400 is not
# retried; the log notifier writes one line per notification; credentials in
# a webhook URL never reach the log; bad notifications are INVALID_ARGUMENT.
. "$top_srcdir/tests/plugins/notifier-lib.sh"

export APP="nt-web-$$"
start_receiver ok
URL_OK=$RECEIVER_URL
start_receiver flaky --fail 2
URL_FLAKY=$RECEIVER_URL
start_receiver refuses --status 400
# With a password and a token, which must never be logged.
URL_400=$(echo "$RECEIVER_URL" | sed 's|http://|http://hookuser:s3cretpw@|')?token=t0psecret
URL_400_LOGGED=$(echo "$RECEIVER_URL" | sed 's|$|?...|')

ok "napd starts with the notifier and three webhooks" \
	start_notifier "webhooks = $URL_OK $URL_FLAKY $URL_400" "backoff_ms = 50" "timeout_ms = 2000"

T0=1764064800000 # 2025-11-25T10:00:00Z
notify -r 3 -S $T0 -F $((T0 + 2100)) -E 127.0.0.1:32771:1:http://127.0.0.1:32771 \
	-E 127.0.0.1:32772:2:http://127.0.0.1:32772 "$APP" >"$WORK/notify1.out"
ok "Notify answers OK" grep -q '^OK ' "$WORK/notify1.out"
us=$(awk '/^OK/ {print $2}' "$WORK/notify1.out")
echo "# Notify round trip (first call): $us us"
ok "... in well under 100 ms ($us us)" test "$us" -lt 100000

ok "the body arrives at the first webhook" wait_until 10 has_requests ok 1
check_body() { # check_body RECEIVER N python-assertions...
	python3 - "$WORK/$1/requests.jsonl" "$2" "$3" <<'PY'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = recs[int(sys.argv[2]) - 1]
h = r["headers"]
b = json.loads(r["body"])
exec(sys.argv[3])
PY
}
ok "... as application/json with X-Nap-Event: deploy" check_body ok 1 '
assert h["content-type"] == "application/json", h
assert h["x-nap-event"] == "deploy", h
assert r["path"] == "/hook", r'
ok "... with event, app, release, outcome and times" check_body ok 1 '
assert b["event"] == "deploy", b
assert b["app"] == os.environ["APP"], b
assert b["release"] == 3, b
assert b["outcome"] == "succeeded", b
assert b["stage"] is None and b["error"] is None, b
assert b["started_at"] == "2025-11-25T10:00:00.000Z", b
assert b["finished_at"] == "2025-11-25T10:00:02.100Z", b
assert b["duration_ms"] == 2100, b'
ok "... and both endpoints" check_body ok 1 '
assert b["endpoints"] == [
    {"host": "127.0.0.1", "port": 32771, "instance": 1, "url": "http://127.0.0.1:32771"},
    {"host": "127.0.0.1", "port": 32772, "instance": 2, "url": "http://127.0.0.1:32772"}], b'

ok "a receiver failing twice gets it on the 3rd try" wait_until 10 has_requests flaky 3
ok "... three identical bodies" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len({r["body"] for r in recs}) == 1, recs' "$WORK/flaky/requests.jsonl"
ok "... logged as delivered on attempt 3" wait_until 5 log_has "deploy $APP release 3 delivered to $URL_FLAKY (attempt 3)"
ok "... after two logged failures with HTTP 500" log_has "attempt 2 failed (HTTP 500 (receiver says 500))"

ok "the 400 receiver gets it once" wait_until 10 has_requests refuses 1
ok "... and its final failure is logged with the URL, without credentials" \
	wait_until 5 log_has "notifier: webhook $URL_400_LOGGED: deploy $APP release 3 not delivered after 1 attempt: HTTP 400 (receiver says 400)"
sleep 0.5 # more than the 50 ms backoff: a retry would have come by now
ok "... and is not retried" test "$(requests refuses)" -eq 1
ok "the password and the token of the webhook URL are never logged" \
	bash -c "! grep -qE 's3cretpw|t0psecret|hookuser' '$WORK/napd.log'"

ok "the log notifier wrote one NOTICE line with the endpoints" \
	log_has "notice: deploy $APP release 3 succeeded in 2.1 s: http://127.0.0.1:32771 http://127.0.0.1:32772"

ok "a failed deploy is notified" notify -r 4 -o failed -g build -e "step 2/4: no such file
second line" "$APP"
ok "... logged on one line with its stage and error" \
	log_has "notice: deploy $APP release 4 failed at build: step 2/4: no such file second line"
ok "... and posted with stage and error" wait_until 10 has_requests ok 2
ok "... whose fields are right" check_body ok 2 '
assert b["outcome"] == "failed" and b["release"] == 4, b
assert b["stage"] == "build", b
assert b["error"] == "step 2/4: no such file\nsecond line", b
assert b["endpoints"] == [] and b["started_at"] is None and b["duration_ms"] is None, b'

notify -v scale -r 5 "$APP" >/dev/null
ok "another event is posted with its own X-Nap-Event" wait_until 10 has_requests ok 3
ok "... and event field" check_body ok 3 'assert h["x-nap-event"] == "scale" and b["event"] == "scale", (h, b)'

notify "Bad_App" >"$WORK/bad.out"
ok "a bad app name is INVALID_ARGUMENT" test $? -eq 3
ok "... saying what a name may be" grep -q "END INVALID_ARGUMENT notifier: \"Bad_App\" is not a valid app name" "$WORK/bad.out"
notify "" >/dev/null
ok "an empty app name is INVALID_ARGUMENT" test $? -eq 3
notify -o "" "$APP" >"$WORK/noout.out"
ok "an empty outcome is INVALID_ARGUMENT" test $? -eq 3
notify -v "deploy
X-Evil: 1" "$APP" >/dev/null
ok "an event that is not a word (a header injection) is INVALID_ARGUMENT" test $? -eq 3
ok "... and nothing of them was posted" test "$(requests ok)" -eq 3

notify -n 50 "$APP-b" >"$WORK/batch.out"
ok "50 notifications in a row all answer OK" test "$(grep -c '^OK ' "$WORK/batch.out")" -eq 50
max=$(awk '/^MAX_US/ {print $2}' "$WORK/batch.out")
avg=$(awk '/^MAX_US/ {print $4}' "$WORK/batch.out")
echo "# Notify round trip over 50 calls: max $max us, average $avg us"
ok "... each in well under 100 ms (max $max us)" test "$max" -lt 100000
ok "... and all 50 are delivered" wait_until 20 has_requests ok 53

ok "request bodies are logged at debug level only" python3 -c '
import sys
bad = [l for l in open(sys.argv[1]) if "\"endpoints\"" in l and " debug: " not in l]
assert not bad, bad' "$WORK/napd.log"

stop_napd
ok "napd stops cleanly" bash -c "! grep -qE 'killed|did not stop' '$WORK/napd.log'"

start_notifier "log = no"
ok "without webhooks and with log = no, Notify still answers OK" notify "$APP-quiet"
ok "... and writes no line" bash -c "! grep -qF 'deploy $APP-quiet' '$WORK/napd.log'"

stop_napd
ok "no sanitizer reports in napd's log" no_sanitizer_reports

done_testing
