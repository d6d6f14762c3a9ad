# napd: the daemon. The plugin host is napd itself run with --plugin-host.
sbin_PROGRAMS += core/napd/napd
core_napd_napd_SOURCES = \
	core/napd/main.c \
	core/napd/conffile.c core/napd/conffile.h \
	core/napd/control.c core/napd/control.h \
	core/napd/host.c core/napd/host.h core/napd/host_state.h \
	core/napd/host_calls.c \
	core/napd/listener.c core/napd/listener.h \
	core/napd/log.c core/napd/log.h \
	core/napd/msgq.c core/napd/msgq.h \
	core/napd/loop.c core/napd/loop.h \
	core/napd/peer.c core/napd/peer.h \
	core/napd/identity.c core/napd/identity.h \
	core/napd/router.c core/napd/router.h \
	core/napd/supervisor.c core/napd/supervisor.h
core_napd_napd_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
core_napd_napd_LDADD = core/lib/libnapinternal.la core/lib/libnap.la $(PROTOBUF_C_LIBS) $(JANSSON_LIBS) $(LIBS)
