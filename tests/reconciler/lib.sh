# Helpers for the reconciler's tests: the integration helpers (ok, check,
# wait_until, start_napd, stop_napd, done_testing, napc, plugin_is from
# tests/integration/lib.sh), plus a napd of the test's own that runs the
# fake builder, scheduler and discovery (and the orchestrator plugin once
# it is built), the fakes' control channels, and bounded waiting.
#
# A test script:
#   . "$top_srcdir/tests/reconciler/lib.sh"
#   FAKE_BUILDER_SETTINGS=("build_ms = 10")      # optional, before start_fakes
#   ORCHESTRATOR_SETTINGS=("check_interval_ms = 50")
#   ok "napd starts with the fakes" start_fakes
#   napc deploy myapp "$WORK/app" --instances 2
#   sched_ctl kill myapp 1
#   ok "healed" wait_for 5 converged myapp 2
#   done_testing

# A temporary directory of these tests' own: a clean-up of /tmp/nap-test.*
# elsewhere (another tree's tests, by hand) must not take $WORK mid-run.
export TMPDIR="${TMPDIR:-/tmp}/nap-reconciler"
mkdir -p "$TMPDIR"
. "$top_srcdir/tests/integration/lib.sh"

RECONCILER_BIN=$top_builddir/tests/reconciler
FAKES=$RECONCILER_BIN/.libs
FAKE_CTL=$RECONCILER_BIN/fake-ctl
FAKE_CALL=$RECONCILER_BIN/fake-call
ORCHESTRATOR_SO=${ORCHESTRATOR_SO:-$top_builddir/plugins/orchestrator/.libs/orchestrator.so}
# The orchestrator's section header in napd.conf (a plugin's section).
ORCHESTRATOR_SECTION=${ORCHESTRATOR_SECTION:-"[plugin orchestrator]"}

BUILD_CTL=$WORK/builder.ctl   # fake-builder's control socket
SCHED_CTL=$WORK/scheduler.ctl # fake-scheduler's
DISC_CTL=$WORK/discovery.ctl  # fake-discovery's
DISC_STATE=$WORK/records.json # fake-discovery's records (kept across crashes)

# Extra lines for napd.conf, set before start_fakes (or fakes_config):
# global settings, and each plugin's section.
NAPD_SETTINGS=()
FAKE_BUILDER_SETTINGS=()
FAKE_SCHEDULER_SETTINGS=()
FAKE_DISCOVERY_SETTINGS=()
ORCHESTRATOR_SETTINGS=()

# WITH_ORCHESTRATOR=no: a napd with the fakes alone, even once the
# orchestrator is built (a test of the fakes, whose records and instances
# the orchestrator would act on). Default: the orchestrator when built.
WITH_ORCHESTRATOR=${WITH_ORCHESTRATOR:-auto}

have_orchestrator() { [ "$WITH_ORCHESTRATOR" != no ] && [ -f "$ORCHESTRATOR_SO" ]; }
# need_orchestrator: SKIP (exit 77) until plugins/orchestrator is built.
need_orchestrator() {
	have_orchestrator || {
		echo "SKIP: the orchestrator plugin is not built ($ORCHESTRATOR_SO)" >&2
		exit 77
	}
}

# fakes_config: writes $WORK/napd.conf: the three fakes, the orchestrator
# when its .so exists and WITH_ORCHESTRATOR is not "no" (else it is left
# out, section and all), and the *_SETTINGS lines above.
fakes_config() {
	local plugins="$FAKES/fake-builder.so $FAKES/fake-scheduler.so $FAKES/fake-discovery.so"
	local orch=()
	if have_orchestrator; then
		plugins="$plugins $ORCHESTRATOR_SO"
		orch=("$ORCHESTRATOR_SECTION" "${ORCHESTRATOR_SETTINGS[@]}")
	fi
	write_config "plugins = $plugins" "${NAPD_SETTINGS[@]}" \
		"[plugin fake-builder]" "control_socket = $BUILD_CTL" "${FAKE_BUILDER_SETTINGS[@]}" \
		"[plugin fake-scheduler]" "control_socket = $SCHED_CTL" "${FAKE_SCHEDULER_SETTINGS[@]}" \
		"[plugin fake-discovery]" "control_socket = $DISC_CTL" "state_file = $DISC_STATE" \
		"${FAKE_DISCOVERY_SETTINGS[@]}" \
		"${orch[@]}"
}

