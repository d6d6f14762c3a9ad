# The example plugin, built in tree for the tests (tests/integration also
# builds it out of tree against an installed nap, the way authors will).
check_LTLIBRARIES += examples/echo.la
examples_echo_la_SOURCES = examples/echo-plugin/echo.c
examples_echo_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
examples_echo_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
examples_echo_la_LIBADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
EXTRA_DIST += examples/echo-plugin/Makefile examples/echo-plugin/README.md

# examples/greeter-service: a plugin with a service of its own (its .proto,
# protoc-c, pkg-config); only built out of tree, by test-sdk.sh.
EXTRA_DIST += examples/greeter-service/greeter.proto examples/greeter-service/greeter.c \
	examples/greeter-service/greet.c examples/greeter-service/Makefile \
	examples/greeter-service/README.md

# examples/hello: the app nap's tests and quickstart deploy.
EXTRA_DIST += examples/hello/Dockerfile examples/hello/index.html examples/hello/prepare \
	examples/hello/.dockerignore examples/hello/README.md
