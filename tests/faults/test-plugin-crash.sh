#!/bin/bash
# Each plugin crashes (SIGSEGV to its host process) in the middle of a call:
# the builder during a build, scheduler-local during Run, discovery-etcd
# during a deploy's Watch and during a client's `napc endpoints --watch`,
# the notifier while it delivers a notification. A build or a Run that
# crashes fails the deploy with UNAVAILABLE and one line, the previous
# release keeps serving; an Announce that crashes is tried again by the
# orchestrator once discovery-etcd is back, and the deploy succeeds. Either
# way the supervisor restarts the plugin, nothing is left behind
# (containers, etcd entries), and the next deploy succeeds.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd notifier
# The SIGSEGVs are sent on purpose: under AddressSanitizer the plugin hosts
# must die of them as they would without it, not report them as bugs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
APP=fcrash-$$
trap 'kill $HOOK_PID 2>/dev/null; stop_napd; scrub_app $APP; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
HOOK_PID=

prepare_hello
# A build step that takes a while, run again for every release.
sed -i 's|^COPY index.html /www/index.html|&\nRUN ["/bin/busybox", "sleep", "2"]|' "$WORK/hello/Dockerfile"

# A webhook receiver that takes its time over the first notification (the
# notifier is crashed while it waits), then answers at once.
python3 - "$WORK/hooks" <<'PY' &
import http.server, sys, time
out = sys.argv[1]
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen[0] += 1
        with open(out, "ab") as f: f.write(body + b"\n")
        if seen[0] == 1: time.sleep(5)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(out + ".port", "w").write(str(s.server_address[1]))
s.serve_forever()
PY
HOOK_PID=$!
wait_until 10 test -s "$WORK/hooks.port"

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd) $(plugin notifier)" \
	"deploy_timeout = 120" \
	"[plugin notifier]" "webhooks = http://127.0.0.1:$(cat "$WORK/hooks.port")/hook"
plugins_run() {
	local p
	for p in builder scheduler-local discovery-etcd notifier; do plugin_is "$p" running || return 1; done
}
ok "napd starts" start_napd
ok "its four plugins run" wait_until 30 plugins_run

napc deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy1.out" 2>&1
ok "release 1 deploys (two instances)" test $? -eq 0
ok "... and serves" serves "$APP"

