#!/bin/bash
# tests/soak/soak.sh DURATION CLIENTS: the soak. Starts a napd of its own
# (builder, scheduler-local, discovery-etcd; the real dockerd, registry and
# etcd), runs soak-client (CLIENTS users mixing Ping, Endpoints and
# WatchEndpoints for DURATION seconds) while a loop deploys, redeploys,
# scales and destroys three apps (examples/hello) with napc, and prints
# "name: value" lines: the client's figures, what the loop did, and open
# fds and RSS of napd and each plugin host at start (after a warm-up, with
# no client connected and no app deployed) and at the end (the same).
# Destroys everything it deployed. Exits 0 when it ran (the figures say how
# well), 77 when the servers are not there, 1 when it could not run.
#
# Environment: top_srcdir and top_builddir (as `make check` sets them), or
# NAPD, NAPC and SOAK_CLIENT; SOAK_WARMUP seconds (default 10).
. "$(dirname "$0")/../integration/lib.sh"

DURATION=${1:?usage: soak.sh DURATION CLIENTS}
CLIENTS=${2:?usage: soak.sh DURATION CLIENTS}
SOAK_CLIENT=${SOAK_CLIENT:-$top_builddir/tests/soak/soak-client}
WARMUP=${SOAK_WARMUP:-10}

need_servers docker registry etcd
PLUGINS="builder scheduler-local discovery-etcd"
need_plugins $PLUGINS
if [ ! -x "$SOAK_CLIENT" ]; then
	echo "soak: $SOAK_CLIENT is not built: make tests/soak/soak-client" >&2
	exit 1
fi
# 200 users are 200 sockets in napd and in the client.
ulimit -n 4096 2>/dev/null || true

APPS="soak-$$-a soak-$$-b soak-$$-c"
say() { echo "soak: $*" >&2; }

# napd keeps every release's tag in the registry (destroy removes local
# images only): delete the manifests of an app of ours there.
registry_forget() {
	local r=http://127.0.0.1:5000/v2/$1 tag digest
	for tag in $(curl -sf "$r/tags/list" | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin).get("tags") or []))' 2>/dev/null); do
		digest=$(curl -sfI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
			"$r/manifests/$tag" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
		[ -n "$digest" ] && curl -sf -X DELETE "$r/manifests/$digest" >/dev/null
	done
}

cleanup() {
	touch "$WORK/stop-loop"
	[ -n "${LOOP_PID:-}" ] && wait "$LOOP_PID" 2>/dev/null
	for a in $APPS; do
		napc destroy "$a" >/dev/null 2>&1
		ids=$(docker ps -aq --filter "label=nap.app=$a")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		etcdctl --endpoints=http://127.0.0.1:2379 del --prefix "/services/$a/" >/dev/null 2>&1
		etcdctl --endpoints=http://127.0.0.1:2379 del --prefix "${NAP_KEY_PREFIX}apps/$a/" >/dev/null 2>&1
		# A deploy that failed after its build leaves its image tag.
		imgs=$(docker images -q "127.0.0.1:5000/$a" | sort -u)
		[ -n "$imgs" ] && docker rmi -f $imgs >/dev/null 2>&1
		registry_forget "$a"
	done
	stop_napd
	if [ "${KEEP:-0}" = 1 ]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
export ETCDCTL_API=3

cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare" || exit 1

plugin() { echo "$top_builddir/plugins/$1/.libs/$1.so"; }
write_config "plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)" \
	"deploy_timeout = 120"
start_napd || exit 1
for p in $PLUGINS; do
	wait_until 30 plugin_is "$p" running || { say "plugin $p did not start"; exit 1; }
done

# sample WHEN: fds and RSS (kB) of napd and each plugin host into $WORK/WHEN.
sample() {
	{
		echo "napd $(ls /proc/"$NAPD_PID"/fd | wc -l) $(awk '/^VmRSS/ {print $2}' /proc/"$NAPD_PID"/status)"
		for p in $PLUGINS; do
			pid=$(plugin_field "$p" pid)
			echo "$p $(ls /proc/"$pid"/fd 2>/dev/null | wc -l) $(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status 2>/dev/null)"
		done
	} >"$WORK/$1"
}

# One step of the deploy loop on app $1; counts what succeeded.
count() { echo "$1" >>"$WORK/loop.counts"; }
step() {
	local a=$1 st
	if ! [ -e "$WORK/up.$a" ]; then
		napc deploy "$a" "$WORK/hello" --instances $((RANDOM % 2 + 1)) >>"$WORK/loop.log" 2>&1 &&
			{ touch "$WORK/up.$a"; count deploy; } || count failed
		return
	fi
	case $((RANDOM % 4)) in
	0)
		echo "<p>$RANDOM</p>" >>"$WORK/hello/index.html"
		napc deploy "$a" "$WORK/hello" >>"$WORK/loop.log" 2>&1 && count deploy || count failed
		;;
	1 | 2)
		napc scale "$a" $((RANDOM % 3 + 1)) >>"$WORK/loop.log" 2>&1 && count scale || count failed
		;;
	3)
		napc destroy "$a" >>"$WORK/loop.log" 2>&1 && count destroy || count failed
		rm -f "$WORK/up.$a"
		;;
	esac
}
deploy_loop() {
	# Also stops if the work directory went (a clean-up from elsewhere).
	while [ -d "$WORK/hello" ] && [ ! -e "$WORK/stop-loop" ]; do
		for a in "$@"; do
			[ -e "$WORK/stop-loop" ] && break
			step "$a"
		done
	done
}
destroy_all() {
	for a in $APPS; do
		if [ -e "$WORK/up.$a" ]; then
			napc destroy "$a" >>"$WORK/loop.log" 2>&1 && count destroy || count failed
			rm -f "$WORK/up.$a"
		fi
	done
}

