#!/bin/bash
# The fakes themselves, proven through napd with no server at all: the
# fake builder's stream and failure, the fake scheduler's instances (real
# listeners: TCP and HTTP), its Watch, control commands and FAKE_*
# behaviours, the fake discovery's endpoints, watch and records, and
# records that outlive a crash of the plugin and a restart of napd.
. "$top_srcdir/tests/reconciler/lib.sh"

WITH_ORCHESTRATOR=no # the fakes alone: the records and instances here are no app's
FAKE_BUILDER_SETTINGS=("build_ms = 5")
ok "napd starts with the three fakes" start_fakes

# ---- fake-builder ----
mkdir -p "$WORK/app"
fake_call build web 3 "$WORK/app" >"$WORK/build.out"
ok "Build succeeds" test $? -eq 0
ok "... streaming build steps 1/2 and 2/2, then a push" \
	bash -c "grep -q '^EVENT build 1/2' '$WORK/build.out' && grep -q '^EVENT build 2/2' '$WORK/build.out' && grep -q '^EVENT push' '$WORK/build.out'"
ok "... and the image fake/web:3 last" bash -c "grep '^EVENT' '$WORK/build.out' | tail -1 | grep -q ' fake/web:3 '"
touch "$WORK/app/FAIL_BUILD"
fake_call build web 4 "$WORK/app" >"$WORK/build2.out"
ok "a context with FAIL_BUILD fails with INTERNAL" \
	bash -c "[ $? -eq 13 ] && grep -q '^END INTERNAL .*FAIL_BUILD' '$WORK/build2.out'"

# ---- fake-scheduler: Run, Watch, List ----
fake_call watch web >"$WORK/watch.out" &
WATCH=$!
ok "a Watch says synced" wait_for 5 grep -q '^EVENT synced' "$WORK/watch.out"
fake_call run web 1 1,2 >"$WORK/run.out"
ok "Run starts two instances" bash -c "[ \$(grep -c '^INSTANCE web 1 [12] fake-web-1-[12]-[0-9]* 127.0.0.1 [0-9]* running' '$WORK/run.out') -eq 2 ]"
P1=$(awk '$4 == 1 { print $7 }' "$WORK/run.out")
P2=$(awk '$4 == 2 { print $7 }' "$WORK/run.out")
ID1=$(awk '$4 == 1 { print $5 }' "$WORK/run.out")
ok "both ports accept TCP ($P1, $P2)" bash -c "tcp_open $P1 && tcp_open $P2"
ok "HTTP gets 200 and a page naming app, release and instance" \
	bash -c "http_get $P2 /health | tr -d '\r' | tr '\n' ' ' | grep -q '^200 fake app=web release=1 instance=2'"
ok "the Watch saw both start" wait_for 5 bash -c "[ \$(grep -c '^EVENT started web 1' '$WORK/watch.out') -eq 2 ]"
ok "List lists them running" bash -c "[ \$('$FAKE_CALL' -s '$SOCK' list web | grep -c ' running ') -eq 2 ]"
fake_call run web 1 1,2 >"$WORK/run2.out"
ok "Run again keeps the running instances (same id, no new start)" \
	bash -c "grep -q ' $ID1 ' '$WORK/run2.out' && [ \$(sched_runs web) -eq 2 ]"
ok "a bad FAKE_ value is INVALID_ARGUMENT" \
	bash -c "'$FAKE_CALL' -s '$SOCK' run web 1 3 FAKE_FLAP_MS=often | grep -q '^END INVALID_ARGUMENT'"

