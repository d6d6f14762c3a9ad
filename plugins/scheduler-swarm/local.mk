# plugins/scheduler-swarm: nap.Scheduler on a Docker Swarm, through the
# manager's Engine API (plugins/common's Docker client, over a Unix socket
# or TCP), one service per instance; Watch follows each node's engine.
if BUILD_PLUGIN_SCHEDULER_SWARM
pkglib_LTLIBRARIES += plugins/scheduler-swarm/scheduler-swarm.la
plugins_scheduler_swarm_scheduler_swarm_la_SOURCES = \
	plugins/scheduler-swarm/scheduler_swarm.h \
	plugins/scheduler-swarm/scheduler_swarm.c \
	plugins/scheduler-swarm/swarm.c \
	plugins/scheduler-swarm/run.c \
	plugins/scheduler-swarm/remove.c \
	plugins/scheduler-swarm/logs.c \
	plugins/scheduler-swarm/watch.c
plugins_scheduler_swarm_scheduler_swarm_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/common
plugins_scheduler_swarm_scheduler_swarm_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) \
	$(JANSSON_CFLAGS) -pthread -fvisibility=hidden
plugins_scheduler_swarm_scheduler_swarm_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_scheduler_swarm_scheduler_swarm_la_LIBADD = plugins/common/libnapplugincommon.la \
	core/lib/libnap.la $(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS) -lpthread
endif
