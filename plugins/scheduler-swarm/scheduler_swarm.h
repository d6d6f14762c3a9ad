/* scheduler-swarm: what the plugin's files share (not installed).
 *
 * The plugin runs nap.Scheduler on a Docker Swarm through its manager's
 * Engine API. Each instance of a release is a service of its own, named
 * nap-<app>-<release>-<instance>, with one replica: so Run and Remove of
 * given instance numbers map one to one onto services (Swarm's task slots
 * cannot be chosen: scaling a service down removes whichever tasks Swarm
 * picks), and a release change is a set of new services beside the old.
 * The service and its containers carry the labels nap.app, nap.release,
 * nap.instance, nap.napd and nap.announced-by=orchestrator. Services have
 * no restart policy (condition "none"): the orchestrator replaces a dead
 * instance itself (with its back-off), and Swarm places the replacement on a
 * node that is up. The manager is the only record of what runs. */
#ifndef NAP_SCHEDULER_SWARM_H
#define NAP_SCHEDULER_SWARM_H

#include <nap/names.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/plugin.h>
#include <nap/scheduler.pb-c.h>

#include "docker_api.h"
#include "endpoint.h"
#include "labels.h"

/* Labels: labels.h. NAP_LABEL_PORTS says how many ports the service
 * publishes: a "running" task of a service that publishes some counts as
 * started only once its port is known. */
/* Longest service name: "nap-" app(63) "-" u32 "-" u32. */
#define SW_NAME_MAX 96
/* Nodes whose engines are followed (node_engines). */
#define SW_ENGINES_MAX 64
/* Placement constraints per service (node.labels.zone==a). */
#define SW_CONSTRAINTS_MAX 16
/* Defaults of the settings (scheduler_swarm.c). */
#define SW_DEFAULT_STOP_GRACE_S 10
#define SW_DEFAULT_POLL_MS 2000u
#define SW_DEFAULT_RUN_TIMEOUT_S 120u

/* A node engine the plugin follows: the node's address and its engine. */
struct sw_engine {
	char addr[64];
	docker_client *docker;
	char *url;
};

/* The plugin's state, made by init and read-only afterwards; freed by
 * shutdown. */
struct sw_state {
	const nap_host *host;
	docker_client *manager; /* the swarm manager's engine */
	char *manager_url;
	docker_client *images; /* the engine the builder builds on (EXPOSE) */
	struct sw_engine engines[SW_ENGINES_MAX];
	size_t n_engines;
	unsigned engine_port; /* node_engine_port: tcp://<node address>:port */
	unsigned poll_ms;     /* Watch's fallback re-read of the manager */
	int stop_grace_s;
	const char *napd_id; /* napd.id, "" if none */
	atomic_bool stopping;
	atomic_int watches;
};

/* One instance as the manager sees it (swarm.c): the service, its newest
 * task and that task's node. Strings are owned by the struct. */
struct sw_inst {
	char app[64];
	uint32_t release, instance;
	char service_id[64];
	char task_id[64];
	char state[16];     /* "pending", "running", "exited", "failed" */
	char task_err[256]; /* the task's Status.Err ("no suitable node ...") */
	char host[64];      /* the node's address */
	char machine[128];  /* the node's hostname (ID) */
	char node_id[64];
	uint32_t port; /* the default endpoint port's host port, 0 if none */
	struct endpoint_port ports[ENDPOINT_PORTS_MAX]; /* every one, the default first */
	size_t n_ports;
	bool no_ports; /* the service publishes none (a worker) */
	int exit_code;
	uint64_t started_unix_ms;
	bool node_down;
};

/* What the manager holds for an app (every nap app for app ""). */
struct sw_snapshot {
	struct sw_inst *v;
	size_t n;
	json_t *nodes; /* GET /nodes, for addresses */
};

/* ---- swarm.c ---- */
void sw_service_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance);
/* Reads services, tasks and nodes of app ("" or NULL: every app) of our
 * napd into *snap (free with sw_snapshot_free). */
int sw_snapshot_read(struct sw_snapshot *snap, const struct sw_state *st, const char *app,
		     char *err, size_t errlen);
void sw_snapshot_free(struct sw_snapshot *snap);
/* Fills out (initialised by the caller) from in; strings borrowed. */
void sw_instance_fill(Nap__Instance *out, const struct sw_inst *in);
/* The address of node id in nodes (into buf), or NULL. */
const char *sw_node_addr(json_t *nodes, const char *id, char *buf, size_t len);
/* Label filters (nap.app=…, nap.napd=…) as a URL-encoded filters= value
 * appended to path (a DOCKER_URL_MAX buffer). */
int sw_filters_path(char *path, size_t len, const char *base, const struct sw_state *st,
		    const char *app, uint32_t release);
/* The engine of the node at addr, or NULL. */
docker_client *sw_engine_for(const struct sw_state *st, const char *addr);

/* ---- the handlers ---- */
void sw_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sw_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sw_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sw_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sw_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