# ---- control: kill, unhealthy, healthy, runs ----
ok "kill web 1" sched_ctl kill web 1
ok "... its port refuses at once" tcp_closed "$P1"
ok "... the Watch saw it die with 137" wait_for 5 grep -q "^EVENT died web 1 1 $ID1 127.0.0.1 $P1 exited 137" "$WORK/watch.out"
ok "... List says exited" bash -c "'$FAKE_CALL' -s '$SOCK' list web | grep -q '^INSTANCE web 1 1 .* exited 137'"
ok "killing it again says there is no such running instance" bash -c "! sched_ctl kill web 1 2>/dev/null"
ok "unhealthy web 2 closes its port" bash -c "sched_ctl unhealthy web 2 && ! tcp_open $P2"
ok "... while it stays running" test "$(sched_field web 2 state)" = running
ok "healthy web 2 opens the same port again" bash -c "sched_ctl healthy web 2 && tcp_open $P2"
fake_call run web 1 1 >"$WORK/run3.out"
ok "Run replaces the dead instance 1 (a new id)" \
	bash -c "grep -q '^INSTANCE web 1 1 fake-web-1-1-[0-9]* .* running' '$WORK/run3.out' && ! grep -q ' $ID1 ' '$WORK/run3.out'"
ok "... the Watch saw the old one removed" wait_for 5 grep -q "^EVENT removed web 1 1 $ID1 " "$WORK/watch.out"
ok "runs web: 3 starts, with their times" bash -c "sched_ctl runs web | awk '\$1 == 3 && NF == 4 && \$4 >= \$2 { ok = 1 } END { exit !ok }'"
ok "list names app release instance state port id" \
	bash -c "sched_ctl list web | grep -q '^web 1 2 running $P2 fake-web-1-2-'"

# ---- FAKE_* behaviours ----
fake_call run crashy 1 1 FAKE_EXIT_AT_ONCE=3 >"$WORK/crashy.out"
ok "FAKE_EXIT_AT_ONCE=3: the instance dies at once with 3" \
	wait_for 2 bash -c "sched_ctl list crashy | grep -q '^crashy 1 1 exited'"
ok "... and a Watch of it sees died 3" \
	bash -c "'$FAKE_CALL' -s '$SOCK' -n 2 watch crashy | grep -q '^EVENT present crashy 1 1 .* exited 3'"
ok "... its port never accepted" tcp_closed "$(awk '{ print $7 }' "$WORK/crashy.out")"
fake_call run slow 1 1 FAKE_START_DELAY_MS=400 >"$WORK/slow.out"
PS=$(awk '/^INSTANCE/ { print $7 }' "$WORK/slow.out")
ok "FAKE_START_DELAY_MS=400: refused at first" tcp_closed "$PS"
ok "... accepting within the delay and a bit" wait_for 2 tcp_open "$PS"
fake_call run sick 1 1 FAKE_HTTP_STATUS=500 >"$WORK/sick.out"
ok "FAKE_HTTP_STATUS=500: HTTP answers 500 (TCP accepts)" \
	bash -c "[ \"\$(http_status $(awk '/^INSTANCE/ { print $7 }' "$WORK/sick.out"))\" = 500 ]"
fake_call run flappy 1 1 FAKE_FLAP_MS=150 >"$WORK/flappy.out"
PF=$(awk '/^INSTANCE/ { print $7 }' "$WORK/flappy.out")
ok "FAKE_FLAP_MS=150: the port closes" wait_for 2 tcp_closed "$PF"
ok "... and opens again" wait_for 2 tcp_open "$PF"
ok "... and closes again" wait_for 2 tcp_closed "$PF"

# ---- Remove ----
fake_call remove web >"$WORK/remove.out"
ok "Remove web removes its two instances" grep -q '^REMOVED 2' "$WORK/remove.out"
ok "... their ports refuse" bash -c "tcp_closed $P2"
ok "... the Watch saw removed" wait_for 5 grep -q '^EVENT removed web 1 2 ' "$WORK/watch.out"
ok "... the list is empty" test "$(sched_count web)" -eq 0
ok "a Remove of nothing removes 0" bash -c "'$FAKE_CALL' -s '$SOCK' remove nothere | grep -q '^REMOVED 0'"

