#!/bin/bash
# The notifier plugin when webhooks fail: an unreachable URL (a closed port)
# and a receiver slower than timeout_ms never slow Notify down and their
# failures are logged; a full queue drops its oldest notification with a
# warning; napd stops promptly with notifications still queued; a webhook
# that is not http(s) is refused at start with one clear line.
. "$top_srcdir/tests/plugins/notifier-lib.sh"

APP="nt-fail-$$"
DEAD_URL="http://127.0.0.1:$(closed_port)/hook"
start_receiver slow --sleep 2
SLOW_URL=$RECEIVER_URL

ok "napd starts with an unreachable and a slow webhook" \
	start_notifier "webhooks = $DEAD_URL $SLOW_URL" "timeout_ms = 300" "retries = 1" \
	"backoff_ms = 50" "queue_size = 5"

notify -r 1 "$APP" >"$WORK/one.out"
ok "Notify answers OK" grep -q '^OK ' "$WORK/one.out"
us=$(awk '/^OK/ {print $2}' "$WORK/one.out")
echo "# Notify round trip with failing webhooks: $us us"
ok "... in well under 100 ms ($us us)" test "$us" -lt 100000
ok "the unreachable webhook's failure is logged after 2 attempts" \
	wait_until 5 log_has "notifier: webhook $DEAD_URL: deploy $APP release 1 not delivered after 2 attempts: cannot connect"
ok "the slow webhook is tried twice" wait_until 5 has_requests slow 2
ok "... and its failure is logged as a timeout" \
	wait_until 5 log_has "notifier: webhook $SLOW_URL: deploy $APP release 1 not delivered after 2 attempts: no answer within 300 ms (timeout_ms)"

notify -n 20 -r 2 "$APP" >"$WORK/burst.out"
max=$(awk '/^MAX_US/ {print $2}' "$WORK/burst.out")
avg=$(awk '/^MAX_US/ {print $4}' "$WORK/burst.out")
echo "# Notify round trip over 20 calls while webhooks hang: max $max us, average $avg us"
ok "20 notifications while the webhooks hang all answer OK" test "$(grep -c '^OK ' "$WORK/burst.out")" -eq 20
ok "... each in well under 100 ms (max $max us)" test "$max" -lt 100000
ok "... and the full queue (5) dropped the oldest with a warning" \
	log_has "warning: notifier: 5 notifications are waiting for slow webhooks: dropped the oldest (deploy $APP release 2) undelivered"

t0=$(date +%s%N)
stop_napd
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# napd stopped in $ms ms with notifications queued"
ok "napd stops promptly with notifications queued ($ms ms)" test "$ms" -lt 2500
ok "... saying how many were not delivered" log_has "notifications not delivered (the oldest: deploy $APP release 2)"
ok "... and the plugin stopped by itself (not killed)" bash -c "! grep -qE 'killed|did not stop' '$WORK/napd.log'"

# A delivery in flight with the default 3 s timeout: shutdown cancels it.
start_receiver hang --sleep 30
ok "napd starts with a webhook that never answers" start_notifier "webhooks = $RECEIVER_URL"
notify -n 3 "$APP-hang" >/dev/null
ok "the first notification is in flight" wait_until 5 has_requests hang 1
t0=$(date +%s%N)
stop_napd
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# napd stopped in $ms ms with a delivery in flight (timeout_ms 3000)"
ok "napd stops within the 3000 ms timeout ($ms ms)" test "$ms" -lt 3000
ok "... logging the delivery given up" log_has "deploy $APP-hang release 1 not delivered: napd is stopping the notifier"
ok "... and the 2 left in the queue" log_has "stopping with 2 notifications not delivered"
ok "... and the plugin stopped by itself again" bash -c "! grep -qE 'killed|did not stop' '$WORK/napd.log'"

# Mistakes in the configuration: refused at start, with one clear line.
plugin_not_running() { ! plugin_is notifier running; }
SCENARIO=$((SCENARIO + 1))
SOCK="$WORK/napd-$SCENARIO.sock"
write_config "plugins = $NOTIFIER_SO" "[plugin notifier]" "webhooks = ftp://joe:pw1234@example.com/drop"
start_napd
ok "an ftp:// webhook is refused with one line saying what to fix" \
	wait_until 10 log_has 'notifier: webhook "ftp://example.com/drop" is refused: only http:// and https:// URLs'
ok "... and the plugin does not run" plugin_not_running
ok "... without its password" bash -c "! grep -q pw1234 '$WORK/napd.log'"
stop_napd

# libcurl's parser (the one that sends) judges: a URL it cannot read is
# refused and described, never quoted.
SCENARIO=$((SCENARIO + 1))
SOCK="$WORK/napd-$SCENARIO.sock"
write_config "plugins = $NOTIFIER_SO" "[plugin notifier]" "webhooks = http://joe:pw5678@[::1/hook"
start_napd
ok "a webhook libcurl cannot read is refused" \
	wait_until 10 log_has 'bytes that libcurl does not read as a URL, error'
ok "... and the plugin does not run" plugin_not_running
ok "... without its password" bash -c "! grep -q pw5678 '$WORK/napd.log'"
stop_napd

SCENARIO=$((SCENARIO + 1))
SOCK="$WORK/napd-$SCENARIO.sock"
write_config "plugins = $NOTIFIER_SO" "[plugin notifier]" "webhooks = $SLOW_URL" "timeout_ms = soon"
start_napd
ok "a timeout_ms that is not a number is refused, naming the setting" \
	wait_until 10 log_has 'notifier: timeout_ms = "soon" is not a whole number from 1 to 600000'
ok "... and the plugin does not run" plugin_not_running

stop_napd
ok "no sanitizer reports in napd's log" no_sanitizer_reports

done_testing
