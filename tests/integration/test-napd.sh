#!/bin/bash
# napd and napc together: ping, plugins, a call through napd to the example
# plugin (unary and streaming), deadlines and cancellation through two hops,
# unknown services and methods, napc's exit codes, and a clean SIGTERM.
. "$(dirname "$0")/lib.sh"

write_config "plugins = $EXAMPLES/echo.so" "[plugin echo]" "greeting = hello from the test"
ok "napd starts" start_napd
ok "napc ping answers" bash -c "'$NAPC' --socket '$SOCK' ping | grep -q 'napd .* answered'"
ok "napc --json ping is JSON" bash -c "'$NAPC' --socket '$SOCK' --json ping | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"ok\"]'"
ok "the echo plugin runs" wait_until 10 plugin_is echo running
ok "napc plugins lists echo and nap.Echo" bash -c "napc() { '$NAPC' --socket '$SOCK' \"\$@\"; }; napc plugins | grep -E '^echo +1.0 +running .*nap.Echo'"
ok "the plugin read its settings from napd.conf" grep -q "echo: hello from the test" "$WORK/napd.log"

ok "unary call through napd to the plugin" bash -c "[ \"\$('$NAP_CALL' -s '$SOCK' ping-1)\" = \"\$(printf 'OK ping-1\nEND OK ')\" ]"
out=$(nap_call -n 4 -i 1 abc)
ok "a streaming call delivers every message, then OK" test "$out" = "$(printf 'MSG abc\nMSG abc\nMSG abc\nMSG abc\nEND OK ')"

nap_call -n 1000 -i 20 -t 100 slow >"$WORK/dl.out"
st=$?
ok "a deadline expires across napd (DEADLINE_EXCEEDED)" test "$st" -eq 4
ok "... with messages before it" grep -q "^MSG slow" "$WORK/dl.out"

nap_call -n 1000 -i 10 -c 100 stop >"$WORK/cancel.out"
st=$?
ok "a cancelled stream ends CANCELLED for the caller" test "$st" -eq 1

nap_call -S nap.Nothing x >"$WORK/nosvc.out"
ok "an unknown service: UNIMPLEMENTED naming it" bash -c "[ $? -eq 12 ] && grep -q 'no plugin provides service nap.Nothing' '$WORK/nosvc.out'"
nap_call -m 9 x >"$WORK/nometh.out"
ok "an unknown method index: UNIMPLEMENTED" bash -c "[ $? -eq 12 ] && grep -q 'has no method 9' '$WORK/nometh.out'"
nap_call -S nap.Control -m 200 x >"$WORK/noctl.out"
ok "an unknown nap.Control method: UNIMPLEMENTED" bash -c "[ $? -eq 12 ]"

# 64 clients at once, each with calls in flight.
pids=
for i in $(seq 1 64); do
	nap_call "c$i" >"$WORK/par.$i" &
	pids="$pids $!"
done
wait $pids
ok "64 concurrent clients all get their own answer" bash -c "for i in \$(seq 1 64); do grep -qx \"OK c\$i\" '$WORK'/par.\$i || exit 1; done"

"$NAPC" --socket "$WORK/nothing.sock" ping 2>"$WORK/down.err"
ok "napc against no napd exits 3" test $? -eq 3
ok "... with one line naming the socket and how to start napd" bash -c "[ \$(wc -l <'$WORK/down.err') -eq 1 ] && grep -q \"napd is not running on $WORK/nothing.sock.*start it with 'napd'\" '$WORK/down.err'"
napc frobnicate 2>/dev/null
ok "an unknown command exits 2" test $? -eq 2
napc ping extra 2>/dev/null
ok "a command with a stray argument exits 2" test $? -eq 2
ok "napc --help documents the exit codes" bash -c "'$NAPC' --help | grep -q '3 napd cannot be reached'"
ok "napd --help names its options" bash -c "'$NAPD' --help | grep -q -- '--log-level'"

# Garbage on the socket: napd drops that connection and keeps serving.
python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"\xff\xff\xff\xffgarbage"); s.settimeout(2)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
except Exception: pass
sys.exit(0 if b"over the limit" in data else 1)
PY
ok "an oversized frame gets a reason back and the connection is closed" test $? -eq 0
python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
# A CALL before any HELLO: field 2 (kind) = 2, field 1 (call id) = 1, service "x".
body = bytes([0x08, 0x01, 0x10, 0x02, 0x1a, 0x01]) + b"x"
s.sendall(len(body).to_bytes(4, "big") + body); s.settimeout(2)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
except Exception: pass
sys.exit(0 if b"must be a HELLO" in data else 1)
PY
ok "a CALL before HELLO is refused with a reason" test $? -eq 0
ok "napd still answers after the garbage" napc ping
ok "napd logged why it closed those connections" grep -q "malformed frame\|frame of" "$WORK/napd.log"

plugin_pid=$(plugin_field echo pid)
kill -TERM "$NAPD_PID"
wait "$NAPD_PID"
st=$?
NAPD_PID=
ok "SIGTERM stops napd with status 0" test "$st" -eq 0
ok "... and removes its socket" test ! -e "$SOCK"
ok "... and its plugin host is gone" bash -c "! kill -0 $plugin_pid 2>/dev/null"
ok "... saying so in the log" grep -q "napd stopped" "$WORK/napd.log"

done_testing
