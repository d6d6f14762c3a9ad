#!/usr/bin/env bash
# bench/context.sh BUILD_DIR: issue 11's figures for a build context that
# napc sends (protocol 1.2), against the real dockerd, registry and etcd
# (scripts/servers start), measured side by side in one run:
#  - the same 100 MiB context (examples/hello and 100 MiB of random bytes,
#    which its Dockerfile does not copy, so the context's transfer is what
#    differs) built by nap and by `docker build` through the Docker CLI;
#    nap's build part is napc's start to the builder's first push line
#    (pack, upload into the spool, stream to Docker's /build, build), which
#    is what `docker build` does (pack, stream to /build, build);
#  - the whole nap deploy (build, push, start, ready, announced) beside it;
#  - the same deploy over ssh to localhost (napc --host, an sshd the bench
#    starts on loopback with keys of its own, root's login by key only) vs
#    local, alternated.
# Medians of BENCH_ROUNDS (default 5) warm rounds, nap and docker
# alternating. The goal is context_build_ratio <= 1.1.
set -euo pipefail
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nap-bench-context.XXXXXX)
sock=$work/napd.sock
export ETCDCTL_API=3 NAP_SOCKET=$sock
ROUNDS=${BENCH_ROUNDS:-5}
napc() { "$build/core/napc/napc" "$@"; }
now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
app=bctx-$$

cleanup() {
	napc destroy "$app" >/dev/null 2>&1 || true
	[ -n "${NAPD_PID:-}" ] && kill "$NAPD_PID" 2>/dev/null && wait "$NAPD_PID" 2>/dev/null
	docker rm -f $(docker ps -aq --filter "label=nap.app=$app") >/dev/null 2>&1 || true
	# by name: one image carries several tags, which rmi of its ID refuses
	docker rmi $(docker images --format '{{.Repository}}:{{.Tag}}' "127.0.0.1:5000/$app") \
		"$app-docker:bench" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

cp -r "$top/examples/hello" "$work/ctx"
"$work/ctx/prepare"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$work/ctx/random.bin"
echo '!random.bin' >>"$work/ctx/.dockerignore" # hello's lets in only what the image needs
plugin() { echo "$build/plugins/$1/.libs/$1.so"; }
cat >"$work/napd.conf" <<CONF
plugins = $(plugin orchestrator) $(plugin builder) $(plugin scheduler-local) $(plugin discovery-etcd)
log_level = warning
[plugin builder]
context_dir = $work/contexts
CONF
"$build/core/napd/napd" --foreground --config "$work/napd.conf" --socket "$sock" 2>"$work/napd.log" &
NAPD_PID=$!
for _ in $(seq 1 200); do
	n=$(napc --json plugins 2>/dev/null | python3 -c 'import json,sys; print(sum(p["state"]=="running" for p in json.load(sys.stdin)))' 2>/dev/null || echo 0)
	[ "$n" = 4 ] && break
	sleep 0.05
done

# One nap deploy; prints "BUILD_MS DEPLOY_MS UPLOAD_MS": napc's start to
# the first push line, to its end, and to the line that says the context was
# sent. Each output line is stamped as it arrives.
nap_round() {
	local t0 line first_push= sent=
	t0=$(now_ns)
	while IFS= read -r line; do
		case $line in
		context:*) sent=$(now_ns) ;;
		push:*) [ -n "$first_push" ] || first_push=$(now_ns) ;;
		esac
	done < <(napc deploy "$app" "$work/ctx" 2>&1)
	local t1
	t1=$(now_ns)
	echo "$(((${first_push:-$t1} - t0) / 1000000)) $(((t1 - t0) / 1000000))" \
		"$(((${sent:-$t1} - t0) / 1000000))"
}

docker_round() {
	local t0
	t0=$(now_ns)
	docker build -q -t "$app-docker:bench" "$work/ctx" >/dev/null 2>&1
	echo $((($(now_ns) - t0) / 1000000))
}

# Cold runs fill the build cache for both.
nap_round >/dev/null
docker_round >/dev/null
nap_build=() nap_deploy=() nap_upload=() docker_build=()
for _ in $(seq 1 "$ROUNDS"); do
	read -r b d u < <(nap_round)
	nap_build+=("$b")
	nap_deploy+=("$d")
	nap_upload+=("$u")
	docker_build+=("$(docker_round)")
done
nb=$(printf '%s\n' "${nap_build[@]}" | median)
nd=$(printf '%s\n' "${nap_deploy[@]}" | median)
nu=$(printf '%s\n' "${nap_upload[@]}" | median)
db=$(printf '%s\n' "${docker_build[@]}" | median)
echo "context_size_mib: $(du -sm "$work/ctx" | cut -f1)"
echo "context_rounds: $ROUNDS"
echo "context_nap_build_ms: $nb"
echo "context_docker_build_ms: $db"
echo "context_build_ratio: $(awk "BEGIN {printf \"%.2f\", $nb / $db}")"
echo "context_nap_upload_ms: $nu (of the build part: pack and send into the spool)"
echo "context_nap_deploy_ms: $nd"

# --- over ssh to localhost vs local ---
SSHD=$(PATH=$PATH:/usr/sbin command -v sshd || true)
if [ -z "$SSHD" ] || [ "$(id -u)" -ne 0 ] || ! command -v ssh ssh-keygen >/dev/null; then
	echo "context_over_ssh: not measured (needs root, sshd, ssh and ssh-keygen)"
	exit 0
fi
d=$work/ssh
mkdir -m 700 "$d"
ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$d/id"
cp "$d/id.pub" "$d/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '%s\n' "ListenAddress 127.0.0.1" "Port $port" "HostKey $d/host_key" \
	"PidFile $d/sshd.pid" "AuthorizedKeysFile $d/authorized_keys" "PasswordAuthentication no" \
	"KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" \
	"PermitRootLogin prohibit-password" "AllowUsers root" >"$d/sshd_config"
made_run_sshd=
[ -d /run/sshd ] || { mkdir -m 755 /run/sshd && made_run_sshd=1; }
"$SSHD" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
sshd_pid=$!
trap 'kill $sshd_pid 2>/dev/null; [ -n "$made_run_sshd" ] && rmdir /run/sshd; cleanup' EXIT
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
printf 'Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n' \
	"$d/id" "$d/known_hosts" >"$d/config"
export NAP_SSH_OPTS="-F $d/config" NAP_REMOTE_NAPC="$build/core/napc/napc"
host="ssh://root@127.0.0.1:$port$sock"
for _ in $(seq 1 50); do napc --host "$host" ping >/dev/null 2>&1 && break; sleep 0.1; done
ssh_deploy=() local_deploy=()
for _ in $(seq 1 "$ROUNDS"); do
	t0=$(now_ns)
	napc --host "$host" deploy "$app" "$work/ctx" >/dev/null 2>&1
	ssh_deploy+=($((($(now_ns) - t0) / 1000000)))
	t0=$(now_ns)
	napc deploy "$app" "$work/ctx" >/dev/null 2>&1
	local_deploy+=($((($(now_ns) - t0) / 1000000)))
done
sd=$(printf '%s\n' "${ssh_deploy[@]}" | median)
ld=$(printf '%s\n' "${local_deploy[@]}" | median)
echo "context_ssh_deploy_ms: $sd"
echo "context_local_deploy_ms: $ld"
echo "context_ssh_ratio: $(awk "BEGIN {printf \"%.2f\", $sd / $ld}")"
