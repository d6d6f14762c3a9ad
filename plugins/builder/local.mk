# plugins/builder: nap.Builder with dockerd — receive a build context into
# a spool file (Upload), stream it to POST /build, tag
# <registry>/<app>:<release>, push. Contexts wait in $(buildercontextdir)
# (per napd socket below it for a napd on another socket), made on demand.
buildercontextdir = $(localstatedir)/lib/nap/builder/contexts
if BUILD_PLUGIN_BUILDER
pkglib_LTLIBRARIES += plugins/builder/builder.la
plugins_builder_builder_la_SOURCES = \
	plugins/builder/builder.c plugins/builder/builder.h \
	plugins/builder/build.c \
	plugins/builder/context.c plugins/builder/context.h \
	plugins/builder/settings.c plugins/builder/settings.h \
	plugins/builder/spool.c plugins/builder/spool.h \
	plugins/builder/upload.c \
	plugins/builder/remove_image.c \
	plugins/builder/prune_images.c \
	plugins/builder/cancel_watch.c plugins/builder/cancel_watch.h \
	plugins/builder/names.c plugins/builder/names.h
plugins_builder_builder_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common \
	-I$(top_srcdir)/core/context -DNAP_BUILDER_CONTEXT_DIR='"$(buildercontextdir)"'
plugins_builder_builder_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) -pthread \
	-fvisibility=hidden
plugins_builder_builder_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK) -pthread
plugins_builder_builder_la_LIBADD = plugins/common/libnapplugincommon.la core/lib/libnap.la \
	$(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS)

# tests/plugins/builder-test.sh starts napd with the builder and drives it
# with builder-client against the real dockerd and registry; it builds a
# prepared copy of examples/hello.
check_PROGRAMS += tests/plugins/builder-client
tests_plugins_builder_client_SOURCES = tests/plugins/builder-client.c
tests_plugins_builder_client_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
TESTS += tests/plugins/builder-test.sh

# test-builder-spool: the spool of uploaded contexts, without servers.
check_PROGRAMS += tests/plugins/test-builder-spool
tests_plugins_test_builder_spool_SOURCES = tests/plugins/test-builder-spool.c \
	tests/plugins/plugin_testing.h plugins/builder/spool.c plugins/builder/spool.h
tests_plugins_test_builder_spool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/builder \
	-I$(top_srcdir)/plugins/common -I$(top_srcdir)/tests/unit
tests_plugins_test_builder_spool_CFLAGS = $(AM_CFLAGS) -pthread
tests_plugins_test_builder_spool_LDADD = core/context/libnapcontext.la -lpthread
TESTS += tests/plugins/test-builder-spool
endif
EXTRA_DIST += tests/plugins/builder-test.sh
