#!/bin/bash
# The builder plugin through napd, against the real dockerd and registry:
# builds and pushes a prepared copy of examples/hello and checks the event
# stream, the registry and the image; failing builds, bad requests (refused
# before Docker is asked), .dockerignore, cancellation, RemoveImage, and an
# unreachable dockerd or registry. Measures a warm rebuild + push through
# the plugin against `docker build` + `docker push` by hand.
# Everything it makes is named bt-<pid>… and removed at the end.
. "$top_srcdir/tests/integration/lib.sh"

CLIENT=$top_builddir/tests/plugins/builder-client
PLUGIN=$top_builddir/plugins/builder/.libs/builder.so
REGISTRY=127.0.0.1:5000
DOCKER_SOCK=/var/run/docker.sock
APP=bt-$$

skip() {
	echo "builder-test: $*" >&2
	echo "1..0 # SKIP $*"
	exit 77
}
curl -sf --max-time 5 --unix-socket "$DOCKER_SOCK" http://docker/_ping >/dev/null ||
	skip "dockerd is not answering on $DOCKER_SOCK (scripts/servers start)"
curl -sf --max-time 5 "http://$REGISTRY/v2/" >/dev/null ||
	skip "docker-registry is not answering on $REGISTRY (scripts/servers start)"
command -v docker >/dev/null || skip "the docker command is not installed"

bc() { "$CLIENT" -s "$SOCK" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Images and registry manifests to remove at the end, whatever happens.
IMAGES=()
REPOS=()
cleanup() {
	for img in "${IMAGES[@]}"; do docker rmi "$img" >/dev/null 2>&1; done
	for repo in "${REPOS[@]}"; do
		for tag in $(curl -sf "http://$REGISTRY/v2/$repo/tags/list" |
			python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin).get("tags") or []))' 2>/dev/null); do
			digest=$(curl -sfI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
				"http://$REGISTRY/v2/$repo/manifests/$tag" | tr -d '\r' |
				sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
			[ -n "$digest" ] && curl -sf -X DELETE "http://$REGISTRY/v2/$repo/manifests/$digest" >/dev/null
		done
	done
}
# Intermediate layers of a build whose first step is unique to this test
# (a LABEL with the pid), so no other build can be using them.
drop_layers() { # drop_layers OUTPUT-FILE
	local id
	for id in $(sed -n 's/^EVENT build 0 0  ---> \([0-9a-f]\{12\}\)$/\1/p' "$1" | tac); do
		docker rmi "$id" >/dev/null 2>&1
	done
}
trap 'cleanup; stop_napd; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT

# builder-client names directories (BuildRequest.dir), which the builder
# packs itself only with allow_path_context (napc uploads contexts instead:
# tests/integration/test-context.sh).
start_builder() { # start_builder [setting lines...]
	stop_napd
	rm -f "$SOCK"
	write_config "plugins = $PLUGIN" "[plugin builder]" "allow_path_context = yes" "$@"
	start_napd && wait_until 10 plugin_is builder running
}

# A prepared copy of examples/hello (distcheck's source tree is read-only).
HELLO=$WORK/hello
cp -R "$top_srcdir/examples/hello" "$HELLO" && chmod -R u+w "$HELLO" && "$HELLO/prepare" ||
	skip "cannot prepare a copy of examples/hello"

# ---- a directory named by the client is refused by default ----
start_default_builder() {
	rm -f "$SOCK"
	write_config "plugins = $PLUGIN" "[plugin builder]" "registry = $REGISTRY"
	start_napd && wait_until 10 plugin_is builder running
}
ok "napd starts with the builder, allow_path_context unset" start_default_builder
bc build "$APP" 1 "$HELLO" push >"$WORK/path.out"
st=$?
ok "a BuildRequest naming a directory is refused (FAILED_PRECONDITION) with one line" \
	bash -c "[ $st -eq 9 ] && grep -qx 'END FAILED_PRECONDITION this napd takes the build context from napc (protocol 1.2): upgrade napc' '$WORK/path.out'"
