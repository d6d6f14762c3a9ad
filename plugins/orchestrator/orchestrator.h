/* orchestrator: the reconciler. It serves nap.Apps (napd passes nap.Control's
 * app methods on to it) and keeps every app at its desired state.
 *
 * The desired state of an app is its record (record.c), kept through
 * nap.Discovery's records at "apps/<app>/app": release, image and
 * environment of each release, instances, memory, check, running or
 * stopped, and while a new release rolls out, which release it replaces
 * ("rollout"). The observed state comes from nap.Scheduler.Watch (watch.c)
 * and from the readiness checks this plugin runs itself (check.c). One
 * thread (reconcile.c) compares the two and converges: starts what is
 * missing, replaces what died or is unhealthy (with back-off), announces an
 * instance in discovery only once it is ready, finishes or undoes a rollout,
 * removes what is extra. The app methods (ops_*.c) only write the desired
 * state and then follow convergence, streaming what they see.
 *
 * Crash safety comes from this shape: everything an operation means is in
 * the record before anything is started, so an orchestrator (or napd, or a
 * scheduler) that restarts at any point reconciles again and ends in the
 * same place.
 *
 * Threads: handler threads (one per call, from the host), the reconciler,
 * the watcher and the checker. One mutex (orch.lock) guards every struct
 * app and struct slot; a condition (orch.changed) is broadcast on every
 * change. Bus calls are never made with the lock held. */
#ifndef NAP_ORCHESTRATOR_H
#define NAP_ORCHESTRATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <nap/control.pb-c.h>
#include <nap/bus.h>
#include <nap/plugin.h>

#include "endpoint.h"

/* What the orchestrator knows of one instance number of one release. */
enum slot_phase {
	PHASE_STARTING,   /* wanted; starting or started, not ready yet */
	PHASE_READY,      /* its check passes: announced */
	PHASE_UNHEALTHY,  /* it failed its check `failures` times: withdrawn, replaced */
	PHASE_CRASHED,    /* it exited: being replaced */
	PHASE_RESTARTING, /* waiting for its back-off to end */
	PHASE_STOPPED,    /* not wanted: being removed */
};

struct slot {
	uint32_t release, instance;
	/* as the scheduler reports it */
	bool exists; /* a container/unit exists, running or not */
	bool running;
	bool dead;     /* it ended (exited, dead, failed): to be replaced */
	bool sidekick; /* announced by the scheduler's own announcer */
	char id[160];
	char host[256];
	uint32_t port; /* the default endpoint port: checked, announced first */
	/* every endpoint port (1.2), the default first; a scheduler older than
	 * 1.2 reports port alone, and n_ports stays 0 */
	struct endpoint_port ports[ENDPOINT_PORTS_MAX];
	size_t n_ports;
	char health[16]; /* a Dockerfile HEALTHCHECK's state, "" without one */
	char sched[64];  /* the scheduler plugin that runs it */
	/* as the orchestrator sees it */
	enum slot_phase phase;
	bool wanted;
	bool starting; /* a Run for it is under way */
	bool announced;
	bool was_ready;    /* ready at least once since it started */
	bool handled_exit; /* its last exit was counted */
	unsigned fails;    /* failed checks in a row */
	uint32_t restarts;
	uint32_t crashes_in_row; /* exits without staying ready: the back-off step */
	int32_t last_exit;
	bool oom;
	char last_check[200];
	uint64_t since_ms;      /* wall clock: in this phase since */
	uint64_t next_start_ms; /* wall clock: back-off ends */
	uint64_t next_check_ms; /* monotonic */
	uint64_t ready_at_ms;   /* monotonic: when it last became ready */
};

struct app {
	char name[64];
	json_t *rec; /* the desired state (record.c); NULL once destroyed */
	struct slot *slots;
	size_t nslots;
	bool busy;            /* an operation that changes the app runs */
	bool save;            /* the record changed here: the reconciler writes it */
	bool damaged;         /* its record could not be read: left alone */
	char owner[400];      /* another napd's app (its napd.id): left alone */
	bool known;           /* this orchestrator had its record: what runs of it is ours */
	bool warned;          /* said once that its containers have no record */
	uint64_t resolved_ms; /* monotonic: discovery last compared */
	uint64_t version;     /* bumped on every change of the app */
	struct app *next;
};

struct check_defaults {
	uint32_t interval_ms, timeout_ms, failures, ready_timeout_s, starting_interval_ms;
};

