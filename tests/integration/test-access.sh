#!/bin/bash
# Who may connect: the socket's mode keeps others out, and napd checks every
# peer's credentials (SO_PEERCRED) against allow_users / allow_groups.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "SKIP: needs root and setpriv to connect as another user" >&2
	exit 77
fi
chmod 755 "$WORK"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

write_config ""
ok "napd starts" start_napd
ok "the socket is created 0660" test "$(stat -c %a "$SOCK")" = 660
as_nobody "$NAPC" --socket "$SOCK" ping 2>"$WORK/eacces.err"
st=$?
ok "another user cannot open it: exit 3" test "$st" -eq 3
ok "... told that the socket's mode keeps it out" grep -q "no permission to open $SOCK; its mode and group are napd.conf's socket_mode" "$WORK/eacces.err"
stop_napd

write_config "socket_mode = 0666"
ok "napd starts with a world-writable socket" start_napd
as_nobody "$NAPC" --socket "$SOCK" ping 2>"$WORK/refused.err"
st=$?
ok "a uid that is not allowed is refused by credentials: exit 3" test "$st" -eq 3
ok "... in one line that names the uid and the setting" bash -c "[ \$(wc -l <'$WORK/refused.err') -eq 1 ] && grep -q 'napd refuses uid 65534 .*allow_users' '$WORK/refused.err'"
ok "napd logged the refusal" grep -q "refused client pid [0-9]* uid 65534" "$WORK/napd.log"
# deploy waits for napd's HELLO before it uploads (nap_conn_require): the
# refusal comes instead, and napc says it the same way.
mkdir -m 755 "$WORK/ctx" && echo "FROM scratch" >"$WORK/ctx/Dockerfile" && chmod 644 "$WORK/ctx/Dockerfile"
as_nobody "$NAPC" --socket "$SOCK" deploy app "$WORK/ctx" >"$WORK/refused-deploy.err" 2>&1
st=$?
ok "napc deploy as that uid: exit 3, napd's one line" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/refused-deploy.err') -eq 1 ] && grep -q '^napc: napd refuses uid 65534 .*allow_users' '$WORK/refused-deploy.err' || { cat '$WORK/refused-deploy.err'; false; }"
ok "root still gets in" napc ping
stop_napd

write_config "socket_mode = 0666" "allow_users = 65534"
ok "napd starts allowing uid 65534" start_napd
ok "the allowed uid gets in" as_nobody "$NAPC" --socket "$SOCK" ping
stop_napd

write_config "socket_mode = 0666" "allow_groups = 65534"
ok "napd starts allowing gid 65534" start_napd
ok "a member of an allowed group gets in" as_nobody "$NAPC" --socket "$SOCK" ping
stop_napd

write_config "bogus_key = 1" # line 2: write_config puts key_prefix first
"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" 2>"$WORK/bad.err"
st=$?
ok "an unknown setting stops napd at start with status 1" test "$st" -eq 1
ok "... naming the file, the line and the key" grep -q "napd.conf:2: unknown setting 'bogus_key'" "$WORK/bad.err"
write_config "plugins = nosuchplugin"
"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" --plugin-dir "$WORK" 2>"$WORK/missing.err"
ok "a missing plugin stops napd at start, naming it" grep -q "plugin 'nosuchplugin': $WORK/nosuchplugin.so" "$WORK/missing.err"

write_config ""
ok "napd starts" start_napd
"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" 2>"$WORK/twice.err"
ok "a second napd on the same socket refuses to start" grep -q "another napd is already listening on $SOCK" "$WORK/twice.err"
ok "... and leaves the first one serving" napc ping

done_testing