ok "... and builds nothing" bash -c "! docker image inspect $REGISTRY/$APP:1 >/dev/null 2>&1"

ok "napd starts with the builder" start_builder "registry = $REGISTRY"

# ---- a good build, pushed ----
IMAGES+=("$REGISTRY/$APP:1")
REPOS+=("$APP")
bc build "$APP" 1 "$HELLO" push >"$WORK/hello.out"
st=$?
ok "examples/hello builds and pushes (status $st)" test "$st" -eq 0
steps=$(sed -n 's/^EVENT build \([1-9][0-9]*\) \([0-9]*\) .*/\1\/\2/p' "$WORK/hello.out" | tr '\n' ' ')
n=$(sed -n 's/^EVENT build 1 \([0-9]*\) .*/\1/p' "$WORK/hello.out")
want=$(for i in $(seq 1 "${n:-0}"); do printf '%s/%s ' "$i" "$n"; done)
ok "step events 1/$n..$n/$n arrive in order ($steps)" test -n "$n" -a "$steps" = "$want"
ok "the build output is streamed line by line" grep -q '^EVENT build 0 0 Successfully built' "$WORK/hello.out"
ok "push progress is streamed" grep -q '^EVENT push 0 0 ' "$WORK/hello.out"
ok "the last event names the image and its digest" \
	grep -Eq "^RESULT $REGISTRY/$APP:1 sha256:[0-9a-f]{64}\$" "$WORK/hello.out"
ok "... and comes right before the end" \
	bash -c "tail -n 2 '$WORK/hello.out' | head -n 1 | grep -q '^RESULT' && tail -n 1 '$WORK/hello.out' | grep -q '^END OK'"
ok "the registry lists tag 1" \
	bash -c "curl -sf http://$REGISTRY/v2/$APP/tags/list | grep -q '\"tags\":\\[\"1\"\\]'"
ok "the pushed digest is the registry's" bash -c "
	d=\$(sed -n 's/^RESULT [^ ]* //p' '$WORK/hello.out')
	curl -sfI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		http://$REGISTRY/v2/$APP/manifests/1 | tr -d '\r' | grep -qi \"^docker-content-digest: \$d\$\""
ok "the image exists locally" docker image inspect "$REGISTRY/$APP:1"

# ---- failing builds and bad requests ----
BROKEN=$WORK/broken
mkdir -p "$BROKEN" && echo hi >"$BROKEN/index.html"
printf 'FROM scratch\nLABEL nap.test=%s\nCOPY index.html /www/\nCOPY missing.txt /www/\n' "$APP" >"$BROKEN/Dockerfile"
bc build "$APP-broken" 1 "$BROKEN" >"$WORK/broken.out"
st=$?
drop_layers "$WORK/broken.out"
ok "a failing step ends FAILED_PRECONDITION" test "$st" -eq 9
ok "... naming the step and Docker's reason" \
	grep -Eq '^END FAILED_PRECONDITION build failed at step 4/4 \(COPY missing.txt /www/\): .*missing.txt.*' "$WORK/broken.out"
ok "... and leaves no image tagged" bash -c "! docker image inspect $REGISTRY/$APP-broken:1"

printf 'FROM scratch\nFROBNICATE now\n' >"$BROKEN/Dockerfile"
bc build "$APP-broken" 1 "$BROKEN" >"$WORK/syntax.out"
st=$?
ok "a Dockerfile Docker cannot parse ends FAILED_PRECONDITION with Docker's reason" \
	bash -c "[ $st -eq 9 ] && grep -q '^END FAILED_PRECONDITION build failed: dockerfile parse error line 2: unknown instruction: FROBNICATE' '$WORK/syntax.out'"

mkdir -p "$WORK/empty"
bc build "$APP" 1 "$WORK/empty" >"$WORK/empty.out"
st=$?
ok "a directory without a Dockerfile ends FAILED_PRECONDITION" test "$st" -eq 9
ok "... saying so" grep -q "^END FAILED_PRECONDITION no Dockerfile in $WORK/empty" "$WORK/empty.out"
bc build "$APP" 1 "$WORK/nowhere" >"$WORK/nowhere.out"
ok "a directory that does not exist ends FAILED_PRECONDITION" test $? -eq 9
bc build "$APP" 1 hello >"$WORK/relative.out"
ok "a relative directory is INVALID_ARGUMENT" test $? -eq 3
bc build "$APP" 0 "$HELLO" >"$WORK/release0.out"
ok "release 0 is INVALID_ARGUMENT" test $? -eq 3

