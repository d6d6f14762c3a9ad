#!/bin/bash
# The fleet sidekick (nap-fleet-announce announce) with an app of two ports,
# against the real dockerd and etcd: a container with EXPOSE 8080 9090 run
# as a run unit runs it (docker run -P), and the sidekick puts
# /services/APP/HOST:1 (container port 8080, the default) and
# /services/APP:9090/HOST:1, each with its container_port, withdraws both
# when the container stops.
# (test-deploy-fleet drives the whole plugin with a one-port app.)
. "$(dirname "$0")/../integration/lib.sh"

need_servers docker etcd
command -v etcdctl >/dev/null || { echo "SKIP: no etcdctl" >&2; exit 77; }
export ETCDCTL_API=3
APP=skp-$$ C=nap-skp-$$-1-1 ETCD=http://127.0.0.1:2379 HOST=127.0.0.1
ectl() { etcdctl --endpoints=$ETCD "$@"; }
SIDEKICK=
cleanup() {
	[ -n "$SIDEKICK" ] && kill "$SIDEKICK" 2>/dev/null && wait "$SIDEKICK" 2>/dev/null
	docker rm -f "$C" >/dev/null 2>&1
	docker rmi "$APP:1" >/dev/null 2>&1
	ectl del --prefix "/services/$APP" >/dev/null 2>&1
	ectl del --prefix "${NAP_KEY_PREFIX}fleet/want/$APP/" >/dev/null 2>&1
}
trap cleanup EXIT

mkdir -p "$WORK/two/www"
cp "$top_srcdir/examples/hello/prepare" "$WORK/two/"
"$WORK/two/prepare"
echo "nap" >"$WORK/two/www/index.html"
cat >"$WORK/two/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 8080 9090
USER 65534:65534
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 9090 -h /www && exec /bin/busybox httpd -f -p 8080 -h /www"]
DF
ok "the two-port image builds" docker build -q -t "$APP:1" "$WORK/two"
ok "a run unit's container runs (docker run -P)" docker run -d --rm -P --init --name "$C" "$APP:1"
ectl put "${NAP_KEY_PREFIX}fleet/want/$APP/1-1" x >/dev/null
"$top_srcdir/plugins/scheduler-fleet/nap-fleet-announce" announce "$ETCD" "$APP" 1 1 "$C" "$HOST" \
	"$(command -v docker)" 200 1000 3 >"$WORK/sidekick.log" 2>&1 &
SIDEKICK=$!

K=/services/$APP/$HOST:1 K9=/services/$APP:9090/$HOST:1
field() { ectl get --print-value-only "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
has_key() { [ -n "$(ectl get --keys-only "$1")" ]; }
no_keys() { [ -z "$(ectl get --prefix --keys-only "/services/$APP")" ]; }
ok "the default port's key is put" wait_until 20 has_key "$K"
ok "... and port 9090's" wait_until 5 has_key "$K9"
ok "each names its container port: 8080" test "$(field "$K" container_port)" = 8080
ok "... 9090" test "$(field "$K9" container_port)" = 9090
ok "each holds the host port Docker published for it" bash -c "[ \"$(field "$K" port)\" = \"\$(docker port $C 8080/tcp | grep -v '::' | head -1 | sed 's/.*://')\" ] && [ \"$(field "$K9" port)\" = \"\$(docker port $C 9090/tcp | grep -v '::' | head -1 | sed 's/.*://')\" ]"
ok "both answer" bash -c "curl -sf --max-time 2 http://$HOST:$(field "$K" port)/ && curl -sf --max-time 2 http://$HOST:$(field "$K9" port)/"

docker stop -t 1 "$C" >/dev/null
ok "the container stopped: both keys go" wait_until 10 no_keys

ok "the sidekick says it withdrew both" wait_until 5 grep -q "withdrew $K $K9 " "$WORK/sidekick.log"
done_testing
