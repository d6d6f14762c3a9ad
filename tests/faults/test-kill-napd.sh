#!/bin/bash
# napd killed (kill -9) in the middle of a deploy, then started again: during
# the build, during the schedule and while waiting for the announcement. The
# moment is picked from napd's debug log, and the plugin the deploy waits on
# is frozen (SIGSTOP) so that the kill lands in that stage. Afterwards the
# app is on the old release or on the new one, never between: no orphaned
# container, no stale etcd entry, one consistent record, and `napc status`
# says which release serves. The orchestrator writes a release into the
# app's desired state only after its build, so a kill during the build
# leaves the old release as it was; a kill after that resumes the rollout
# when napd is back (or undoes it at its ready timeout). The next deploy
# then succeeds.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
APP=fkill-$$
trap 'stop_napd; for p in $FROZEN; do kill -9 $p 2>/dev/null; done; scrub_app $APP; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
FROZEN=

prepare_hello
# A build step that takes a while and runs again for every release (it
# follows the page, which changes each time): the build stage is long
# enough to be caught.
sed -i 's|^COPY index.html /www/index.html|&\nRUN ["/bin/busybox", "sleep", "2"]|' "$WORK/hello/Dockerfile"

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 120"
ok "napd starts" start_napd
plugins_run() { plugin_is builder running && plugin_is scheduler-local running && plugin_is discovery-etcd running; }
ok "its plugins run" wait_until 30 plugins_run

napc deploy "$APP" "$WORK/hello" --instances 2 >"$WORK/deploy1.out" 2>&1
ok "release 1 deploys (two instances)" test $? -eq 0
ok "... and serves" serves "$APP"

attempt=1
# interrupt STAGE LOG-REGEX PLUGIN: starts a deploy, waits until napd's log
# matches, freezes PLUGIN (whose answer the deploy now waits for), kills
# napd with SIGKILL and starts it again.
interrupt() {
	local stage=$1 pattern=$2 frozen=$3 also=${4:-$1} pid from old new i
	attempt=$((attempt + 1))
	old=$(record_field "$APP" release)
	new=$(etcdget --print-value-only "${NAP_KEY_PREFIX}apps/$APP/app" |
		python3 -c '
import json, sys
rec = json.load(sys.stdin)
# as the orchestrator numbers (record.c, rec_last_release): a failed
# release keeps its number, so an interrupted deploy that ended as a
# failure makes the next one number + 1
nums = [r["release"] for r in rec["releases"]] + [rec.get("release") or 0, (rec.get("failure") or {}).get("release") or 0]
print(max(nums) + 1)')
	pattern=${pattern//NEW/$new}
	echo "<p>nap attempt $attempt</p>" >>"$WORK/hello/index.html"
	pid=$(plugin_pid "$frozen")
	from=$(($(wc -l <"$WORK/napd.log") + 1))
	napc --timeout 300 deploy "$APP" "$WORK/hello" >"$WORK/deploy-$stage.out" 2>&1 &
	local client=$!
	# A tight loop here rather than wait_until: the moment is short.
	for ((i = 0; i < 12000; i++)); do
		tail -n +$from "$WORK/napd.log" | grep -qE "$pattern" && break
		sleep 0.01
	done
	kill -STOP "$pid"
	ok "[$stage] the deploy reached the $stage stage" bash -c "tail -n +$from '$WORK/napd.log' | grep -qE '$pattern'"
	FROZEN="$FROZEN $pid"
	kill -9 "$NAPD_PID"
	wait "$NAPD_PID" 2>/dev/null
	NAPD_PID=
	wait "$client"
	ok "[$stage] the client is told napd went away (exit $?)" test -s "$WORK/deploy-$stage.out"
	kill -9 "$pid" 2>/dev/null
	rm -f "$SOCK"
	ok "[$stage] napd starts again" start_napd
	ok "[$stage] ... and its plugins run" wait_until 30 plugins_run
	ok "[$stage] the interrupted deploy is settled: one release, no leftovers" \
		wait_until 60 consistent "$APP" 2
	local rel
	rel=$(record_field "$APP" release)
	ok "[$stage] the app is on release $old or on the new one, $new (release $rel)" \
		test "$rel" = "$old" -o "$rel" = "$new"
	napc status "$APP" >"$WORK/status-$stage.out" 2>&1
	if [ "$rel" = "$old" ]; then
		ok "[$stage] napc status: release $old serves" \
			wait_until 20 bash -c "\"$NAPC\" --socket $SOCK status $APP | grep -q '^$APP: running, release $old'"
	else
		ok "[$stage] napc status: release $new serves" grep -q "running, release $new" "$WORK/status-$stage.out"
		echo "# (the deploy had finished before napd was killed)"
	fi
	ok "[$stage] the app serves" wait_until 20 serves "$APP"
	ok "[$stage] napd reported no sanitizer error" bash -c "! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$WORK/napd.log'"
	cat "$WORK/status-$stage.out" | sed 's/^/# /'
}

interrupt build 'builder: building .*:NEW ' builder
# Frozen as soon as it is pushed: Run waits for the scheduler.
# (The kill may come before the "schedule" marker is stored: then the
# marker still says "build".)
interrupt schedule 'builder: pushed .*:NEW ' scheduler-local build
# Frozen when the first of the two instances has started: the deploy then
# waits for discovery: storing the "announce" marker, then the Watch (so
# the marker may still say "schedule").
interrupt announce "scheduler-local: started nap-$APP-NEW-" discovery-etcd schedule

echo "<p>nap release final</p>" >>"$WORK/hello/index.html"
napc deploy "$APP" "$WORK/hello" >"$WORK/deploy-last.out" 2>&1
ok "the next deploy succeeds" test $? -eq 0
ok "... the new page serves" wait_until 20 serves "$APP" "release final"
ok "... one release, no leftovers" wait_until 30 consistent "$APP" 2
napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no container and no key" bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only ${NAP_KEY_PREFIX}apps/$APP/ /services/$APP/ | grep -c .) -eq 0 ]"
done_testing
