# The bus against hostile clients (one test per fault, each prints its
# figures), and the conformance test written from docs/protocol.md.
BUS_TESTS = tests/bus/test-fd-limit.sh tests/bus/test-partial-frames.sh \
	tests/bus/test-utf8.sh tests/bus/test-stream-deadline.sh \
	tests/bus/test-output-limit.sh
TESTS += $(BUS_TESTS)
EXTRA_DIST += $(BUS_TESTS) tests/bus/lib.sh tests/bus/hostile.py
