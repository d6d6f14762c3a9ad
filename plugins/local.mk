# Plugins. Each lives in its own folder with its own local.mk (built when its
# --enable-<plugin> switch is on); code they share (Docker and etcd clients,
# the build-context tar) is in plugins/common.
include plugins/common/local.mk
include plugins/orchestrator/local.mk
include plugins/builder/local.mk
include plugins/scheduler-local/local.mk
include plugins/discovery-etcd/local.mk
include plugins/notifier/local.mk
include plugins/scheduler-fleet/local.mk
include plugins/scheduler-swarm/local.mk
