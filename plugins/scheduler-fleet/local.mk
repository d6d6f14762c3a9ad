# plugins/scheduler-fleet: nap.Scheduler on a fleet cluster, through fleet's
# API v1 (its own libcurl client) with a discovery sidekick per instance
# (nap-fleet-announce, installed in $(pkglibexecdir)) writing to etcd v3.
if BUILD_PLUGIN_SCHEDULER_FLEET
pkglib_LTLIBRARIES += plugins/scheduler-fleet/scheduler-fleet.la
plugins_scheduler_fleet_scheduler_fleet_la_SOURCES = \
	plugins/scheduler-fleet/scheduler_fleet.h \
	plugins/scheduler-fleet/scheduler_fleet.c \
	plugins/scheduler-fleet/fleet_api.h plugins/scheduler-fleet/fleet_api.c \
	plugins/scheduler-fleet/fleet_http.h plugins/scheduler-fleet/fleet_http.c \
	plugins/scheduler-fleet/units.h plugins/scheduler-fleet/units.c \
	plugins/scheduler-fleet/unit_names.c \
	plugins/scheduler-fleet/announced.c \
	plugins/scheduler-fleet/run.c \
	plugins/scheduler-fleet/remove.c \
	plugins/scheduler-fleet/presence.c \
	plugins/scheduler-fleet/list.c \
	plugins/scheduler-fleet/watch.c \
	plugins/scheduler-fleet/logs.c
plugins_scheduler_fleet_scheduler_fleet_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/common \
	-DSF_ANNOUNCE_PATH='"$(pkglibexecdir)/nap-fleet-announce"'
plugins_scheduler_fleet_scheduler_fleet_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) \
	$(JANSSON_CFLAGS) -fvisibility=hidden
plugins_scheduler_fleet_scheduler_fleet_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_scheduler_fleet_scheduler_fleet_la_LIBADD = plugins/common/libnapplugincommon.la \
	core/lib/libnap.la $(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS)

# The sidekick's script, run by the discovery units on the fleet machines.
dist_pkglibexec_SCRIPTS = plugins/scheduler-fleet/nap-fleet-announce

# Unit tests of the generated units (no server needed).
check_PROGRAMS += tests/plugins/scheduler-fleet-units
tests_plugins_scheduler_fleet_units_SOURCES = tests/plugins/scheduler-fleet-units.c \
	plugins/scheduler-fleet/units.c plugins/scheduler-fleet/unit_names.c \
	plugins/scheduler-fleet/units.h
tests_plugins_scheduler_fleet_units_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/common -I$(top_srcdir)/plugins/scheduler-fleet \
	-I$(top_srcdir)/tests/unit
tests_plugins_scheduler_fleet_units_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_scheduler_fleet_units_LDADD = core/lib/libnap.la $(JANSSON_LIBS)
TESTS += tests/plugins/scheduler-fleet-units

# The integration test: napd with the plugin against tests/fleet's fleet
# API test server (which runs the units with the real dockerd and etcd),
# driven by scheduler-fleet-call.
check_PROGRAMS += tests/plugins/scheduler-fleet-call
tests_plugins_scheduler_fleet_call_SOURCES = tests/plugins/scheduler-fleet-call.c
tests_plugins_scheduler_fleet_call_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
TESTS += tests/plugins/scheduler-fleet-test.sh
EXTRA_DIST += tests/plugins/scheduler-fleet-test.sh
endif
