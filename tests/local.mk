# Tests. Unit tests in C; integration tests (shell) start napd with test
# plugins and drive it with napc and nap-call; fixtures are plugins that
# misbehave on purpose. Everything runs under `make check`.
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	NAPD='$(abs_top_builddir)/core/napd/napd' NAPC='$(abs_top_builddir)/core/napc/napc' \
	NAP_CALL='$(abs_top_builddir)/tests/nap-call' \
	FIXTURES='$(abs_top_builddir)/tests/fixtures/.libs' \
	EXAMPLES='$(abs_top_builddir)/examples/.libs' \
	LIBNAP='$(abs_top_builddir)/core/lib/.libs/libnap.so' \
	PROTOC_C='$(PROTOC_C)' CC='$(CC)' PROTOBUF_C_CFLAGS='$(PROTOBUF_C_CFLAGS)' \
	PROTOBUF_C_LIBS='$(PROTOBUF_C_LIBS)'; export top_srcdir top_builddir \
	NAPD NAPC NAP_CALL FIXTURES EXAMPLES LIBNAP PROTOC_C CC PROTOBUF_C_CFLAGS PROTOBUF_C_LIBS;

# Every test prints TAP ("ok N - what", "1..N"): automake's TAP driver
# turns each check into its own PASS or FAIL line and :test-result: in the
# .trs, and tests/tap-run keeps exit status 77 a SKIP.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
LOG_COMPILER = $(top_srcdir)/tests/tap-run

TEST_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)

check_PROGRAMS += tests/unit/test-frame tests/unit/test-conn tests/unit/test-stream tests/nap-call
tests_unit_test_frame_SOURCES = tests/unit/test-frame.c tests/unit/testing.h \
	tests/unit/frame-codec.c
tests_unit_test_frame_LDADD = $(TEST_LDADD)
tests_unit_test_conn_SOURCES = tests/unit/test-conn.c tests/unit/testing.h
tests_unit_test_conn_LDADD = $(TEST_LDADD)
tests_unit_test_stream_SOURCES = tests/unit/test-stream.c tests/unit/testing.h
tests_unit_test_stream_LDADD = $(TEST_LDADD)
tests_nap_call_SOURCES = tests/nap-call.c
tests_nap_call_LDADD = $(TEST_LDADD)

# Fixture plugins: shared objects (-rpath makes libtool build them shared).
FIXTURE_FLAGS = -module -avoid-version -shared -rpath /nowhere \
	-export-symbols-regex '^nap_plugin_entry$$'
check_LTLIBRARIES += tests/fixtures/crashy.la tests/fixtures/wrongabi.la \
	tests/fixtures/notaplugin.la
tests_fixtures_crashy_la_SOURCES = tests/fixtures/crashy.c
tests_fixtures_crashy_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_fixtures_crashy_la_LIBADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
tests_fixtures_wrongabi_la_SOURCES = tests/fixtures/wrongabi.c
tests_fixtures_wrongabi_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_fixtures_notaplugin_la_SOURCES = tests/fixtures/notaplugin.c
tests_fixtures_notaplugin_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -rpath /nowhere

TESTS += \
	tests/unit/test-frame \
	tests/unit/test-conn \
	tests/unit/test-stream \
	tests/integration/test-napd.sh \
	tests/integration/test-plugins.sh \
	tests/integration/test-access.sh \
	tests/integration/test-symbols.sh \
	tests/integration/test-sdk.sh \
	tests/integration/test-deploy.sh \
	tests/integration/test-context.sh \
	tests/integration/test-ports.sh \
	tests/integration/test-shutdown.sh \
	tests/integration/test-abi.sh \
	tests/integration/test-host-url.sh \
	tests/integration/test-ssh.sh \
	tests/integration/test-key-prefix.sh \
	tests/integration/test-registry-retention.sh \
	tests/integration/test-export-import.sh

EXTRA_DIST += tests/tap-run tests/integration/lib.sh tests/integration/fetch-loop.sh \
	tests/integration/test-napd.sh \
	tests/integration/test-plugins.sh \
	tests/integration/test-access.sh \
	tests/integration/test-symbols.sh \
	tests/integration/test-sdk.sh \
	tests/integration/test-context.sh \
	tests/integration/test-deploy.sh \
	tests/integration/test-ports.sh \
	tests/integration/test-shutdown.sh \
	tests/integration/test-abi.sh \
	tests/integration/test-host-url.sh \
	tests/integration/test-ssh.sh \
	tests/integration/test-key-prefix.sh \
	tests/integration/test-registry-retention.sh \
	tests/integration/test-export-import.sh \
	tests/fixtures/oldsched.c tests/fixtures/sdk-0.1/README \
	tests/fixtures/sdk-0.1/nap/plugin.h tests/fixtures/sdk-0.1/nap/protocol.h \
	tests/fixtures/sdk-0.1/nap/control.proto tests/fixtures/sdk-0.1/nap/scheduler.proto

include tests/fuzz/local.mk
include tests/fleet/local.mk
include tests/reconciler/local.mk
include tests/faults/local.mk
include tests/soak/local.mk
include tests/limits/local.mk
include tests/heal/local.mk
include tests/bus/local.mk
include tests/swarm/local.mk
