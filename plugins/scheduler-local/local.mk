# plugins/scheduler-local: nap.Scheduler on this host, through the Docker
# Engine API (plugins/common's client, plus a logs reader of its own).
if BUILD_PLUGIN_SCHEDULER_LOCAL
pkglib_LTLIBRARIES += plugins/scheduler-local/scheduler-local.la
plugins_scheduler_local_scheduler_local_la_SOURCES = \
	plugins/scheduler-local/scheduler_local.h \
	plugins/scheduler-local/scheduler_local.c \
	plugins/scheduler-local/errors.c \
	plugins/scheduler-local/instances.c \
	plugins/scheduler-local/run.c \
	plugins/scheduler-local/remove.c \
	plugins/scheduler-local/list.c \
	plugins/scheduler-local/logs.c \
	plugins/scheduler-local/watch.c \
	plugins/scheduler-local/parallel.c \
	plugins/scheduler-local/docker_logs.c plugins/scheduler-local/docker_logs.h \
	plugins/scheduler-local/reconcile.c
plugins_scheduler_local_scheduler_local_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core/lib \
	-I$(top_srcdir)/plugins/common
plugins_scheduler_local_scheduler_local_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) \
	$(JANSSON_CFLAGS) -pthread -fvisibility=hidden
plugins_scheduler_local_scheduler_local_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_scheduler_local_scheduler_local_la_LIBADD = plugins/common/libnapplugincommon.la \
	core/lib/libnap.la $(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS) -lpthread

# The tests: scheduler-local-test.sh (Run, Remove, List, Logs) and
# scheduler-local-watch.sh (Watch, parallel Run) start napd with the plugin
# and drive it with scheduler-local-call (one Scheduler call per run) and the
# Docker CLI.
check_PROGRAMS += tests/plugins/scheduler-local-call
tests_plugins_scheduler_local_call_SOURCES = tests/plugins/scheduler-local-call.c
tests_plugins_scheduler_local_call_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
TESTS += tests/plugins/scheduler-local-test.sh tests/plugins/scheduler-local-watch.sh
EXTRA_DIST += tests/plugins/scheduler-local-test.sh tests/plugins/scheduler-local-watch.sh
endif
