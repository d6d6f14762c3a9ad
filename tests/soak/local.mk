# The soak: many concurrent clients against napd while apps deploy and go.
# soak.sh is the driver (bench/soak.sh runs it for 10 minutes); test-soak.sh
# runs a short one in `make check`.
check_PROGRAMS += tests/soak/soak-client
tests_soak_soak_client_SOURCES = tests/soak/soak-client.c
tests_soak_soak_client_LDADD = $(TEST_LDADD)
TESTS += tests/soak/test-soak.sh
EXTRA_DIST += tests/soak/soak.sh tests/soak/test-soak.sh bench/soak.sh
