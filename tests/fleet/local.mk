# The fleet API test server (a fixture, not fleet) and its own tests.
# Included from tests/local.mk; TESTS and EXTRA_DIST are initialised there.
TESTS += tests/fleet/test-fleet-server.sh
EXTRA_DIST += tests/fleet/fleet-test-server.py tests/fleet/test-fleet-server.sh \
	tests/fleet/README.md tests/fleet/fleet-v1-discovery.json
# napd with builder, scheduler-fleet and discovery-etcd against the test
# server, driven by napc (needs scheduler-fleet built; skips otherwise).
TESTS += tests/fleet/test-deploy-fleet.sh
# scheduler-fleet against the server acting like a real fleet (issue 10).
TESTS += tests/fleet/test-fleet-real.sh
EXTRA_DIST += tests/fleet/test-deploy-fleet.sh tests/fleet/test-fleet-real.sh bench/fleet.sh
# scheduler-local and scheduler-fleet in one napd: an app moves between them.
TESTS += tests/fleet/test-two-schedulers.sh tests/fleet/test-sidekick-ports.sh
EXTRA_DIST += tests/fleet/test-two-schedulers.sh tests/fleet/test-sidekick-ports.sh
