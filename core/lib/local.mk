# libnap: the bus (framing, connections, calls) and the generated protobuf
# code of every service. napd, the plugin host, napc and plugins all use it.
# buf and idmap are libnap's own, not its API: a convenience library that
# libnap and napd each link a copy of, so that libnap need not export them.
noinst_LTLIBRARIES += core/lib/libnapinternal.la
core_lib_libnapinternal_la_SOURCES = \
	core/lib/arena.c core/lib/arena.h \
	core/lib/buf.c core/lib/buf.h \
	core/lib/idmap.c core/lib/idmap.h

lib_LTLIBRARIES += core/lib/libnap.la
core_lib_libnap_la_SOURCES = \
	core/lib/frame.c \
	core/lib/conn.c core/lib/conn.h \
	core/lib/conn_io.c \
	core/lib/caller.c \
	core/lib/callee.c \
	core/lib/unary.c \
	core/lib/service.c \
	core/lib/status.c \
	core/lib/names.c \
	core/lib/env.c
nodist_core_lib_libnap_la_SOURCES = $(NAP_PROTO_C) $(NAP_PROTO_H)
core_lib_libnap_la_LIBADD = core/lib/libnapinternal.la $(PROTOBUF_C_LIBS)
# The soname follows the ABI rule of core/include/nap/plugin.h: current is
# bumped with NAP_PLUGIN_ABI, whenever a .proto changes (proto/abi.sums).
core_lib_libnap_la_LDFLAGS = $(AM_LDFLAGS) -version-info 1:0:0 \
	-Wl,--version-script=$(srcdir)/core/lib/libnap.sym
EXTRA_core_lib_libnap_la_DEPENDENCIES = core/lib/libnap.sym
EXTRA_DIST += core/lib/libnap.sym core/lib/libnap.pc.in core/lib/nap-plugin.pc.in

napincdir = $(includedir)/nap
napinc_HEADERS = \
	core/include/nap/bus.h \
	core/include/nap/env.h \
	core/include/nap/frame.h \
	core/include/nap/limits.h \
	core/include/nap/names.h \
	core/include/nap/plugin.h \
	core/include/nap/protocol.h \
	core/include/nap/status.h

pkgconfig_DATA += core/lib/libnap.pc core/lib/nap-plugin.pc
DISTCLEANFILES += core/lib/libnap.pc core/lib/nap-plugin.pc
