#!/bin/bash
# git push deploys (contrib/git): nap-git-init makes a bare repository whose
# pre-receive hook, nap-git-receive, runs napc deploy on the pushed commit.
# Pushed by path here (the hook runs locally, as over ssh it runs as the ssh
# user), against the real dockerd, registry and etcd: a first push deploys
# and serves; a second deploys release 2 with its new page; a broken
# Dockerfile fails the push with the build's words and leaves the branch and
# release 2 where they were; another branch is accepted, not deployed;
# deleting the deploy branch is refused; the hook's temporary directory is
# gone after each push. A pusher that goes away mid-deploy: the push
# completes on the server, and the branch names what runs.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
command -v git >/dev/null || {
	echo "SKIP: git is not installed" >&2
	exit 77
}
APP=gitpush-$$
REPO=$WORK/$APP.git
SRC=$WORK/src
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
trap 'stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) >/dev/null 2>&1; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

# The hook runs as a child of git push: it gets this environment (the test
# napd's socket, a TMPDIR to look into), as a pusher's own napc would.
export NAP_SOCKET=$SOCK
export GIT_AUTHOR_NAME=nap-test GIT_AUTHOR_EMAIL=nap-test@localhost
export GIT_COMMITTER_NAME=nap-test GIT_COMMITTER_EMAIL=nap-test@localhost
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK
export NAP_GIT_RECEIVE=$top_builddir/contrib/git/nap-git-receive
INIT=$top_builddir/contrib/git/nap-git-init
mkdir "$WORK/hooktmp"
push() { # push OUT git-push-args...: git push from $SRC, the hook's TMPDIR in $WORK
	local out=$1
	shift
	TMPDIR=$WORK/hooktmp git -C "$SRC" push "$@" >"$out" 2>&1
}
no_tmp_left() { [ -z "$(ls -A "$WORK/hooktmp")" ] || { ls -la "$WORK/hooktmp"; false; }; }
release_is() { napc --json status "$APP" | python3 -c 'import json,sys; assert json.load(sys.stdin)["release"] == int(sys.argv[1])' "$1"; }
serves() { # serves TEXT: every endpoint's page holds TEXT
	local urls u
	urls=$(napc endpoints "$APP" | awk '{print $1}') || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do curl -sf --max-time 2 "$u" | grep -qF "$1" || return 1; done
}
release_serves() { release_is "$1" && serves "$2"; }
branch_at() { [ "$(git --git-dir="$REPO" rev-parse -q --verify "refs/heads/$1")" = "$2" ]; }

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60"
ok "napd starts" start_napd
for p in builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

# --- nap-git-init ------------------------------------------------------------
"$INIT" "$APP" >"$WORK/usage.out" 2>&1
ok "nap-git-init without REPO_DIR: exit 2, the usage" bash -c "[ $? -eq 2 ] && grep -q '^usage: nap-git-init APP REPO_DIR' '$WORK/usage.out'"
mkdir "$WORK/notbare" && touch "$WORK/notbare/x"
"$INIT" "$APP" "$WORK/notbare" >"$WORK/notbare.out" 2>&1
ok "... refuses a directory that is not a bare repository, in one line" bash -c "[ $? -eq 1 ] && [ \$(wc -l <'$WORK/notbare.out') -eq 1 ] && grep -q 'is not a bare git repository' '$WORK/notbare.out'"
NAP_GIT_RECEIVE=$WORK/nowhere "$INIT" "$APP" "$WORK/x.git" >"$WORK/nohook.out" 2>&1
ok "... refuses a hook that is not there, naming NAP_GIT_RECEIVE" bash -c "[ $? -eq 1 ] && grep -q 'NAP_GIT_RECEIVE' '$WORK/nohook.out' && [ ! -e '$WORK/x.git' ]"
ok "nap-git-init APP REPO makes the repository" "$INIT" "$APP" "$REPO"
ok "... a bare one, nap.app set, pre-receive linked to nap-git-receive" bash -c "
	[ \$(git --git-dir='$REPO' rev-parse --is-bare-repository) = true ] &&
	[ \$(git --git-dir='$REPO' config nap.app) = '$APP' ] &&
	[ \$(readlink '$REPO/hooks/pre-receive') = '$NAP_GIT_RECEIVE' ]"
ok "... and running it again changes nothing (it is idempotent)" "$INIT" "$APP" "$REPO"
git --git-dir="$REPO" config nap.napc "$NAPC" # the napc of this build

# --- the first push deploys ----------------------------------------------------
git clone -q "$REPO" "$SRC" 2>/dev/null
git -C "$SRC" symbolic-ref HEAD refs/heads/main
copy_hello && cp -r "$WORK/hello/." "$SRC/"
# busybox is in hello's .gitignore (prepare copies it in); this repository
# is the whole build context, so it is committed here.
git -C "$SRC" add -A && git -C "$SRC" add -f busybox && git -C "$SRC" commit -qm "hello"
push "$WORK/push1.out" origin main
ok "the first push succeeds" test $? -eq 0
ok "... the hook says what it deploys, and git shows napc's build lines" bash -c "grep -q '^remote: nap: deploying main ([0-9a-f]*) as $APP' '$WORK/push1.out' && grep -q '^remote: build: Step 1/' '$WORK/push1.out'"
ok "... release 1 runs and serves the page" release_serves 1 'Hello from nap'
ok "... main moved in the bare repository" branch_at main "$(git -C "$SRC" rev-parse HEAD)"
ok "... and the hook's temporary directory is gone" no_tmp_left

