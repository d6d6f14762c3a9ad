#!/bin/bash
# libnap exports exactly what core/lib/libnap.sym lists (as libvarlink's
# test does with its version script), and a plugin only nap_plugin_entry.
. "$(dirname "$0")/lib.sh"

sym=$top_srcdir/core/lib/libnap.sym
# The names the version script lists: "\tname;" lines of its global part.
listed() { sed -n '/^global:/,/^local:/s/^\t\([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$sym" | sort; }
# What the library exports, without the version node and @-suffixes.
exported() {
	nm -D --defined-only "$LIBNAP" | awk '{print $3}' | sed 's/@.*//' |
		grep -vxE 'NAP_[0-9.]+' | sort
}
same() {
	diff -u <(listed) <(exported) | sed -n '3,$p' || true
	diff -q <(listed) <(exported) >/dev/null
}
ok "libnap exports exactly the $(listed | wc -l) names libnap.sym lists (- listed only, + exported only)" same
ok "libnap exports its API" bash -c "exported() { $(declare -f exported | sed 1,2d | sed '$d'); }; exported | grep -qx nap_call_unary"
ok "libnap keeps buf and idmap inside" bash -c "! nm -D --defined-only '$LIBNAP' | grep -qE ' nap_(buf|idmap)_'"
# The generated code libnap holds (its proto/ objects) is all listed: a new
# message must be added to libnap.sym, and with it comes an ABI bump.
generated() {
	nm --defined-only "$top_builddir"/proto/nap/.libs/*.o 2>/dev/null |
		awk '$2 ~ /^[TDRB]$/ && $3 ~ /^nap__/ {print $3}' | sort -u
}
gen_listed() {
	local g
	g=$(generated)
	test -n "$g" || { echo "no objects in proto/nap/.libs"; return 1; }
	diff -u <(listed | grep '^nap__') <(echo "$g")
}
ok "every generated nap__ name of proto/ is listed" gen_listed
plugin_syms=$(nm -D --defined-only "$EXAMPLES/echo.so" | awk '$2 ~ /[TDBR]/ {print $3}')
ok "the example plugin exports only nap_plugin_entry" test "$plugin_syms" = nap_plugin_entry

done_testing
