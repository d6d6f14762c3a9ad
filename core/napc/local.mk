# napc: the command-line client.
bin_PROGRAMS += core/napc/napc
core_napc_napc_SOURCES = core/napc/napc.c core/napc/napc.h core/napc/apps.c \
	core/napc/call.c core/napc/call.h core/napc/deploy.c \
	core/napc/show.c core/napc/hosturl.c core/napc/remote.c core/napc/dial.c \
	core/napc/backup.c core/napc/upload.c
core_napc_napc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core/context
core_napc_napc_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
core_napc_napc_LDADD = core/context/libnapcontext.la core/lib/libnap.la $(PROTOBUF_C_LIBS) \
	$(JANSSON_LIBS)
