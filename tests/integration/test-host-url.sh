#!/bin/bash
# napc --host and NAP_HOST, without a server: bad URLs are refused in one
# line (exit 2) before anything runs; good ones become the ssh command line
# napc(1) documents (a stand-in ssh, $NAP_SSH, records its arguments and
# fails as ssh does, and napc names the ssh hop); unix:// and a plain path
# are the local socket. Fast: no napd, no sshd.
. "$(dirname "$0")/lib.sh"

FAKE="$WORK/fake-ssh"
cat >"$FAKE" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$WORK/args"
echo "ssh: Could not resolve hostname nowhere: Name or service not known" >&2
exit 255
EOF
chmod +x "$FAKE"

refused() { # refused URL WHAT: exit 2, one line naming the URL and what is wrong
	local st
	"$NAPC" --host "$1" ping >"$WORK/out" 2>"$WORK/err"
	st=$?
	[ $st -eq 2 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && [ ! -s "$WORK/out" ] &&
		grep -qF -- "--host '$1': $2" "$WORK/err" &&
		grep -qF "; use ssh://[USER@]HOST[:PORT][/SOCKET], unix:///PATH or a socket path" "$WORK/err" &&
		[ ! -e "$WORK/args" ] || { cat "$WORK/err"; return 1; }
}
for bad in "|empty" "tcp://h:1|napc speaks ssh:// and unix:// only" \
	"http://h|napc speaks ssh:// and unix:// only" \
	"ssh://|the host is empty" "ssh://u@|the host is empty" "ssh://@h|the user name before '@' is empty" \
	"ssh://-oProxyCommand=x|the host is empty or not a host name" \
	"ssh://-l@h|the user name before '@' is empty or not a name" \
	"ssh://h;rm|the host is empty or not a host name" \
	"ssh://h:0|the port is not a number from 1 to 65535" "ssh://h:65536|the port is not a number" \
	"ssh://h:|the port is not a number" "ssh://h:+22|the port is not a number" \
	"ssh://h:22x|the port is not a number" "ssh://[::1|an IPv6 address in [ ] lacks its ']'" \
	"ssh://[::1]x|after ']' only ':PORT' may follow" \
	"ssh://h/$(printf 'x%.0s' $(seq 120))|the socket path is longer than a socket's can be" \
	"unix://rel/x|unix:// takes an absolute path"; do
	ok "--host '${bad%%|*}' is refused: ${bad#*|}" refused "${bad%%|*}" "${bad#*|}"
done

NAP_HOST="tcp://x" "$NAPC" ping 2>"$WORK/err"
ok "a bad NAP_HOST is refused naming NAP_HOST (exit 2)" bash -c "[ $? -eq 2 ] && grep -q \"^napc: NAP_HOST 'tcp://x': napc speaks ssh:// and unix:// only\" '$WORK/err'"
"$NAPC" --host /x --socket /y ping 2>"$WORK/err"
ok "--host and --socket together: exit 2, one line" bash -c "[ $? -eq 2 ] && [ \$(wc -l <'$WORK/err') -eq 1 ] && grep -q 'give one' '$WORK/err'"

# The ssh command line, and the ssh hop named with ssh's own last line.
ssh_args() { # ssh_args URL: the arguments napc gave ssh, one a line, joined by |
	rm -f "$WORK/args"
	NAP_SSH="$FAKE" "$NAPC" --timeout 7 --host "$1" ping >"$WORK/out" 2>"$WORK/err"
	echo $? >"$WORK/st"
	tr '\n' '|' <"$WORK/args"
}
ok "ssh://h: ssh -T -o BatchMode=yes -o ConnectTimeout=7 -- h 'napc' dial-stdio" \
	test "$(ssh_args ssh://h)" = "-T|-o|BatchMode=yes|-o|ConnectTimeout=7|--|h|'napc' dial-stdio|"
ok "... ssh's failure: exit 3" test "$(cat "$WORK/st")" -eq 3
ok "... in one line naming the ssh hop and quoting ssh" bash -c "[ \$(wc -l <'$WORK/err') -eq 1 ] && grep -q '^napc: ssh to ssh://h failed: ssh: Could not resolve hostname nowhere' '$WORK/err'"
ok "user, port and socket: -p, -l and dial-stdio --socket, quoted for the server's shell" \
	test "$(ssh_args "ssh://bob@example.org:2222/srv/it's napd.sock")" = "-T|-o|BatchMode=yes|-o|ConnectTimeout=7|-p|2222|-l|bob|--|example.org|'napc' dial-stdio --socket '/srv/it'\\''s napd.sock'|"
ok "an IPv6 address in brackets reaches ssh without them" \
	test "$(ssh_args "ssh://[::1]:22")" = "-T|-o|BatchMode=yes|-o|ConnectTimeout=7|-p|22|--|::1|'napc' dial-stdio|"
ok "a lone / after the host is the server's default socket" \
	test "$(ssh_args "ssh://h/")" = "-T|-o|BatchMode=yes|-o|ConnectTimeout=7|--|h|'napc' dial-stdio|"
rm -f "$WORK/args"
NAP_HOST=ssh://envhost NAP_SSH="$FAKE" NAP_SSH_OPTS="-F /dev/null  -o BatchMode=no" NAP_REMOTE_NAPC=/opt/nap/bin/napc "$NAPC" ping 2>/dev/null
ok "NAP_HOST, NAP_SSH_OPTS first (ssh keeps the first value), NAP_REMOTE_NAPC" \
	test "$(tr '\n' '|' <"$WORK/args")" = "-F|/dev/null|-o|BatchMode=no|-T|-o|BatchMode=yes|-o|ConnectTimeout=10|--|envhost|'/opt/nap/bin/napc' dial-stdio|"
ok "a lone / after the host is the server's default socket" \
	test "$(ssh_args "ssh://h/")" = "-T|-o|BatchMode=yes|-o|ConnectTimeout=7|--|h|'napc' dial-stdio|"
rm -f "$WORK/args"
NAP_HOST=ssh://envhost NAP_SSH="$FAKE" "$NAPC" --socket "$SOCK" ping >/dev/null 2>"$WORK/err"
ok "--socket wins over NAP_HOST (no ssh started)" bash -c "[ ! -e '$WORK/args' ] && grep -q 'napd is not running on $SOCK' '$WORK/err'"
NAP_SSH="$WORK/no-such-ssh" "$NAPC" --host ssh://h ping 2>"$WORK/err"
ok "a missing ssh binary: exit 3, one line naming it and NAP_SSH" bash -c "[ $? -eq 3 ] && [ \$(wc -l <'$WORK/err') -eq 1 ] && grep -q \"cannot run '$WORK/no-such-ssh': No such file or directory; install openssh-client or point NAP_SSH at ssh\" '$WORK/err'"

# Local forms: unix:///PATH and a plain path are --socket.
"$NAPC" --host "unix://$SOCK" ping 2>"$WORK/err"
ok "unix:///PATH is the local socket PATH" grep -q "napd is not running on $SOCK " "$WORK/err"
NAP_HOST="$SOCK.2" "$NAPC" ping 2>"$WORK/err"
ok "a plain path in NAP_HOST is the local socket" grep -q "napd is not running on $SOCK.2 " "$WORK/err"
write_config ""
ok "napd starts" start_napd
ok "napc --host unix:///PATH pings it" bash -c "'$NAPC' --host 'unix://$SOCK' ping | grep -q '^napd .* on $SOCK answered'"

# dial-stdio is for a pipe, on the server.
"$NAPC" dial-stdio --bogus </dev/null >/dev/null 2>"$WORK/err"
ok "dial-stdio with an unknown option: exit 2" test $? -eq 2
echo -n | "$NAPC" dial-stdio --socket "$SOCK.none" >/dev/null 2>"$WORK/err"
ok "dial-stdio without napd: exit 3 and the local message" bash -c "[ $? -eq 3 ] && grep -q 'napd is not running on $SOCK.none' '$WORK/err'"
echo -n | NAP_HOST=ssh://elsewhere NAP_SSH="$FAKE" "$NAPC" dial-stdio --socket "$SOCK.none" >/dev/null 2>"$WORK/err"
ok "dial-stdio ignores NAP_HOST (a login script on the server may set it)" bash -c "[ $? -eq 3 ] && [ ! -e '$WORK/args' ] && grep -q 'napd is not running on $SOCK.none' '$WORK/err'"
# Raw bytes through the bridge: napd's HELLO comes out (frame kind HELLO,
# peer_name napd) though nothing was sent: the bridge does not parse.
"$NAPC" dial-stdio --socket "$SOCK" </dev/null >"$WORK/hello.bin" 2>"$WORK/err"
ok "dial-stdio with stdin at EOF: copies napd's HELLO, exits 0 when napd closes" bash -c "[ $? -eq 0 ] && grep -q napd '$WORK/hello.bin' && [ ! -s '$WORK/err' ]"

done_testing
