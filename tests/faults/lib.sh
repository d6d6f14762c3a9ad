# Helpers shared by the fault tests: the integration helpers (lib.sh of
# tests/integration), the hello app, and the checks that nothing was lost
# or left behind: one record per app and no in-progress marker under
# ${NAP_KEY_PREFIX}apps/APP/, containers only of the release the record names, one
# etcd entry per instance under /services/APP/, all of that release.
. "$top_srcdir/tests/integration/lib.sh"

export ETCDCTL_API=3
ETCD=${ETCD:-http://127.0.0.1:2379} # the etcd the test's napd uses
REGISTRY=127.0.0.1:5000

plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }

etcdget() { etcdctl --endpoints="$ETCD" get "$@"; }
etcd_count() { etcdget --prefix --keys-only "$1" | grep -c . || true; }

# The examples/hello app in $WORK/hello (its static busybox copied in).
prepare_hello() {
	cp -r "$top_srcdir/examples/hello" "$WORK/hello"
	chmod -R u+w "$WORK/hello"
	"$WORK/hello/prepare" >/dev/null
}

# record_field APP FIELD: a field of the app's record in etcd.
record_field() {
	etcdget --print-value-only "${NAP_KEY_PREFIX}apps/$1/app" | python3 -c '
import json, sys
print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}

# consistent APP INSTANCES: true when the app is in one consistent state
# (prints what is wrong otherwise).
consistent() {
	local app=$1 n=$2 rel bad
	rel=$(record_field "$app" release) || { echo "no record of $app"; return 1; }
	if [ "$(etcd_count "${NAP_KEY_PREFIX}apps/$app/pending")" -ne 0 ]; then
		echo "the in-progress marker of $app is still there"
		return 1
	fi
	bad=$(docker ps -a --filter "label=nap.app=$app" --format '{{.Label "nap.release"}} {{.State}}' |
		grep -vx "$rel running")
	if [ -n "$bad" ] || [ "$(docker ps -aq --filter "label=nap.app=$app" | wc -l)" -ne "$n" ]; then
		echo "containers of $app (release $rel wanted, $n of them):"
		docker ps -a --filter "label=nap.app=$app" --format '{{.Names}} {{.State}}'
		return 1
	fi
	if [ "$(etcd_count "/services/$app/")" -ne "$n" ] ||
		etcdget --prefix --print-value-only "/services/$app/" | grep -v "\"release\":$rel[,}]" | grep -q .; then
		echo "entries of $app (release $rel wanted, $n of them):"
		etcdget --prefix "/services/$app/"
		return 1
	fi
}

page_ok() { curl -sf --max-time 2 "$1" | grep -q "nap"; }
serves() { # serves APP [TEXT]: every endpoint answers (with TEXT)
	local urls u
	urls=$(napc endpoints "$1") || return 1
	[ -n "$urls" ] || return 1
	for u in $urls; do curl -sf --max-time 2 "$u" | grep -q "${2:-nap}" || return 1; done
}

# The pid of a plugin's host process, from napc plugins --json.
plugin_pid() { plugin_field "$1" pid; }

# Removes an app's containers and keys whatever state it was left in.
scrub_app() {
	local ids
	ids=$(docker ps -aq --filter "label=nap.app=$1")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	etcdctl --endpoints="$ETCD" del --prefix "/services/$1/" >/dev/null 2>&1
	etcdctl --endpoints="$ETCD" del --prefix "${NAP_KEY_PREFIX}apps/$1/" >/dev/null 2>&1
	docker images --format '{{.Repository}}:{{.Tag}}' | grep "/$1:" | xargs -r docker rmi -f >/dev/null 2>&1
	true
}
