# tests/reconciler: the orchestrator's fast tests, with no server at all.
# Fake builder, scheduler and discovery plugins (fixtures, built like
# tests/fixtures/*) stand in for Docker, the registry and etcd; their
# instances are listeners in the fake scheduler's own process. Test scripts
# drive napd with them and act on the fakes from outside through each
# fake's control socket (fake-ctl), or call their services directly
# (fake-call). lib.sh starts napd with the fakes (and the orchestrator
# plugin, once it is built).
FAKE_PLUGIN_CFLAGS = $(AM_CFLAGS) -pthread -fvisibility=hidden
FAKE_PLUGIN_LIBADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)

check_LTLIBRARIES += tests/reconciler/fake-builder.la tests/reconciler/fake-scheduler.la \
	tests/reconciler/fake-discovery.la
tests_reconciler_fake_builder_la_SOURCES = tests/reconciler/fake-builder.c \
	tests/reconciler/fake-control.c tests/reconciler/fake-control.h \
	tests/reconciler/fake-faults.c
tests_reconciler_fake_builder_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_reconciler_fake_builder_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_reconciler_fake_builder_la_LIBADD = $(FAKE_PLUGIN_LIBADD)

tests_reconciler_fake_scheduler_la_SOURCES = tests/reconciler/fake-scheduler.c \
	tests/reconciler/fake-scheduler.h tests/reconciler/fake-instances.c \
	tests/reconciler/fake-announcer.c \
	tests/reconciler/fake-control.c tests/reconciler/fake-control.h \
	tests/reconciler/fake-faults.c
tests_reconciler_fake_scheduler_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common
tests_reconciler_fake_scheduler_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_reconciler_fake_scheduler_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_reconciler_fake_scheduler_la_LIBADD = plugins/common/libnapplugincommon.la \
	$(FAKE_PLUGIN_LIBADD)

tests_reconciler_fake_discovery_la_SOURCES = tests/reconciler/fake-discovery.c \
	tests/reconciler/fake-records.c tests/reconciler/fake-discovery.h \
	tests/reconciler/fake-control.c tests/reconciler/fake-control.h \
	tests/reconciler/fake-faults.c
tests_reconciler_fake_discovery_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common
tests_reconciler_fake_discovery_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS) $(JANSSON_CFLAGS)
tests_reconciler_fake_discovery_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_reconciler_fake_discovery_la_LIBADD = plugins/common/libnapplugincommon.la \
	$(FAKE_PLUGIN_LIBADD) $(JANSSON_LIBS)

# The tests' hands: fake-ctl talks to a fake's control socket, fake-call
# calls the Builder, Scheduler and Discovery methods through napd.
check_PROGRAMS += tests/reconciler/fake-ctl tests/reconciler/fake-call
tests_reconciler_fake_ctl_SOURCES = tests/reconciler/fake-ctl.c
tests_reconciler_fake_call_SOURCES = tests/reconciler/fake-call.c
tests_reconciler_fake_call_LDADD = $(TEST_LDADD)

RECONCILER_TESTS = tests/reconciler/test-fakes.sh tests/reconciler/test-sidekick.sh \
	tests/reconciler/test-orchestrator.sh tests/reconciler/test-crash-steps.sh
TESTS += $(RECONCILER_TESTS)
EXTRA_DIST += tests/reconciler/lib.sh $(RECONCILER_TESTS)
