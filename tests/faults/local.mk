# Fault tests (kill napd mid-deploy, restart etcd/dockerd, crash plugins, full registry disk).
