#!/bin/bash
# Every exposed port is an endpoint (issue 14; docs/protocol.md,
# "Endpoints"), against the real dockerd, registry and etcd: an app whose
# Dockerfile says EXPOSE 8080 9090 answers on both at their announced
# addresses; etcd holds /services/APP/HOST:N (the default, lowest port, as
# before) and /services/APP:9090/HOST:N, each naming its container port;
# napc endpoints lists both, the default first; a killed container's keys
# both go at once and come back when it is replaced; destroy removes them.
# An app with one port reads exactly as before.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
export ETCDCTL_API=3
APP=ports-$$ ONE=port1-$$
ETCDCTL="etcdctl --endpoints=http://127.0.0.1:2379"
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { $ETCDCTL get --prefix --keys-only "$1" | grep . || true; }
value() { $ETCDCTL get --print-value-only "$1"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The app: busybox httpd on 8080 and on 9090, each with a page that says which.
mkdir -p "$WORK/two/www" "$WORK/two/www9090"
cp "$top_srcdir/examples/hello/prepare" "$WORK/two/"
"$WORK/two/prepare"
echo "nap port 8080" >"$WORK/two/www/index.html"
echo "nap port 9090" >"$WORK/two/www9090/index.html"
cat >"$WORK/two/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
COPY www /www
COPY www9090 /www9090
EXPOSE 8080 9090
USER 65534:65534
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 9090 -h /www9090 && exec /bin/busybox httpd -f -p 8080 -h /www"]
DF
cp -r "$top_srcdir/examples/hello" "$WORK/one"
chmod -R u+w "$WORK/one"
"$WORK/one/prepare"

cleanup() {
	kill "$WATCH_PID" 2>/dev/null
	stop_napd
	for a in "$APP" "$ONE"; do
		docker rm -f $(docker ps -aq --filter "label=nap.app=$a") >/dev/null 2>&1
		$ETCDCTL del --prefix "/services/$a/" >/dev/null 2>&1
		$ETCDCTL del --prefix "/services/$a:" >/dev/null 2>&1
	done
}
WATCH_PID=
trap cleanup EXIT

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 60"
ok "napd starts" start_napd
for p in orchestrator builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

napc deploy "$APP" "$WORK/two" --instances 2 >"$WORK/deploy.out" 2>&1
ok "an app exposing 8080 and 9090 deploys" test $? -eq 0
napc --json endpoints "$APP" >"$WORK/eps.json"
ok "napc --json endpoints lists 4 endpoints: per instance 8080 (default) then 9090 (extra)" python3 - "$WORK/eps.json" <<'PY'
import json, sys
eps = json.load(open(sys.argv[1]))
got = [(e["instance"], e["container_port"], e["extra_port"]) for e in eps]
assert got == [(1, 8080, False), (1, 9090, True), (2, 8080, False), (2, 9090, True)], got
PY
serves() { # serves URL TEXT
	curl -sf --max-time 2 "$1" | grep -qx "$2"
}
while read -r url cport; do
	ok "$url (container port $cport) answers with its own page" serves "$url" "nap port $cport"
done < <(python3 -c 'import json,sys; [print(e["url"], e["container_port"]) for e in json.load(open(sys.argv[1]))]' "$WORK/eps.json")
ok "napc endpoints (text): the URL and the container port, default first" bash -c "'$NAPC' --socket '$SOCK' endpoints $APP | awk '{print \$2}' | tr '\n' ' ' | grep -qx '8080 9090 8080 9090 '"
ok "the deploy's output names each port" grep -q 'port 9090$' "$WORK/deploy.out"

ok "etcd: the default port under /services/$APP/ (2 keys)" test "$(keys "/services/$APP/" | wc -l)" -eq 2
ok "etcd: port 9090 under /services/$APP:9090/ (2 keys)" test "$(keys "/services/$APP:9090/" | wc -l)" -eq 2
k1=$(keys "/services/$APP/" | grep ':1$') k9=$(keys "/services/$APP:9090/" | grep ':1$')
ok "each record names its container port" bash -c "[ \"\$($ETCDCTL get --print-value-only '$k1' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"container_port\"])')\" = 8080 ] && [ \"\$($ETCDCTL get --print-value-only '$k9' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"container_port\"])')\" = 9090 ]"
old1=$(value "$k1" | json_field port) old9=$(value "$k9" | json_field port)
ok "the records hold the ports that answer" bash -c "serves() { curl -sf --max-time 2 \"\$1\" | grep -qx \"\$2\"; }; serves http://127.0.0.1:$old1/ 'nap port 8080' && serves http://127.0.0.1:$old9/ 'nap port 9090'"

# Kill instance 1: both its keys go at once, and come back on the replacement.
$ETCDCTL watch --prefix "/services/$APP" >"$WORK/watch.out" 2>&1 &
WATCH_PID=$!
sleep 0.5 # the watch is set up (etcdctl prints nothing until an event)
victim=$(docker ps -q --filter "label=nap.app=$APP" --filter label=nap.instance=1)
docker kill "$victim" >/dev/null
ok "both keys of the killed instance are deleted" wait_until 10 bash -c "grep -A1 -x DELETE '$WORK/watch.out' | grep -qx '$k1' && grep -A1 -x DELETE '$WORK/watch.out' | grep -qx '$k9'"
ok "... and put back once it is replaced, on new host ports" wait_until 60 bash -c "
	p1=\$($ETCDCTL get --print-value-only '$k1' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"port\"])' 2>/dev/null)
	p9=\$($ETCDCTL get --print-value-only '$k9' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"port\"])' 2>/dev/null)
	[ -n \"\$p1\" ] && [ -n \"\$p9\" ] && [ \"\$p1\" != $old1 ] && [ \"\$p9\" != $old9 ]"
ok "the replacement answers on both" bash -c "
	for e in \$('$NAPC' --socket '$SOCK' --json endpoints $APP | python3 -c 'import json,sys; [print(\"%s,%s\" % (e[\"url\"], e[\"container_port\"])) for e in json.load(sys.stdin)]'); do
		curl -sf --max-time 2 \"\${e%,*}\" | grep -qx \"nap port \${e#*,}\" || exit 1
	done"
kill "$WATCH_PID" 2>/dev/null
WATCH_PID=

# One port: as before 1.2.
napc deploy "$ONE" "$WORK/one" >"$WORK/one.out" 2>&1
ok "an app with one port deploys" test $? -eq 0
ok "napc endpoints prints its URL alone, as before" bash -c "'$NAPC' --socket '$SOCK' endpoints $ONE | grep -qx 'http://127.0.0.1:[0-9]*'"
ok "its one key is /services/$ONE/HOST:1, and no other" bash -c "[ \"\$($ETCDCTL get --prefix --keys-only /services/$ONE | grep .)\" = \"\$($ETCDCTL get --prefix --keys-only /services/$ONE/ | grep .)\" ] && [ \$($ETCDCTL get --prefix --keys-only /services/$ONE/ | grep -c .) -eq 1 ]"
ok "the deploy's output names no port" bash -c "! grep -q ', port ' '$WORK/one.out'"

ok "destroy the two-port app" napc destroy "$APP"
no_keys() { [ -z "$(keys "/services/$APP")" ]; }
ok "... removes both ports' keys" wait_until 10 no_keys
ok "destroy the one-port app" napc destroy "$ONE"
done_testing
