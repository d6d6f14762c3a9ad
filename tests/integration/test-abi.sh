#!/bin/bash
# The ABI rule of core/include/nap/plugin.h: the generated protobuf-c code is
# part of libnap's ABI, so any .proto change bumps NAP_PLUGIN_ABI and the
# soname together (proto/abi.sums records which .proto files an ABI has),
# and a plugin built with the SDK before a change (tests/fixtures/sdk-0.1:
# protocol 1.0, ABI 1) is refused by napd with one line, before any call.
. "$(dirname "$0")/lib.sh"

sums=$top_srcdir/proto/abi.sums
want_abi=$(sed -n 's/^abi //p' "$sums")
want_soname=$(sed -n 's/^soname //p' "$sums")
plugin_abi=$(sed -n 's/^#define NAP_PLUGIN_ABI \([0-9]*\)u$/\1/p' "$top_srcdir/core/include/nap/plugin.h")
current=$(sed -n 's/.*-version-info \([0-9]*\):.*/\1/p' "$top_srcdir/core/lib/local.mk")

protos_unchanged() {
	(cd "$top_srcdir" && grep -E '^[0-9a-f]{64}  ' "$sums" | sha256sum --check --quiet) || {
		echo "a .proto differs from proto/abi.sums (or one was added or removed):"
		echo "bump NAP_PLUGIN_ABI (core/include/nap/plugin.h) and -version-info current"
		echo "(core/lib/local.mk), then write the new abi, soname and sums into proto/abi.sums"
		return 1
	}
	local listed actual
	listed=$(grep -cE '^[0-9a-f]{64}  ' "$sums")
	actual=$(ls "$top_srcdir"/proto/nap/*.proto | wc -l)
	test "$listed" -eq "$actual" || { echo "proto/abi.sums lists $listed .proto files, proto/nap has $actual"; return 1; }
}
ok "every .proto is the one proto/abi.sums records for ABI $want_abi" protos_unchanged
ok "NAP_PLUGIN_ABI ($plugin_abi) is the ABI of those .proto files ($want_abi)" test "$plugin_abi" = "$want_abi"
ok "libnap's -version-info current ($current) is their soname ($want_soname)" test "$current" = "$want_soname"
ok "the built libnap's soname is libnap.so.$want_soname" \
	bash -c "readelf -d '$LIBNAP' | grep -q 'SONAME.*\\[libnap\\.so\\.$want_soname\\]'"

# A scheduler plugin built with nap 0.1's SDK and today's libnap.
build_old() {
	local sdk=$top_srcdir/tests/fixtures/sdk-0.1
	mkdir -p "$WORK/gen" &&
		"$PROTOC_C" -I"$sdk" --c_out="$WORK/gen" "$sdk/nap/control.proto" "$sdk/nap/scheduler.proto" &&
		${CC:-cc} -shared -fPIC -o "$WORK/oldsched.so" "$top_srcdir/tests/fixtures/oldsched.c" \
			-I"$sdk" -I"$WORK/gen" -I"$top_srcdir/core/include" $PROTOBUF_C_CFLAGS \
			"$LIBNAP" $PROTOBUF_C_LIBS
}
ok "a plugin builds against nap 0.1's SDK (protocol 1.0, ABI 1)" build_old
write_config "plugins = $WORK/oldsched.so"
ok "napd starts with it" start_napd
ok "napd refuses it" wait_until 10 plugin_is oldsched failed
ok "... with one line naming both ABIs" \
	grep -q "oldsched: .*was built for plugin ABI 1, napd .* speaks ABI $plugin_abi: rebuild it" "$WORK/napd.log"
ok "... before it provided its service" bash -c "! grep -q 'plugin oldsched .*: running' '$WORK/napd.log'"
done_testing