# fakes_running: every plugin of the config runs and the control sockets
# answer.
fakes_running() {
	local p
	for p in fake-builder fake-scheduler fake-discovery; do
		[ "$(fake_plugin $p state)" = running ] || return 1
	done
	{ ! have_orchestrator || [ "$(fake_plugin orchestrator state)" = running ]; } &&
		build_ctl faults >/dev/null 2>&1 && sched_ctl list >/dev/null 2>&1 &&
		disc_ctl records >/dev/null 2>&1
}

# start_fakes [napd options...]: writes the config (unless $WORK/napd.conf
# exists already: write your own with fakes_config or write_config), starts
# napd and waits until every plugin runs.
start_fakes() {
	[ -f "$WORK/napd.conf" ] || fakes_config
	start_napd "$@" || return 1
	wait_for 10 fakes_running || {
		napc plugins
		tail -20 "$WORK/napd.log"
		return 1
	}
}

# fake_plugin NAME FIELD: state, restarts or pid of plugin NAME (quicker
# than plugin_field, which starts python).
fake_plugin() {
	fake_call plugins | awk -v n="$1" -v f="$2" '
		$2 == n { print f == "state" ? $3 : f == "restarts" ? $4 : $5; found = 1 }
		END { exit !found }'
}

# restarted NAME [TIMES]: plugin NAME was restarted at least TIMES (1)
# times and runs again, its control socket answering.
restarted() {
	[ "$(fake_plugin "$1" restarts)" -ge "${2:-1}" ] &&
		[ "$(fake_plugin "$1" state)" = running ] || return 1
	case $1 in
	fake-builder) build_ctl faults ;;
	fake-scheduler) sched_ctl list ;;
	fake-discovery) disc_ctl records ;;
	esac >/dev/null 2>&1
}

# restart_napd: stops napd and starts it again with the same config (the
# records stay in $DISC_STATE; the fake instances die with their plugin).
restart_napd() {
	stop_napd
	start_napd && wait_for 10 fakes_running
}

# all_gone PID...: none of these processes is left.
all_gone() {
	local p
	for p in "$@"; do
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

# crash_napd: kill -9 napd, wait until its plugin hosts are gone too (they
# end when its socket closes: the fake instances die with them, as if the
# machine died), and start it again with the same config. Records stay.
crash_napd() {
	local pids
	pids=$(pgrep -P "$NAPD_PID")
	kill -KILL "$NAPD_PID"
	wait "$NAPD_PID" 2>/dev/null
	NAPD_PID=
	# shellcheck disable=SC2086 # one word per pid
	wait_for 10 all_gone $pids || return 1
	start_napd && wait_for 10 fakes_running
}

# The control channels (fake-control.h): data lines on stdout, exit 0 on
# OK, 1 on ERR (reason on stderr), 2 if the fake does not answer.
fake_ctl() { "$FAKE_CTL" "$@"; } # fake_ctl SOCKET WORD...
build_ctl() { "$FAKE_CTL" "$BUILD_CTL" "$@"; }
sched_ctl() { "$FAKE_CTL" "$SCHED_CTL" "$@"; }
disc_ctl() { "$FAKE_CTL" "$DISC_CTL" "$@"; }
# fake_call CMD ARG...: one Builder/Scheduler/Discovery call through napd
# (see fake-call.c for commands and output).
fake_call() { "$FAKE_CALL" -s "$SOCK" "$@"; }

# wait_for SECONDS COMMAND...: runs COMMAND every 20 ms until it succeeds,
# for at most SECONDS (fractions allowed: 0.5). On time-out, says what it
# waited for and shows COMMAND's last output; returns 1.
wait_for() {
	local limit=$1
	shift
	local end
	end=$(($(date +%s%N) + $(awk -v s="$limit" 'BEGIN { printf "%d", s * 1000000000 }')))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	"$@" && return 0
	echo "timed out after ${limit}s waiting for: $*"
	return 1
}

# ---- what a test looks at ----

# tcp_open PORT: 127.0.0.1:PORT accepts a TCP connection.
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
tcp_closed() { ! tcp_open "$1"; }
# http_get PORT [PATH]: prints the status line's code and the body.
http_get() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
		read -r _ code _ <&3 && echo "$code" && sed "1,/^\r*$/d" <&3' _ "$1" "${2:-/}" 2>/dev/null
}
# http_status PORT [PATH]: just the status code.
http_status() { http_get "$@" | head -1; }

