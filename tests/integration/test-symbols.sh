#!/bin/bash
# libnap exports only nap_* names (its version script), and a plugin only
# nap_plugin_entry.
. "$(dirname "$0")/lib.sh"

others=$(nm -D --defined-only "$LIBNAP" | awk '{print $3}' | grep -v '^nap_' | grep -v '^NAP_0.1$' || true)
ok "libnap exports nothing but nap_* ($(nm -D --defined-only "$LIBNAP" | wc -l) symbols)" test -z "$others"
ok "libnap exports its API" bash -c "nm -D --defined-only '$LIBNAP' | grep -q ' nap_call_unary@'"
plugin_syms=$(nm -D --defined-only "$EXAMPLES/echo.so" | awk '$2 ~ /[TDBR]/ {print $3}')
ok "the example plugin exports only nap_plugin_entry" test "$plugin_syms" = nap_plugin_entry

done_testing
