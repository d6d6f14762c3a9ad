#!/bin/bash
# The registry's storage fills up: a private docker-registry of the test's
# own (127.0.0.1:5099 by default) keeps its blobs on a small tmpfs mounted
# under $WORK, napd's builder pushes there. Once dd has filled the tmpfs a
# deploy fails cleanly: one line naming the push and the registry's error,
# the previous release keeps serving, nothing stale is left (containers,
# entries, in-progress marker). With room again the next deploy succeeds.
. "$(dirname "$0")/lib.sh"

REG_PORT=${NAP_FAULT_REGISTRY_PORT:-5099}
REGISTRY=127.0.0.1:$REG_PORT
need_servers docker etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
command -v docker-registry >/dev/null || { echo "SKIP: no docker-registry binary" >&2; exit 77; }
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: mounting a tmpfs needs root" >&2
	exit 77
fi
if curl -sf --max-time 2 "http://$REGISTRY/v2/" >/dev/null; then
	echo "SKIP: something already answers on $REGISTRY (another run of this test?)" >&2
	exit 77
fi
APP=freg-$$
REG_PID=
cleanup() {
	stop_napd
	scrub_app "$APP"
	[ -z "$REG_PID" ] || { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; }
	umount "$WORK/store" 2>/dev/null
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/store"
ok "an 8 MiB tmpfs is mounted for the registry's storage" mount -t tmpfs -o size=8m nap-fault-registry "$WORK/store"
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/store
  delete:
    enabled: true
http:
  addr: $REGISTRY
YML
docker-registry serve "$WORK/registry.yml" >>"$WORK/registry.log" 2>&1 &
REG_PID=$!
ok "a private registry answers on $REGISTRY" wait_until 30 curl -sf --max-time 2 "http://$REGISTRY/v2/"

prepare_hello
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 240" \
	"[plugin builder]" "registry = $REGISTRY"
ok "napd starts, its builder pushing to $REGISTRY" start_napd
ok "its plugins run" wait_until 30 plugin_is builder running
napc deploy "$APP" "$WORK/hello" >"$WORK/deploy1.out" 2>&1
ok "release 1 deploys" test $? -eq 0
ok "... pushed to the private registry" curl -sf "http://$REGISTRY/v2/$APP/tags/list"
ok "... and serves" serves "$APP"

# Fill the storage: dd stops when the tmpfs is full.
dd if=/dev/zero of="$WORK/store/filler" bs=64k >/dev/null 2>&1
ok "the registry's storage is full" test "$(df --output=avail "$WORK/store" | tail -1)" -eq 0

echo "<p>nap release 2 $(head -c 3000 /dev/urandom | base64 -w0)</p>" >>"$WORK/hello/index.html"
napc --timeout 300 deploy "$APP" "$WORK/hello" >"$WORK/deploy2.out" 2>"$WORK/deploy2.err"
st=$?
ok "a deploy now fails (exit $st)" test "$st" -ne 0
ok "... with one line: '$(cat "$WORK/deploy2.err")'" test "$(wc -l <"$WORK/deploy2.err")" -eq 1
ok "... naming the push" grep -qi "push" "$WORK/deploy2.err"
# Docker passes on only the registry's HTTP status, not its body.
ok "... and the registry's error (HTTP 500, or no space)" grep -qiE "no space|space left|status: 5[0-9][0-9]" "$WORK/deploy2.err"
ok "... pointing to the registry's log, not to a registry that is down" \
	bash -c "grep -q 'failed to store it' '$WORK/deploy2.err' && ! grep -q 'is running there' '$WORK/deploy2.err'"
ok "the registry itself logged the full disk" grep -q "no space left on device" "$WORK/registry.log"
ok "... and saying release 1 keeps serving" grep -q "release 1 keeps serving" "$WORK/deploy2.err"
ok "release 1 still serves" serves "$APP"
ok "nothing stale: release 1 only, its entry, no marker" consistent "$APP" 1

rm -f "$WORK/store/filler"
napc --timeout 300 deploy "$APP" "$WORK/hello" >"$WORK/deploy3.out" 2>&1
ok "with room again the next deploy succeeds" test $? -eq 0
ok "... and release 2 serves" wait_until 20 serves "$APP" "release 2"
ok "... nothing stale" wait_until 30 consistent "$APP" 1
napc destroy "$APP" >/dev/null 2>&1
ok "destroy leaves no container and no key" bash -c "[ \$(docker ps -aq --filter label=nap.app=$APP | wc -l) -eq 0 ] && [ \$(etcdctl --endpoints=$ETCD get --prefix --keys-only ${NAP_KEY_PREFIX}apps/$APP/ /services/$APP/ | grep -c .) -eq 0 ]"
done_testing
