#!/bin/bash
# scheduler-local's Watch and parallel Run through napd against the real
# dockerd: "present" then "synced", then "started", "died" (docker kill:
# exit code 137) and "removed"; a Dockerfile HEALTHCHECK gives "health"
# events (healthy, then unhealthy); a memory limit hit gives "died" with
# oom_killed; List fills the same fields; a cancelled Watch ends; Docker's
# stream breaking (a proxy in front of dockerd is killed, as when dockerd
# restarts) ends the Watch UNAVAILABLE naming the socket; a Run of 16
# instances starts them concurrently, and a failed Run of 10 removes all it
# started; a container of another napd that holds an instance's name is
# neither kept nor removed. Skipped (77) when dockerd does not answer.
. "$(dirname "$0")/../integration/lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "scheduler-local-watch: SKIP: dockerd does not answer on /var/run/docker.sock" >&2
	T_FAILED=0
	exit 77
fi

SLC="$top_builddir/tests/plugins/scheduler-local-call"
PLUGIN="$top_builddir/plugins/scheduler-local/.libs/scheduler-local.so"
APP="slw-$$"
HAPP="slwh-$$"
IMG="127.0.0.1:5000/slw-$$:1"
HIMG="127.0.0.1:5000/slw-health-$$:1"
OOMIMG="127.0.0.1:5000/slw-oom-$$:1"
NOPORTIMG="127.0.0.1:5000/slw-noport-$$:1"
PROXY_PID=

slc() { "$SLC" -s "$SOCK" "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
	for a in "$APP" "$HAPP"; do
		ids=$(docker ps -aq --filter "label=nap.app=$a")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	done
	docker rmi -f "$IMG" "$HIMG" "$OOMIMG" "$NOPORTIMG" >/dev/null 2>&1
	stop_napd
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

# ---- images, built by hand ----
cp -R "$top_srcdir/examples/hello" "$WORK/hello" && chmod -R u+w "$WORK/hello"
ok "examples/hello prepares" "$WORK/hello/prepare"
ok "examples/hello builds as $IMG" docker build -q -t "$IMG" "$WORK/hello"
mkdir -p "$WORK/health" "$WORK/noport" "$WORK/oom"
cp "$WORK/hello/busybox" "$WORK/hello/index.html" "$WORK/health/"
# Healthy while /tmp/ok exists; one failed check makes it unhealthy.
cat >"$WORK/health/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["/bin/busybox", "test", "-f", "/tmp/ok"]
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /tmp && /bin/busybox touch /tmp/ok && exec /bin/busybox httpd -f -p 8080 -h /www"]
DOCKERFILE
ok "a HEALTHCHECK image builds" docker build -q -t "$HIMG" "$WORK/health"
cp "$WORK/hello/busybox" "$WORK/hello/index.html" "$WORK/oom/"
# Serves for 3 s, then its main process asks for more memory than it may have.
cat >"$WORK/oom/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
EXPOSE 8080
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 8080 -h /www; /bin/busybox sleep 3; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=200M count=1"]
DOCKERFILE
ok "an image that runs out of memory builds" docker build -q -t "$OOMIMG" "$WORK/oom"
cp "$WORK/hello/busybox" "$WORK/noport/"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "600"]\n' \
	>"$WORK/noport/Dockerfile"
ok "an image without EXPOSE builds" docker build -q -t "$NOPORTIMG" "$WORK/noport"

write_config "plugins = $PLUGIN" "[plugin scheduler-local]" \
	"docker_socket = /var/run/docker.sock" "host = 127.0.0.1"
ok "napd starts with scheduler-local" start_napd
ok "scheduler-local runs" wait_until 10 plugin_is scheduler-local running

