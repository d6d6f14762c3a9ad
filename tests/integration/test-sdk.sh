#!/bin/bash
# The SDK as a third party sees it: `make install` (into a DESTDIR), then the
# example plugin and a tiny libnap client built out of tree with nothing but
# pkg-config, the plugin loaded into napd and called, the client pinging.
. "$(dirname "$0")/lib.sh"

if ! command -v cc >/dev/null || ! command -v pkg-config >/dev/null; then
	echo "SKIP: needs cc and pkg-config" >&2
	exit 77
fi
DEST=$WORK/dest
prefix=$(sed -n 's/^prefix=//p' "$top_builddir/core/lib/libnap.pc")
libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir "$top_builddir/core/lib/libnap.pc")
ok "make install into a DESTDIR" make -s -C "$top_builddir" install DESTDIR="$DEST"
for f in "$prefix/include/nap/plugin.h" "$prefix/include/nap/bus.h" "$prefix/include/nap/echo.pb-c.h" \
	"$libdir/pkgconfig/nap-plugin.pc" "$libdir/pkgconfig/libnap.pc" "$libdir/libnap.so" \
	"$prefix/sbin/napd" "$prefix/bin/napc" "$prefix/share/nap/proto/nap/bus.proto"; do
	ok "installed: $f" test -e "$DEST$f"
done
ok "man pages are installed" bash -c "ls '$DEST$prefix'/share/man/man8/napd.8* '$DEST$prefix'/share/man/man1/napc.1* '$DEST$prefix'/share/man/man7/nap-plugin.7*"
ok "a systemd unit is installed" bash -c "ls '$DEST'/*/lib/systemd/system/napd.service '$DEST$prefix'/lib/systemd/system/napd.service 2>/dev/null | grep -q ."

export PKG_CONFIG_PATH="$DEST$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
ok "pkg-config knows nap-plugin and its ABI" test "$(pkg-config --variable=plugin_abi nap-plugin)" = "$(sed -n 's/^#define NAP_PLUGIN_ABI \([0-9]*\)u$/\1/p' "$top_srcdir/core/include/nap/plugin.h")"
mkdir -p "$WORK/ext"
cp "$top_srcdir/examples/echo-plugin/echo.c" "$top_srcdir/examples/echo-plugin/Makefile" "$WORK/ext/"
ok "the example plugin builds out of tree with pkg-config alone" \
	make -C "$WORK/ext" CFLAGS="-O2 -Wall -Wextra -Werror"
ok "it exports only nap_plugin_entry" test "$(nm -D --defined-only "$WORK/ext/echo.so" | awk '$2 ~ /[TDBR]/ {print $3}')" = nap_plugin_entry

cat >"$WORK/ext/client.c" <<'C'
#include <stdio.h>
#include <nap/bus.h>
#include <nap/control.pb-c.h>
int main(int argc, char **argv)
{
	nap_conn *c;
	if (argc < 2 || nap_conn_connect(&c, argv[1], "sdk-client") < 0)
		return 3;
	Nap__PingRequest req = NAP__PING_REQUEST__INIT;
	Nap__PingReply *rep;
	nap_error err;
	if (nap_call_unary((ProtobufCMessage **)&rep, c, "nap.Control", 0, &req.base,
			   &nap__ping_reply__descriptor, 5000, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	printf("pong from napd %s\n", rep->version);
	nap__ping_reply__free_unpacked(rep, NULL);
	nap_conn_free(c);
	return 0;
}
C
# A sanitizer build of libnap needs its runtime in the program too.
san=
ldd "$LIBNAP" | grep -q libasan && san="-fsanitize=address,undefined"
ok "a libnap client builds out of tree with pkg-config libnap" \
	bash -c "cc -std=c11 -Wall -Wextra -Werror $san -o '$WORK/ext/client' '$WORK/ext/client.c' \$(pkg-config --cflags --libs libnap)"

write_config "plugins = $WORK/ext/echo.so"
ok "napd loads the out-of-tree plugin" start_napd
ok "... and runs it" wait_until 10 plugin_is echo running
ok "a call reaches it through napd" bash -c "[ \"\$('$NAP_CALL' -s '$SOCK' sdk)\" = \"\$(printf 'OK sdk\nEND OK ')\" ]"
ok "the out-of-tree client pings napd" bash -c "LD_LIBRARY_PATH='$DEST$libdir' '$WORK/ext/client' '$SOCK' | grep -q 'pong from napd'"

# A service of the third party's own: its .proto, protoc-c, pkg-config.
mkdir -p "$WORK/greeter"
cp "$top_srcdir"/examples/greeter-service/{greeter.proto,greeter.c,greet.c,Makefile} "$WORK/greeter/"
ok "the greeter example (its own acme.Greeter) builds out of tree" \
	make -C "$WORK/greeter" PROTOC_C="$PROTOC_C" CFLAGS="-O2 -Wall -Wextra -Werror $san"
ok "... its plugin keeps the generated code inside" \
	test "$(nm -D --defined-only "$WORK/greeter/greeter.so" | awk '$2 ~ /[TDBR]/ {print $3}')" = nap_plugin_entry
stop_napd
write_config "plugins = $WORK/ext/echo.so $WORK/greeter/greeter.so"
ok "napd loads it beside echo" start_napd
ok "... and runs it" wait_until 10 plugin_is greeter running
ok "its client calls acme.Greeter through napd" \
	bash -c "[ \"\$(LD_LIBRARY_PATH='$DEST$libdir' '$WORK/greeter/greet' '$SOCK' world)\" = 'hello, world' ]"
ok "... and an empty name is INVALID_ARGUMENT from the plugin" \
	bash -c "LD_LIBRARY_PATH='$DEST$libdir' '$WORK/greeter/greet' '$SOCK' '' 2>&1 | grep -q 'Greet needs a name'"

done_testing
