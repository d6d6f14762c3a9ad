#!/bin/bash
# scheduler-local through napd against the real dockerd: Run two instances
# of examples/hello (built here by hand), serve pages from the reported
# ports, labels/names/env in Docker, List, Remove one then all, a missing
# image, a bad app name, an image without EXPOSE, Logs (with and without
# follow; of containers that wrote nothing: OK, no lines), and the start-up
# reconcile removing an exited leftover.
# Skipped (77) when dockerd does not answer.
. "$(dirname "$0")/../integration/lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "scheduler-local-test: SKIP: dockerd does not answer on /var/run/docker.sock" >&2
	T_FAILED=0
	exit 77
fi

SLC="$top_builddir/tests/plugins/scheduler-local-call"
PLUGIN="$top_builddir/plugins/scheduler-local/.libs/scheduler-local.so"
APP="slt-$$"
LOGAPP="sltlog-$$"
IMG="127.0.0.1:5000/slt-$$:1"
LOGIMG="127.0.0.1:5000/slt-log-$$:1"
NOPORTIMG="127.0.0.1:5000/slt-noport-$$:1"
MISSING="127.0.0.1:5000/slt-missing-$$:1"

slc() { "$SLC" -s "$SOCK" "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
	for a in "$APP" "$LOGAPP"; do
		ids=$(docker ps -aq --filter "label=nap.app=$a")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	done
	docker rmi -f "$IMG" "$LOGIMG" "$NOPORTIMG" >/dev/null 2>&1
	stop_napd
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

# ---- images, built by hand (the builder plugin is not under test) ----
cp -R "$top_srcdir/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
ok "examples/hello prepares" "$WORK/hello/prepare"
ok "examples/hello builds as $IMG" docker build -q -t "$IMG" "$WORK/hello"

mkdir -p "$WORK/logapp" "$WORK/noport"
cp "$WORK/hello/busybox" "$WORK/hello/index.html" "$WORK/logapp/"
cat >"$WORK/logapp/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
EXPOSE 8080
CMD ["/bin/busybox", "sh", "-c", "echo hello-log; echo hello-stderr >&2; exec /bin/busybox httpd -f -p 8080 -h /www"]
DOCKERFILE
ok "a logging image builds" docker build -q -t "$LOGIMG" "$WORK/logapp"
cp "$WORK/hello/busybox" "$WORK/noport/"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "600"]\n' \
	>"$WORK/noport/Dockerfile"
ok "an image without EXPOSE builds" docker build -q -t "$NOPORTIMG" "$WORK/noport"

write_config "plugins = $PLUGIN" "[plugin scheduler-local]" \
	"docker_socket = /var/run/docker.sock" "host = 127.0.0.1"
ok "napd starts with scheduler-local" start_napd
ok "scheduler-local runs" wait_until 10 plugin_is scheduler-local running

# ---- Run two instances ----
t0=$(ms)
slc run "$APP" 1 "$IMG" 1,2 'GREETING=hello world' 'TRICKY=$(id); echo "x" '"'"'y'"'"' `z` \n' \
	>"$WORK/run.out"
st=$?
t1=$(ms)
echo "# Run of 2 instances: $((t1 - t0)) ms"
ok "Run of 2 instances succeeds" test "$st" -eq 0
ok "... reporting both instances running" \
	test "$(grep -c "^INSTANCE $APP 1 [12] [0-9a-f]\{64\} 127.0.0.1 [1-9][0-9]* running$" "$WORK/run.out")" -eq 2
port1=$(awk '$1 == "INSTANCE" && $4 == 1 {print $7}' "$WORK/run.out")
port2=$(awk '$1 == "INSTANCE" && $4 == 2 {print $7}' "$WORK/run.out")
ok "instance 1 serves the page on its port" bash -c "curl -sf 'http://127.0.0.1:$port1/' | grep -q 'Hello from nap'"
ok "instance 2 serves the page on its port" bash -c "curl -sf 'http://127.0.0.1:$port2/' | grep -q 'Hello from nap'"
ok "the reported port is the IPv4 binding of 8080/tcp" \
	bash -c "docker port nap-$APP-1-1 8080/tcp | grep -qx '0.0.0.0:$port1'"