# Warm-up: one deploy and destroy, and every user connected for a while,
# so that what is allocated once (thread stacks, arenas, caches) is.
apps_csv=$(echo "$APPS" | tr ' ' ',')
say "warm-up: ${WARMUP}s"
touch "$WORK/loop.counts"
"$SOAK_CLIENT" --socket "$SOCK" --clients "$CLIENTS" --seconds "$WARMUP" --apps "$apps_csv" \
	>"$WORK/warmup.out" 2>"$WORK/warmup.err" &
WARM_PID=$!
step "${APPS%% *}"
wait $WARM_PID
destroy_all
: >"$WORK/loop.counts"
sleep 2
sample start

say "soak: ${DURATION}s, $CLIENTS clients"
deploy_loop $APPS &
LOOP_PID=$!
# Ten samples during the run, for the peaks (clients connected, apps up).
(
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep $(((DURATION + 9) / 10))
		[ -e "$WORK/stop-loop" ] && break
		sample "during.$i"
	done
) >/dev/null 2>&1 &
SAMPLER_PID=$!
"$SOAK_CLIENT" --socket "$SOCK" --clients "$CLIENTS" --seconds "$DURATION" --apps "$apps_csv" \
	--seed $$ >"$WORK/client.out" 2>"$WORK/client.err"
client_rc=$?
touch "$WORK/stop-loop"
wait "$LOOP_PID"
LOOP_PID=
kill "$SAMPLER_PID" 2>/dev/null
wait "$SAMPLER_PID" 2>/dev/null
destroy_all
# Containers gone and their entries withdrawn before the last sample.
wait_until 30 bash -c "[ -z \"\$(for a in $APPS; do docker ps -aq --filter label=nap.app=\$a; done)\" ]"
sleep 3
sample end

cat "$WORK/client.out"
[ -s "$WORK/client.err" ] && sed 's/^/soak: /' "$WORK/client.err" | head -20 >&2
echo "client_exit: $client_rc"
echo "deploys_done: $(grep -cx deploy "$WORK/loop.counts")"
echo "scales_done: $(grep -cx scale "$WORK/loop.counts")"
echo "destroys_done: $(grep -cx destroy "$WORK/loop.counts")"
echo "loop_failures: $(grep -cx failed "$WORK/loop.counts")"
if grep -qx failed "$WORK/loop.counts"; then
	grep -iE 'error|fail|cannot' "$WORK/loop.log" | head -5 | sed 's/^/soak: loop: /' >&2
fi
while read -r name fds rss; do
	echo "${name}_fds_start: $fds"
	echo "${name}_rss_kb_start: $rss"
done <"$WORK/start"
while read -r name fds rss; do
	echo "${name}_fds_end: $fds"
	echo "${name}_rss_kb_end: $rss"
done <"$WORK/end"
# The highest of the samples taken during the run.
cat "$WORK"/during.* 2>/dev/null | awk '
	{ if ($2 > f[$1]) f[$1] = $2; if ($3 > m[$1]) m[$1] = $3; if (!($1 in o)) o[$1] = n++ }
	END { for (k in o) printf "%s_fds_peak: %d\n%s_rss_kb_peak: %d\n", k, f[k], k, m[k] }' | sort
if napc ping >/dev/null 2>&1; then echo "napd_answers: yes"; else echo "napd_answers: no"; fi
left=$(for a in $APPS; do docker ps -aq --filter "label=nap.app=$a"; done | wc -l)
echo "containers_left: $left"
# A sanitizer build reports leaks when napd and its hosts exit.
stop_napd
echo "sanitizer_reports: $(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/napd.log")"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/napd.log"; then
	grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/napd.log" | head -40 >&2
fi
[ "$client_rc" -eq 0 ] && ! grep -qx failed "$WORK/loop.counts" || KEEP=1
exit 0
