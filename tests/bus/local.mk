# The bus against hostile clients (one test per fault, each prints its
# figures), and the conformance test written from docs/protocol.md.
TESTS += tests/bus/test-fd-limit.sh tests/bus/test-partial-frames.sh
EXTRA_DIST += tests/bus/lib.sh tests/bus/hostile.py tests/bus/test-fd-limit.sh \
	tests/bus/test-partial-frames.sh
