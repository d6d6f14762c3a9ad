#!/bin/bash
# 100 clients each send all but the last byte of a 4 MiB frame and stop:
# napd holds at most NAP_INPUT_TOTAL_MAX (64 MiB) of unfinished frames for
# them all (refusing the frame that would go past it with END 0
# RESOURCE_EXHAUSTED), ends each of the others NAP_FRAME_TIMEOUT_MS (10 s)
# after its frame began (END 0 DEADLINE_EXCEEDED), and gives the memory back.
# Prints the figures: napd's RSS before, with the frames held, and after.
. "$(dirname "$0")/lib.sh"

N=${N:-100}
write_config "plugins ="
ok "napd starts" start_napd
rss0=$(rss_kib "$NAPD_PID")
hostile partial "$N" 15 >"$WORK/partial.out" 2>&1 &
hpid=$!
wait_until 60 grep -q '^sent=' "$WORK/partial.out"
sleep 1
rss1=$(rss_kib "$NAPD_PID")
wait "$hpid"
out=$(tail -1 "$WORK/partial.out")
rss2=$(rss_kib "$NAPD_PID")
echo "# $N partial 4 MiB frames: napd RSS ${rss0} KiB before, ${rss1} KiB holding them, ${rss2} KiB after; $out"

grow=$(((rss1 - rss0) / 1024))
# (rss_ok, lib.sh: under AddressSanitizer RSS says nothing; the figures
# are printed above)
ok "napd grew by at most 80 MiB for $N unfinished frames ($grow MiB)" rss_ok "$grow" -le 80
ok "frames past the total got END 0 RESOURCE_EXHAUSTED" test "$(field_of "$out" end8)" -gt 0
ok "the others ended with END 0 DEADLINE_EXCEEDED" test "$(field_of "$out" end4)" -gt 0
ok "every connection was told (no bare EOF)" test "$(field_of "$out" endNone)" -eq 0
after=$(field_of "$out" after_s)
ok "within the frame timeout and a little ($after s)" awk -v s="$after" 'BEGIN { exit !(s >= 9.5 && s <= 13) }'
ok "napd gave the memory back (RSS ${rss2} KiB)" rss_ok $(((rss2 - rss0) / 1024)) -le 16
ok "each cut-off is logged at notice" grep -q 'notice: client .*: connection closed: a frame was not whole 10000 ms after its first byte' "$WORK/napd.log"
ok "napd still answers" napc ping
done_testing
