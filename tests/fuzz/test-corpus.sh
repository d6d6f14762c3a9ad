#!/bin/bash
# Replays every fuzz target's committed seed corpus (and any crash files
# kept under corpus/) through the target, without libFuzzer.
set -eu
for target in frame requests config docker-json etcd-json fleet-json app-record units; do
	"$top_builddir/tests/fuzz/replay-$target" "$top_srcdir/tests/fuzz/corpus/$target"
done
