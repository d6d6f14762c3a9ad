# core/context: the Docker build context — a directory as a tar archive,
# honouring its .dockerignore — in one convenience library (not installed)
# that napc (which packs and sends the context) and the builder plugin (which
# packs a directory itself only with allow_path_context) both link; the fuzz
# target tests/fuzz/fuzz-units.c compiles the same sources. It carries the
# byte buffer (core/lib/buf.c, libnap's, which keeps it inside) and the
# error-message helper of plugins/common (errbuf.c) that the context code
# needs, so that napc links neither libcurl nor the plugins' library:
# libnapplugincommon.la takes them from here.
noinst_LTLIBRARIES += core/context/libnapcontext.la
core_context_libnapcontext_la_SOURCES = \
	core/context/tar_context.c core/context/tar_context.h \
	core/context/dockerignore.c core/context/dockerignore.h \
	core/lib/buf.c core/lib/buf.h \
	plugins/common/errbuf.c plugins/common/errbuf.h
core_context_libnapcontext_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/common \
	-I$(top_srcdir)/core/lib
core_context_libnapcontext_la_CFLAGS = $(AM_CFLAGS) -fPIC
