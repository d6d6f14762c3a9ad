#!/bin/sh
# The fleet sidekick's endpoint rule (nap-fleet-announce ports) against the
# cases in endpoint-ports.table, the same table test-endpoint holds the C
# rule (plugins/common/endpoint.c) to. Needs no server.
set -u
top_srcdir=${top_srcdir:-.}
table=$top_srcdir/tests/plugins/endpoint-ports.table
announce=$top_srcdir/plugins/scheduler-fleet/nap-fleet-announce
n=0 failed=0

while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	bindings=${line%%|*} want=${line#*|}
	# shellcheck disable=SC2086 # the bindings are words
	got=$(set -f; sh "$announce" ports $bindings | tr '\n' ' ')
	# shellcheck disable=SC2086,SC2116 # folds white space
	got=$(echo $got) want=$(echo $want)
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - ${bindings:-(none)}-> ${want:-(none)}"
	else
		echo "not ok $n - ${bindings:-(none)}-> '$got', want '$want'"
		failed=1
	fi
done <"$table"
echo "1..$n"
[ "$n" -gt 10 ] || { echo "# the table has too few cases: $table"; exit 1; }
exit $failed
