# Apps that stay up: readiness, healing, back-off, cancel and deadlines,
# against the real servers (tests/heal/test-heal.sh).
HEAL_TESTS = tests/heal/test-heal.sh
TESTS += $(HEAL_TESTS)
EXTRA_DIST += $(HEAL_TESTS)
