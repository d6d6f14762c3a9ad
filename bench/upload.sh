#!/usr/bin/env bash
# bench/upload.sh BUILD_DIR: client streaming (protocol 1.2) throughput. A
# 1 GiB nap.Echo.Sum upload (tests/bus/nap-upload, 64 KiB chunks, waiting
# for credit as a blocking client does) through napd to the example plugin,
# against the same bytes in the same chunks over a raw Unix socket pair to a
# process that sums them as Sum does; BENCH_ROUNDS runs of each, alternated,
# medians. Also napd's and the plugin host's peak RSS before and after.
# Prints upload_mib_s.* lines and their ratio.
set -euo pipefail
build=$(realpath "$1")
make -s -C "$build" tests/bus/nap-upload examples/echo.la >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/nap-bench-upload.XXXXXX")
sock=$work/napd.sock
ROUNDS=${BENCH_ROUNDS:-3}
BYTES=${BENCH_BYTES:-1073741824}
CHUNK=${BENCH_CHUNK:-65536}
upload() { "$build/tests/bus/nap-upload" -b "$BYTES" -k "$CHUNK" "$@" | sed -n 's/^rate_mib_s=\([0-9.]*\).*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

echo "plugins = $build/examples/.libs/echo.so" >"$work/napd.conf"
"$build/core/napd/napd" --foreground --config "$work/napd.conf" --socket "$sock" \
	--log-level notice 2>>"$work/napd.log" &
napd=$!
trap 'kill $napd 2>/dev/null; wait $napd 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
	[ -S "$sock" ] && "$build/tests/bus/nap-upload" -s "$sock" -b 1 >/dev/null 2>&1 && break
	sleep 0.05
done
host=$(pgrep -P "$napd" | head -1)
napd0=$(hwm "$napd") host0=$(hwm "$host")
: >"$work/raw"
: >"$work/napd"
for _ in $(seq "$ROUNDS"); do
	upload -R >>"$work/raw"
	upload -s "$sock" >>"$work/napd"
done
raw=$(median <"$work/raw")
nap=$(median <"$work/napd")
echo "upload_mib_s.bytes: $BYTES"
echo "upload_mib_s.chunk: $CHUNK"
echo "upload_mib_s.raw: $raw"
echo "upload_mib_s.napd: $nap"
echo "upload_mib_s.ratio: $(awk -v a="$nap" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')"
echo "upload_mib_s.runs.raw: $(tr '\n' ' ' <"$work/raw")"
echo "upload_mib_s.runs.napd: $(tr '\n' ' ' <"$work/napd")"
echo "upload_rss_kib.napd: $napd0 -> $(hwm "$napd") (VmHWM)"
echo "upload_rss_kib.plugin_host: $host0 -> $(hwm "$host") (VmHWM)"
