#!/bin/bash
# The build context is sent, not named (issue 11, protocol 1.2), against the
# real dockerd, registry and etcd: napc packs the directory as the user who
# runs it and streams it with nap.Builder.Upload into the builder's spool;
# napd opens no path a client names.
#  - a user deploys a directory only that user can read;
#  - a directory (or a file in it) the caller cannot read is refused by napc
#    in one line, before anything is sent: no build, no record;
#  - a 200 MiB context of random bytes streams with napd's and the builder
#    host's peak RSS (VmHWM) bounded: the figures are printed as "# ..." lines;
#  - SIGINT to napc during the upload leaves no image, container, etcd key,
#    record or spool file;
#  - a 50 MB file excluded by .dockerignore is not sent (napc's byte count
#    and the builder's);
#  - an old-style DeployRequest naming a directory is refused with one line.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v runuser >/dev/null; then
	echo "SKIP: needs root, useradd and runuser to deploy as another user" >&2
	exit 77
fi
export ETCDCTL_API=3
REGISTRY=127.0.0.1:5000
APP=ctx-$$
USER_NAME=napctx$$
LIMITS_CALL="$top_builddir/tests/limits/limits-call"
SPOOL=$WORK/contexts
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
etcd_keys() { etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "$1" | grep -c . || true; }
containers() { docker ps -aq --filter "label=nap.app=$1" | grep -c . || true; }
spool_files() { find "$SPOOL" -type f | grep -c . || true; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
builder_pid() { plugin_field builder pid; }
as_user() { runuser -u "$USER_NAME" -- "$@"; }
# Nothing of app $1 anywhere: image, container, etcd keys, record, spool.
nothing_of() {
	! docker image inspect "$REGISTRY/$1:1" >/dev/null 2>&1 &&
		[ "$(containers "$1")" -eq 0 ] &&
		[ "$(etcd_keys "/services/$1/")" -eq 0 ] &&
		[ "$(etcd_keys "/nap/apps/$1/")" -eq 0 ] &&
		[ "$(spool_files)" -eq 0 ] &&
		! napc ls | grep -qw "$1"
}

APPS=()
# What the test deployed goes (its records and keys through napd, while it
# runs); then, whatever happened, containers and images by name.
destroy_apps() {
	for a in "${APPS[@]}"; do napc destroy "$a" >/dev/null 2>&1; done
	APPS_DESTROYED=1
}
cleanup() {
	[ -n "${APPS_DESTROYED:-}" ] || destroy_apps
	stop_napd
	for a in "${APPS[@]}"; do
		docker rm -f $(docker ps -aq --filter "label=nap.app=$a") >/dev/null 2>&1
		docker rmi $(docker images --format '{{.Repository}}:{{.Tag}}' "$REGISTRY/$a") >/dev/null 2>&1
	done
	userdel "$USER_NAME" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

useradd --no-create-home --shell /usr/sbin/nologin "$USER_NAME" || {
	echo "SKIP: cannot add user $USER_NAME" >&2
	exit 77
}
USER_UID=$(id -u "$USER_NAME")
chmod 755 "$WORK"

# examples/hello, prepared (its static busybox copied in).
cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare"
rm -f "$WORK/hello/prepare" "$WORK/hello/README.md"

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 120" "socket_mode = 0666" "allow_users = 0 $USER_UID" \
	"[plugin builder]" "context_dir = $SPOOL"
ok "napd starts, allowing uid $USER_UID" start_napd
for p in builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done
ok "the spool directory is 0700" test "$(stat -c %a "$SPOOL")" = 700

# ---- a directory only the calling user can read ----
MINE=$WORK/mine
cp -r "$WORK/hello" "$MINE"
chown -R "$USER_NAME" "$MINE"
chmod 700 "$MINE" # its files keep their modes: they go into the image as they are
APPS+=("$APP-mine")
as_user "$NAPC" --socket "$SOCK" deploy "$APP-mine" "$MINE" >"$WORK/mine.out" 2>&1
st=$?
ok "user $USER_NAME deploys a directory only it can read (status $st)" test "$st" -eq 0
ok "... napc said what it sent" grep -Eq '^context: sent [0-9]+ bytes' "$WORK/mine.out"
ok "... and the app answers" bash -c "curl -sf --max-time 5 \$(grep -Eo 'http://[0-9.:]+' '$WORK/mine.out' | head -1) | grep -q nap"
ok "... its context is gone from the spool" test "$(spool_files)" -eq 0

# ---- a directory the caller cannot read ----
THEIRS=$WORK/theirs
cp -r "$WORK/hello" "$THEIRS"
chmod 700 "$THEIRS"
APPS+=("$APP-theirs")
as_user "$NAPC" --socket "$SOCK" deploy "$APP-theirs" "$THEIRS" >"$WORK/theirs.out" 2>&1
st=$?
ok "a directory the caller cannot read is refused by napc (exit 2)" test "$st" -eq 2
ok "... in one line saying why" bash -c "[ \$(wc -l <'$WORK/theirs.out') -eq 1 ] && grep -q 'Permission denied' '$WORK/theirs.out'"
ok "... before anything was sent" bash -c "! grep -q 'for $APP-theirs' '$WORK/napd.log'"
ok "... and nothing of it exists" nothing_of "$APP-theirs"
chmod 755 "$THEIRS"
chmod 600 "$THEIRS/index.html"
as_user "$NAPC" --socket "$SOCK" deploy "$APP-theirs" "$THEIRS" >"$WORK/theirs2.out" 2>&1
st=$?
ok "one unreadable file in it is refused the same way (exit 2, one line naming it)" \
	bash -c "[ $st -eq 2 ] && [ \$(wc -l <'$WORK/theirs2.out') -eq 1 ] && grep -q 'index.html' '$WORK/theirs2.out'"
ok "... and nothing of it exists" nothing_of "$APP-theirs"

# ---- 200 MiB of random bytes: memory stays bounded ----
BIG=$WORK/big
cp -r "$WORK/hello" "$BIG"
head -c $((200 * 1024 * 1024)) /dev/urandom >"$BIG/random.bin"
echo '!random.bin' >>"$BIG/.dockerignore" # hello's lets in only what the image needs
APPS+=("$APP-big")
napd_before=$(hwm_kib "$NAPD_PID")
bpid=$(builder_pid)
builder_before=$(hwm_kib "$bpid")
start=$(date +%s%N)
napc deploy "$APP-big" "$BIG" >"$WORK/big.out" 2>&1
st=$?
ms=$((($(date +%s%N) - start) / 1000000))
napd_after=$(hwm_kib "$NAPD_PID")
builder_after=$(hwm_kib "$bpid")
ok "a 200 MiB context deploys (status $st, $ms ms)" test "$st" -eq 0
echo "# napd VmHWM: $((napd_before / 1024)) MiB before, $((napd_after / 1024)) MiB after"
echo "# builder host VmHWM: $((builder_before / 1024)) MiB before, $((builder_after / 1024)) MiB after"
ok "napd's peak RSS grew by less than 16 MiB" rss_ok $((napd_after - napd_before)) -lt $((16 * 1024))
ok "the builder host's peak RSS grew by less than 16 MiB" \
	rss_ok $((builder_after - builder_before)) -lt $((16 * 1024))
sent=$(sed -n 's/^context: sent \([0-9]*\) bytes.*/\1/p' "$WORK/big.out")
got=$(sed -n "s/.*received a build context of \([0-9]*\) bytes for $APP-big .*/\1/p" "$WORK/napd.log" | tail -1)
ok "napc sent all of it (${sent:-?} bytes), and the builder received as much" \
	bash -c "[ ${sent:-0} -gt $((200 * 1024 * 1024)) ] && [ '${got:-x}' = '${sent:-y}' ]"
ok "... and its spool file is gone" test "$(spool_files)" -eq 0

# ---- SIGINT during the upload ----
APPS+=("$APP-int")
# A background job of a script starts with SIGINT ignored: napc gets it back
# (as from a terminal's Ctrl-C) through an exec that restores the default.
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$NAPC" --socket "$SOCK" deploy "$APP-int" "$BIG" >"$WORK/int.out" 2>&1 &
napc_pid=$!
# napc has read some of the context (its build, which took the context at
# once, reads it as it comes): hold napc there, then interrupt it.
napc_read() { awk '/^rchar/ {print $2}' "/proc/$napc_pid/io" 2>/dev/null || echo 0; }
napc_has_read() { [ "$(napc_read)" -gt $((8 * 1024 * 1024)) ]; }
wait_until 30 napc_has_read
kill -STOP "$napc_pid" 2>/dev/null
part=$(napc_read)
kill -INT "$napc_pid" 2>/dev/null
kill -CONT "$napc_pid" 2>/dev/null
wait "$napc_pid"
st=$?
echo "# napc was interrupted after reading ${part:-0} bytes of a $((200 * 1024 * 1024))-byte file"
ok "napc was interrupted mid-upload (exit $st)" \
	bash -c "[ $st -ne 0 ] && [ ${part:-0} -gt 0 ] && [ ${part:-0} -lt $((200 * 1024 * 1024)) ]"
# A taken context is unlinked at once: what the builder still holds open
# shows in its /proc/PID/fd as ".../contexts/ID.tar (deleted)".
spool_open_files() { find "/proc/$bpid/fd" -lname "$SPOOL/*" 2>/dev/null | grep -c . || true; }
int_left_nothing() { nothing_of "$APP-int" && [ "$(spool_open_files)" -eq 0 ]; }
ok "... leaving no spool file (named or held open), image, container, key or record" \
	wait_until 10 int_left_nothing
ok "... and the builder says the upload was cancelled" \
	wait_until 5 grep -q "upload of a build context for $APP-int was cancelled" "$WORK/napd.log"

# ---- .dockerignore: a 50 MB file it excludes is not sent ----
IGN=$WORK/ignored
cp -r "$WORK/hello" "$IGN"
head -c 50000000 /dev/urandom >"$IGN/big.iso"
echo "*.iso" >"$IGN/.dockerignore"
APPS+=("$APP-ign")
napc deploy "$APP-ign" "$IGN" >"$WORK/ign.out" 2>&1
st=$?
sent=$(sed -n 's/^context: sent \([0-9]*\) bytes.*/\1/p' "$WORK/ign.out")
got=$(sed -n "s/.*received a build context of \([0-9]*\) bytes for $APP-ign .*/\1/p" "$WORK/napd.log" | tail -1)
echo "# with .dockerignore: napc sent ${sent:-?} bytes, the builder received ${got:-?}"
ok "a context with a 50 MB file excluded by .dockerignore deploys (status $st)" test "$st" -eq 0
ok "... napc sent less than 2 MiB" test "${sent:-99999999}" -lt $((2 * 1024 * 1024))
ok "... and the builder received exactly that" test "${got:-0}" = "${sent:-x}"

# ---- an old-style DeployRequest (napc 0.2) naming a directory ----
APPS+=("$APP-old")
"$LIMITS_CALL" "$SOCK" Deploy app="$APP-old" dir="$WORK/hello" >"$WORK/old.out" 2>&1
ok "a DeployRequest with dir is refused with one line" \
	grep -q "^END .*this napd takes the build context from napc (protocol 1.2): upgrade napc" "$WORK/old.out"
ok "... and nothing of it exists" nothing_of "$APP-old"

destroy_apps
ok "destroy leaves no record of the test's apps" \
	bash -c "[ \$(ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only /nap/apps/$APP- | grep -c .) -eq 0 ]"
done_testing
