#!/bin/bash
# The conformance test of docs/protocol.md (tests/bus/conformance.py, in
# Python with python3-protobuf) against a napd with the echo plugin.
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import google.protobuf' 2>/dev/null || {
	echo "SKIP: $PYTHON has no google.protobuf (scripts/install-deps installs python3-protobuf)" >&2
	exit 77
}
write_config "plugins = $EXAMPLES/echo.so" "socket_mode = 0666"
chmod 0711 "$WORK" # section 10: a uid that is not allowed reaches the socket
ok "napd starts" start_napd
ok "the echo plugin runs" wait_until 10 plugin_is echo running
NAP_SOCKET=$SOCK NAPD_LOG=$WORK/napd.log "$PYTHON" "$top_srcdir/tests/bus/conformance.py" \
	"$top_builddir/tests/bus/nap.desc" "$top_srcdir/docs/protocol.md" >"$WORK/conformance.tap" 2>&1
st=$?
sed 's/^/# /' "$WORK/conformance.tap"
ok "conformance.py: $(tail -1 "$WORK/conformance.tap" | sed 's/^# //')" test "$st" -eq 0
done_testing