# ---- .dockerignore ----
IGN=$WORK/ignored
mkdir -p "$IGN/sub" && echo kept >"$IGN/kept.txt" && echo secret >"$IGN/secret.txt" &&
	echo deep >"$IGN/sub/secret.txt" && echo sub >"$IGN/sub/kept.txt"
printf 'secret.txt\n**/secret.txt\n' >"$IGN/.dockerignore"
printf 'FROM scratch\nLABEL nap.test=%s\nCOPY . /ctx/\n' "$APP" >"$IGN/Dockerfile"
IMAGES+=("$REGISTRY/$APP-ign:1")
bc build "$APP-ign" 1 "$IGN" >"$WORK/ign.out"
ok "a context with a .dockerignore builds" test $? -eq 0
cid=$(docker create "$REGISTRY/$APP-ign:1" x 2>/dev/null)
docker export "$cid" 2>/dev/null | tar -t >"$WORK/ign.list"
[ -n "$cid" ] && docker rm "$cid" >/dev/null 2>&1
ok "what it does not exclude reaches the image" \
	bash -c "grep -qx ctx/kept.txt '$WORK/ign.list' && grep -qx ctx/sub/kept.txt '$WORK/ign.list'"
ok "what it excludes does not" bash -c "! grep -q secret '$WORK/ign.list'"
printf 'FROM scratch\nLABEL nap.test=%s\nCOPY secret.txt /\n' "$APP" >"$IGN/Dockerfile"
bc build "$APP-ign" 2 "$IGN" >"$WORK/ign2.out"
st=$?
drop_layers "$WORK/ign2.out"
ok "a COPY of an excluded file fails at its step" \
	bash -c "[ $st -eq 9 ] && grep -q '^END FAILED_PRECONDITION build failed at step 3/3 (COPY secret.txt /)' '$WORK/ign2.out'"

# ---- cancellation: a step that sleeps, cancelled while it runs ----
SLOW=$WORK/slow
secs=$((300 + $$ % 600))
mkdir -p "$SLOW" && cp "$HELLO/busybox" "$SLOW/"
printf 'FROM scratch\nLABEL nap.test=%s\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "%s"]\n' \
	"$APP" "$secs" >"$SLOW/Dockerfile"
t0=$(now_ms)
bc -C 4 -D 1000 build "$APP-slow" 1 "$SLOW" >"$WORK/slow.out"
st=$?
ok "a build cancelled during its RUN step ends CANCELLED for the caller" test "$st" -eq 1
ok "... a second after it returned" test $(($(now_ms) - t0)) -lt $((secs * 1000))
cid=$(sed -n 's/^EVENT build 0 0  ---> Running in \([0-9a-f]*\)$/\1/p' "$WORK/slow.out")
ok "... while the step ran in a container" test -n "$cid"
step_stopped() { [ "$(docker inspect -f '{{.State.Running}}' "$cid" 2>/dev/null)" != true ]; }
t1=$(now_ms)
ok "the plugin stops the step's container promptly" wait_until 5 step_stopped
echo "# cancel: RUN container stopped $(($(now_ms) - t1)) ms after the caller's cancel returned"
ok "... and no image is tagged" bash -c "! docker image inspect $REGISTRY/$APP-slow:1"
drop_layers "$WORK/slow.out"

