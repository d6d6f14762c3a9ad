/* plugins/common: the Docker labels on every container (or Swarm service)
 * that runs a nap instance, shared by the schedulers that write them and
 * discovery-etcd, which reads them (docs/protocol.md, "Container labels"). */
#ifndef NAP_PLUGIN_COMMON_LABELS_H
#define NAP_PLUGIN_COMMON_LABELS_H

#define NAP_LABEL_APP "nap.app"
#define NAP_LABEL_RELEASE "nap.release"
#define NAP_LABEL_INSTANCE "nap.instance"
/* The napd that runs the instance (its napd.id): napds sharing one Docker
 * host never touch each other's instances. */
#define NAP_LABEL_NAPD "nap.napd"
/* Who puts the instance's endpoints under /services/: absent, discovery-etcd
 * on the container's start; NAP_ANNOUNCED_BY_ORCHESTRATOR, the orchestrator
 * once its readiness check passes (discovery-etcd only withdraws them);
 * NAP_ANNOUNCED_BY_SIDEKICK, scheduler-fleet's discovery unit (discovery-etcd
 * leaves it alone). */
#define NAP_LABEL_ANNOUNCED_BY "nap.announced-by"
#define NAP_ANNOUNCED_BY_ORCHESTRATOR "orchestrator"
#define NAP_ANNOUNCED_BY_SIDEKICK "sidekick"
/* scheduler-swarm: how many ports the service publishes ("0": a worker). */
#define NAP_LABEL_PORTS "nap.ports"

#endif