struct orch {
	const nap_host *host;
	char napd_id[400];   /* "host:socket" of our napd; "" from a napd before 0.2 */
	char key_prefix[80]; /* where discovery keeps the records (napd.key_prefix), for messages */
	char default_sched[64]; /* the first scheduler plugin napd lists */
	pthread_mutex_t lock;
	pthread_cond_t changed;    /* broadcast on any change */
	pthread_mutex_t save_lock; /* orders record writes */
	struct app *apps;
	bool loaded;          /* the records were read */
	char load_error[600]; /* why they could not be, while not loaded */
	struct check_defaults check;
	uint32_t deploy_timeout_s;
	uint32_t backoff_ms, backoff_max_ms; /* crash loops: first step and cap */
	uint32_t resync_ms;                  /* the whole comparison, events or not */
	uint32_t keep_releases;              /* releases (and their images) an app keeps */
	atomic_bool stopping;
	uint64_t started_ms; /* monotonic: when init ran */
	pthread_t reconciler, watcher, checker;
	bool threads;
};

extern struct orch O;

/* ---- util.c ---- */
uint64_t wall_ms(void);
uint64_t mono_ms(void);
/* Broadcasts a change of app a (NULL: of everything). Lock held. */
void orch_changed(struct app *a);
/* The level of a "cannot reach a plugin, trying again" line: info while
 * the other plugins are still starting (the first seconds), else warning. */
int orch_retry_level(void);
/* Waits for a change or until ms pass. Lock held. */
void orch_wait(uint32_t ms);

/* ---- state.c (lock held for all) ---- */
struct app *app_find(const char *name);
struct app *app_get(const char *name); /* creates; NULL on out of memory */
void app_drop(struct app *a);          /* unlinks and frees */
struct slot *slot_find(struct app *a, uint32_t release, uint32_t instance);
struct slot *slot_get(struct app *a, uint32_t release, uint32_t instance);
void slot_drop(struct app *a, struct slot *s);
void slot_phase(struct slot *s, enum slot_phase phase);
const char *phase_name(enum slot_phase phase);
/* Ready and in discovery as it should be: announced, announced by its
 * scheduler (sidekick), or a worker with no port (nothing to announce). */
bool slot_serving(const struct slot *s);
/* Whether the orchestrator announces s itself once it is ready. */
bool slot_ours_to_announce(const struct slot *s);
/* Applies an Instance the scheduler reports (kind: present, started, died,
 * health, removed). */
void state_apply(const char *kind, const void *instance, const char *sched);
/* Marks the slots the record wants (slot.wanted), creating missing ones:
 * after any change of the record, before reading slot.wanted. */
void state_mark_wanted(struct app *a);
/* Before a fresh list from scheduler sched: forget what it said. */
void state_unsee(const char *sched);
/* Whether every scheduler a's instances run on has listed them (the
 * reconciler and operations act on a only then). */
bool app_synced(struct app *a);
/* The scheduler plugin of a release ("" in its record: the default). */
const char *release_sched(json_t *rec, uint32_t release);

/* ---- record.c: the app record (JSON), see record.c for its shape ---- */
/* The most releases a record keeps (keep_releases' ceiling): each carries
 * its environment (up to NAP_ENV_TOTAL_MAX), and the whole record must fit
 * in one etcd request (1.5 MiB by default). */
#define APP_RELEASES_MAX 10
#define NAP_SEEN_MAX 128 /* instances one deploy reports on */
json_t *record_new(const char *app);
/* The napd a record belongs to ("" when it names none: nap 0.1's). */
const char *rec_owner(json_t *rec);
json_t *record_parse(const uint8_t *data, size_t len);
uint32_t rec_u32(json_t *obj, const char *key);
json_t *rec_release(json_t *rec, uint32_t n); /* n 0 = the target release */
uint32_t rec_last_release(json_t *rec);
const char *rec_state(json_t *rec);
bool rec_running(json_t *rec);
json_t *rec_rollout(json_t *rec); /* NULL when none */
bool slots_has(json_t *slots, uint32_t n);
/* n instance numbers that none of `used` has, lowest first, as an array. */
json_t *slots_pick(json_t *used, size_t n);
/* The check of the app with defaults filled in. */
void rec_check(json_t *rec, Nap__Check *out);
json_t *check_to_json(const Nap__Check *c);

/* ---- store.c: records through nap.Discovery ---- */
/* Writes a's record as it is now. Takes and drops the lock itself: call
 * without it. */
int store_save(struct app *a, char *err, size_t errlen);
int store_load_all(char *err, size_t errlen); /* fills O.apps */
int store_delete(const char *app, char *err, size_t errlen);
/* The owner of app's stored record into owner ("" when there is no record or
 * it names none); 1 if the record exists, 0 if not, -errno when the records
 * cannot be read. */
int store_owner(const char *app, char *owner, size_t n, char *err, size_t errlen);

/* ---- bus.c: calls to the other plugins (no lock held) ---- */
/* service.method by name; the reply (if replyp) is unpacked with the
 * method's output descriptor. As host->call otherwise. */
