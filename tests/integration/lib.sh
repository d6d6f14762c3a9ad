# Helpers for the integration tests: a TAP-style ok/not ok, a napd of the
# test's own on a private socket, and bounded waiting (never a bare sleep).
set -u
# fetch_loop_start / fetch_loop_stop
. "$(dirname "${BASH_SOURCE[0]}")/fetch-loop.sh"

T_COUNT=0
T_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nap-test.XXXXXX")
SOCK="$WORK/napd.sock"
# The id napd gives its plugins (napd.id): what scheduler-local labels its
# containers with (nap.napd=ID) and discovery-etcd follows.
napd_id() { echo "$(hostname):$SOCK"; }
NAPD_PID=
# Where this run's napd keeps its records in etcd (napd.conf's key_prefix):
# a prefix of its own, so that a user's napd (under /nap/) never lists the
# tests' apps, and two test runs never see each other's.
NAP_KEY_PREFIX="/nap-test-${WORK##*.}/"
export NAP_KEY_PREFIX

ok() { # ok "description" command...
	local what=$1
	shift
	T_COUNT=$((T_COUNT + 1))
	if "$@" >"$WORK/last.out" 2>&1; then
		echo "ok $T_COUNT - $what"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_COUNT - $what"
		sed 's/^/#   /' "$WORK/last.out"
	fi
}

check() { # check "description" test-expression-as-a-command
	ok "$@"
}

done_testing() {
	stop_napd
	# A sanitizer build reports into napd's log (its plugin hosts too):
	# any report fails the test.
	if [ -f "$WORK/napd.log" ] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/napd.log"; then
		T_COUNT=$((T_COUNT + 1))
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_COUNT - napd and its plugins ran without a sanitizer report"
		grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/napd.log" | head -40 | sed 's/^/#   /'
	fi
	echo "1..$T_COUNT"
	echo "# $((T_COUNT - T_FAILED)) passed, $T_FAILED failed"
	if [ "$T_FAILED" -eq 0 ]; then
		forget_records
		rm -rf "$WORK"
	else
		echo "# kept $WORK (and etcd's keys under $NAP_KEY_PREFIX)"
	fi
	[ "$T_FAILED" -eq 0 ]
}

# wait_until SECONDS command...: runs command every 20 ms until it succeeds.
wait_until() {
	local limit=$1
	shift
	local end=$(($(date +%s%N) + limit * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	"$@"
}

# Deletes this run's records in etcd (everything under NAP_KEY_PREFIX, and
# nothing else), when an etcd answers; a passed test leaves none behind.
forget_records() {
	local url=${ETCD:-http://127.0.0.1:2379} from to
	from=$(printf '%s' "$NAP_KEY_PREFIX" | base64 -w0)
	to=$(printf '%s' "${NAP_KEY_PREFIX%/}0" | base64 -w0) # "/" + 1 = "0": the prefix's range end
	curl -sf --max-time 2 -X POST "$url/v3/kv/deleterange" \
		-d "{\"key\":\"$from\",\"range_end\":\"$to\"}" >/dev/null 2>&1 || true
}

# copy_hello: examples/hello, its static busybox copied in, at $WORK/hello.
copy_hello() {
	cp -r "$top_srcdir/examples/hello" "$WORK/hello" &&
		chmod -R u+w "$WORK/hello" &&
		"$WORK/hello/prepare" >/dev/null
}

write_config() { # write_config "plugins line" [more lines...]; key_prefix first (a line may override it)
	{
		echo "key_prefix = $NAP_KEY_PREFIX"
		for line in "$@"; do echo "$line"; done
	} >"$WORK/napd.conf"
}

start_napd() {
	"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" --log-level debug \
		"$@" 2>>"$WORK/napd.log" &
	NAPD_PID=$!
	wait_until 10 test -S "$SOCK" || { echo "napd did not start:"; cat "$WORK/napd.log"; return 1; }
}

stop_napd() {
	if [ -n "$NAPD_PID" ] && kill -0 "$NAPD_PID" 2>/dev/null; then
		kill -TERM "$NAPD_PID"
		wait "$NAPD_PID" 2>/dev/null
	fi
	NAPD_PID=
}

# need_plugins NAME...: SKIP (exit 77) unless these plugins are built.
need_plugins() {
	local p
	for p in "$@"; do
		if [ ! -f "$top_builddir/plugins/$p/.libs/$p.so" ]; then
			echo "SKIP: plugin $p is not built" >&2
			exit 77
		fi
	done
}

# AddressSanitizer keeps freed memory in quarantine and adds its own: a
# process's RSS says nothing about a bound there. rss_ok TEST-ARGS... is
# test(1) in a normal build and true in a sanitized one (print the figures).
sanitized() { ldd "$(dirname "$NAPD")/.libs/napd" 2>/dev/null | grep -q libasan; }
rss_ok() { sanitized || test "$@"; }

docker_up() { curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://x/_ping >/dev/null; }
need_servers() { # need_servers [docker] [registry] [etcd]: SKIP unless they answer
	local s
	for s in "$@"; do
		case $s in
		docker) docker_up ;;
		registry) curl -sf --max-time 2 "http://${REGISTRY:-127.0.0.1:5000}/v2/" >/dev/null ;;
		etcd) curl -sf --max-time 2 "${ETCD:-http://127.0.0.1:2379}/health" >/dev/null ;;
		esac || {
			echo "SKIP: $s does not answer (scripts/servers start)" >&2
			exit 77
		}
	done
}

napc() { "$NAPC" --socket "$SOCK" "$@"; }
nap_call() { "$NAP_CALL" -s "$SOCK" "$@"; }

# plugin_field NAME FIELD: a field of one plugin from `napc --json plugins`.
plugin_field() {
	napc --json plugins | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(p[sys.argv[2]])' "$1" "$2"
}

plugin_is() { # plugin_is NAME STATE
	[ "$(plugin_field "$1" state)" = "$2" ]
}

trap 'stop_napd; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
