# The .proto files are the contract; protoc-c generates C from them at build
# time into $(builddir)/proto (never committed). They are installed both as
# .proto (for clients in other languages) and as generated headers (for C).
NAP_PROTOS = \
	proto/nap/bus.proto \
	proto/nap/control.proto \
	proto/nap/builder.proto \
	proto/nap/scheduler.proto \
	proto/nap/discovery.proto \
	proto/nap/notifier.proto \
	proto/nap/echo.proto

NAP_PROTO_C = $(NAP_PROTOS:.proto=.pb-c.c)
NAP_PROTO_H = $(NAP_PROTOS:.proto=.pb-c.h)

protodir = $(pkgdatadir)/proto/nap
dist_proto_DATA = $(NAP_PROTOS)

BUILT_SOURCES += $(NAP_PROTO_C) $(NAP_PROTO_H)
CLEANFILES += $(NAP_PROTO_C) $(NAP_PROTO_H)

napprotoincdir = $(includedir)/nap
nodist_napprotoinc_HEADERS = $(NAP_PROTO_H)

proto/nap/%.pb-c.c proto/nap/%.pb-c.h: $(srcdir)/proto/nap/%.proto
	$(AM_V_GEN)$(MKDIR_P) proto && $(PROTOC_C) -I$(srcdir)/proto --c_out=proto $<
EXTRA_DIST += proto/abi.sums
