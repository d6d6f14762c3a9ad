#!/bin/bash
# bench/soak.sh BUILD-DIR: the soak of issue 5. 200 users mixing Ping,
# Endpoints and WatchEndpoints against one napd for 10 minutes while apps
# deploy, scale and are destroyed; prints calls, failures, p99 latency, and
# open fds and RSS of napd and its plugin hosts at start and end
# (tests/soak/soak.sh does the work). BENCH_SOAK_SECONDS and
# BENCH_SOAK_CLIENTS override the length and the number of users.
set -eu
build=$(cd "${1:?usage: bench/soak.sh BUILD-DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
make -s -C "$build" tests/soak/soak-client >/dev/null
export top_srcdir=$src top_builddir=$build
export NAPD=$build/core/napd/napd NAPC=$build/core/napc/napc
# Its work directory (napd's socket among it) lives in the build
# directory: ten minutes is long enough for a sweep of /tmp to catch it.
export TMPDIR=$build/tests/soak
exec bash "$src/tests/soak/soak.sh" "${BENCH_SOAK_SECONDS:-600}" "${BENCH_SOAK_CLIENTS:-200}"
