# Fuzzing: every target also builds as a replayer of its committed seed
# corpus, which `make check` runs with any compiler; --enable-fuzzers
# (CC=clang) builds the libFuzzer binaries that scripts/fuzz runs.
#
# Targets that read a server's JSON link plugins/common's clients and
# scheduler-fleet's with fake transports (fake_http.c, fake_fleet_http.c:
# the real files compiled in with the network call replaced), so they need
# no server; the others link the plugin or napd files they test directly.

FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins -I$(top_srcdir)/plugins/common \
	-I$(top_srcdir)/core/lib \
	-I$(top_srcdir)/plugins/scheduler-fleet -I$(top_srcdir)/plugins/orchestrator \
	-I$(top_srcdir)/core/napd \
	-I$(top_srcdir)/tests/fuzz
FUZZ_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS)
FUZZ_LDADD = $(TEST_LDADD) $(CURL_LIBS) $(JANSSON_LIBS)
# plugins/common without its network: Docker's and etcd's clients over
# fake_http.c.
FUZZ_COMMON_SOURCES = tests/fuzz/answers.c tests/fuzz/answers.h tests/fuzz/fake_http.c \
	plugins/common/base64.c core/lib/buf.c plugins/common/errbuf.c \
	plugins/common/json_int64.c plugins/common/docker_api.c \
	plugins/common/docker_image.c plugins/common/docker_container.c \
	plugins/common/docker_events.c plugins/common/etcd_v3.c plugins/common/endpoint.c
FUZZ_REQUESTS_SOURCES = tests/fuzz/fuzz-requests.c plugins/common/errbuf.c \
	plugins/scheduler-fleet/unit_names.c \
	plugins/builder/names.c plugins/discovery-etcd/names.c plugins/notifier/notification.c \
	plugins/common/endpoint.c
FUZZ_CONFIG_SOURCES = tests/fuzz/fuzz-config.c core/napd/conffile.c core/napd/log.c
FUZZ_DOCKER_JSON_SOURCES = tests/fuzz/fuzz-docker-json.c $(FUZZ_COMMON_SOURCES)
FUZZ_ETCD_JSON_SOURCES = tests/fuzz/fuzz-etcd-json.c $(FUZZ_COMMON_SOURCES) \
	plugins/discovery-etcd/names.c plugins/discovery-etcd/records.c \
	plugins/discovery-etcd/endpoints.c
FUZZ_FLEET_JSON_SOURCES = tests/fuzz/fuzz-fleet-json.c tests/fuzz/answers.c \
	tests/fuzz/answers.h tests/fuzz/fake_fleet_http.c plugins/common/errbuf.c \
	plugins/scheduler-fleet/fleet_api.c
FUZZ_APP_RECORD_SOURCES = tests/fuzz/fuzz-app-record.c plugins/orchestrator/record.c \
	plugins/orchestrator/status.c plugins/orchestrator/state.c plugins/orchestrator/util.c
FUZZ_UNITS_SOURCES = tests/fuzz/fuzz-units.c $(FUZZ_COMMON_SOURCES) \
	plugins/common/dockerignore.c plugins/common/tar_context.c \
	plugins/scheduler-fleet/units.c plugins/scheduler-fleet/unit_names.c

check_PROGRAMS += tests/fuzz/replay-frame tests/fuzz/replay-requests tests/fuzz/replay-config \
	tests/fuzz/replay-docker-json tests/fuzz/replay-etcd-json tests/fuzz/replay-fleet-json \
	tests/fuzz/replay-app-record tests/fuzz/replay-units
tests_fuzz_replay_frame_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-frame.c
tests_fuzz_replay_frame_LDADD = $(TEST_LDADD)
tests_fuzz_replay_requests_SOURCES = tests/fuzz/replay.c $(FUZZ_REQUESTS_SOURCES)
tests_fuzz_replay_requests_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_requests_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_requests_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_config_SOURCES = tests/fuzz/replay.c $(FUZZ_CONFIG_SOURCES)
tests_fuzz_replay_config_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_config_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_config_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_docker_json_SOURCES = tests/fuzz/replay.c $(FUZZ_DOCKER_JSON_SOURCES)
tests_fuzz_replay_docker_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_docker_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_docker_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_etcd_json_SOURCES = tests/fuzz/replay.c $(FUZZ_ETCD_JSON_SOURCES)
tests_fuzz_replay_etcd_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_etcd_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_etcd_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_fleet_json_SOURCES = tests/fuzz/replay.c $(FUZZ_FLEET_JSON_SOURCES)
tests_fuzz_replay_fleet_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_fleet_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_fleet_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_app_record_SOURCES = tests/fuzz/replay.c $(FUZZ_APP_RECORD_SOURCES)
tests_fuzz_replay_app_record_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_app_record_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_app_record_LDADD = $(FUZZ_LDADD)
tests_fuzz_replay_units_SOURCES = tests/fuzz/replay.c $(FUZZ_UNITS_SOURCES)
tests_fuzz_replay_units_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_replay_units_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_units_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/test-corpus.sh
EXTRA_DIST += tests/fuzz/test-corpus.sh tests/fuzz/corpus

if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz-frame tests/fuzz/fuzz-requests tests/fuzz/fuzz-config \
	tests/fuzz/fuzz-docker-json tests/fuzz/fuzz-etcd-json tests/fuzz/fuzz-fleet-json \
	tests/fuzz/fuzz-app-record tests/fuzz/fuzz-units
tests_fuzz_fuzz_frame_SOURCES = tests/fuzz/fuzz-frame.c
tests_fuzz_fuzz_frame_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_frame_LDADD = $(TEST_LDADD)
tests_fuzz_fuzz_requests_SOURCES = $(FUZZ_REQUESTS_SOURCES)
tests_fuzz_fuzz_requests_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_requests_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_requests_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_requests_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_config_SOURCES = $(FUZZ_CONFIG_SOURCES)
tests_fuzz_fuzz_config_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_docker_json_SOURCES = $(FUZZ_DOCKER_JSON_SOURCES)
tests_fuzz_fuzz_docker_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_docker_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_docker_json_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_docker_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_etcd_json_SOURCES = $(FUZZ_ETCD_JSON_SOURCES)
tests_fuzz_fuzz_etcd_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_etcd_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_etcd_json_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_etcd_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_fleet_json_SOURCES = $(FUZZ_FLEET_JSON_SOURCES)
tests_fuzz_fuzz_fleet_json_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_fleet_json_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_fleet_json_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_fleet_json_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_app_record_SOURCES = $(FUZZ_APP_RECORD_SOURCES)
tests_fuzz_fuzz_app_record_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_app_record_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_app_record_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_app_record_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_units_SOURCES = $(FUZZ_UNITS_SOURCES)
tests_fuzz_fuzz_units_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_units_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_units_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_units_LDADD = $(FUZZ_LDADD)
endif
