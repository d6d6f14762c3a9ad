# Benchmarks: built on demand by bench/run (not part of `make check`).
EXTRA_PROGRAMS = bench/bus-bench
bench_bus_bench_SOURCES = bench/bus-bench.c
bench_bus_bench_LDADD = core/lib/libnap.la $(PROTOBUF_C_LIBS)
CLEANFILES += bench/bus-bench
EXTRA_DIST += bench/run bench/context.sh bench/deploy.sh bench/heal.sh bench/scaleout.sh \
	bench/swarm.sh bench/upload.sh
