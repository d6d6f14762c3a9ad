#!/bin/bash
# Crash at every step: a redeploy while one fake crashes at one call, before
# doing its work or after it (before replying), for each call a deploy
# makes: Build, Run, PutRecord, Announce, Withdraw, Remove. Whatever napc
# deploy says, the orchestrator must converge: the app running one
# release, its two instances running, announced and serving, nothing else
# left. With no server at all; skips until plugins/orchestrator is built.
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
ok "napc deploy web: 2 instances" napc deploy web "$WORK/app" --instances 2
ok "... converged" wait_for 5 converged web 2

declare -A crashes
for step in "build_ctl Build before" "build_ctl Build after" \
	"sched_ctl Run before" "sched_ctl Run after" \
	"disc_ctl PutRecord before" "disc_ctl PutRecord after" \
	"disc_ctl Announce before" "disc_ctl Announce after" \
	"disc_ctl Withdraw before" "disc_ctl Withdraw after" \
	"sched_ctl Remove before" "sched_ctl Remove after"; do
	read -r ctl method when <<<"$step"
	# napd restarts a plugin that keeps crashing after a back-off that
	# doubles (200 ms, 400 ms, ...): before a third crash of one fake, a
	# fresh napd (killed -9: one more step to survive).
	crashes[$ctl]=$((${crashes[$ctl]:-0} + 1))
	if [ "${crashes[$ctl]}" -gt 2 ]; then
		crash_napd >/dev/null 2>&1
		ok "napd killed -9 and started again: converged" wait_for 10 converged web 2
		crashes=([$ctl]=1)
	fi
	wait_for 10 fakes_running >/dev/null
	$ctl crash-on "$method" "$when"
	napc deploy web "$WORK/app" >"$WORK/deploy.out" 2>&1
	ok "crash-on $method $when: converged ($(tail -1 "$WORK/deploy.out" | cut -c1-90))" \
		wait_for 10 converged web 2
	$ctl clear >/dev/null 2>&1
done
ok "the fakes run again" wait_for 10 fakes_running
ok "a last redeploy succeeds" napc deploy web "$WORK/app"
ok "... converged on the new release" wait_for 5 bash -c "converged web 2 && [ \"\$(app_release web)\" = \"\$(disc_ctl records apps/web/app | sed -n 's/.*\"release\":\\([0-9]*\\).*/\\1/p')\" ]"

done_testing
