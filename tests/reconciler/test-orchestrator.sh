#!/bin/bash
# The orchestrator against the fakes, with no server at all: it announces an
# instance once it is ready, heals a killed or unhealthy one, scales, rolls
# back, keeps a slow starter out of discovery until it listens, and
# converges again after each fake crashes (the scheduler losing every
# instance, discovery losing every endpoint). A first set; the issue's
# crash-at-every-step and flapping cases build on the same helpers.
. "$top_srcdir/tests/reconciler/lib.sh"

need_orchestrator
FAKE_BUILDER_SETTINGS=("build_ms = 5")
NAPD_SETTINGS=("deploy_timeout = 20")
ORCHESTRATOR_SETTINGS=("check_interval_ms = 100" "check_timeout_ms = 200" "check_failures = 2"
	"starting_check_ms = 20" "backoff_ms = 100" "backoff_max_ms = 400" "ready_timeout = 5"
	"resync_ms = 300")
ok "napd starts with the fakes and the orchestrator" start_fakes

mkdir -p "$WORK/app"
echo "FROM scratch" >"$WORK/app/Dockerfile"

napc deploy web "$WORK/app" --instances 2 >"$WORK/deploy.out" 2>&1
ok "napc deploy web: 2 instances" test $? -eq 0
ok "... both announced and serving release 1" serving web 1 2
ID1=$(sched_field web 1 id)
ok "kill web 1" sched_ctl kill web 1
ok "... withdrawn at once, or replaced and announced again" wait_for 5 serving web 1 2
ok "... by a new instance 1" bash -c "[ \"\$(sched_field web 1 id)\" != '$ID1' ] && [ \"\$(sched_field web 1 state)\" = running ]"
ID2=$(sched_field web 2 id)
ok "unhealthy web 2" sched_ctl unhealthy web 2
ok "... withdrawn" wait_for 5 bash -c "! disc_ctl endpoints web | grep -q ' 2 1$' || [ \"\$(sched_field web 2 id)\" != '$ID2' ]"
ok "... replaced by a new instance 2, serving" wait_for 5 bash -c "[ \"\$(sched_field web 2 id)\" != '$ID2' ] && serving web 1 2"
ok "napc scale web 3" napc scale web 3
ok "... three serve" wait_for 5 serving web 1 3
ok "napc scale web 1" napc scale web 1
ok "... one serves, the others are gone" wait_for 5 bash -c "serving web 1 1 && sched_has web 1"
napc deploy web "$WORK/app" --env V=2 >"$WORK/deploy2.out" 2>&1
ok "a redeploy (release 2)" test $? -eq 0
ok "... serves release 2 only" wait_for 5 bash -c "serving web 2 1 && ! sched_ctl list web | grep -q '^web 1 '"
ok "napc rollback: release 3" bash -c "napc rollback web | grep -q 'release 3'"
ok "... serves release 3" wait_for 5 serving web 3 1

# A slow starter is announced only once it listens.
napc deploy slow "$WORK/app" --env FAKE_START_DELAY_MS=700 >"$WORK/slow.out" 2>&1 &
SLOW=$!
ok "a slow starter is started" wait_for 5 sched_has slow 1
ok "... and not announced while it does not listen" bash -c "sleep 0.3; disc_has slow 0"
ok "... then announced" wait_for 5 serving slow 1 1
wait $SLOW
ok "... and its deploy succeeded" test $? -eq 0

# A release whose instances exit at once fails at ready; the previous
# release keeps serving.
napc deploy web "$WORK/app" --env FAKE_EXIT_AT_ONCE=3 >"$WORK/crashy.out" 2>&1
ok "a release exiting at once fails its deploy" test $? -ne 0
ok "... at ready, saying so" grep -q 'failed at ready: .*exited with code 3' "$WORK/crashy.out"
ok "... release 3 keeps serving" wait_for 5 bash -c "converged web 1 && [ \"\$(app_release web)\" = 3 ]"

# A flapping instance (its port closed 300 ms, open 300 ms, ...): withdrawn
# when it fails its checks, replaced, with back-off rather than a storm.
napc deploy flappy "$WORK/app" --env FAKE_FLAP_MS=300 >"$WORK/flappy.out" 2>&1
ok "a flapping app deploys (ready in an open half)" test $? -eq 0
ok "... it is withdrawn when its checks fail" wait_for 5 disc_has flappy 0
ok "... and replaced" wait_for 5 bash -c "[ \$(sched_runs flappy) -ge 2 ]"
sleep 2
ok "... with back-off: at most 10 starts in the first 3 s" \
	bash -c "sched_ctl runs flappy | awk '{ n = 0; for (i = 2; i <= NF; i++) if (\$i - \$2 <= 3000) n++; exit !(n <= 10) }'"
ok "napc destroy flappy" napc destroy flappy

# The fakes crash: the orchestrator converges again.
ok "crash the scheduler (every instance gone)" sched_ctl crash
ok "... restarted" wait_for 10 restarted fake-scheduler
ok "... web serves again from a new instance" wait_for 10 serving web 3 1
ok "... and slow too" wait_for 10 serving slow 1 1
ok "crash discovery (every endpoint gone, records kept)" disc_ctl crash
ok "... restarted" wait_for 10 restarted fake-discovery
ok "... web is announced again" wait_for 10 serving web 3 1
ok "napd killed -9 and started again" crash_napd
ok "... web serves again" wait_for 10 serving web 3 1
ok "... status: running, release 3" bash -c "napc status web | grep -q 'running, release 3'"
ok "napc destroy web" napc destroy web
ok "... nothing left" wait_for 5 bash -c "sched_has web 0 && disc_has web 0 && [ -z \"\$(disc_ctl records apps/web/)\" ]"

done_testing
