# Plugins. Each lives in its own folder with its own local.mk; code they
# share (Docker and etcd clients, the build-context tar) is in plugins/common.
include plugins/common/local.mk
