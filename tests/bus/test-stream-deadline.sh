#!/bin/bash
# Streams that run past their deadline end DEADLINE_EXCEEDED every time,
# with one wording, whichever of napd and the plugin notices first; the
# client here enforces no deadline of its own (docs/protocol.md section 6).
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-100}
write_config "plugins = $EXAMPLES/echo.so"
ok "napd starts" start_napd
ok "the echo plugin runs" wait_until 10 plugin_is echo running
out=$(hostile stream-deadline "$RUNS" 50)
echo "# $RUNS EchoStreams with a 50 ms deadline: $out"
ok "all $RUNS ended DEADLINE_EXCEEDED" test "$(field_of "$out" status4)" -eq "$RUNS"
ok "none ended CANCELLED" test "$(field_of "$out" status1)" -eq 0
ok "with one message: 'deadline of 50 ms exceeded (nap.Echo method 1)'" \
	test "$(field_of "$out" "msg:deadline_of_50_ms_exceeded_(nap.Echo_method_1)")" -eq "$RUNS"
done_testing