n=1
# crash_during STAGE LOG-REGEX PLUGIN: starts a deploy, and when napd's log
# matches freezes PLUGIN's host (SIGSTOP, so that the deploy cannot move on
# while the signal is on its way), sends it SIGSEGV and lets it go on: it
# crashes in the middle of the call. The deploy must fail at STAGE.
crash_during() {
	local stage=$1 pattern=$2 victim=$3 then=${4:-} pid from restarts i st new
	n=$((n + 1))
	echo "<p>nap attempt $n</p>" >>"$WORK/hello/index.html"
	# the release this deploy makes (the record may have moved on by the
	# time $then is looked for)
	new=$(($(record_field "$APP" release) + 1))
	pattern=${pattern//NEW/$new}
	pid=$(plugin_pid "$victim")
	restarts=$(plugin_field "$victim" restarts)
	from=$(($(wc -l <"$WORK/napd.log") + 1))
	# (its status goes to a file: bash forgets a background job's status
	# once thousands of other children have come and gone, as below)
	(
		napc --timeout 300 deploy "$APP" "$WORK/hello" >"$WORK/$victim.out" 2>"$WORK/$victim.err"
		echo $? >"$WORK/$victim.rc"
	) &
	local client=$!
	for ((i = 0; i < 12000; i++)); do
		tail -n +$from "$WORK/napd.log" | grep -qE "$pattern" && break
		sleep 0.01
	done
	kill -STOP "$pid"
	if [ -n "$then" ]; then
		# Frozen until the log matches $then twice (the deploy has come to
		# call the plugin and waits for it).
		then=${then//NEW/$new}
		wait_until 120 bash -c "[ \$(tail -n +$from '$WORK/napd.log' | grep -cE '$then') -ge 2 ]"
		sleep 1
	fi
	kill -SEGV "$pid"
	kill -CONT "$pid"
	wait "$client" 2>/dev/null
	st=$(cat "$WORK/$victim.rc")
	if [ "$stage" = converges ]; then
		ok "[$victim] the deploy goes on once $victim is back, and succeeds (exit $st)" test "$st" -eq 0
		ok "[$victim] the plugin is restarted" \
			wait_until 30 bash -c "[ \$('$NAPC' --socket '$SOCK' --json plugins | python3 -c 'import json,sys; print([p[\"restarts\"] for p in json.load(sys.stdin) if p[\"name\"] == \"$victim\"][0])') -gt $restarts ]"
		ok "[$victim] nothing is left behind" wait_until 60 consistent "$APP" 2
		ok "[$victim] the new release serves" wait_until 20 serves "$APP" "attempt $n"
		return
	fi
	ok "[$victim] the deploy fails (exit $st)" test "$st" -ne 0
	ok "[$victim] ... with one line naming the $stage stage" \
		bash -c "[ \$(wc -l <'$WORK/$victim.err') -eq 1 ] && grep -q 'failed at $stage' '$WORK/$victim.err'"
	ok "[$victim] ... and the crash: '$(cat "$WORK/$victim.err")'" \
		grep -qiE "$victim|signal|unavailable|restart" "$WORK/$victim.err"
	ok "[$victim] ... and release $(record_field "$APP" release) keeps serving" grep -q "keeps serving" "$WORK/$victim.err"
	ok "[$victim] the plugin is restarted" \
		wait_until 30 bash -c "[ \$('$NAPC' --socket '$SOCK' --json plugins | python3 -c 'import json,sys; print([p[\"restarts\"] for p in json.load(sys.stdin) if p[\"name\"] == \"$victim\"][0])') -gt $restarts ]"
	ok "[$victim] ... and runs" wait_until 30 plugin_is "$victim" running
	ok "[$victim] nothing is left behind" wait_until 60 consistent "$APP" 2
	ok "[$victim] the app still serves" serves "$APP"
	echo "# $(cat "$WORK/$victim.err")"
}

crash_during build 'builder: building .*:NEW ' builder
crash_during schedule 'builder: pushed .*:NEW ' scheduler-local
# Frozen when the first of the two instances has started, crashed once the
# second has: the orchestrator announces them once ready, and announces
# again when discovery-etcd is back.
crash_during converges "scheduler-local: started nap-$APP-NEW-" discovery-etcd \
	"scheduler-local: started nap-$APP-NEW-"

# A client's Watch when discovery-etcd crashes: it ends with one line.
napc endpoints "$APP" --watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH=$!
ok "[watch] napc endpoints --watch prints the endpoint" wait_until 10 grep -q "http://" "$WORK/watch.out"
kill -SEGV "$(plugin_pid discovery-etcd)"
wait_until 10 bash -c "! kill -0 $WATCH"
kill $WATCH 2>/dev/null
wait $WATCH
st=$?
ok "[watch] the watch ends with an error (exit $st)" test "$st" -ne 0 -a "$st" -lt 128
ok "[watch] ... in one line: '$(cat "$WORK/watch.err")'" \
	bash -c "[ \$(wc -l <'$WORK/watch.err') -eq 1 ]"
ok "[watch] discovery-etcd runs again" wait_until 30 plugin_is discovery-etcd running
ok "[watch] napc endpoints answers again" wait_until 20 serves "$APP"

# The next deploy, with the notifier crashed while it delivers the deploy's
# notification (the receiver holds the first one for 5 s).
echo "<p>nap release final</p>" >>"$WORK/hello/index.html"
: >"$WORK/hooks"
napc deploy "$APP" "$WORK/hello" >"$WORK/deploy-last.out" 2>&1
ok "the next deploy succeeds" test $? -eq 0
ok "... the new page serves" wait_until 20 serves "$APP" "release final"
ok "... nothing is left behind" wait_until 30 consistent "$APP" 2
ok "[notifier] the notification is being delivered" wait_until 20 grep -q "\"$APP\"" "$WORK/hooks"
restarts=$(plugin_field notifier restarts)
kill -SEGV "$(plugin_pid notifier)"
ok "[notifier] the notifier is restarted" \
	wait_until 30 bash -c "[ \$('$NAPC' --socket '$SOCK' --json plugins | python3 -c 'import json,sys; print([p[\"restarts\"] for p in json.load(sys.stdin) if p[\"name\"] == \"notifier\"][0])') -gt $restarts ]"
ok "[notifier] ... and runs" wait_until 30 plugin_is notifier running
napc scale "$APP" 3 >"$WORK/scale.out" 2>&1
ok "[notifier] the next operation succeeds" test $? -eq 0
ok "[notifier] ... and is notified" wait_until 20 bash -c "grep -c '\"$APP\"' '$WORK/hooks' | grep -qv '^1$'"
ok "[notifier] nothing is left behind" wait_until 30 consistent "$APP" 3

napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no container and no key" bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only ${NAP_KEY_PREFIX}apps/$APP/ /services/$APP/ | grep -c .) -eq 0 ]"
done_testing
