#!/bin/bash
# A plugin host cannot register a service another plugin owns, nor one it
# did not declare: two plugins offering one service, a plugin that sends a
# second HELLO claiming another's service or an undeclared one, and a plugin
# whose first HELLO is written by the plugin itself under another name. Each
# is refused for good with one log line naming both plugins; the owner keeps
# serving, and so does napd.
. "$(dirname "$0")/../integration/lib.sh"

ROGUE="$FIXTURES/rogue.so"
one_line() { # one_line PATTERN: exactly one error line in napd's log matches
	[ "$(grep -c "$1" "$WORK/napd.log")" -eq 1 ]
}

# Two plugins that offer the same service: the first listed keeps it.
write_config "plugins = $FIXTURES/crashy.so $EXAMPLES/echo.so"
ok "napd starts with crashy and echo, both offering nap.Echo" start_napd
ok "echo is refused" wait_until 10 plugin_is echo failed
ok "... in one error line naming both plugins" one_line "error: plugin echo: refused: service nap.Echo is already provided by crashy"
ok "crashy serves nap.Echo" wait_until 10 nap_call hi
ok "echo is not restarted" bash -c "sleep 1; [ \"\$(grep -c 'plugin echo: started' '$WORK/napd.log')\" -eq 1 ]"
stop_napd
: >"$WORK/napd.log"

# A second HELLO that claims another plugin's service.
write_config "plugins = $FIXTURES/crashy.so $ROGUE"
ok "napd starts with crashy and rogue" start_napd
ok "rogue runs" wait_until 10 plugin_is rogue running
ok "crashy runs" wait_until 10 plugin_is crashy running
nap_call -S test.Rogue claim:nap.Echo >"$WORK/claim.out"
ok "rogue is refused once it claims nap.Echo with a second HELLO" wait_until 10 plugin_is rogue failed
ok "... in one error line naming the service and both plugins" one_line "error: plugin rogue: refused: it tried to register service nap.Echo, which plugin crashy provides, with a second HELLO"
ok "... not restarted" bash -c "sleep 1; [ \"\$(grep -c 'plugin rogue: started' '$WORK/napd.log')\" -eq 1 ]"
ok "napc plugins says why" bash -c "'$NAPC' --socket '$SOCK' plugins | grep -q 'which plugin crashy provides'"
ok "crashy still serves nap.Echo" nap_call still
nap_call -S test.Rogue hi >"$WORK/rogue-gone.out"
ok "rogue's own service is gone with it (UNIMPLEMENTED)" test $? -eq 12
stop_napd
: >"$WORK/napd.log"

# A second HELLO that claims a service nobody provides.
write_config "plugins = $ROGUE"
ok "napd starts with rogue alone" start_napd
ok "rogue runs" wait_until 10 plugin_is rogue running
nap_call -S test.Rogue claim:nap.Builder >/dev/null
ok "rogue is refused for claiming an undeclared service" wait_until 10 plugin_is rogue failed
ok "... in one error line" one_line "error: plugin rogue: refused: it tried to register service nap.Builder, which it did not declare when it started"
nap_call -S nap.Builder hi >"$WORK/builder.out"
ok "nap.Builder was never routed to it" test $? -eq 12
ok "napd still serves" napc ping
stop_napd
: >"$WORK/napd.log"

# The plugin writes the first HELLO itself, posing as crashy with nap.Echo.
write_config "plugins = $FIXTURES/crashy.so $ROGUE" "[plugin rogue]" "first_hello = crashy nap.Echo"
ok "napd starts with crashy and a rogue that poses as crashy" start_napd
ok "rogue is refused" wait_until 10 plugin_is rogue failed
ok "... in one error line naming the name it used and its own" one_line "error: plugin rogue: refused: its host calls it 'crashy', napd started it as rogue"
ok "crashy serves nap.Echo" wait_until 10 nap_call real
ok "napd still serves" napc ping

done_testing
