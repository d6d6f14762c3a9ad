#!/bin/bash
# napc --host ssh://USER@HOST:PORT/SOCKET against a real sshd (Debian's
# openssh-server) that this test starts on 127.0.0.1 with keys it makes, as
# two users it creates (and removes): the first is in napd's allow_users,
# the second is not. Through ssh: ping, ls, deploy, status, endpoints
# --watch, logs --follow, Ctrl-C, destroy; then each hop failing (ssh: a
# closed port, a key sshd does not know, an unknown host key, a server that
# never answers; the bridge: no napc there, an old napc; napd: not running,
# refusing the uid), each in one line naming that hop; git push over ssh to
# each user's nap-git-init repository. Ends with the figures:
# napc ping over ssh vs local, vs ssh alone, and over a shared ssh connection.
. "$(dirname "$0")/lib.sh"

SSHD=$(PATH=$PATH:/usr/sbin command -v sshd)
if [ "$(id -u)" -ne 0 ] || [ -z "$SSHD" ] || ! command -v ssh ssh-keygen useradd >/dev/null; then
	echo "SKIP: needs root, sshd, ssh, ssh-keygen and useradd (scripts/install-deps --servers)" >&2
	exit 77
fi
need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
export ETCDCTL_API=3
APP=ssh-$$
U1=napssh$$a # in allow_users
U2=napssh$$b # not
D="$WORK/ssh"
SSHD_PID=
made_run_sshd=
chmod 755 "$WORK"
mkdir -m 755 "$D"

