# napc: the command-line client.
bin_PROGRAMS += core/napc/napc
core_napc_napc_SOURCES = core/napc/napc.c core/napc/napc.h
core_napc_napc_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
