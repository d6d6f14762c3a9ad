# The swarm tests: a swarm of 3 dockerd this machine starts in network
# namespaces of their own (tests/swarm/cluster.sh), and a 3-member etcd
# cluster on loopback ports of the test's own. Heavy and root-only: under
# `make check` they skip (exit 77); `make check-swarm` runs them with
# NAP_SWARM=1 (scripts/test does, after check-serial).
SWARM_TESTS = \
	tests/swarm/test-swarm.sh \
	tests/swarm/test-etcd-cluster.sh

TESTS += $(SWARM_TESTS)
EXTRA_DIST += tests/swarm/cluster.sh tests/swarm/etcd-cluster.sh $(SWARM_TESTS)

check-swarm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SWARM_TESTS)' NAP_SWARM=1
.PHONY: check-swarm
