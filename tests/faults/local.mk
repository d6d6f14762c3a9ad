# Fault tests: napd killed mid-deploy, etcd restarted (a private one), plugins
# crashed during calls, the registry's disk full (a private registry), and
# dockerd restarted. A test that restarts a server every test shares
# (dockerd) is a SERIAL_TESTS one: under `make check` it skips, and
# `make check-serial` runs it alone, with NAP_SERIAL=1 (scripts/test does,
# after each make check).
FAULT_TESTS = \
	tests/faults/test-kill-napd.sh \
	tests/faults/test-plugin-crash.sh \
	tests/faults/test-etcd-restart.sh \
	tests/faults/test-registry-full.sh \
	tests/faults/test-foreign-app.sh \
	tests/faults/test-two-napds.sh
SERIAL_TESTS = \
	tests/faults/test-dockerd-restart.sh

TESTS += $(FAULT_TESTS) $(SERIAL_TESTS)
EXTRA_DIST += tests/faults/lib.sh $(FAULT_TESTS) $(SERIAL_TESTS)

check-serial:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SERIAL_TESTS)' NAP_SERIAL=1
.PHONY: check-serial
