# plugins/orchestrator: nap.Apps, the reconciler (desired state -> converge,
# readiness checks, healing). It talks to the other plugins over the bus only.
if BUILD_PLUGIN_ORCHESTRATOR
pkglib_LTLIBRARIES += plugins/orchestrator/orchestrator.la
plugins_orchestrator_orchestrator_la_SOURCES = \
	plugins/orchestrator/orchestrator.c plugins/orchestrator/orchestrator.h \
	plugins/orchestrator/bus.c \
	plugins/orchestrator/check.c \
	plugins/orchestrator/images.c \
	plugins/orchestrator/ops_backup.c \
	plugins/orchestrator/ops.c \
	plugins/orchestrator/ops_app.c \
	plugins/orchestrator/ops_deploy.c \
	plugins/orchestrator/ops_status.c \
	plugins/orchestrator/reconcile.c \
	plugins/orchestrator/record.c \
	plugins/orchestrator/requests.c plugins/orchestrator/requests.h \
	plugins/orchestrator/state.c \
	plugins/orchestrator/status.c \
	plugins/orchestrator/store.c \
	plugins/orchestrator/util.c \
	plugins/orchestrator/watch.c \
	plugins/common/settings_table.c plugins/common/settings_table.h
# plugins/common for endpoint.h's contract (a header) and settings_table.c (compiled
# in: the orchestrator links none of the other common code)
plugins_orchestrator_orchestrator_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common
plugins_orchestrator_orchestrator_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) \
	-fvisibility=hidden -pthread
plugins_orchestrator_orchestrator_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_orchestrator_orchestrator_la_LIBADD = core/lib/libnap.la $(JANSSON_LIBS) \
	$(PROTOBUF_C_LIBS)
endif
