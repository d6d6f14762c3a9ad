/* scheduler-local: what the plugin's files share (not installed).
 *
 * The plugin runs nap.Scheduler on this host through the Docker Engine API.
 * Every container it owns is named nap-<app>-<release>-<instance> and carries
 * the labels nap.app, nap.release, nap.instance, nap.napd and
 * nap.announced-by=orchestrator: Docker is the only record of what runs
 * (List, Remove and Watch ask it, never a cache of ours). */
#ifndef NAP_SCHEDULER_LOCAL_H
#define NAP_SCHEDULER_LOCAL_H

#include <nap/names.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/plugin.h>
#include <nap/scheduler.pb-c.h>

#include "docker_api.h"
#include "labels.h"

/* Every container we start says that the orchestrator announces it, once
 * its readiness check passes (labels.h, NAP_LABEL_ANNOUNCED_BY). */
/* Containers a Run starts, or a Remove stops, at once (threads of their own). */
#define SL_RUN_PARALLEL 8
/* Seconds a container gets to stop before it is killed. */
#define SL_DEFAULT_STOP_GRACE_S 10
/* Longest container name: "nap-" app(63) "-" u32 "-" u32. */
#define SL_NAME_MAX 96

/* The plugin's state, made by init and read-only afterwards (handlers run
 * on threads of their own); freed by shutdown. */
struct sl_state {
	const nap_host *host;
	docker_client *docker;
	char *socket;     /* dockerd's socket (config docker_socket) */
	char *address;    /* host written into instances (config host) */
	int stop_grace_s; /* config stop_timeout */
	/* NAP_LABEL_NAPD "=<id>" of the napd running us (config napd.id, given
	 * by napd): what we start carries it and all we look at has it, so
	 * napds sharing this Docker host never touch each other's apps. "" for
	 * a napd that gives no id. */
	char napd_label[400];
	pthread_t reconcile_thread;
	bool reconcile_started;
	atomic_bool stopping; /* set by shutdown: reconciling and Watch give up */
	atomic_int watches;   /* Watch calls running (shutdown waits for them) */
};

/* ---- errors.c ---- */

/* Ends call with the status for err and "scheduler-local: <what>" (the
 * Docker client's messages already name the socket and say what to do when
 * dockerd cannot be reached). */
void sl_end_docker(const struct sl_state *st, nap_plugin_call *call, int err, const char *what);

/* ---- instances.c ---- */

/* The container name for an instance into buf (SL_NAME_MAX). */
void sl_container_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance);
/* Reads a numeric label (nap.release, nap.instance); 0 if absent or bad. */
uint32_t sl_label_u32(const struct docker_container_summary *s, const char *key);
/* The label filters of the containers of app (NULL or "": of every nap app)
 * and release (0: any) of our napd. */
struct sl_filters {
	char app[128], release[64];
	const char *v[3];
	size_t n;
};
void sl_filters_init(struct sl_filters *f, const struct sl_state *st, const char *app,
		     uint32_t release);
/* Lists the containers of app (NULL or "": of every nap app), of release
 * (0: any), stopped ones too. As docker_container_list(). */
int sl_list_containers(struct docker_container_summary **listp, size_t *np,
		       const struct sl_state *st, const char *app, uint32_t release, bool all,
		       char *err, size_t errlen);
/* Fills out (initialised by the caller) with what info says of instance of
 * release of app: id, host, port and ports (when running: endpoint_ports();
 * free them with instance_ports_free()), state, exit_code and oom_killed
 * (when not running), health, started_unix_ms; announcer "" (the
 * orchestrator). Strings are borrowed from app, info and st. */
void sl_instance_fill(Nap__Instance *out, const struct sl_state *st, const char *app,
		      uint32_t release, uint32_t instance,
		      const struct docker_container_info *info);

/* ---- parallel.c ---- */

/* Calls work(ctx, i) for every i in [0, n), on up to max threads at once
 * (the caller's among them). work returns false to stop: no further i is
 * started (those running finish). Returns once every call has returned. */
void sl_parallel(size_t n, unsigned max, bool (*work)(void *ctx, size_t i), void *ctx);

/* ---- the handlers (run.c, remove.c, list.c, logs.c, watch.c) ---- */
void sl_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sl_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sl_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sl_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sl_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* ---- reconcile.c ---- */

/* Removes nap containers that are not running (leftovers of a crash) and
 * logs what runs, one line per app. Runs on a thread of its own (st) and
 * stops early once st->stopping is set. */
void *sl_reconcile(void *st);

#endif
