#!/bin/bash
# Plugins that go wrong: one that crashes during a call (napd survives, the
# call gets UNAVAILABLE, the plugin is restarted, the next call succeeds), one
# built for another ABI and a file that is no plugin (refused with one clear
# line, never restarted), and a plugin that wants a service another owns.
. "$(dirname "$0")/lib.sh"

# Under AddressSanitizer, let crashy's SIGSEGV and abort() be real signals,
# as they are in a normal build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:handle_abort=0"

write_config "plugins = $FIXTURES/crashy.so $FIXTURES/wrongabi.so $FIXTURES/notaplugin.so $EXAMPLES/echo.so"
ok "napd starts with four plugins, three of them bad" start_napd
ok "crashy runs" wait_until 10 plugin_is crashy running
ok "a call to crashy works" nap_call hello

nap_call crash >"$WORK/crash.out"
st=$?
ok "a call during which the plugin crashes ends UNAVAILABLE" test "$st" -eq 14
ok "... saying the plugin stopped and is being restarted" grep -q "plugin crashy stopped during the call" "$WORK/crash.out"
ok "napd survives it" napc ping
ok "napd logged the crash with the signal" wait_until 5 grep -q "plugin crashy: killed by signal 11" "$WORK/napd.log"
ok "crashy is restarted" wait_until 10 plugin_is crashy running
ok "... and counted as restarted once" test "$(plugin_field crashy restarts)" = 1
ok "the next call succeeds" nap_call again

nap_call -n 10 -i 20 crash >"$WORK/crash-stream.out"
st=$?
ok "a stream whose plugin crashes midway ends UNAVAILABLE after its first messages" bash -c "[ $st -eq 14 ] && grep -q '^MSG crash' '$WORK/crash-stream.out'"
ok "crashy comes back again" wait_until 10 plugin_is crashy running

# While crashy is down, its service answers UNAVAILABLE at once (no hang).
nap_call abort >/dev/null
nap_call -t 2000 quick >"$WORK/down.out"
st=$?
ok "a call while the plugin restarts fails fast with UNAVAILABLE or succeeds" bash -c "[ $st -eq 14 ] || [ $st -eq 0 ]"

ok "wrongabi is refused as failed" test "$(plugin_field wrongabi state)" = failed
ok "... with one line naming both ABIs" bash -c "napc() { '$NAPC' --socket '$SOCK' \"\$@\"; }; napc plugins | grep -q 'built for plugin ABI 99, napd .* speaks ABI [0-9]*: rebuild it against nap-plugin'"
ok "... logged once as an error" test "$(grep -c 'plugin wrongabi: .*built for plugin ABI 99' "$WORK/napd.log")" -ge 1
ok "... and never restarted" test "$(plugin_field wrongabi restarts)" = 0
ok "a .so without nap_plugin_entry is refused" bash -c "napc() { '$NAPC' --socket '$SOCK' \"\$@\"; }; napc plugins | grep -q 'is not a nap plugin (no nap_plugin_entry symbol)'"
ok "echo, which also wants nap.Echo, is refused" wait_until 10 plugin_is echo failed
ok "... naming the plugin that owns it" bash -c "napc() { '$NAPC' --socket '$SOCK' \"\$@\"; }; napc plugins | grep -q 'service nap.Echo is already provided by crashy'"

# A call that outlives its deadline in the plugin: napd answers in time.
ok "crashy is back after the abort" wait_until 10 plugin_is crashy running
nap_call -t 200 sleep:3000 >"$WORK/slow.out"
ok "a slow plugin call ends DEADLINE_EXCEEDED at the caller's deadline" test $? -eq 4
nap_call -c 100 hang >"$WORK/hang.out"
ok "a hanging plugin call can be cancelled" test $? -eq 1
ok "napd still serves after all that" napc ping

done_testing