# sched_field APP INSTANCE FIELD: a field (release, state, port, id) of
# the newest instance INSTANCE of APP in fake-scheduler's list.
sched_field() {
	sched_ctl list "$1" | awk -v i="$2" -v f="$3" '
		$3 == i { r = f == "release" ? $2 : f == "state" ? $4 : f == "port" ? $5 : $6 }
		END { if (r == "") exit 1; print r }'
}
# sched_count APP [STATE]: how many instances of APP (in that state).
sched_count() { sched_ctl list "$1" | awk -v s="${2:-}" 's == "" || $4 == s' | grep -c . || true; }
# sched_runs APP: how many instances Run started for APP (since the
# plugin started).
sched_runs() { sched_ctl runs "$1" | awk '{ print $1 }'; }
# disc_count APP: how many endpoints discovery holds for APP.
disc_count() { disc_ctl endpoints "$1" | grep -c . || true; }
# For wait_for (which runs a command again and again; "$(...)" in its
# arguments would be read once): disc_has APP N, sched_has APP N [STATE].
disc_has() { [ "$(disc_count "$1")" -eq "$2" ]; }
sched_has() { [ "$(sched_count "$1" "${3:-}")" -eq "$2" ]; }

# ---- what the orchestrator should have reached ----

# serving APP RELEASE N: discovery holds N endpoints of APP, all of RELEASE,
# each answering HTTP 200 from an instance of that release.
serving() {
	local line port n=0
	while read -r line; do
		port=${line%% *}
		port=${port##*:}
		[ "${line##* }" = "$2" ] || return 1
		http_get "$port" / | tr -d '\r' | tr '\n' ' ' | grep -q "^200 fake app=$1 release=$2 " ||
			return 1
		n=$((n + 1))
	done < <(disc_ctl endpoints "$1")
	[ "$n" -eq "$3" ]
}

# app_release APP: the release `napc status` says APP runs ("" if it does
# not say "running").
app_release() {
	napc status "$1" 2>/dev/null | sed -n 's/^[^:]*: running, release \([0-9]*\),.*/\1/p' | head -1
}

# converged APP N: APP is "running" one release, with exactly N instances,
# all of that release, running and serving, and nothing else scheduled.
converged() {
	local rel
	rel=$(app_release "$1")
	[ -n "$rel" ] && sched_has "$1" "$2" && sched_has "$1" "$2" running &&
		! sched_ctl list "$1" | awk -v r="$rel" '$2 != r { bad = 1 } END { exit !bad }' &&
		serving "$1" "$rel" "$2"
}

# For `ok "..." bash -c "..."` checks.
export SOCK WORK FAKE_CTL FAKE_CALL BUILD_CTL SCHED_CTL DISC_CTL DISC_STATE
export -f napc plugin_field plugin_is fake_plugin restarted fake_ctl build_ctl sched_ctl disc_ctl fake_call tcp_open tcp_closed \
	http_get http_status sched_field sched_count sched_runs disc_count disc_has sched_has \
	serving app_release converged
