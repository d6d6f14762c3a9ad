# plugins/discovery-etcd: nap.Discovery over etcd's v3 JSON gateway, following
# Docker's events so that endpoints appear and vanish as containers start and
# stop. Its integration test drives the real etcd and dockerd through napd.
if BUILD_PLUGIN_DISCOVERY_ETCD
pkglib_LTLIBRARIES += plugins/discovery-etcd/discovery-etcd.la
plugins_discovery_etcd_discovery_etcd_la_SOURCES = \
	plugins/discovery-etcd/discovery.h \
	plugins/discovery-etcd/discovery.c \
	plugins/discovery-etcd/names.c \
	plugins/discovery-etcd/announcer.c \
	plugins/discovery-etcd/docker_follow.c \
	plugins/discovery-etcd/endpoints.c \
	plugins/discovery-etcd/records.c
plugins_discovery_etcd_discovery_etcd_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common
plugins_discovery_etcd_discovery_etcd_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	-pthread -fvisibility=hidden
plugins_discovery_etcd_discovery_etcd_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_discovery_etcd_discovery_etcd_la_LIBADD = plugins/common/libnapplugincommon.la \
	core/lib/libnap.la $(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS)

# discovery-etcd-client: the test's hands (calls through napd, and the
# latency probe that watches etcd and Docker side by side).
check_PROGRAMS += tests/plugins/discovery-etcd-client
tests_plugins_discovery_etcd_client_SOURCES = tests/plugins/discovery-etcd-client.c
tests_plugins_discovery_etcd_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common
tests_plugins_discovery_etcd_client_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) -pthread
tests_plugins_discovery_etcd_client_LDADD = plugins/common/libnapplugincommon.la \
	core/lib/libnap.la $(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS)
TESTS += tests/plugins/discovery-etcd-test.sh
endif
EXTRA_DIST += tests/plugins/discovery-etcd-test.sh
