# Fuzzing: every target also builds as a replayer of its committed seed
# corpus, which `make check` runs with any compiler; --enable-fuzzers
# (CC=clang) builds the libFuzzer binaries that scripts/fuzz runs.
check_PROGRAMS += tests/fuzz/replay-frame
tests_fuzz_replay_frame_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-frame.c
tests_fuzz_replay_frame_LDADD = $(TEST_LDADD)
TESTS += tests/fuzz/test-corpus.sh
EXTRA_DIST += tests/fuzz/test-corpus.sh tests/fuzz/corpus

if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz-frame
tests_fuzz_fuzz_frame_SOURCES = tests/fuzz/fuzz-frame.c
tests_fuzz_fuzz_frame_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_frame_LDADD = $(TEST_LDADD)
endif
