#!/bin/bash
# napd.conf's key_prefix: two napds on one etcd with prefixes of their own
# keep their records apart and do not list each other's apps (the tests'
# own napds run this way, so a user's `napc ls` never lists a test's app);
# a bad prefix stops napd with one line.
. "$(dirname "$0")/lib.sh"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd
export ETCDCTL_API=3
ETCD=http://127.0.0.1:2379
A_APP=kpa-$$
B_APP=kpb-$$
PREFIX_B="${NAP_KEY_PREFIX%/}-b/"
SOCK_B="$WORK/b.sock"
B_PID=
plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
keys() { etcdctl --endpoints=$ETCD get --prefix --keys-only "$1" | grep -c . || true; }
napc_b() { "$NAPC" --socket "$SOCK_B" "$@"; }
cleanup() {
	stop_napd
	if [ -n "$B_PID" ]; then kill "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null; fi
	for app in "$A_APP" "$B_APP"; do
		ids=$(docker ps -aq --filter "label=nap.app=$app")
		[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
		etcdctl --endpoints=$ETCD del --prefix "/services/$app/" >/dev/null 2>&1
	done
	etcdctl --endpoints=$ETCD del --prefix "$PREFIX_B" >/dev/null 2>&1
	[ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT

copy_hello

PLUGINS="plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)"

# A bad prefix: napd stops with one line naming the rule.
for bad in /services/ nap/ /nap /a/../b/ "/a b/"; do
	printf 'key_prefix = %s\n%s\n' "$bad" "$PLUGINS" >"$WORK/bad.conf"
	"$NAPD" --foreground --config "$WORK/bad.conf" --socket "$WORK/bad.sock" 2>"$WORK/bad.err"
	st=$?
	ok "key_prefix = '$bad' is refused, naming the rule" bash -c "[ $st -ne 0 ] && grep -q 'key_prefix is \"/\", then names' '$WORK/bad.err' && [ \$(wc -l <'$WORK/bad.err') -eq 1 ]"
done

# napd A: lib.sh's prefix; napd B: another, same etcd, same host.
write_config "$PLUGINS" "deploy_timeout = 60"
ok "napd A starts (key_prefix $NAP_KEY_PREFIX)" start_napd
printf 'key_prefix = %s\n%s\ndeploy_timeout = 60\n' "$PREFIX_B" "$PLUGINS" >"$WORK/b.conf"
"$NAPD" --foreground --config "$WORK/b.conf" --socket "$SOCK_B" --log-level debug 2>>"$WORK/napd-b.log" &
B_PID=$!
ok "napd B starts (key_prefix $PREFIX_B)" wait_until 10 test -S "$SOCK_B"
ok "B's discovery says where its records are" wait_until 20 grep -q "records under $PREFIX_B" "$WORK/napd-b.log"

ok "A deploys $A_APP" napc deploy "$A_APP" "$WORK/hello"
ok "B deploys $B_APP" napc_b deploy "$B_APP" "$WORK/hello"
ok "A's record is under A's prefix only" bash -c "[ $(keys "${NAP_KEY_PREFIX}apps/$A_APP/") -eq 1 ] && [ $(keys "${PREFIX_B}apps/$A_APP/") -eq 0 ] && [ $(keys "/nap/apps/$A_APP/") -eq 0 ]"
ok "B's record is under B's prefix only" bash -c "[ $(keys "${PREFIX_B}apps/$B_APP/") -eq 1 ] && [ $(keys "${NAP_KEY_PREFIX}apps/$B_APP/") -eq 0 ] && [ $(keys "/nap/apps/$B_APP/") -eq 0 ]"
napc ls >"$WORK/a.ls" 2>&1
napc_b ls >"$WORK/b.ls" 2>&1
ok "A lists its app and not B's" bash -c "grep -qw '$A_APP' '$WORK/a.ls' && ! grep -qw '$B_APP' '$WORK/a.ls'"
ok "B lists its app and not A's" bash -c "grep -qw '$B_APP' '$WORK/b.ls' && ! grep -qw '$A_APP' '$WORK/b.ls'"
napc status "$B_APP" >"$WORK/a-status-b.out" 2>&1
ok "A does not know B's app" grep -q "no app $B_APP" "$WORK/a-status-b.out"

ok "A destroys its app" napc destroy "$A_APP"
ok "B destroys its app" napc_b destroy "$B_APP"
ok "no record is left under either prefix" bash -c "[ $(keys "${NAP_KEY_PREFIX}apps/") -eq 0 ] && [ $(keys "${PREFIX_B}apps/") -eq 0 ]"

done_testing
