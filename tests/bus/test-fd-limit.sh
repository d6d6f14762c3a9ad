#!/bin/bash
# napd at its file descriptor limit (ulimit -n 256) with 300 clients: it
# refuses what it cannot take with END call id 0 RESOURCE_EXHAUSTED, spends
# next to no CPU, logs one line (and one with the count when it recovers),
# and accepts again once descriptors are free (docs/protocol.md section 12).
# Prints the figures: napd's CPU time and log lines while the clients hold on.
. "$(dirname "$0")/lib.sh"

HOLD=${HOLD:-10}
write_config "plugins ="
ok "napd starts with 256 descriptors" bash -c "$(declare -f start_napd wait_until); ulimit -n 256; NAPD='$NAPD' WORK='$WORK' SOCK='$SOCK'; start_napd >/dev/null; echo \$NAPD_PID >'$WORK/pid'; disown"
NAPD_PID=$(cat "$WORK/pid")
ok "napc ping answers" bash -c "'$NAPC' --socket '$SOCK' ping"

lines0=$(wc -l <"$WORK/napd.log")
cpu0=$(cpu_ms "$NAPD_PID")
out=$(hostile fd-flood 300 "$HOLD")
cpu1=$(cpu_ms "$NAPD_PID")
lines1=$(wc -l <"$WORK/napd.log")
accept_lines=$(sed -n "$((lines0 + 1)),\$p" "$WORK/napd.log" | grep -c 'accept on')
cpu=$((cpu1 - cpu0))
echo "# 300 clients for ${HOLD} s at ulimit -n 256: $out; napd CPU ${cpu} ms, $((lines1 - lines0)) log lines ($accept_lines 'accept on')"

ok "napd spent under 500 ms of CPU while at its fd limit ($cpu ms)" test "$cpu" -lt 500
ok "one 'accept on' line, not one per attempt ($accept_lines)" test "$accept_lines" -eq 1
ok "the line names the limit" grep -q 'accept on .*(limit 256, .*connections): refusing new connections' "$WORK/napd.log"
ok "refused clients got END 0 RESOURCE_EXHAUSTED ($out)" test "$(field_of "$out" end8)" -gt 0
ok "every client was answered (HELLO kept or END 0)" test "$(field_of "$out" open)" -eq 0
ok "napd accepts again once the clients are gone" wait_until 10 "$NAPC" --socket "$SOCK" ping
ok "... and logs how many it refused, once" bash -c "[ \$(grep -c 'accepting connections on .* again; [0-9]* refused' '$WORK/napd.log') -eq 1 ]"
done_testing
