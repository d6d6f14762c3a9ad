#!/bin/bash
# A short soak in `make check`: 100 users mixing Ping, Endpoints and
# WatchEndpoints for 45 s against napd while apps deploy, scale and go.
# No call that should succeed may fail, napd and its plugin hosts must end
# with no more open fds than they started with (plus a small margin), napd
# must still answer, and a sanitizer build must report nothing.
# SOAK_SECONDS and SOAK_CLIENTS override the length and the users.
. "$(dirname "$0")/../integration/lib.sh"

out="$WORK/soak.out"
bash "$top_srcdir/tests/soak/soak.sh" "${SOAK_SECONDS:-45}" "${SOAK_CLIENTS:-100}" >"$out" 2>"$WORK/soak.err"
st=$?
[ $st -eq 77 ] && { cat "$WORK/soak.err" >&2; exit 77; }
sed 's/^/# /' "$out"
val() { sed -n "s/^$1: //p" "$out"; }

ok "the soak ran" test $st -eq 0 -a -n "$(val calls)"
ok "calls were made of every kind" bash -c "[ '$(val calls_ping)' -gt 0 ] && [ '$(val calls_endpoints)' -gt 0 ] && [ '$(val calls_watch)' -gt 0 ]"
ok "no call that should have succeeded failed ($(val failures) of $(val calls))" test "$(val failures)" = 0
ok "the deploy loop deployed ($(val deploys_done) deploys, $(val loop_failures) failed)" test "$(val deploys_done)" -gt 0
# Not asserted: every napd that starts settles the in-progress markers it
# finds in the shared etcd, so a colleague's test starting napd on this
# machine undoes a deploy of ours that is in flight. The loop's failures
# are shown for a look.
[ "$(val loop_failures)" = 0 ] || grep '^soak: loop:' "$WORK/soak.err" | sed 's/^/# /'
for p in napd builder scheduler-local discovery-etcd; do
	s=$(val "${p}_fds_start") e=$(val "${p}_fds_end")
	# The margin: 4, plus what a plugin's HTTP client keeps on purpose: up
	# to 8 idle curl handles (HANDLE_POOL_MAX in plugins/common/http_client.c),
	# each with its connection and curl's wake-up socket pair. A leak per
	# call would show as thousands over this soak's calls.
	ok "$p: open fds at the end ($e) not above the start ($s) plus 28" test -n "$s" -a -n "$e" -a "${e:-0}" -le $((${s:-0} + 28))
done
ok "napd still answers" test "$(val napd_answers)" = yes
ok "nothing deployed is left" test "$(val containers_left)" = 0
ok "no sanitizer report from napd or a plugin host" test "$(val sanitizer_reports)" = 0
[ "$T_FAILED" -eq 0 ] || sed 's/^/# /' "$WORK/soak.err"
done_testing
