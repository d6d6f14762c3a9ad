#!/bin/bash
# fake-scheduler as its own announcer (announcer = sidekick, as
# scheduler-fleet's sidekick units): instances are announced while they
# accept connections and withdrawn when they die, turn unhealthy or go.
# Then whole app operations through napd and napc with no server at all:
# deploy, scale, redeploy, rollback, a failed build, destroy (served by
# napd's deploy orchestrator today, by the orchestrator plugin once it is
# built: instances that say announcer "sidekick" are announced by the
# scheduler, not by it).
. "$top_srcdir/tests/reconciler/lib.sh"

FAKE_BUILDER_SETTINGS=("build_ms = 5")
FAKE_SCHEDULER_SETTINGS=("announcer = sidekick")
NAPD_SETTINGS=("deploy_timeout = 20")
WITH_ORCHESTRATOR=no # first the sidekick alone: these instances are no app's
ok "napd starts with the fakes, the scheduler announcing" start_fakes

# ---- the sidekick ----
fake_call run side 1 1,2 >"$WORK/run.out"
ok "Run starts two instances" test "$(grep -c '^INSTANCE' "$WORK/run.out")" -eq 2
ok "both are announced" wait_for 5 disc_has side 2
ok "kill side 1" sched_ctl kill side 1
ok "... withdrawn" wait_for 5 disc_has side 1
ok "... the one left is instance 2" bash -c "disc_ctl endpoints side | grep -q ' 2 1$'"
ok "unhealthy side 2: withdrawn" bash -c "sched_ctl unhealthy side 2"
ok "... no endpoint left" wait_for 5 disc_has side 0
ok "healthy side 2: announced again" bash -c "sched_ctl healthy side 2"
ok "... one endpoint, on the same port" wait_for 5 bash -c "disc_ctl endpoints side | grep -q \"^127.0.0.1:\$(sched_field side 2 port) 2 1\$\""
ok "a slow starter is announced only once it listens" bash -c "fake_call run slow 1 1 FAKE_START_DELAY_MS=300 >/dev/null && [ \"\$(disc_count slow)\" -eq 0 ]"
ok "... then it is" wait_for 5 disc_has slow 1
ok "Remove side: withdrawn" bash -c "fake_call remove side | grep -q '^REMOVED 2'"
ok "... nothing left" wait_for 5 disc_has side 0

# ---- app operations through napc ----
stop_napd
rm "$WORK/napd.conf"
WITH_ORCHESTRATOR=auto
ok "napd starts again (with the orchestrator, once it is built)" start_fakes
mkdir -p "$WORK/app"
echo "FROM scratch" >"$WORK/app/Dockerfile"
all_pages() { # all_pages APP RELEASE: every endpoint answers 200 naming RELEASE
	local urls u port
	urls=$(napc endpoints "$1") || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do
		port=${u##*:}
		http_get "$port" / | tr -d '\r' | tr '\n' ' ' | grep -q "^200 fake app=$1 release=$2 " || return 1
	done
}
export -f all_pages

napc deploy web "$WORK/app" --instances 2 --env GREETING=hi >"$WORK/deploy.out" 2>&1
ok "napc deploy succeeds" test $? -eq 0
ok "... with the fake build's steps" grep -q '^build: Step 2/2' "$WORK/deploy.out"
ok "... printing two endpoints" test "$(grep -c 'http://127.0.0.1:[0-9]* *instance' "$WORK/deploy.out")" -eq 2
ok "every endpoint serves release 1" all_pages web 1
ok "the scheduler ran it with GREETING" bash -c "napc env web | grep -q GREETING"
ok "the app's record is stored" bash -c "disc_ctl records apps/web/ | grep -q '\"release\":1'"
ok "napc scale web 3" napc scale web 3
ok "... three instances serve" wait_for 5 bash -c "[ \$(napc endpoints web | grep -c .) -eq 3 ] && all_pages web 1"
napc deploy web "$WORK/app" >"$WORK/deploy2.out" 2>&1
ok "a redeploy succeeds" test $? -eq 0
ok "... every endpoint serves release 2" all_pages web 2
ok "... release 1 is gone from the scheduler" wait_for 5 bash -c "! sched_ctl list web | grep -q '^web 1 '"
ok "napc rollback: release 3, from release 1" bash -c "napc rollback web | grep -q 'release 3'"
ok "... every endpoint serves release 3" wait_for 5 all_pages web 3
touch "$WORK/app/FAIL_BUILD"
napc deploy web "$WORK/app" >"$WORK/deploy3.out" 2>&1
ok "a failing build fails the deploy" test $? -ne 0
ok "... saying why" grep -q 'FAIL_BUILD' "$WORK/deploy3.out"
ok "... and release 3 still serves" all_pages web 3
ok "napc destroy web" napc destroy web
ok "... no instance, no endpoint, no record left" wait_for 5 bash -c "[ -z \"\$(sched_ctl list web)\" ] && [ \$(disc_count web) -eq 0 ] && [ -z \"\$(disc_ctl records apps/web/)\" ]"

done_testing
