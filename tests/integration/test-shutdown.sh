#!/bin/bash
# A clean SIGTERM with calls in flight: napd stops its parts in reverse
# (core/napd/main.c), the streams end with UNAVAILABLE, napd exits 0, and a
# sanitizer build (./configure --enable-sanitizers, as scripts/test's second
# pass) finds no leak in napd or its plugin host.
. "$(dirname "$0")/lib.sh"

sanitized() { ldd "$(dirname "$NAPD")/.libs/napd" 2>/dev/null | grep -q libasan; }
streams_flowing() { # every stream has printed a message
	local i
	for i in 1 2 3 4 5; do grep -q '^MSG' "$WORK/stream.$i" || return 1; done
}

# For napd (and its plugin hosts, which are napd too), memory held only by
# a static pointer at exit counts as a leak (use_globals=0): every part must
# free what it holds, not just keep it reachable. What the C libraries keep
# for the life of a process is theirs.
cat >"$WORK/lsan.supp" <<'SUPP'
leak:libstdc++.so
leak:_IO_file_doallocate
leak:__tzstring_len
leak:tzset_internal
leak:__tzfile_read
SUPP
NAPD_LSAN="use_globals=0:fast_unwind_on_malloc=0:suppressions=$WORK/lsan.supp:print_suppressions=0"
write_config "plugins = $EXAMPLES/echo.so"
saved_lsan=${LSAN_OPTIONS-}
export LSAN_OPTIONS=$NAPD_LSAN # napd's only, not the clients'
ok "napd starts" start_napd
export LSAN_OPTIONS=$saved_lsan
ok "the echo plugin runs" wait_until 10 plugin_is echo running
for i in 1 2 3 4 5; do
	nap_call -n 100000 -i 20 "stream $i" >"$WORK/stream.$i" 2>&1 &
	eval "CALL$i=\$!"
done
ok "five streaming calls are in flight" wait_until 10 streams_flowing

kill -TERM "$NAPD_PID"
wait "$NAPD_PID"
st=$?
NAPD_PID=
ok "napd exits 0 after SIGTERM with calls in flight" test "$st" -eq 0
for i in 1 2 3 4 5; do
	eval "wait \$CALL$i"
done
ok "each stream ended with UNAVAILABLE" \
	sh -c "grep -h '^END' '$WORK'/stream.* | grep -vc '^END UNAVAILABLE' | grep -qx 0 &&
		test \$(grep -h '^END' '$WORK'/stream.* | wc -l) -eq 5"
ok "napd logged that it stopped" grep -q 'napd stopped' "$WORK/napd.log"
if sanitized; then
	ok "LeakSanitizer found nothing in napd or the plugin host" \
		sh -c "! grep -A20 -E 'LeakSanitizer|AddressSanitizer' '$WORK/napd.log'"
else
	echo "ok $((T_COUNT += 1)) # SKIP LeakSanitizer: not a sanitizer build (./configure --enable-sanitizers)"
fi
done_testing