# --- a second push deploys release 2 --------------------------------------------
sed -i 's|<h1>Hello from nap</h1>|<h1>Hello from git push</h1>|' "$SRC/index.html"
git -C "$SRC" commit -qam "a new title"
GOOD=$(git -C "$SRC" rev-parse HEAD)
push "$WORK/push2.out" origin main
ok "a second push succeeds" test $? -eq 0
ok "... release 2 runs and serves the new page" release_serves 2 'Hello from git push'
ok "... no temporary directory left" no_tmp_left

# --- a broken Dockerfile fails the push ------------------------------------------
sed -i 's|^COPY index.html|COPY missing.html|' "$SRC/Dockerfile"
git -C "$SRC" commit -qam "a broken Dockerfile"
push "$WORK/push3.out" origin main
st=$?
ok "a push whose build fails fails (git push exit $st)" test "$st" -ne 0
ok "... its output names the build failure and the refused push" bash -c "grep -q '^remote: .*failed at build' '$WORK/push3.out' && grep -q '^remote: nap: the deploy of $APP failed' '$WORK/push3.out' && grep -q 'pre-receive hook declined' '$WORK/push3.out'"
ok "... main in the bare repository did not move" branch_at main "$GOOD"
ok "... release 2 still runs and serves" release_serves 2 'Hello from git push'
ok "... no temporary directory left" no_tmp_left

# --- other branches, deleting main, a repository without an app ------------------
push "$WORK/push4.out" origin HEAD:feature
ok "a push to another branch succeeds" test $? -eq 0
ok "... saying it is not deployed" grep -q '^remote: nap: feature is not the deploy branch: accepted, not deployed' "$WORK/push4.out"
ok "... the branch is there" branch_at feature "$(git -C "$SRC" rev-parse HEAD)"
ok "... and release 2 still runs" release_is 2
push "$WORK/push5.out" origin --delete main
ok "deleting main is refused" test $? -ne 0
ok "... in one line of the hook" grep -q "^remote: nap: refusing to delete main: it is what $APP runs" "$WORK/push5.out"
ok "... and main is still there" branch_at main "$GOOD"
git --git-dir="$REPO" config --unset nap.app
git -C "$SRC" reset -q --hard "$GOOD" && git -C "$SRC" commit -q --allow-empty -m "no app"
push "$WORK/push6.out" origin main
ok "a repository without nap.app refuses the push, saying what to run" bash -c "[ $? -ne 0 ] && grep -q \"^remote: nap: this repository has no app: run 'git config nap.app APP'\" '$WORK/push6.out'"
git --git-dir="$REPO" config nap.app "$APP"

# --- the pusher goes away mid-deploy --------------------------------------------
# The push completes on the server: receive-pack outlives the pusher's git
# and keeps reading the hook's output, so napc deploy runs to its end and
# the branch moves only if it succeeded: it still names what runs. (Pushed
# by path here; over ssh receive-pack's peer is sshd, whose end of the pipe
# goes the same way when the pusher's ssh dies: not tested.)
git -C "$SRC" reset -q --hard "$GOOD"
sed -i 's|^CMD .*|CMD ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 3; exec /bin/busybox httpd -f -p 8080 -h /www"]|' "$SRC/Dockerfile"
sed -i 's|<h1>Hello from git push</h1>|<h1>Hello from a slow start</h1>|' "$SRC/index.html"
git -C "$SRC" commit -qam "slow to start"
SLOW=$(git -C "$SRC" rev-parse HEAD)
TMPDIR=$WORK/hooktmp git -C "$SRC" push origin main >"$WORK/push-gone.out" 2>&1 &
PUSH_PID=$!
push_done() { ! pgrep -f "receive-pack.*$REPO" >/dev/null && ! pgrep -f "napc deploy $APP " >/dev/null; }
ok "a slow push gets to starting its instances" wait_until 60 grep -q '^remote: schedule: starting' "$WORK/push-gone.out"
kill -TERM "$PUSH_PID"
wait "$PUSH_PID"
ok "the pusher's git push is killed" test $? -ne 0
ok "... the push completes on the server (receive-pack, the hook and napc end)" wait_until 60 push_done
release_above() { napc --json status "$APP" | python3 -c 'import json,sys; assert json.load(sys.stdin)["release"] > int(sys.argv[1])' "$1"; }
new_release_serves() { release_above 2 && serves 'Hello from a slow start'; }
ok "... the deploy went on: a new release serves the pushed page" new_release_serves
ok "... and main moved to it" branch_at main "$SLOW"
ok "... the hook's temporary directory is gone" no_tmp_left

ok "destroy" napc destroy "$APP"
ok "... no container left" bash -c "[ -z \"\$(docker ps -aq --filter label=nap.app=$APP)\" ]"
done_testing
