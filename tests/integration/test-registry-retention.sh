#!/bin/bash
# Registry retention, against a real docker-registry of the test's own
# (scripts/servers on a free port, its storage under $WORK: the shared one
# on :5000 is never stopped): with keep_releases = 2, four deploys leave the
# two newest tags; a rollback to a deleted release says so; a rollback to a
# kept one works and keeps its image; napc status shows what is kept;
# destroy deletes the repository's tags; scripts/servers gc frees the blobs.
. "$(dirname "$0")/lib.sh"

need_servers docker etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
command -v docker-registry >/dev/null || { echo "SKIP: no docker-registry" >&2; exit 77; }
APP=ret-$$
STATE=$WORK/state
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export NAP_REGISTRY_ADDR=127.0.0.1:$PORT
REG=http://$NAP_REGISTRY_ADDR
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
servers() { "$top_srcdir/scripts/servers" "$@"; }
tags() { curl -sf "$REG/v2/$APP/tags/list" | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin).get("tags") or [])))'; }
cleanup() {
	stop_napd
	ids=$(docker ps -aq --filter "label=nap.app=$APP")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$NAP_REGISTRY_ADDR/$APP:" | xargs -r docker rmi -f >/dev/null 2>&1
	servers stop registry "$STATE" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

ok "a registry of the test's own starts on $NAP_REGISTRY_ADDR" servers start registry "$STATE"
ok "... its configuration allows deletes" grep -A1 'delete:' "$STATE/registry.yml"

copy_hello

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60" \
	"[plugin builder]" "registry = $NAP_REGISTRY_ADDR" \
	"[plugin orchestrator]" "keep_releases = 2"
ok "napd starts (keep_releases = 2)" start_napd

for i in 1 2 3 4; do
	echo "<p>nap release $i</p>" >"$WORK/hello/index.html" # a layer of its own
	ok "deploy $i" napc deploy "$APP" "$WORK/hello"
done
# (older images go right after a deploy answers, before the app is free)
kept_is() { [ "$(tags)" = "$1" ]; }
ok "the registry lists only the 2 newest tags" wait_until 20 kept_is "3 4"
status_shows() { napc status "$APP" | grep -qE '^  releases 3 4 \(2 kept of keep_releases = 2; images [0-9.]+ MB in the registry\)'; }
ok "napc status lists releases 3 and 4, what is kept, and the bytes" wait_until 10 status_shows
napc --json status "$APP" >"$WORK/status.json"
read -r keep bytes < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["keep_releases"], s["image_bytes"])' "$WORK/status.json")
ok "... --json gives keep_releases (2) and image_bytes (busybox and two pages: $bytes)" bash -c "[ '$keep' = 2 ] && [ '$bytes' -gt 1000000 ]"
ok "the local images of releases 1 and 2 are gone too" bash -c "! docker images --format '{{.Repository}}:{{.Tag}}' | grep -qE '^$NAP_REGISTRY_ADDR/$APP:[12]\$'"

napc rollback "$APP" 1 >"$WORK/rb1.out" 2>&1
st=$?
ok "rollback to release 1 fails (exit 1), saying why" bash -c "[ $st -eq 1 ] && grep -q \"release 1's image was deleted (keep_releases = 2): deploy again\" '$WORK/rb1.out'"
ok "rollback to release 3 (kept) works" napc rollback "$APP" 3
url=$(napc endpoints "$APP" | head -1)
ok "... release 5 serves release 3's page" wait_until 10 bash -c "curl -sf '$url' | grep -q 'nap release 3'"
ok "... the registry keeps 3 (release 5's image) and 4" wait_until 20 kept_is "3 4"

# Release 6 built from release 4's files is the same image: tag 6 shares tag
# 4's manifest, and deleting 4 by digest would delete 6 with it.
echo "<p>nap release 4</p>" >"$WORK/hello/index.html"
ok "deploy 6 with release 4's content" napc deploy "$APP" "$WORK/hello"
digest() { curl -sfI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$REG/v2/$APP/manifests/$1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'; }
ok "... tags 4 and 6 name one manifest" bash -c "[ -n '$(digest 4)' ] && [ '$(digest 4)' = '$(digest 6)' ]"
ok "... so tag 4 stays with 3 (release 5's) and 6" wait_until 20 kept_is "3 4 6"
ok "... and release 6's image is whole in the registry" bash -c "curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' '$REG/v2/$APP/manifests/6' >/dev/null"

before=$(du -sb "$STATE/registry" | cut -f1)
ok "destroy" napc destroy "$APP"
ok "... the registry has no tag of the app left" test -z "$(tags)"
servers gc "$STATE" >"$WORK/gc.out" 2>&1
ok "scripts/servers gc runs the registry's garbage collection" test $? -eq 0
sed 's/^/# /' "$WORK/gc.out"
after=$(du -sb "$STATE/registry" | cut -f1)
echo "# registry storage: $before bytes before destroy and gc, $after after"
ok "... the blobs are freed ($before -> $after bytes)" test $((before - after)) -gt 1000000
ok "... the empty repository left the catalog" bash -c "! curl -sf '$REG/v2/_catalog' | grep -q '\"$APP\"'"
ok "... and the registry answers again" curl -sf "$REG/v2/"
# now: done_testing removes $WORK, and the pid file with it
ok "the test's registry stops" servers stop registry "$STATE"

done_testing
