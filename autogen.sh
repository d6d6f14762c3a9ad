#!/bin/sh
# Regenerates configure and the Makefile templates from configure.ac and Makefile.am.
exec autoreconf -fvi "$(dirname "$0")"
