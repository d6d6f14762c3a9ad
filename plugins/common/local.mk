# plugins/common: code the plugins share, as a convenience library linked
# into each plugin .so: the Docker Engine API client (docker_*), the etcd v3
# JSON gateway client (etcd_v3), the build-context tar writer with
# .dockerignore (tar_context, dockerignore), and HTTP, base64 and JSON helpers.
#
# The tests in tests/plugins/ use the REAL servers, no mocks: dockerd on
# /var/run/docker.sock, docker-registry on 127.0.0.1:5000 and etcd on
# 127.0.0.1:2379, as `scripts/servers start` starts them. A test whose server
# does not answer exits 77 (SKIP). test-base64 and test-tar-context need no
# server.
noinst_LTLIBRARIES += plugins/common/libnapplugincommon.la
plugins_common_libnapplugincommon_la_SOURCES = \
	plugins/common/base64.c plugins/common/base64.h \
	core/lib/buf.c core/lib/buf.h \
	plugins/common/errbuf.c plugins/common/errbuf.h \
	plugins/common/json_int64.c plugins/common/json_int64.h \
	plugins/common/http_client.c plugins/common/http_client.h \
	plugins/common/docker_api.c plugins/common/docker_api.h \
	plugins/common/docker_request.h \
	plugins/common/docker_image.c \
	plugins/common/docker_container.c \
	plugins/common/docker_events.c \
	plugins/common/docker_swarm.c \
	plugins/common/dockerignore.c plugins/common/dockerignore.h \
	plugins/common/tar_context.c plugins/common/tar_context.h \
	plugins/common/etcd_v3.c plugins/common/etcd_v3.h \
	plugins/common/run_request.c plugins/common/run_request.h \
	plugins/common/endpoint.c plugins/common/endpoint.h plugins/common/labels.h \
	plugins/common/instance_ports.c plugins/common/instance_ports.h \
	plugins/common/settings_table.c plugins/common/settings_table.h
# core/lib/buf.c: the one growable byte buffer, libnap's (which keeps it
# inside), compiled in here too.
plugins_common_libnapplugincommon_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core/lib
plugins_common_libnapplugincommon_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) -fPIC
plugins_common_libnapplugincommon_la_LIBADD = $(CURL_LIBS) $(JANSSON_LIBS)

PLUGIN_COMMON_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common \
	-I$(top_srcdir)/core/lib \
	-I$(top_srcdir)/tests/unit
PLUGIN_COMMON_TEST_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) -pthread
PLUGIN_COMMON_TEST_LDADD = plugins/common/libnapplugincommon.la $(CURL_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/plugins/test-base64 tests/plugins/test-tar-context \
	tests/plugins/test-etcd-v3 tests/plugins/test-docker-api tests/plugins/test-endpoint \
	tests/plugins/test-settings

tests_plugins_test_base64_SOURCES = tests/plugins/test-base64.c tests/plugins/plugin_testing.h
tests_plugins_test_base64_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_base64_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_base64_LDADD = $(PLUGIN_COMMON_TEST_LDADD)

tests_plugins_test_tar_context_SOURCES = tests/plugins/test-tar-context.c \
	tests/plugins/plugin_testing.h
tests_plugins_test_tar_context_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_tar_context_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_tar_context_LDADD = $(PLUGIN_COMMON_TEST_LDADD)

tests_plugins_test_etcd_v3_SOURCES = tests/plugins/test-etcd-v3.c \
	tests/plugins/plugin_testing.h
tests_plugins_test_etcd_v3_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_etcd_v3_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_etcd_v3_LDADD = $(PLUGIN_COMMON_TEST_LDADD)

# test-docker-api builds a copy of examples/hello, found through $top_srcdir.
tests_plugins_test_docker_api_SOURCES = tests/plugins/test-docker-api.c \
	tests/plugins/plugin_testing.h
tests_plugins_test_docker_api_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_docker_api_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_docker_api_LDADD = $(PLUGIN_COMMON_TEST_LDADD)

# test-endpoint and endpoint-ports.sh hold the C and the shell endpoint rule
# to one table of cases (endpoint-ports.table); neither needs a server.
tests_plugins_test_endpoint_SOURCES = tests/plugins/test-endpoint.c tests/plugins/plugin_testing.h
tests_plugins_test_endpoint_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_endpoint_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_endpoint_LDADD = $(PLUGIN_COMMON_TEST_LDADD) core/lib/libnap.la

tests_plugins_test_settings_SOURCES = tests/plugins/test-settings.c tests/plugins/plugin_testing.h
tests_plugins_test_settings_CPPFLAGS = $(PLUGIN_COMMON_TEST_CPPFLAGS)
tests_plugins_test_settings_CFLAGS = $(PLUGIN_COMMON_TEST_CFLAGS)
tests_plugins_test_settings_LDADD = $(PLUGIN_COMMON_TEST_LDADD) core/lib/libnap.la

TESTS += tests/plugins/test-base64 tests/plugins/test-tar-context \
	tests/plugins/test-etcd-v3 tests/plugins/test-docker-api tests/plugins/test-endpoint \
	tests/plugins/test-settings tests/plugins/endpoint-ports.sh
EXTRA_DIST += tests/plugins/endpoint-ports.sh tests/plugins/endpoint-ports.table
