# Helpers for the notifier plugin's tests (sourced): webhook receivers
# (notifier-receiver.py) of the test's own, a napd per scenario with the
# notifier plugin, and Notify calls through notifier-call.
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null || { echo "python3 is needed for the webhook receiver" >&2; exit 77; }

NOTIFIER_SO="$top_builddir/plugins/notifier/.libs/notifier.so"
NOTIFIER_CALL="$top_builddir/tests/plugins/notifier-call"
RECEIVER="$top_srcdir/tests/plugins/notifier-receiver.py"
RECEIVER_PIDS=
SCENARIO=0

stop_receivers() {
	local pid
	for pid in $RECEIVER_PIDS; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	RECEIVER_PIDS=
}
trap 'stop_receivers; stop_napd; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

# start_receiver NAME [receiver options]: a receiver recording into
# $WORK/NAME; sets RECEIVER_URL to its address.
start_receiver() {
	local name=$1
	shift
	mkdir -p "$WORK/$name"
	python3 "$RECEIVER" "$WORK/$name" "$@" &
	RECEIVER_PIDS="$RECEIVER_PIDS $!"
	wait_until 10 test -s "$WORK/$name/port" || { echo "receiver $name did not start" >&2; exit 1; }
	RECEIVER_URL="http://127.0.0.1:$(cat "$WORK/$name/port")/hook"
}

# spooled: how many notifications wait in $SPOOL.
spooled() { find "$SPOOL" -maxdepth 1 -name '*.notice' | wc -l; }
spool_empty() { [ "$(spooled)" -eq 0 ]; }

# requests NAME: how many requests receiver NAME has recorded.
requests() {
	if [ -f "$WORK/$1/requests.jsonl" ]; then wc -l <"$WORK/$1/requests.jsonl"; else echo 0; fi
}
has_requests() { [ "$(requests "$1")" -ge "$2" ]; }

# A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
closed_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_notifier [settings...]: a fresh napd (own socket) whose notifier has
# these [plugin notifier] settings and a spool of its own, $SPOOL; waits
# until the plugin runs or failed. The previous scenario's napd is stopped
# first: only the last one's pid is kept, and the others outlived the test.
start_notifier() {
	stop_napd
	SCENARIO=$((SCENARIO + 1))
	SOCK="$WORK/napd-$SCENARIO.sock"
	SPOOL="$WORK/spool-$SCENARIO"
	write_config "plugins = $NOTIFIER_SO" "" "[plugin notifier]" "spool = $SPOOL" "$@"
	start_napd || return 1
	wait_until 10 plugin_is notifier running
}

notify() { "$NOTIFIER_CALL" -s "$SOCK" "$@"; }

# log_has TEXT: napd's log has a line with TEXT (fixed string).
log_has() { grep -qF -- "$1" "$WORK/napd.log"; }

# Under --enable-sanitizers the plugin host reports to napd's log.
no_sanitizer_reports() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/napd.log"; }