cleanup() {
	[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null
	[ -n "${PORT:-}" ] && ssh -F "$D/config" -o ControlPath="$D/cm-%C" -O exit -p "$PORT" -l "$U1" 127.0.0.1 >/dev/null 2>&1
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	[ -n "${SILENT_PID:-}" ] && kill "$SILENT_PID" 2>/dev/null
	stop_napd
	docker rm -f $(docker ps -aq --filter "label=nap.app=$APP") >/dev/null 2>&1
	for u in $U1 $U2; do
		id "$u" >/dev/null 2>&1 && { pkill -KILL -u "$u" 2>/dev/null; userdel "$u" 2>/dev/null; }
	done
	[ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }
# No ssh that napc started (found by its config path) and no process of U1
# (the bridge, on the server) is left.
no_ssh() { ! pgrep -f -- "^ssh -F $D/" >/dev/null; }
no_bridge() { ! pgrep -u "$U1" >/dev/null || { ps -u "$U1" -o pid,stat,args; false; }; }

# --- the server: two users, keys, sshd on loopback ---------------------------
for u in $U1 $U2; do
	# '*': no password, but not locked (sshd without PAM refuses a '!' account).
	useradd -M -d "$WORK/home-$u" -s /bin/sh -p '*' "$u"
	mkdir -m 700 "$WORK/home-$u"
	chown "$u:" "$WORK/home-$u"
done
ssh-keygen -q -t ed25519 -N '' -C nap-test-host -f "$D/host_key"
ssh-keygen -q -t ed25519 -N '' -C nap-test -f "$D/id"
ssh-keygen -q -t ed25519 -N '' -C nap-test-other -f "$D/id_other"
cp "$D/id.pub" "$D/authorized_keys.$U1"
cp "$D/id.pub" "$D/authorized_keys.$U2"
PORT=$(free_port)
cat >"$D/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $D/host_key
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys.%u
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowUsers $U1 $U2
AllowTcpForwarding no
X11Forwarding no
LogLevel VERBOSE
EOF
if [ ! -d /run/sshd ]; then # sshd's privilege separation directory
	mkdir -m 755 /run/sshd
	made_run_sshd=1
fi
"$SSHD" -D -e -f "$D/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
ok "sshd listens on 127.0.0.1:$PORT" wait_until 10 listening "$PORT"

# The client: everything in the test's directory, nothing from ~/.ssh.
client_config() { # client_config FILE IDENTITY KNOWN_HOSTS
	printf 'Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n' "$2" "$3" >"$1"
}
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$D/host_key.pub")" >"$D/known_hosts"
: >"$D/known_hosts.empty"
client_config "$D/config" "$D/id" "$D/known_hosts"
client_config "$D/config.otherkey" "$D/id_other" "$D/known_hosts"
client_config "$D/config.nohostkey" "$D/id" "$D/known_hosts.empty"
export NAP_SSH_OPTS="-F $D/config"
# napc is not installed here: the bridge is the napc this test was built with.
export NAP_REMOTE_NAPC="$NAPC"
H="ssh://$U1@127.0.0.1:$PORT$SOCK"
rnapc() { "$NAPC" --host "$H" "$@"; }

# --- napd, reached over ssh ------------------------------------------------
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60" "socket_mode = 0666" "allow_users = $U1"
ok "napd starts (allow_users = $U1)" start_napd
for p in builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

rnapc ping >"$WORK/ping.out" 2>"$WORK/ping.err"
ok "napc --host ssh://... ping answers" bash -c "[ $? -eq 0 ] && grep -q '^napd .* on $H answered in [0-9]* us' '$WORK/ping.out'"
ok "... with nothing on stderr" test ! -s "$WORK/ping.err"
ok "napd saw the ssh user's uid (SO_PEERCRED of the bridge)" grep -q "client pid [0-9]* uid $(id -u $U1): connected" "$WORK/napd.log"
ok "NAP_HOST does the same" bash -c "NAP_HOST='$H' '$NAPC' ping | grep -q 'answered in'"
ok "no ssh is left once napc is done" wait_until 5 no_ssh
ok "... nor a bridge on the server" wait_until 5 no_bridge
ok "ls over ssh (no apps yet)" bash -c "'$NAPC' --host '$H' --json ls | python3 -c 'import json,sys; assert json.load(sys.stdin) == []'"

# The app: examples/hello, whose httpd logs each request it serves (-vv).
cp -r "$top_srcdir/examples/hello" "$WORK/app"
chmod -R u+w,a+rX "$WORK/app"
"$WORK/app/prepare"
sed -i 's|"-f", "-p"|"-f", "-vv", "-p"|' "$WORK/app/Dockerfile"
rnapc deploy "$APP" "$WORK/app" --instances 1 >"$WORK/deploy.out" 2>&1
ok "deploy over ssh succeeds" test $? -eq 0
ok "... printing the endpoint" grep -q 'http://127.0.0.1:[0-9]* *instance 1' "$WORK/deploy.out"
ok "status over ssh: running" bash -c "'$NAPC' --host '$H' --json status $APP | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"state\"] == \"running\", d'"
EP=$(rnapc endpoints "$APP" | head -1)
ok "endpoints over ssh: the page answers" bash -c "curl -sf --max-time 5 '$EP' | grep -q nap"

# endpoints --watch sees a change made elsewhere (a local napc scales).
"$NAPC" --host "$H" endpoints "$APP" --watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH_PID=$!
ok "endpoints --watch over ssh prints the endpoint" wait_until 15 grep -q http:// "$WORK/watch.out"
ok "scale to 2 (locally)" napc scale "$APP" 2
ok "... the watch over ssh prints both endpoints" wait_until 60 bash -c "[ \$(grep -c http:// '$WORK/watch.out') -ge 3 ]"
kill "$WATCH_PID"
wait "$WATCH_PID"
st=$?
WATCH_PID=
ok "SIGTERM ends the watch (143)" test "$st" -eq 143
ok "... and its ssh" no_ssh

# The ssh connection drops under a watch (its sshd session is killed): the
# watch ends in one line that names ssh, in ssh's words.
"$NAPC" --host "$H" endpoints "$APP" --watch >"$WORK/watch2.out" 2>"$WORK/watch2.err" &
WATCH_PID=$!
ok "a second watch over ssh prints the endpoints" wait_until 15 grep -q http:// "$WORK/watch2.out"
session=$(pgrep -u "$U1" -f "^sshd: $U1")
ok "its sshd session is there" test -n "$session"
kill -KILL $session
wait "$WATCH_PID"
st=$?
WATCH_PID=
ok "the watch ends: exit 3 (napd unreachable), one line naming the ssh hop" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/watch2.err') -eq 1 ] && grep -q '^napc: ssh to $H failed: ' '$WORK/watch2.err' || { echo exit $st; cat '$WORK/watch2.err'; false; }"
sed 's/^/# it said: /' "$WORK/watch2.err"
ok "... no bridge is left on the server" wait_until 5 no_bridge

# logs --follow prints a line the app writes after the command started; then
# Ctrl-C (SIGINT to napc alone) ends napc, its ssh and the bridge.
conns() { grep -c "client pid [0-9]* uid $(id -u $U1): connected" "$WORK/napd.log"; }
before=$(conns)
env --default-signal=INT "$NAPC" --host "$H" logs "$APP" --follow >"$WORK/logs.out" 2>"$WORK/logs.err" &
LOGS_PID=$!
ok "logs --follow over ssh is connected" wait_until 15 bash -c "[ \$(grep -c 'client pid [0-9]* uid $(id -u $U1): connected' '$WORK/napd.log') -gt $before ]"
sleep 1 # the follow call is in napd's hands; what comes next is new
curl -s --max-time 5 "$EP/marker-$$" >/dev/null
for u in $(napc endpoints "$APP"); do curl -s --max-time 5 "$u/marker-$$" >/dev/null; done
ok "... and prints the line the app wrote afterwards" wait_until 20 grep -q "url:/marker-$$" "$WORK/logs.out"
ok "... still following" kill -0 "$LOGS_PID"
kill -INT "$LOGS_PID"
wait "$LOGS_PID"
st=$?
ok "Ctrl-C ends napc logs --follow (killed by SIGINT: 130)" test "$st" -eq 130
ok "... and leaves no ssh process" no_ssh
ok "... and no bridge on the server" wait_until 5 no_bridge

# Ctrl-C of a redeploy over ssh: ssh ends, the bridge sees EOF and closes
# napd's socket, napd takes the client as gone and undoes the new release.
cp -r "$WORK/app" "$WORK/slow"
sed -i 's|^CMD .*|CMD ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 5; exec /bin/busybox httpd -f -p 8080 -h /www"]|' "$WORK/slow/Dockerfile"
serving=$(napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')
env --default-signal=INT "$NAPC" --host "$H" deploy "$APP" "$WORK/slow" >"$WORK/cancel.out" 2>&1 &
DEP=$!
ok "a redeploy over ssh gets to starting" wait_until 60 grep -q starting "$WORK/cancel.out"
kill -INT "$DEP"
wait "$DEP"
ok "Ctrl-C ends it" test $? -eq 130
ok "... no ssh left" no_ssh
ok "... napd undid it: release $serving serves" wait_until 30 bash -c "'$NAPC' --socket '$SOCK' status $APP | grep -q '^$APP: running, release $serving'"
ok "... and nothing of release $((serving + 1)) is left" wait_until 30 bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP --filter label=nap.release=$((serving + 1)) | wc -l) -eq 0 ]"

# --- git push over ssh: the hook runs as the ssh user -------------------------
# A bare repository of each user's (nap-git-init, as that user), pushed to
# through sshd: U1's push deploys; U2's is refused by napd (not in
# allow_users) and so by git. nap.host points the hook at this test's napd.
as_user() { # as_user USER command...: with USER's HOME (git reads ~/.gitconfig)
	local u=$1
	shift
	runuser -u "$u" -- env HOME="$WORK/home-$u" "$@"
}
gitpush_repo() { # gitpush_repo USER: REPO in USER's home, made by USER
	local r=$WORK/home-$1/app.git
	as_user "$1" env NAP_GIT_RECEIVE="$top_builddir/contrib/git/nap-git-receive" \
		"$top_builddir/contrib/git/nap-git-init" "$APP" "$r" >/dev/null &&
		as_user "$1" git --git-dir="$r" config nap.napc "$NAPC" &&
		as_user "$1" git --git-dir="$r" config nap.host "$SOCK"
}
gitpush() { # gitpush USER OUT: push $WORK/app's commit to USER's repository over ssh
	GIT_SSH_COMMAND="ssh -F $D/config" git -C "$WORK/gitsrc" push \
		"ssh://$1@127.0.0.1:$PORT$WORK/home-$1/app.git" main >"$2" 2>&1
}
ok "nap-git-init as $U1" gitpush_repo "$U1"
ok "nap-git-init as $U2" gitpush_repo "$U2"
cp -r "$WORK/app" "$WORK/gitsrc"
sed -i 's|<h1>Hello from nap</h1>|<h1>Hello from git push</h1>|' "$WORK/gitsrc/index.html"
git -C "$WORK/gitsrc" init -q -b main &&
	git -C "$WORK/gitsrc" add -A && git -C "$WORK/gitsrc" add -f busybox &&
	git -C "$WORK/gitsrc" -c user.name=nap-test -c user.email=nap-test@localhost commit -qm app
serving=$(napc --json status "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')
gitpush "$U1" "$WORK/gitpush1.out"
ok "git push over ssh as $U1 deploys" bash -c "[ $? -eq 0 ] && grep -q '^remote: nap: deploying main' '$WORK/gitpush1.out' || { cat '$WORK/gitpush1.out'; false; }"
pushed=$(sed -n "s/^remote: $APP is up (release \([0-9]*\)):.*/\1/p" "$WORK/gitpush1.out")
ok "... a new release ($pushed, after $serving), serving the pushed page" bash -c "[ '$pushed' -gt $serving ] && '$NAPC' --socket '$SOCK' status $APP | grep -q '^$APP: running, release $pushed' && curl -sf --max-time 5 \$('$NAPC' --socket '$SOCK' endpoints $APP | head -1) | grep -q 'Hello from git push'"
gitpush "$U2" "$WORK/gitpush2.out"
ok "git push over ssh as $U2 (not allowed) fails, with napd's refusal" bash -c "[ $? -ne 0 ] && grep -q '^remote: napc: napd refuses uid $(id -u $U2)' '$WORK/gitpush2.out' && grep -q 'pre-receive hook declined' '$WORK/gitpush2.out' || { cat '$WORK/gitpush2.out'; false; }"
ok "... and deploys nothing: release $pushed runs" bash -c "'$NAPC' --socket '$SOCK' status $APP | grep -q '^$APP: running, release $pushed'"
no_refs() { # no_refs USER: USER's repository has no branch (read as USER: git refuses another's)
	local refs
	refs=$(as_user "$1" git --git-dir="$WORK/home-$1/app.git" for-each-ref) && [ -z "$refs" ]
}
ok "... nor does it make $U2's main" no_refs "$U2"

# --- each hop failing, each in one line naming it ----------------------------
expect_fail() { # expect_fail NAME PATTERN napc-args...: exit 3, one line matching PATTERN
	local name=$1 pattern=$2 st
	shift 2
	timeout 30 "$NAPC" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	st=$?
	[ $st -eq 3 ] && one_line "$WORK/$name.err" && grep -qE -- "$pattern" "$WORK/$name.err" ||
		{ echo "exit $st:"; cat "$WORK/$name.err"; return 1; }
}
# napd's HELLO, its refusal and its close race napc's HELLO through the
# bridge: five times, so that an order that loses the refusal shows.
for i in 1 2 3 4 5; do
	ok "a uid napd does not allow: napd's refusal (napd hop), try $i" \
		expect_fail refused "^napc: napd refuses uid $(id -u $U2) on $SOCK: .*allow_users" \
		--host "ssh://$U2@127.0.0.1:$PORT$SOCK" ping
done
ok "... napd logged it" grep -q "refused client pid [0-9]* uid $(id -u $U2)" "$WORK/napd.log"
BADPORT=$(free_port)
ok "a closed port: the ssh hop, in ssh's words" \
	expect_fail badport "^napc: ssh to ssh://$U1@127.0.0.1:$BADPORT$SOCK failed: ssh: connect to host 127.0.0.1 port $BADPORT: Connection refused" \
	--host "ssh://$U1@127.0.0.1:$BADPORT$SOCK" ping
NAP_SSH_OPTS="-F $D/config.otherkey" timeout 30 "$NAPC" --host "$H" ping >/dev/null 2>"$WORK/badkey.err"
st=$?
ok "a key sshd does not know: exit 3, the ssh hop, Permission denied" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/badkey.err') -eq 1 ] && grep -q '^napc: ssh to $H failed: .*Permission denied (publickey)' '$WORK/badkey.err'"
NAP_SSH_OPTS="-F $D/config.nohostkey" timeout 30 "$NAPC" --host "$H" ping >/dev/null 2>"$WORK/hostkey.err"
st=$?
ok "an unknown host key: exit 3, the ssh hop, Host key verification failed" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/hostkey.err') -eq 1 ] && grep -q '^napc: ssh to $H failed: Host key verification failed' '$WORK/hostkey.err'"
NAP_REMOTE_NAPC=/nonexistent/napc timeout 30 "$NAPC" --host "$H" ping >/dev/null 2>"$WORK/nobridge.err"
st=$?
ok "no napc on the server: exit 3, the bridge hop" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/nobridge.err') -eq 1 ] && grep -q '^napc: napc on 127.0.0.1 has no dial-stdio: install nap >= 0.2 there' '$WORK/nobridge.err'"
printf '#!/bin/sh\necho "napc: unknown command '\''$1'\''; '\''napc --help'\'' lists the commands" >&2\nexit 2\n' >"$WORK/old-napc"
chmod 755 "$WORK/old-napc"
NAP_REMOTE_NAPC="$WORK/old-napc" timeout 30 "$NAPC" --host "$H" ping >/dev/null 2>"$WORK/oldbridge.err"
st=$?
ok "an old napc on the server (no dial-stdio): exit 3, the bridge hop" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/oldbridge.err') -eq 1 ] && grep -q '^napc: napc on 127.0.0.1 has no dial-stdio: install nap >= 0.2 there' '$WORK/oldbridge.err'"
printf '#!/bin/sh\necho "Welcome to the server!"\nexec %s "$@"\n' "$NAPC" >"$WORK/chatty-napc"
chmod 755 "$WORK/chatty-napc"
NAP_REMOTE_NAPC="$WORK/chatty-napc" timeout 30 "$NAPC" --host "$H" ping >/dev/null 2>"$WORK/chatty.err"
st=$?
ok "a login script that prints to stdout: exit 3, one line saying so" bash -c "[ $st -eq 3 ] && [ \$(wc -l <'$WORK/chatty.err') -eq 1 ] && grep -q '^napc: what came back through ssh from 127.0.0.1 is not the nap protocol (.*): does a login script there print to standard output?' '$WORK/chatty.err'"
ok "napd not running there: the napd hop, in napc's local words" \
	expect_fail nonapd "^napc: napd on 127.0.0.1: napd is not running on $WORK/none.sock" \
	--host "ssh://$U1@127.0.0.1:$PORT$WORK/none.sock" ping
# A server that accepts TCP and never speaks: --timeout bounds the attempt.
SILENT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); c = s.accept(); time.sleep(60)' "$SILENT" &
SILENT_PID=$!
wait_until 10 listening "$SILENT"
t0=$(date +%s%N)
ok "a server that never answers: exit 3 after --timeout 2" \
	expect_fail silent "(ssh to ssh://$U1@127.0.0.1:$SILENT failed: .*[Tt]imed? ?out|no answer from napd through ssh to ssh://$U1@127.0.0.1:$SILENT within 2 s)" \
	--timeout 2 --host "ssh://$U1@127.0.0.1:$SILENT" ping
ms=$((($(date +%s%N) - t0) / 1000000))
ok "... within 2 to 5 s ($ms ms)" test "$ms" -ge 1900 -a "$ms" -lt 5000
ok "... and leaves no ssh process" no_ssh
kill "$SILENT_PID" 2>/dev/null
SILENT_PID=

# --- the figures: napc ping over ssh to localhost vs local -------------------
# The napc binary itself on both ends (libtool's wrapper script, a bash, would
# add milliseconds to each), with this build's libnap.
BIN="$top_builddir/core/napc/.libs/napc"
LIBDIR="$top_builddir/core/lib/.libs"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$LIBDIR" "$BIN" >"$WORK/napc-bin"
chmod 755 "$WORK/napc-bin"
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for i in $(seq 20); do
	t0=$(date +%s%N)
	LD_LIBRARY_PATH="$LIBDIR" "$BIN" --socket "$SOCK" ping |
		sed -n 's/.*answered in \([0-9]*\) us.*/\1/p' >>"$WORK/rtt.local"
	echo $((($(date +%s%N) - t0) / 1000)) >>"$WORK/wall.local"
	t0=$(date +%s%N)
	NAP_REMOTE_NAPC="$WORK/napc-bin" LD_LIBRARY_PATH="$LIBDIR" "$BIN" --host "$H" ping |
		sed -n 's/.*answered in \([0-9]*\) us.*/\1/p' >>"$WORK/rtt.ssh"
	echo $((($(date +%s%N) - t0) / 1000)) >>"$WORK/wall.ssh"
	t0=$(date +%s%N)
	ssh -F "$D/config" -T -o BatchMode=yes -p "$PORT" -l "$U1" 127.0.0.1 true
	echo $((($(date +%s%N) - t0) / 1000)) >>"$WORK/wall.sshtrue"
done
# With a shared ssh connection (ControlMaster, set by the user in
# NAP_SSH_OPTS or ~/.ssh/config), later commands skip ssh's handshake.
CM="-o ControlMaster=auto -o ControlPath=$D/cm-%C -o ControlPersist=60"
NAP_SSH_OPTS="-F $D/config $CM" NAP_REMOTE_NAPC="$WORK/napc-bin" "$NAPC" --host "$H" ping >/dev/null
for i in $(seq 20); do
	t0=$(date +%s%N)
	NAP_SSH_OPTS="-F $D/config $CM" NAP_REMOTE_NAPC="$WORK/napc-bin" LD_LIBRARY_PATH="$LIBDIR" \
		"$BIN" --host "$H" ping >/dev/null
	echo $((($(date +%s%N) - t0) / 1000)) >>"$WORK/wall.mux"
done
ok "ControlMaster: 20 pings answered" test "$(grep -c . "$WORK/wall.mux")" -eq 20
ssh -F "$D/config" -o ControlPath="$D/cm-%C" -O exit -p "$PORT" -l "$U1" 127.0.0.1 2>/dev/null
ok "20 pings each way answered" test "$(cat "$WORK/rtt.local" "$WORK/rtt.ssh" | grep -c .)" -eq 40
echo "# napc ping, median of 20: local $(median <"$WORK/wall.local") us per command (bus round trip $(median <"$WORK/rtt.local") us);" \
	"over ssh to localhost $(median <"$WORK/wall.ssh") us per command (bus round trip $(median <"$WORK/rtt.ssh") us);" \
	"ssh ... true alone $(median <"$WORK/wall.sshtrue") us;" \
	"over ssh sharing a ControlMaster connection $(median <"$WORK/wall.mux") us per command"

ok "destroy over ssh" rnapc destroy "$APP"
ok "... no container left" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"
ok "sshd accepted $U1 by its key" grep -q "Accepted publickey for $U1 from 127.0.0.1" "$WORK/sshd.log"

done_testing