# ---- RemoveImage ----
bc remove "$REGISTRY/$APP:1" >"$WORK/rm.out"
ok "RemoveImage removes the image" bash -c "[ $? -eq 0 ] && ! docker image inspect $REGISTRY/$APP:1"
bc remove "$REGISTRY/$APP:1" >"$WORK/rm2.out"
ok "removing it again is fine (not found counts as removed)" test $? -eq 0
bc remove "$REGISTRY/$APP-ign:1" >/dev/null
ok "RemoveImage removes the .dockerignore test image" bash -c "! docker image inspect $REGISTRY/$APP-ign:1"
for bad in "../x" "a/../../containers/x" "" "x y" "a:b:c"; do
	bc remove "$bad" >"$WORK/rmbad.out"
	ok "RemoveImage refuses \"$bad\" with INVALID_ARGUMENT" test $? -eq 3
done

# ---- warm rebuild + push: the plugin against docker by hand ----
# The first round of each warms the cache (RemoveImage above dropped the
# layers) and is not counted.
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
plugin_ms=()
for rel in 2 3 4 5 6; do
	IMAGES+=("$REGISTRY/$APP:$rel")
	t=$(now_ms)
	bc build "$APP" "$rel" "$HELLO" push >"$WORK/warm.out" || break
	[ "$rel" -gt 2 ] && plugin_ms+=($(($(now_ms) - t)))
done
ok "warm rebuilds through the plugin work" test "${#plugin_ms[@]}" -eq 4
hand_ms=()
REPOS+=("$APP-hand")
for rel in 1 2 3 4 5; do
	IMAGES+=("$REGISTRY/$APP-hand:$rel")
	t=$(now_ms)
	DOCKER_BUILDKIT=0 docker build -q -t "$REGISTRY/$APP-hand:$rel" "$HELLO" >/dev/null 2>&1 &&
		docker push -q "$REGISTRY/$APP-hand:$rel" >/dev/null 2>&1 || break
	[ "$rel" -gt 1 ] && hand_ms+=($(($(now_ms) - t)))
done
ok "warm rebuilds by hand work" test "${#hand_ms[@]}" -eq 4
echo "# warm rebuild+push of examples/hello: plugin ${plugin_ms[*]} ms (median $(median "${plugin_ms[@]}")); docker build+push by hand ${hand_ms[*]} ms (median $(median "${hand_ms[@]}"))"

# ---- requests refused before Docker is asked; Docker unreachable ----
ok "napd starts with a builder whose dockerd does not exist" \
	start_builder "docker_socket = $WORK/no-docker.sock"
for bad in "Upper" "../x" "a;rm -rf /" "$(printf 'a%.0s' $(seq 64))" "" "1abc" "a_b"; do
	bc build "$bad" 1 "$HELLO" >"$WORK/bad.out"
	st=$?
	ok "app name \"${bad:0:20}\" is INVALID_ARGUMENT without asking Docker" \
		bash -c "[ $st -eq 3 ] && grep -q '^END INVALID_ARGUMENT invalid app name' '$WORK/bad.out'"
done
bc build "$(printf 'a%.0s' $(seq 63))" 1 "$HELLO" >"$WORK/long.out"
ok "a 63-character name is valid (and then finds no Docker)" test $? -eq 14
bc build "$APP" 1 "$HELLO" >"$WORK/nodocker.out"
st=$?
ok "an unreachable dockerd is UNAVAILABLE" test "$st" -eq 14
ok "... naming the socket and what to do" \
	grep -q "^END UNAVAILABLE cannot reach Docker at $WORK/no-docker.sock: No such file or directory; is dockerd running?" "$WORK/nodocker.out"

# ---- registry unreachable ----
ok "napd starts with a builder whose registry does not answer" \
	start_builder "registry = 127.0.0.1:1"
IMAGES+=("127.0.0.1:1/$APP:1")
bc build "$APP" 1 "$HELLO" push >"$WORK/noreg.out"
st=$?
ok "a push to an unreachable registry is UNAVAILABLE" test "$st" -eq 14
ok "... naming the registry and docker-registry" \
	grep -q "^END UNAVAILABLE cannot push 127.0.0.1:1/$APP:1 to the registry at 127.0.0.1:1: .*docker-registry" "$WORK/noreg.out"
bc remove "127.0.0.1:1/$APP:1" >/dev/null
ok "its image is removed through the plugin" bash -c "! docker image inspect 127.0.0.1:1/$APP:1"

done_testing
