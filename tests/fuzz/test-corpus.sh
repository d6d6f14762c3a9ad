#!/bin/bash
# Replays every fuzz target's committed seed corpus (and any crash files
# kept under corpus/) through the target, without libFuzzer; TAP, one line
# per target.
set -u
n=0 failed=0
for target in frame requests config docker-json etcd-json fleet-json app-record units; do
	n=$((n + 1))
	if out=$("$top_builddir/tests/fuzz/replay-$target" "$top_srcdir/tests/fuzz/corpus/$target" 2>&1); then
		echo "ok $n - the $target corpus replays"
	else
		failed=$((failed + 1))
		echo "not ok $n - the $target corpus replays"
		printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