# ---- fake-discovery: endpoints ----
fake_call dwatch web 0 2 >"$WORK/dwatch.out" &
DWATCH=$!
ok "a discovery Watch sends the empty list first" wait_for 5 grep -q '^LIST 0' "$WORK/dwatch.out"
ok "Announce web 1/1" fake_call announce web 1 1 127.0.0.1 40001
ok "Announce web 1/2" fake_call announce web 1 2 127.0.0.1 40002
ok "Announce web 1/2 again (the same key: replaced)" fake_call announce web 2 2 127.0.0.1 40003
ok "the Watch saw two and ended OK (min_instances 2)" \
	wait_for 5 bash -c "grep -q '^LIST 2' '$WORK/dwatch.out' && grep -q '^END OK' '$WORK/dwatch.out'"
ok "Resolve: two endpoints by instance, with urls" bash -c "[ \"\$('$FAKE_CALL' -s '$SOCK' resolve web | grep '^ENDPOINT' | awk '{ print \$5, \$4, \$7 }' | tr '\n' ' ')\" = '1 40001 http://127.0.0.1:40001 2 40003 http://127.0.0.1:40003 ' ]"
ok "Resolve of release 2 only" bash -c "'$FAKE_CALL' -s '$SOCK' resolve web 2 | grep -q '^LIST 1'"
ok "control endpoints: host:port instance release" \
	bash -c "[ \"\$(disc_ctl endpoints web | tr '\n' ' ')\" = '127.0.0.1:40001 1 1 127.0.0.1:40003 2 2 ' ]"
ok "Withdraw release 1" bash -c "'$FAKE_CALL' -s '$SOCK' withdraw web 1 | grep -q '^REMOVED 1'"
ok "... one left" test "$(disc_count web)" -eq 1
ok "a bad app name is INVALID_ARGUMENT" bash -c "'$FAKE_CALL' -s '$SOCK' announce Web 1 1 127.0.0.1 1 | grep -q '^END INVALID_ARGUMENT'"

# ---- fake-discovery: records, kept across a crash and a napd restart ----
ok "PutRecord apps/web/app" fake_call put apps/web/app '{"release":1,"instances":2}'
ok "PutRecord apps/web/releases/1" fake_call put apps/web/releases/1 '{"image":"fake/web:1"}'
ok "PutRecord apps/other/app" fake_call put apps/other/app '{}'
ok "GetRecords apps/web/ gives two" bash -c "[ \$('$FAKE_CALL' -s '$SOCK' get apps/web/ | grep -c '^RECORD apps/web/') -eq 2 ]"
ok "a key with .. is INVALID_ARGUMENT" bash -c "'$FAKE_CALL' -s '$SOCK' put apps/../x v | grep -q '^END INVALID_ARGUMENT'"
ok "DeleteRecords of everything is refused" bash -c "'$FAKE_CALL' -s '$SOCK' delete '' | grep -q '^END INVALID_ARGUMENT'"
ok "DeleteRecords apps/other" fake_call delete apps/other
ok "control records: key value" bash -c "[ \"\$(disc_ctl records apps/ | tr '\n' '|')\" = 'apps/web/app {\"release\":1,\"instances\":2}|apps/web/releases/1 {\"image\":\"fake/web:1\"}|' ]"
ok "the state file holds them" grep -q '"apps/web/app"' "$DISC_STATE"
ok "crash the discovery plugin" disc_ctl crash
ok "napd restarts it" wait_for 10 restarted fake-discovery
ok "... its records are still there" bash -c "[ \$('$FAKE_CALL' -s '$SOCK' get apps/ | grep -c '^RECORD') -eq 2 ]"
ok "... its endpoints are gone (as leased keys would be)" test "$(disc_count web)" -eq 0

