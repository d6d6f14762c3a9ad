#!/bin/bash
# Every documented limit (nap/limits.h, docs/protocol.md "Limits"), exceeded
# by one, through napc (exit 2, one line, nothing sent) and through a raw
# libnap request (INVALID_ARGUMENT naming the limit); a value at the limit is
# accepted; napd keeps serving and nothing is left in etcd or Docker.
. "$(dirname "$0")/../integration/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
LIMITS_CALL="$top_builddir/tests/limits/limits-call"
APP=lim-$$
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
etcd_keys() { ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --prefix --keys-only "$1" | grep -c . || true; }
containers() { docker ps -aq --filter "label=nap.app=$1" | grep -c . || true; }
x() { head -c "$1" /dev/zero | tr '\0' "${2:-x}"; }
lcall() { "$LIMITS_CALL" "$SOCK" "$@"; }

# refused_raw "what" 'message pattern' METHOD FIELD=VALUE...
refused_raw() {
	local what=$1 pat=$2
	shift 2
	lcall "$@" >"$WORK/raw.out" 2>&1
	local st=$?
	ok "raw $what: INVALID_ARGUMENT naming the limit" bash -c "[ $st -eq 3 ] && grep -q 'END INVALID_ARGUMENT .*$pat' '$WORK/raw.out' || { cat '$WORK/raw.out'; exit 1; }"
}
# refused_napc "what" 'message pattern' napc-args...
refused_napc() {
	local what=$1 pat=$2
	shift 2
	napc "$@" >"$WORK/napc.out" 2>&1
	local st=$?
	ok "napc $what: exit 2 in one line naming the limit" bash -c "[ $st -eq 2 ] && [ \$(wc -l <'$WORK/napc.out') -eq 1 ] && grep -q '$pat' '$WORK/napc.out' || { echo st=$st; head -c 600 '$WORK/napc.out'; exit 1; }"
}

cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare"
trap 'stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) >/dev/null 2>&1; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" "deploy_timeout = 60"
ok "napd starts" start_napd
for p in builder scheduler-local discovery-etcd; do
	ok "$p runs" wait_until 20 plugin_is "$p" running
done

# At the limits: accepted.
napc deploy "$APP" "$WORK/hello" --env "AT_LIMIT=$(x 32768)" >"$WORK/deploy.out" 2>&1
ok "a deploy with a value of exactly 32768 bytes succeeds" test $? -eq 0
ok "... the container has all of it" bash -c "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' \$(docker ps -q --filter label=nap.app=$APP | head -1) | awk 'length(\$0) == 32777 && /^AT_LIMIT=x/ {f = 1} END {exit !f}'"
ok "a key of exactly 255 bytes is accepted (release 2)" lcall SetEnv app="$APP" env-key-len=255

# App names (NAP_APP_NAME_MAX = 63).
refused_napc "app name of 64" "app names are 1 to 63" deploy "$(x 64 a)" "$WORK/hello"
refused_raw "app name of 64" "app names are 1 to 63" Deploy app-len=64 dir=/tmp
refused_raw "app name of 64 (SetEnv)" "app names are 1 to 63" SetEnv app-len=64 env=A=b

# Environment keys (NAP_ENV_KEY_MAX = 255).
refused_napc "key of 256" "1 to 255 letters" env "$APP" "$(x 256 K)=v"
refused_raw "key of 256" "NAP_ENV_KEY_MAX" SetEnv app="$APP" env-key-len=256
refused_napc "--unset of a bad key" "not an environment variable name" env "$APP" --unset "a b"

# Environment values (NAP_ENV_VALUE_MAX = 32768).
refused_napc "value of 32769 (env)" "the limit is 32768" env "$APP" "BIG=$(x 32769)"
refused_napc "value of 32769 (deploy --env)" "the limit is 32768" deploy "$APP" "$WORK/hello" --env "BIG=$(x 32769)"
refused_raw "value of 32769" "NAP_ENV_VALUE_MAX" SetEnv app="$APP" env-value-len=32769
refused_raw "value of 32769 (Deploy)" "NAP_ENV_VALUE_MAX" Deploy app="$APP" dir="$WORK/hello" env-value-len=32769

# Count (NAP_ENV_COUNT_MAX = 256).
refused_napc "257 variables" "257 environment variables; the limit is 256" env "$APP" $(for i in $(seq 0 256); do echo "K$i=v"; done)
refused_raw "257 variables" "NAP_ENV_COUNT_MAX" SetEnv app="$APP" env-count=257
refused_raw "257 keys to unset" "NAP_ENV_COUNT_MAX" SetEnv app="$APP" unset-count=257

