#!/bin/bash
# Client streaming (protocol 1.2) through napd to the echo plugin's Sum, with
# tests/bus/nap-upload as the client: a stream then its half-close is
# answered; a 1 GiB upload, and a slow consumer's, keep napd's and the
# plugin host's memory bounded (figures printed); a deadline, a cancel and a
# caller that disconnects mid-upload stop the handler's recv() at once and
# drop what was queued; a 1.1 napd is refused locally with one line.
. "$(dirname "$0")/lib.sh"

UPLOAD=$top_builddir/tests/bus/nap-upload
up() { "$UPLOAD" -s "$SOCK" "$@"; }
# AddressSanitizer keeps freed memory in quarantine: RSS says nothing then.
sanitized() { ldd "$(dirname "$NAPD")/.libs/napd" 2>/dev/null | grep -q libasan; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
GIB=1073741824
MIB=1048576
# Growth allowed for napd and the plugin host, KiB: "a few MiB".
BOUND=4096

write_config "plugins = $EXAMPLES/echo.so"
ok "napd starts" start_napd
ok "the echo plugin runs" wait_until 10 plugin_is echo running
HOST=$(pgrep -P "$NAPD_PID" | head -1)
check "the plugin host's pid is known ($HOST)" test -n "$HOST"

out=$(up -b 3000000 -p)
check "a stream of 3000000 bytes, then the half-close: Sum answers with every byte, in order ($(echo $out | head -c 120))" \
	grep -q "OK bytes=3000000 messages=47 adler32=[0-9]* match=yes" <<<"$out"
out=$(up -b 0)
check "no more than the CALL's request, then the half-close: answered ($(head -1 <<<"$out"))" \
	grep -q "OK bytes=0 messages=1 " <<<"$out"

# Memory: the peak (VmHWM) of napd and of the plugin host, after a warm-up,
# then after 1 GiB at full speed and 64 MiB to a handler that takes 2 ms per
# 64 KiB chunk (its caller waits for credit 1024 times).
up -b $((8 * MIB)) >/dev/null
napd0=$(hwm_kib "$NAPD_PID") host0=$(hwm_kib "$HOST")
out=$(up -b $GIB)
napd1=$(hwm_kib "$NAPD_PID") host1=$(hwm_kib "$HOST")
echo "# 1 GiB: $(tr '\n' ' ' <<<"$out")"
echo "# napd VmHWM ${napd0} -> ${napd1} KiB, plugin host ${host0} -> ${host1} KiB"
check "1 GiB streams through napd to the plugin, every byte counted" \
	grep -q "OK bytes=$GIB messages=16385 .*match=yes" <<<"$out"
check "... napd's peak memory grew by $((napd1 - napd0)) KiB (at most $BOUND)" \
	eval 'sanitized || [ $((napd1 - napd0)) -le $BOUND ]'
check "... the plugin host's by $((host1 - host0)) KiB (at most $BOUND)" \
	eval 'sanitized || [ $((host1 - host0)) -le $BOUND ]'
out=$(up -b $((64 * MIB)) -d 2)
napd2=$(hwm_kib "$NAPD_PID") host2=$(hwm_kib "$HOST")
echo "# 64 MiB to a slow handler: $(tr '\n' ' ' <<<"$out"); napd VmHWM ${napd2} KiB, plugin host ${host2} KiB"
check "64 MiB to a slow handler: answered" grep -q "OK bytes=$((64 * MIB)) " <<<"$out"
check "... napd's and the plugin host's peak memory still within $BOUND KiB of the start" \
	eval 'sanitized || { [ $((napd2 - napd0)) -le $BOUND ] && [ $((host2 - host0)) -le $BOUND ]; }'

# How many times the handler's recv() failed so far, and how many times the
# plugin host dropped what a call had queued (for any reason: a cancel, the
# deadline, or the handler ending the call after its recv() failed).
stopped() { grep -c "echo: Sum stopped after .*: Operation canceled" "$WORK/napd.log"; }
dropped() { grep -c "nap.Echo method 2 (call [0-9]*) .*: [0-9]* bytes in [0-9]* request messages the handler did not take are dropped" "$WORK/napd.log"; }
more_than() { [ "$("$1")" -gt "$2" ]; } # more_than COUNTER N
# log_ms LINE: the time of a line of napd's log, in Unix milliseconds.
log_ms() { date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N; }

n=$(stopped) k=$(dropped)
out=$(up -b $GIB -d 5 -t 700)
st=$?
check "a deadline mid-upload: DEADLINE_EXCEEDED with the deadline message ($out)" \
	eval '[ $st -eq 4 ] && grep -q "END DEADLINE_EXCEEDED deadline of 700 ms exceeded (nap.Echo method 2)" <<<"$out"'
ok "... the handler's recv() returned -ECANCELED (within 1 s)" wait_until 1 more_than stopped "$n"
ok "... and the plugin host dropped what was queued" wait_until 1 more_than dropped "$k"

n=$(stopped) k=$(dropped)
out=$(up -b $GIB -d 5 -C $((2 * MIB)))
ok "a cancel mid-upload ($(tr '\n' ' ' <<<"$out")): the handler's recv() returns -ECANCELED" \
	wait_until 1 more_than stopped "$n"
ms=$(($(log_ms "$(grep "echo: Sum stopped after" "$WORK/napd.log" | tail -1)") - $(sed -n 's/.*unix_ms=//p' <<<"$out")))
echo "# from the caller's cancel to the handler's recv() failing: $ms ms"
check "... within 100 ms of the cancel ($ms ms)" test "$ms" -le 100
ok "... and the plugin host dropped what was queued" wait_until 1 more_than dropped "$k"

n=$(stopped) k=$(dropped)
up -b $GIB -d 5 -X $((2 * MIB)) >/dev/null
ok "a caller that disconnects mid-upload: the handler's recv() returns -ECANCELED within 1 s" \
	wait_until 1 more_than stopped "$n"
ok "... and the plugin host dropped what was queued" wait_until 1 more_than dropped "$k"
napd3=$(hwm_kib "$NAPD_PID") host3=$(hwm_kib "$HOST")
echo "# after deadline, cancel and disconnect: napd VmHWM ${napd3} KiB, plugin host ${host3} KiB"
out=$(up -b $((4 * MIB)) -p)
check "napd and the plugin serve the next stream ($(head -1 <<<"$out"))" grep -q "match=yes" <<<"$out"

# A napd that speaks 1.1: the stream is refused here, with one line, and the
# old peer sees the CALL and its CANCEL, never a caller's MESSAGE or END.
"$PYTHON" "$top_srcdir/tests/bus/old-peer.py" "$WORK/old.sock" "$WORK/old.frames" &
old=$!
wait_until 5 test -S "$WORK/old.sock"
out=$("$UPLOAD" -s "$WORK/old.sock" -b $MIB)
st=$?
wait "$old"
check "a stream to a 1.1 napd: one line, exit status 9 ($out)" \
	eval '[ $st -eq 9 ] && [ "$out" = "END FAILED_PRECONDITION napd speaks protocol 1.1; this needs 1.2 (a client-streaming call): upgrade napd" ]'
check "... the 1.1 napd received HELLO, CALL, CANCEL and nothing else ($(tr '\n' ' ' <"$WORK/old.frames"))" \
	test "$(tr '\n' ' ' <"$WORK/old.frames")" = "HELLO CALL CANCEL "
done_testing