# ---- present, synced, started, died, removed ----
slc run "$APP" 1 "$IMG" 1 >"$WORK/run1.out"
ok "Run of instance 1 succeeds" grep -qx 'END OK' "$WORK/run1.out"
id1=$(awk '$1 == "INSTANCE" {print $5}' "$WORK/run1.out")
port1=$(awk '$1 == "INSTANCE" {print $7}' "$WORK/run1.out")
ok "its container is labelled nap.announced-by=orchestrator" bash -c "
	[ \"\$(docker inspect -f '{{index .Config.Labels \"nap.announced-by\"}}' $id1)\" = orchestrator ]"
ok "... and has no restart policy" bash -c "
	case \"\$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' $id1)\" in ''|no) ;; *) exit 1;; esac"

slc watch "$APP" >"$WORK/watch.out" &
wpid=$!
ok "Watch sends synced" wait_until 10 grep -qx 'EVENT synced' "$WORK/watch.out"
ok "... after one present event for instance 1, filled in" bash -c "
	head -n 1 '$WORK/watch.out' | grep -q '^EVENT present $APP 1 1 $id1 127.0.0.1 $port1 running exit=0 oom=0 health= started=[1-9][0-9]\{12\} announcer=\$' &&
	[ \$(grep -c '^EVENT present' '$WORK/watch.out') -eq 1 ] &&
	[ \"\$(sed -n 2p '$WORK/watch.out')\" = 'EVENT synced' ]"
started=$(sed -n '1s/.* started=\([0-9]*\) .*/\1/p' "$WORK/watch.out")
ok "... started_unix_ms is when Docker started it" bash -c "
	want=\$((\$(date -d \"\$(docker inspect -f '{{.State.StartedAt}}' $id1)\" +%s%N) / 1000000));
	[ \$((want - $started)) -le 1 ] && [ \$(($started - want)) -le 1 ]"

slc run "$APP" 1 "$IMG" 1,2 >"$WORK/run2.out"
id2=$(awk '$1 == "INSTANCE" && $4 == 2 {print $5}' "$WORK/run2.out")
port2=$(awk '$1 == "INSTANCE" && $4 == 2 {print $7}' "$WORK/run2.out")
ok "a Run of instance 2 gives started" \
	wait_until 10 grep -q "^EVENT started $APP 1 2 $id2 127.0.0.1 $port2 running exit=0 oom=0 health= started=[1-9]" "$WORK/watch.out"
ok "... and only for instance 2 (instance 1 was kept)" \
	test "$(grep -c "^EVENT started $APP 1 1 " "$WORK/watch.out")" -eq 0
docker kill "$id2" >/dev/null
ok "docker kill gives died with exit code 137" \
	wait_until 10 grep -q "^EVENT died $APP 1 2 $id2 127.0.0.1 0 exited exit=137 oom=0 " "$WORK/watch.out"
slc list -v "$APP" >"$WORK/list.out"
ok "List shows the killed instance with its exit code" \
	grep -q "^INSTANCE $APP 1 2 $id2 127.0.0.1 0 exited exit=137 oom=0 health= started=[1-9]" "$WORK/list.out"
ok "... and the running one with its port" \
	grep -q "^INSTANCE $APP 1 1 $id1 127.0.0.1 $port1 running exit=0 oom=0 health= started=$started announcer=\$" "$WORK/list.out"
# The orchestrator's restart: Run again replaces the dead container.
slc run "$APP" 1 "$IMG" 1,2 >"$WORK/run3.out"
id3=$(awk '$1 == "INSTANCE" && $4 == 2 {print $5}' "$WORK/run3.out")
ok "Run again replaces the dead instance 2 with a new container" \
	bash -c "grep -qx 'END OK' '$WORK/run3.out' && [ -n '$id3' ] && [ '$id3' != '$id2' ] &&
		[ \"\$(docker inspect -f '{{.State.Running}}' nap-$APP-1-2)\" = true ]"
ok "... which Watch reports as removed, then started" wait_until 10 bash -c "
	grep -n '^EVENT removed $APP 1 2 $id2 127.0.0.1 0 removed ' '$WORK/watch.out' | cut -d: -f1 >'$WORK/l1' &&
	grep -n '^EVENT started $APP 1 2 $id3 127.0.0.1 [1-9][0-9]* running ' '$WORK/watch.out' | cut -d: -f1 >'$WORK/l2' &&
	[ -s '$WORK/l1' ] && [ -s '$WORK/l2' ] && [ \$(cat '$WORK/l1') -lt \$(cat '$WORK/l2') ]"
slc remove "$APP" 1 2 >/dev/null
ok "Remove gives died, then removed" wait_until 10 bash -c "
	grep -q '^EVENT died $APP 1 2 $id3 127.0.0.1 0 exited ' '$WORK/watch.out' &&
	grep -q '^EVENT removed $APP 1 2 $id3 127.0.0.1 0 removed ' '$WORK/watch.out'"
ok "the Watch is still running" kill -0 "$wpid"

slc watch >"$WORK/watchall.out" &
wapid=$!
ok "a Watch of every app lists this app's instance too" \
	wait_until 10 bash -c "grep -qx 'EVENT synced' '$WORK/watchall.out' && grep -q '^EVENT present $APP 1 1 $id1 ' '$WORK/watchall.out'"
{ kill -TERM "$wapid" "$wpid"; wait "$wapid" "$wpid"; } 2>/dev/null

t0=$(ms)
slc watch -c 1000 "$APP" >"$WORK/cancel.out"
st=$?
t1=$(ms)
ok "a cancelled Watch ends (in $((t1 - t0)) ms)" bash -c "[ $st -eq 1 ] && grep -qx CANCELLED '$WORK/cancel.out'"
slc watch -c 500 "$APP" >"$WORK/again.out"
ok "... and a new Watch works after it" grep -qx 'EVENT synced' "$WORK/again.out"
slc watch 'Bad!' >/dev/null
ok "Watch of a bad app name ends INVALID_ARGUMENT" test $? -eq 3

# ---- health ----
slc watch "$HAPP" >"$WORK/health.out" &
wpid=$!
wait_until 10 grep -qx 'EVENT synced' "$WORK/health.out"
slc run "$HAPP" 1 "$HIMG" 1 >"$WORK/hrun.out"
hid=$(awk '$1 == "INSTANCE" {print $5}' "$WORK/hrun.out")
ok "a HEALTHCHECK image: started, health starting" \
	wait_until 10 grep -q "^EVENT started $HAPP 1 1 $hid 127.0.0.1 [1-9][0-9]* running exit=0 oom=0 health=starting " "$WORK/health.out"
ok "... then a health event: healthy" \
	wait_until 15 grep -q "^EVENT health $HAPP 1 1 $hid 127.0.0.1 [1-9][0-9]* running exit=0 oom=0 health=healthy " "$WORK/health.out"
docker exec "$hid" /bin/busybox rm /tmp/ok
ok "... and unhealthy when its check fails" \
	wait_until 15 grep -q "^EVENT health $HAPP 1 1 $hid .* health=unhealthy " "$WORK/health.out"
slc list -v "$HAPP" >"$WORK/hlist.out"
ok "List shows it unhealthy" grep -q "^INSTANCE $HAPP 1 1 $hid .* health=unhealthy " "$WORK/hlist.out"
slc remove "$HAPP" 0 >/dev/null

# ---- out of memory ----
slc run "$HAPP" 2 "$OOMIMG" 1 -m 16777216 >"$WORK/oomrun.out"
oid=$(awk '$1 == "INSTANCE" {print $5}' "$WORK/oomrun.out")
ok "an instance killed for memory: died with oom_killed" \
	wait_until 20 grep -q "^EVENT died $HAPP 2 1 $oid 127.0.0.1 0 exited exit=137 oom=1 " "$WORK/health.out"
{ kill -TERM "$wpid"; wait "$wpid"; } 2>/dev/null
slc remove "$HAPP" 0 >/dev/null

# ---- Run of 16: concurrently ----
slc watch "$APP" >"$WORK/watch16.out" &
wpid=$!
wait_until 10 grep -qx 'EVENT synced' "$WORK/watch16.out"
t0=$(ms)
slc run "$APP" 2 "$IMG" 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 >"$WORK/run16.out"
st=$?
t1=$(ms)
echo "# Run of 16 instances: $((t1 - t0)) ms"
ok "Run of 16 instances succeeds" test "$st" -eq 0
ok "... reporting 16 running, in the request's order" bash -c "
	[ \"\$(awk '\$1 == \"INSTANCE\" && \$8 == \"running\" {printf \"%s,\", \$4}' '$WORK/run16.out')\" = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16, ]"
ok "... all 16 running in Docker" test "$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=2 | wc -l)" -eq 16
# One after the other, every create would come after the previous start.
docker ps -q --filter "label=nap.app=$APP" --filter label=nap.release=2 |
	xargs docker inspect -f '{{.Created}} {{.State.StartedAt}}' |
	while read -r c s; do echo "$(date -d "$c" +%s%N) $(date -d "$s" +%s%N)"; done |
	sort -n >"$WORK/times.out"
ok "... concurrently (a container was created before another had started)" \
	awk 'NR > 1 && $1 < prev_started { found = 1 } { prev_started = $2 } END { exit !found }' "$WORK/times.out"
ok "Watch saw 16 started" wait_until 10 bash -c "[ \$(grep -c '^EVENT started $APP 2 ' '$WORK/watch16.out') -eq 16 ]"
{ kill -TERM "$wpid"; wait "$wpid"; } 2>/dev/null
t0=$(ms)
slc remove "$APP" 2 >"$WORK/rm16.out"
t1=$(ms)
echo "# Remove of 16 instances: $((t1 - t0)) ms"
ok "Remove of the 16 removes them all" bash -c "grep -qx 'REMOVED 16' '$WORK/rm16.out' &&
	[ -z \"\$(docker ps -aq --filter label=nap.app=$APP --filter label=nap.release=2)\" ]"
slc remove "$APP" 0 >/dev/null

slc run "$APP" 3 127.0.0.1:5000/nap-no-such-image:1 1,2,3,4,5,6,7,8,9,10 >"$WORK/fail10.out"
ok "a failing Run of 10 ends NOT_FOUND" test $? -eq 5
ok "... naming the reason" grep -qF "image 127.0.0.1:5000/nap-no-such-image:1 not found" "$WORK/fail10.out"
ok "... and leaves no container" test -z "$(docker ps -aq --filter "label=nap.app=$APP")"

# ---- a container of that name from another napd is not ours ----
docker run -d --name "nap-$APP-4-1" --label "nap.app=$APP" --label nap.release=4 \
	--label nap.instance=1 --label nap.napd=another-napd "$NOPORTIMG" >/dev/null
slc run "$APP" 4 "$IMG" 1 >"$WORK/foreign.out"
ok "Run of an instance whose name another napd's container holds ends ALREADY_EXISTS" test $? -eq 6
ok "... saying so" grep -q "^END ALREADY_EXISTS scheduler-local: instance 1 of $APP: container nap-$APP-4-1 belongs to another napd (another-napd)" "$WORK/foreign.out"
ok "... and leaves that container alone" bash -c "
	[ \"\$(docker inspect -f '{{.State.Running}} {{.Config.Image}}' nap-$APP-4-1)\" = 'true $NOPORTIMG' ]"
docker rm -f "nap-$APP-4-1" >/dev/null

# ---- Docker's stream breaks: UNAVAILABLE, naming the socket ----
stop_napd
cat >"$WORK/proxy.py" <<'PY'
import os, socket, sys, threading
path, target = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    d = socket.socket(socket.AF_UNIX)
    d.connect(target)
    threading.Thread(target=pipe, args=(c, d), daemon=True).start()
    threading.Thread(target=pipe, args=(d, c), daemon=True).start()
PY
python3 "$WORK/proxy.py" "$WORK/docker.sock" /var/run/docker.sock &
PROXY_PID=$!
wait_until 10 test -S "$WORK/docker.sock"
write_config "plugins = $PLUGIN" "[plugin scheduler-local]" "docker_socket = $WORK/docker.sock"
ok "napd starts with Docker behind a proxy" start_napd
wait_until 10 plugin_is scheduler-local running
slc watch "$APP" >"$WORK/broken.out" &
wpid=$!
ok "a Watch through the proxy is synced" wait_until 10 grep -qx 'EVENT synced' "$WORK/broken.out"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
PROXY_PID=
ok "Docker's stream going away ends the Watch" wait_until 10 bash -c "! kill -0 $wpid"
wait "$wpid"
st=$?
ok "... UNAVAILABLE" test "$st" -eq 14
ok "... naming Docker's socket" grep -q "^END UNAVAILABLE scheduler-local: .*$WORK/docker.sock" "$WORK/broken.out"
slc watch "$APP" >"$WORK/down.out"
ok "a Watch with Docker unreachable ends UNAVAILABLE naming the socket" \
	bash -c "[ $? -eq 14 ] && grep -q '^END UNAVAILABLE .*$WORK/docker.sock' '$WORK/down.out'"

done_testing