# ---- crash of the scheduler ----
PSICK=$(awk '/^INSTANCE/ { print $7 }' "$WORK/sick.out")
ok "crash the scheduler plugin" sched_ctl crash
ok "its Watch ends (UNAVAILABLE)" wait_for 5 grep -q '^END UNAVAILABLE' "$WORK/watch.out"
ok "napd restarts it" wait_for 10 restarted fake-scheduler
ok "... with no instances: their ports are closed" \
	bash -c "[ -z \"\$(sched_ctl list)\" ] && ! (exec 3<>/dev/tcp/127.0.0.1/$PSICK) 2>/dev/null"

# ---- injected faults ----
ok "fail Run (once)" sched_ctl fail Run
ok "... the next Run fails UNAVAILABLE" bash -c "fake_call run web 1 1 | grep -q '^END UNAVAILABLE .*as the test asked'"
ok "... the one after succeeds" bash -c "fake_call run web 1 1 | grep -q '^END OK'"
ok "calls Run counts both" test "$(sched_ctl calls Run)" = 2
ok "http web 1 503: HTTP answers 503 now" \
	bash -c "sched_ctl http web 1 503 && [ \"\$(http_status \$(sched_field web 1 port))\" = 503 ]"
ok "fail PutRecord 2 INTERNAL, listed by faults" \
	bash -c "disc_ctl fail PutRecord 2 INTERNAL && disc_ctl faults | grep -qx 'fail PutRecord 2 INTERNAL'"
ok "... two PutRecords fail INTERNAL, the third succeeds" \
	bash -c "fake_call put apps/f/1 x | grep -q '^END INTERNAL' && fake_call put apps/f/1 x | grep -q '^END INTERNAL' && fake_call put apps/f/1 x | grep -q '^END OK'"
ok "delay Resolve 300 1: the next Resolve takes 300 ms" bash -c "
	disc_ctl delay Resolve 300 1 || exit 1
	t0=\$(date +%s%N); fake_call resolve web >/dev/null; t1=\$(date +%s%N)
	fake_call resolve web >/dev/null; t2=\$(date +%s%N)
	[ \$(((t1 - t0) / 1000000)) -ge 300 ] && [ \$(((t2 - t1) / 1000000)) -lt 300 ]"
ok "clear PutRecord disarms it" bash -c "disc_ctl fail PutRecord 0 && disc_ctl clear PutRecord && fake_call put apps/f/2 y | grep -q '^END OK'"
ok "crash-on PutRecord after" disc_ctl crash-on PutRecord after
ok "... the PutRecord is lost to its caller (UNAVAILABLE)" bash -c "fake_call put apps/f/3 z | grep -q '^END UNAVAILABLE'"
ok "... the plugin is restarted" wait_for 10 restarted fake-discovery 2
ok "... and the record was written" bash -c "fake_call get apps/f/3 | grep -q '^RECORD apps/f/3 z'"
ok "crash-on Build before, after one build" build_ctl crash-on Build before 1
ok "... the first Build goes through" bash -c "rm -f '$WORK/app/FAIL_BUILD'; fake_call build web 5 '$WORK/app' | grep -q '^END OK'"
ok "... the second one dies (UNAVAILABLE)" bash -c "fake_call build web 6 '$WORK/app' | grep -q '^END UNAVAILABLE'"
ok "... and the builder is restarted" wait_for 10 restarted fake-builder
ok "an unknown command is an error" bash -c "! sched_ctl frobnicate 2>/dev/null"

# ---- napd restarted: records still there ----
ok "napd restarts" restart_napd
ok "... the records are still there" bash -c "[ \$('$FAKE_CALL' -s '$SOCK' get apps/web/ | grep -c '^RECORD') -eq 2 ]"
fake_call run web 1 1,2 >/dev/null
ok "napd killed -9 and started again" crash_napd
ok "... the records are still there" bash -c "[ \$('$FAKE_CALL' -s '$SOCK' get apps/web/ | grep -c '^RECORD') -eq 2 ]"
ok "... the instances died with their plugin" test "$(sched_count web)" -eq 0

kill $WATCH $DWATCH 2>/dev/null
wait $WATCH $DWATCH 2>/dev/null
done_testing
