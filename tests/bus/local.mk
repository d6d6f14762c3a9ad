# The bus against hostile clients (one test per fault, each prints its
# figures), and the conformance test written from docs/protocol.md.
BUS_TESTS = tests/bus/test-fd-limit.sh tests/bus/test-partial-frames.sh \
	tests/bus/test-utf8.sh tests/bus/test-stream-deadline.sh \
	tests/bus/test-output-limit.sh tests/bus/test-conformance.sh tests/bus/test-upload.sh
TESTS += $(BUS_TESTS)
check_PROGRAMS += tests/bus/nap-upload
tests_bus_nap_upload_SOURCES = tests/bus/nap-upload.c
tests_bus_nap_upload_LDADD = $(TEST_LDADD)
EXTRA_DIST += $(BUS_TESTS) tests/bus/lib.sh tests/bus/hostile.py tests/bus/conformance.py \
	tests/bus/old-peer.py

# conformance.py reads the .proto files compiled to a FileDescriptorSet
# (protoc-c -o): python3-protobuf then needs no protoc of its own.
check_DATA = tests/bus/nap.desc
CLEANFILES += tests/bus/nap.desc
tests/bus/nap.desc: $(NAP_PROTOS:%=$(srcdir)/%)
	$(AM_V_GEN)$(MKDIR_P) tests/bus && \
		$(PROTOC_C) -I$(srcdir)/proto -o $@ $(NAP_PROTOS:%=$(srcdir)/%)
