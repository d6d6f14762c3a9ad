#!/bin/bash
# A client that sends and never reads: napd drops it at NAP_OUTPUT_MAX
# (64 MiB) queued, ending with END 0 RESOURCE_EXHAUSTED after the frame it
# was in the middle of (not a bare EOF), and logs it at notice. A client's own
# END 0 is logged at info with its status and message.
. "$(dirname "$0")/lib.sh"

write_config "plugins ="
ok "napd starts" start_napd
out=$(hostile no-read 100)
echo "# 100 Pings of 1 MiB, unread: $out"
ok "the client reads END 0 RESOURCE_EXHAUSTED after the replies ($out)" test "$(field_of "$out" end0)" = 8
ok "... which names NAP_OUTPUT_MAX" bash -c "grep -q 'NAP_OUTPUT_MAX' <<<'$out'"
ok "napd logs it at notice" grep -q 'notice: client .*: connection closed: the peer does not read what it is sent: 64 MiB' "$WORK/napd.log"
hostile end0 "going away: test over" >/dev/null
ok "a client's END 0 is logged at info, status and message" wait_until 5 grep -q 'info: client .*: closed the connection: ABORTED: going away: test over' "$WORK/napd.log"
ok "napd still answers" napc ping
done_testing