ok "containers are named and labelled" bash -c "
	[ \"\$(docker ps --filter label=nap.app=$APP --filter label=nap.release=1 --format '{{.Names}}' | sort | tr '\n' ' ')\" = 'nap-$APP-1-1 nap-$APP-1-2 ' ]"
ok "... with nap.instance" bash -c "
	[ \"\$(docker inspect -f '{{index .Config.Labels \"nap.instance\"}}' nap-$APP-1-2)\" = 2 ]"
docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "nap-$APP-1-1" >"$WORK/env.out"
ok "env with spaces arrives exactly" grep -qxF 'GREETING=hello world' "$WORK/env.out"
ok "env with shell metacharacters arrives exactly" \
	grep -qxF 'TRICKY=$(id); echo "x" '"'"'y'"'"' `z` \n' "$WORK/env.out"
ok "containers run with --init" bash -c "[ \"\$(docker inspect -f '{{.HostConfig.Init}}' nap-$APP-1-1)\" = true ]"

id1=$(awk '$1 == "INSTANCE" && $4 == 1 {print $5}' "$WORK/run.out")
slc run "$APP" 1 "$IMG" 1,2 >"$WORK/rerun.out"
ok "Run again is idempotent (same containers kept)" \
	bash -c "[ $? -eq 0 ] && grep -q ' $id1 ' '$WORK/rerun.out' && [ \$(docker ps -q --filter label=nap.app=$APP | wc -l) -eq 2 ]"

slc list "$APP" >"$WORK/list.out"
ok "List shows both instances running with their ports" bash -c "
	grep -q '^INSTANCE $APP 1 1 $id1 127.0.0.1 $port1 running$' '$WORK/list.out' &&
	grep -q '^INSTANCE $APP 1 2 [0-9a-f]* 127.0.0.1 $port2 running$' '$WORK/list.out'"
slc logs "$APP" >"$WORK/quiet.out"
ok "Logs of containers that wrote nothing yet ends OK" bash -c "[ $? -eq 0 ] && grep -qx 'END OK ' '$WORK/quiet.out'"
ok "... with no lines" test "$(grep -c '^LOG' "$WORK/quiet.out")" -eq 0
slc logs -n 5 "$APP" >"$WORK/quiet-tail.out"
ok "... with a tail too" bash -c "[ $? -eq 0 ] && grep -qx 'END OK ' '$WORK/quiet-tail.out'"
slc list >"$WORK/listall.out"
ok "List of every app includes them" grep -q "^INSTANCE $APP 1 2 " "$WORK/listall.out"

# ---- Remove one, then all ----
t0=$(ms)
slc remove "$APP" 1 2 >"$WORK/rm1.out"
st=$?
t1=$(ms)
echo "# Remove of 1 instance: $((t1 - t0)) ms"
ok "Remove of instance 2 removes one" bash -c "[ $st -eq 0 ] && grep -qx 'REMOVED 1' '$WORK/rm1.out'"
ok "... leaving instance 1" bash -c "
	[ \"\$(docker ps -a --filter label=nap.app=$APP --format '{{.Names}}')\" = nap-$APP-1-1 ]"
slc run "$APP" 1 "$IMG" 2,3 >/dev/null
t0=$(ms)
slc remove "$APP" 0 >"$WORK/rmall.out"
st=$?
t1=$(ms)
echo "# Remove of all (3 instances): $((t1 - t0)) ms"
ok "Remove of all removes the three" bash -c "[ $st -eq 0 ] && grep -qx 'REMOVED 3' '$WORK/rmall.out'"
slc list "$APP" >"$WORK/list2.out"
ok "List is then empty" bash -c "[ \$(grep -c '^INSTANCE' '$WORK/list2.out') -eq 0 ] && grep -qx 'END OK' '$WORK/list2.out'"
ok "Docker has no container of the app left" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"
slc remove "$APP" 0 >"$WORK/rmnone.out"
ok "Remove of nothing is fine" bash -c "[ $? -eq 0 ] && grep -qx 'REMOVED 0' '$WORK/rmnone.out'"

# ---- errors ----
slc run "$APP" 2 "$MISSING" 1,2 >"$WORK/missing.out"
st=$?
ok "Run of a missing image ends NOT_FOUND" test "$st" -eq 5
ok "... naming the image" grep -qF "END NOT_FOUND scheduler-local: image $MISSING not found" "$WORK/missing.out"
ok "... and leaves no container" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"

slc run "$APP" 3 "$NOPORTIMG" 1,2 >"$WORK/noport.out"
st=$?
ok "Run of an image without EXPOSE runs it as a worker (OK, port 0)" bash -c "[ $st -eq 0 ] && [ \$(grep -c '^INSTANCE $APP 3 [12] [0-9a-f]* 127.0.0.1 0 running$' '$WORK/noport.out') -eq 2 ]"
ok "... two containers run" test "$(docker ps -q --filter "label=nap.app=$APP" | wc -l)" -eq 2
slc remove "$APP" 0 >/dev/null
ok "... and Remove takes them away" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"

for bad in 'Bad' '-x' 'a;rm' 'a b' "$(printf 'a%.0s' {1..64})" ''; do
	slc run "$bad" 1 "$IMG" 1 >"$WORK/bad.out"
	ok "Run with app name '$bad' ends INVALID_ARGUMENT" test $? -eq 3
done
slc remove 'x/../y' 0 >/dev/null
ok "Remove with a bad app name ends INVALID_ARGUMENT" test $? -eq 3
slc list 'Nope' >/dev/null
ok "List with a bad app name ends INVALID_ARGUMENT" test $? -eq 3
slc run "$APP" 1 "$IMG" 1 'BAD-KEY=1' >"$WORK/badenv.out"
ok "a bad environment variable name ends INVALID_ARGUMENT" test $? -eq 3
ok "... and nothing was started" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"

# ---- Logs ----
slc run "$LOGAPP" 1 "$LOGIMG" 1,2 >"$WORK/logrun.out"
ok "Run of the logging app succeeds" test $? -eq 0
wait_until 10 bash -c "docker logs nap-$LOGAPP-1-2 2>&1 | grep -q 'hello-stderr'"
slc logs "$LOGAPP" >"$WORK/logs.out"
ok "Logs succeeds" test $? -eq 0
ok "... with stdout lines of both instances" bash -c "
	grep -qx 'LOG 1 hello-log' '$WORK/logs.out' && grep -qx 'LOG 2 hello-log' '$WORK/logs.out'"
ok "... stderr lines" grep -qx 'LOG 1 hello-stderr' "$WORK/logs.out"
slc logs -n 1 "$LOGAPP" >"$WORK/tail.out"
ok "Logs with tail 1 sends one line per instance" bash -c "
	[ \$(grep -c '^LOG 1 ' '$WORK/tail.out') -eq 1 ] && [ \$(grep -c '^LOG 2 ' '$WORK/tail.out') -eq 1 ]"

t0=$(ms)
slc logs -f -c 1500 "$LOGAPP" >"$WORK/follow.out"
st=$?
t1=$(ms)
ok "Logs with follow streams until cancelled" bash -c "[ $st -eq 1 ] && grep -qx 'LOG 1 hello-log' '$WORK/follow.out'"
ok "... and stops promptly (in $((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
slc logs -f "$LOGAPP" >"$WORK/follow2.out" &
fpid=$!
wait_until 10 grep -q '^LOG 2 hello-log' "$WORK/follow2.out"
slc remove "$LOGAPP" 0 >/dev/null
ok "a followed stream ends when the containers stop" wait_until 15 bash -c "! kill -0 $fpid"
wait "$fpid" 2>/dev/null
ok "... with OK" grep -qx 'END OK ' "$WORK/follow2.out"

# ---- reconcile at start-up ----
slc run "$APP" 4 "$IMG" 1 >/dev/null
docker create --name "nap-$APP-9-1" --label "nap.app=$APP" --label nap.release=9 \
	--label nap.instance=1 --label "nap.napd=$(napd_id)" "$IMG" >/dev/null
docker run -d --name "nap-$APP-9-2" --label "nap.app=$APP" --label nap.release=9 \
	--label nap.instance=2 --label "nap.napd=$(napd_id)" "$NOPORTIMG" /bin/busybox true >/dev/null
wait_until 10 bash -c "[ \"\$(docker inspect -f '{{.State.Status}}' nap-$APP-9-2)\" = exited ]"
stop_napd
ok "napd restarts" start_napd
ok "the created leftover is removed at start-up" \
	wait_until 10 bash -c "! docker inspect nap-$APP-9-1 >/dev/null 2>&1"
ok "the exited leftover is removed at start-up" \
	wait_until 10 bash -c "! docker inspect nap-$APP-9-2 >/dev/null 2>&1"
ok "the running instance is kept" bash -c "[ \"\$(docker inspect -f '{{.State.Running}}' nap-$APP-4-1)\" = true ]"
ok "... and logged" wait_until 10 grep -q "scheduler-local: $APP: 1 running (release 4)" "$WORK/napd.log"
slc remove "$APP" 0 >/dev/null
ok "the app is removed at the end" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"

# ---- Docker down ----
stop_napd
write_config "plugins = $PLUGIN" "[plugin scheduler-local]" "docker_socket = $WORK/no-docker.sock"
start_napd
wait_until 10 plugin_is scheduler-local running
slc run "$APP" 1 "$IMG" 1 >"$WORK/down.out"
ok "with Docker unreachable Run ends UNAVAILABLE" test $? -eq 14
ok "... naming the socket" grep -qF "$WORK/no-docker.sock" "$WORK/down.out"

done_testing
