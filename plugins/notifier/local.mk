# plugins/notifier: the nap.Notifier service — webhooks (libcurl + jansson)
# and the log. Its test drives it through napd against a webhook receiver
# written with Python's standard library (tests/plugins/notifier-receiver.py).
# Accepted notifications wait in a spool directory (spool.h), by default
# $(notifierspooldir), which make install creates (contrib/local.mk).
notifierspooldir = $(localstatedir)/lib/nap/notifier
if BUILD_PLUGIN_NOTIFIER
pkglib_LTLIBRARIES += plugins/notifier/notifier.la
plugins_notifier_notifier_la_SOURCES = \
	plugins/notifier/notifier.c \
	plugins/notifier/notification.c plugins/notifier/notification.h \
	plugins/notifier/queue.c plugins/notifier/queue.h \
	plugins/notifier/settings.c plugins/notifier/settings.h \
	plugins/notifier/spool.c plugins/notifier/spool.h \
	plugins/notifier/url.c plugins/notifier/url.h \
	plugins/notifier/webhook.c plugins/notifier/webhook.h
plugins_notifier_notifier_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common \
	-DNAP_NOTIFIER_SPOOL_DIR='"$(notifierspooldir)"'
plugins_notifier_notifier_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	-fvisibility=hidden -pthread
plugins_notifier_notifier_la_LDFLAGS = $(AM_LDFLAGS) $(NAP_PLUGIN_LINK)
plugins_notifier_notifier_la_LIBADD = plugins/common/libnapplugincommon.la core/lib/libnap.la \
	$(CURL_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS)

check_PROGRAMS += tests/plugins/notifier-call
tests_plugins_notifier_call_SOURCES = tests/plugins/notifier-call.c
tests_plugins_notifier_call_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)

TESTS += tests/plugins/notifier-webhook.sh tests/plugins/notifier-failures.sh \
	tests/plugins/notifier-spool.sh
endif
EXTRA_DIST += tests/plugins/notifier-receiver.py tests/plugins/notifier-lib.sh \
	tests/plugins/notifier-webhook.sh tests/plugins/notifier-failures.sh \
	tests/plugins/notifier-spool.sh