int bus_call(ProtobufCMessage **replyp, const ProtobufCServiceDescriptor *svc, const char *method,
	     const ProtobufCMessage *req, uint32_t timeout_ms, nap_error *e);
/* The same to address (svc's name, or "name@plugin" for one of several). */
int bus_call_at(ProtobufCMessage **replyp, const ProtobufCServiceDescriptor *svc,
		const char *address, const char *method, const ProtobufCMessage *req,
		uint32_t timeout_ms, nap_error *e);
int bus_run(const char *app, uint32_t release, json_t *rec, const uint32_t *instances, size_t n,
	    char *err, size_t errlen);
int bus_remove(const char *app, const char *sched, uint32_t release, const uint32_t *instances,
	       size_t n, char *err, size_t errlen);
int bus_announce(const char *app, const struct slot *s, char *err, size_t errlen);
int bus_withdraw(const char *app, uint32_t release, const uint32_t *instances, size_t n, char *err,
		 size_t errlen);
/* The app's endpoints in discovery (release 0: all); free with
 * nap__endpoint_list__free_unpacked. NULL on failure. */
Nap__EndpointList *bus_resolve(const char *app, uint32_t release);
void bus_notify(const char *app, uint32_t release, const char *event, bool ok, const char *stage,
		const char *error, uint64_t started_ms, const Nap__EndpointList *endpoints);
void bus_remove_image(const char *image);

/* ---- images.c: the app's images in the registry ---- */
/* Deletes the images no kept release of a uses, from the registry and this
 * host, and records what is left ("image_bytes"). Lock held; dropped
 * during the calls. Never fails: a registry that cannot do it is logged. */
void images_prune(struct app *a);
/* Deletes every image of app (destroy); lock not held. */
void images_forget(const char *app);
/* Appends to missing the numbers of rec's releases whose image the registry
 * does not have. 0, or -1 with err when the registry cannot be asked. Lock
 * not held. */
int images_missing(const char *app, json_t *rec, json_t *missing, char *err, size_t errlen);

/* ---- reconcile.c ---- */
void *reconcile_main(void *arg);
/* Ends a rollout of a that did not get ready: the release before it serves
 * again. Lock held; the reconciler removes what it started. */
void rollout_fail(struct app *a, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- watch.c, check.c ---- */
void *watch_main(void *arg);
/* Lock held for these: whether scheduler plugin name ("" = the default) has
 * its list complete; whether it is one napd runs; their names, ", "-joined. */
bool sched_synced(const char *name);
bool sched_known(const char *name);
/* Looks for scheduler plugins now (not at the next look, every 2 s) when
 * name is not known: one that started after the last look. Call without
 * O.lock. */
void sched_discover(const char *name);
void sched_list(char *buf, size_t n);
void *check_main(void *arg);

/* ---- status.c ---- */
/* Fills st from a (lock held); free with status_clear. */
void status_fill(Nap__AppStatus *st, struct app *a, bool with_env);
void status_clear(Nap__AppStatus *st);
void ops_get_app(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_list_apps(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* ---- ops.c: what every app method shares ---- */
/* Takes the app for an operation (queueing behind another), creating its
 * entry when create. Returns it with the lock held, or NULL with the call
 * ended. */
struct app *op_begin(nap_plugin_call *call, const char *name, bool create);
/* Gives the app back (lock held) and drops the lock. */
void op_finish(struct app *a);
/* Waits until the app's target release runs with every instance ready, or
 * has failed; lock held. Returns 0 when ready, -1 with the call ended. */
int op_wait_ready(nap_plugin_call *call, struct app *a, uint32_t release, const char *op,
		  uint64_t started_ms);
/* Ends an operation's call with a failure (lock held), with the release
 * that keeps serving when there is one, and tells the notifier. */
void op_fail(nap_plugin_call *call, struct app *a, const char *op, uint32_t release,
	     const char *stage, int status, const char *reason, uint64_t started_ms);
/* A DeployEvent line (deploy only; lock not required). */
void op_progress(nap_plugin_call *call, const char *stage, uint32_t release, uint32_t step,
		 uint32_t steps, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Ends call with UNAVAILABLE when the records cannot be read (waits a
 * little for them first); lock not held. */
bool op_loaded(nap_plugin_call *call);
/* Waits until nothing the record does not want runs or is announced; lock
 * held. 0, or -1 with the call ended. */
int op_wait_settled(nap_plugin_call *call, struct app *a, const char *op);
/* Starts a rollout of release (already in the record) from what serves now. Lock held. */
void op_rollout(struct app *a, uint32_t release, const char *op);
json_t *op_env_object(Nap__EnvVar *const *vars, size_t n, char *why, size_t whylen);

void ops_deploy(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_scale(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_set_env(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_rollback(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_stop(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_start(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_destroy(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_set_check(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
/* ---- ops_backup.c ---- */
void ops_export(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void ops_import(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
