# Limits, access and secrets: sizes enforced with clear errors, env values never logged.

TESTS += tests/limits/test-secrets.sh tests/limits/test-limits.sh \
	tests/limits/test-owner.sh
EXTRA_DIST += tests/limits/test-secrets.sh tests/limits/test-limits.sh \
	tests/limits/test-owner.sh

check_PROGRAMS += tests/limits/limits-call
tests_limits_limits_call_SOURCES = tests/limits/limits-call.c
tests_limits_limits_call_LDADD = $(TEST_LDADD)

# A plugin that tries to register services it does not own (test-owner.sh).
check_LTLIBRARIES += tests/fixtures/rogue.la
tests_fixtures_rogue_la_SOURCES = tests/fixtures/rogue.c
tests_fixtures_rogue_la_LDFLAGS = $(AM_LDFLAGS) $(FIXTURE_FLAGS)
tests_fixtures_rogue_la_LIBADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
