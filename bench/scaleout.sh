#!/usr/bin/env bash
# bench/scaleout.sh BUILD_DIR: starting 40 instances of examples/hello on
# this host against the real dockerd, in one run (medians of BENCH_ROUNDS,
# default 3):
#  - scheduler-local's Run of 40 instances through napd (it starts up to 8
#    at once), until the reply lists all 40 with their ports;
#  - `docker run -d -P` of the same 40 containers, 8 at a time (xargs -P8),
#    through the docker CLI;
#  - their ratio (1.00 or less: nap is no slower than the CLI).
# Every container is removed after each round and at the end.
set -euo pipefail
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nap-bench-scaleout.XXXXXX)
sock=$work/napd.sock
ROUNDS=${BENCH_ROUNDS:-3}
N=40
app=bench-scale-$$
image=127.0.0.1:5000/$app:1
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
remove_all() {
	local ids
	ids=$(docker ps -aq --filter "label=nap.bench-scale=$app"; docker ps -aq --filter "label=nap.app=$app")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}

cleanup() {
	[ -n "${NAPD_PID:-}" ] && kill "$NAPD_PID" 2>/dev/null && wait "$NAPD_PID" 2>/dev/null
	remove_all
	docker rmi -f "$image" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

make -s -C "$build" tests/plugins/scheduler-local-call >/dev/null
call=$build/tests/plugins/scheduler-local-call
cp -r "$top/examples/hello" "$work/hello"
"$work/hello/prepare"
docker build -q -t "$image" "$work/hello" >/dev/null 2>&1
cat >"$work/napd.conf" <<CONF
plugins = $build/plugins/scheduler-local/.libs/scheduler-local.so
log_level = warning
CONF
"$build/core/napd/napd" --foreground --config "$work/napd.conf" --socket "$sock" 2>"$work/napd.log" &
NAPD_PID=$!
for _ in $(seq 1 200); do
	"$call" -s "$sock" list "$app" 2>/dev/null | grep -qx 'END OK' && break
	sleep 0.05
done

instances=$(seq -s, 1 "$N")
nap_times=()
cli_times=()
for round in $(seq 1 "$ROUNDS"); do
	t0=$(now)
	"$call" -s "$sock" run "$app" "$round" "$image" "$instances" >"$work/run.out"
	t1=$(now)
	n=$(grep -c '^INSTANCE .* running$' "$work/run.out" || true)
	[ "$n" -eq "$N" ] || { echo "scaleout: Run started $n of $N:" >&2; tail -n 1 "$work/run.out" >&2; exit 1; }
	nap_times+=("$(awk "BEGIN {print $t1 - $t0}")")
	remove_all

	t0=$(now)
	seq 1 "$N" | xargs -P8 -I{} docker run -d -P --init --label "nap.bench-scale=$app" \
		--name "$app-cli-$round-{}" "$image" >/dev/null
	t1=$(now)
	cli_times+=("$(awk "BEGIN {print $t1 - $t0}")")
	remove_all
done

nap_med=$(printf '%s\n' "${nap_times[@]}" | median)
cli_med=$(printf '%s\n' "${cli_times[@]}" | median)
echo "scaleout.run_40.nap_s: $nap_med"
echo "scaleout.run_40.docker_cli_p8_s: $cli_med"
echo "scaleout.run_40.ratio_nap_over_cli: $(awk "BEGIN {printf \"%.2f\", $nap_med / $cli_med}")"