# Total (NAP_ENV_TOTAL_MAX = 65536, counted as KEY=VALUE).
refused_napc "65537 bytes of environment" "the limit is 65536" env "$APP" "A=$(x 30000)" "B=$(x 30000)" "C=$(x 5531)"
refused_raw "65537 bytes of environment" "NAP_ENV_TOTAL_MAX" SetEnv app="$APP" env-total=65537
# The app already holds AT_LIMIT (32768 bytes + key): adding 32759 more
# passes every check of the request alone, not the merged environment.
napc env "$APP" "MORE=$(x 32759)" >"$WORK/merged.out" 2>&1
ok "napc: a merged environment past 65536 bytes is refused by napd (exit 2)" bash -c "[ $? -eq 2 ] && grep -q 'NAP_ENV_TOTAL_MAX' '$WORK/merged.out'"
refused_raw "merged environment past the total" "NAP_ENV_TOTAL_MAX" SetEnv app="$APP" env=MORE="$(x 32759)"

# Paths (NAP_PATH_MAX = 4095).
refused_raw "directory of 4096 bytes" "NAP_PATH_MAX" Deploy app="$APP-p" dir-len=4096

# Instances (NAP_INSTANCES_MAX = 100).
refused_napc "scale to 101" "1 to 100 instances" scale "$APP" 101
refused_napc "deploy --instances 101" "1 to 100" deploy "$APP" "$WORK/hello" --instances 101
refused_raw "scale to 101" "NAP_INSTANCES_MAX" Scale app="$APP" instances=101
refused_raw "deploy of 101 instances" "NAP_INSTANCES_MAX" Deploy app="$APP-i" dir="$WORK/hello" instances=101

# Frames (NAP_FRAME_MAX = 4 MiB) and names on the bus (NAP_NAME_MAX = 255).
lcall SetEnv app="$APP" env-total=4300000 >"$WORK/frame.out" 2>&1
ok "a request past NAP_FRAME_MAX is not sent or not accepted" bash -c "! grep -q 'END OK' '$WORK/frame.out'"
# (nap-call leaves its connection behind on that path: not napd's leak.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" nap_call -S "$(x 256 s)" hi >"$WORK/name.out"
ok "libnap refuses to send a service name of 256 bytes (napd's frame check: tests/unit)" bash -c "grep -q 'START Invalid argument' '$WORK/name.out'"
lcall Hello2 >"$WORK/hello2.out" 2>&1
ok "a client's second HELLO (claiming nap.Builder) closes its connection" grep -q "second HELLO" "$WORK/hello2.out"

ok "napd kept serving" napc ping
ok "napd logged no crash" bash -c "! grep -qi 'killed by signal\|restarting in' '$WORK/napd.log'"
ok "no refused request made a release: releases 1 and 2 only" bash -c "'$NAPC' --socket '$SOCK' --json status $APP | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"releases\"] == [1, 2], d'"
ok "nothing was made for the refused apps" bash -c "[ \$(( $(etcd_keys "${NAP_KEY_PREFIX}apps/$APP-") + $(containers "$APP-p") + $(containers "$APP-i") )) -eq 0 ]"
ok "destroy" napc destroy "$APP"
ok "nothing left in etcd" test "$(etcd_keys "/services/$APP")$(etcd_keys "${NAP_KEY_PREFIX}apps/$APP")" = 00
ok "nothing left in Docker" test "$(containers "$APP")" -eq 0
stop_napd

# napd.conf (write_config puts key_prefix on line 1): settings per plugin section (NAP_CONFIG_MAX = 256) and their
# length (NAP_CONFIG_ENTRY_MAX = 4096).
write_config "plugins = $EXAMPLES/echo.so" "[plugin echo]" $(for i in $(seq 0 256); do echo "k$i=v"; done)
"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" 2>"$WORK/conf1.err"
ok "257 settings in a plugin section stop napd at start (status 1)" test $? -eq 1
ok "... naming the line and the limit" grep -q "napd.conf:260: \[plugin echo\] has more than 256 settings (NAP_CONFIG_MAX)" "$WORK/conf1.err"
write_config "plugins = $EXAMPLES/echo.so" "[plugin echo]" "k = $(x 4095)"
"$NAPD" --foreground --config "$WORK/napd.conf" --socket "$SOCK" 2>"$WORK/conf2.err"
ok "a setting of 4097 bytes as key=value stops napd at start" bash -c "[ $? -eq 1 ] && grep -q 'napd.conf:4: .*NAP_CONFIG_ENTRY_MAX' '$WORK/conf2.err'"

done_testing
