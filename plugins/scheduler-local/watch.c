/* scheduler-local: nap.Scheduler.Watch, the instances of an app (or of all
 * nap apps of our napd) as they change, from Docker's event stream.
 *
 * The stream: one InstanceEvent "present" per container that exists (any
 * state), one "synced" (no instance), then as Docker reports them:
 *   "started"  a container started (state "running", its port);
 *   "died"     it ended (state "exited", exit_code, oom_killed);
 *   "health"   its HEALTHCHECK status changed (health "starting", "healthy"
 *              or "unhealthy");
 *   "removed"  it was removed (state "removed"; app, release, instance and
 *              id from its labels only).
 * The event stream is read from a moment taken before the list, so nothing
 * is lost in between; an event may repeat what "present" said. It runs
 * until the caller cancels, or ends UNAVAILABLE when Docker's stream ends
 * (dockerd stopped or restarted): the caller watches again and gets a fresh
 * list. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the caller's cancel (and shutdown) is looked at. */
#define SL_WATCH_POLL_MS 100
/* Docker's action for a HEALTHCHECK result: this, then the status. */
#define HEALTH_ACTION "health_status: "

struct watch {
	const struct sl_state *st;
	nap_plugin_call *call;
	const char *app;   /* "" for every app */
	atomic_int cancel; /* set when the caller is gone or we shut down */
	atomic_bool done;  /* the events have ended: the poller may stop */
	int send_failed;   /* a send failed: the caller is gone */
};

static int64_t now_nano(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sends one event; instance may be NULL ("synced"). */
static int send_event(struct watch *w, const char *kind, Nap__Instance *instance)
{
	Nap__InstanceEvent ev = NAP__INSTANCE_EVENT__INIT;

	ev.kind = (char *)kind;
	ev.instance = instance;
	if (w->st->host->send(w->call, &ev.base) < 0) {
		w->send_failed = 1;
		return -EPIPE;
	}
	return 0;
}

/* Inspects container id and sends kind with it. A container gone meanwhile
 * sends nothing (its "removed" follows). */
static int send_inspected(struct watch *w, const char *kind, const char *id, const char *app,
			  uint32_t release, uint32_t instance, const char *health, char *err,
			  size_t errlen)
{
	struct docker_container_info *info = NULL;
	Nap__Instance in = NAP__INSTANCE__INIT;
	int r = docker_container_inspect(&info, w->st->docker, id, err, errlen);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	sl_instance_fill(&in, w->st, app, release, instance, info);
	if (health) /* the event's, not a newer one inspect may have seen */
		in.health = (char *)health;
	r = send_event(w, kind, &in);
	instance_ports_free(&in);
	docker_container_info_free(info);
	return r;
}

static int send_present(struct watch *w, char *err, size_t errlen)
{
	struct docker_container_summary *list = NULL;
	size_t n = 0;
	int r = sl_list_containers(&list, &n, w->st, w->app, 0, true, err, errlen);

	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct docker_container_summary *c = &list[i];
		const char *app = json_string_value(json_object_get(c->labels, NAP_LABEL_APP));

		if (!nap_app_name_valid(app))
			continue;
		r = send_inspected(w, "present", c->id, app, sl_label_u32(c, NAP_LABEL_RELEASE),
				   sl_label_u32(c, NAP_LABEL_INSTANCE), NULL, err, errlen);
	}
	docker_container_list_free(list, n);
	return r;
}

/* A label of an event's attributes as a number; 0 if absent or bad. */
static uint32_t attr_u32(json_t *attributes, const char *key)
{
	struct docker_container_summary s = {.labels = attributes};

	return sl_label_u32(&s, key);
}

static int on_event(void *user, const struct docker_event *ev)
{
	struct watch *w = user;
	const char *app = json_string_value(json_object_get(ev->attributes, NAP_LABEL_APP));
	uint32_t release = attr_u32(ev->attributes, NAP_LABEL_RELEASE);
	uint32_t instance = attr_u32(ev->attributes, NAP_LABEL_INSTANCE);
	char err[512];
	int r;

	if (strcmp(ev->type, "container") != 0 || !nap_app_name_valid(app) || !*ev->id)
		return 0;
	/* An inspect that fails (dockerd going away) ends the watch: the
	 * caller watches again and gets a fresh list. */
	if (strcmp(ev->action, "start") == 0)
		return send_inspected(w, "started", ev->id, app, release, instance, NULL, err,
				      sizeof err);
	if (strncmp(ev->action, HEALTH_ACTION, strlen(HEALTH_ACTION)) == 0)
		return send_inspected(w, "health", ev->id, app, release, instance,
				      ev->action + strlen(HEALTH_ACTION), err, sizeof err);
	if (strcmp(ev->action, "die") == 0) {
		struct docker_container_info *info = NULL;
		Nap__Instance in = NAP__INSTANCE__INIT;

		r = docker_container_inspect(&info, w->st->docker, ev->id, err, sizeof err);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0 && !info->running) {
			sl_instance_fill(&in, w->st, app, release, instance, info);
		} else {
			/* Removed already (docker rm -f), or started again:
			 * the event has the code. */
			const char *code = json_string_value(
				json_object_get(ev->attributes, "exitCode"));

			in.app = (char *)app;
			in.release = release;
			in.instance = instance;
			in.id = (char *)ev->id;
			in.host = w->st->address;
			in.exit_code = code ? atoi(code) : 0;
		}
		in.state = "exited";
		r = send_event(w, "died", &in);
		docker_container_info_free(info);
		return r;
	}
	if (strcmp(ev->action, "destroy") == 0) {
		Nap__Instance in = NAP__INSTANCE__INIT;

		in.app = (char *)app;
		in.release = release;
		in.instance = instance;
		in.id = (char *)ev->id;
		in.host = w->st->address;
		in.state = "removed";
		return send_event(w, "removed", &in);
	}
	return 0;
}

/* Looks at the caller's cancel every SL_WATCH_POLL_MS and passes it on to
 * the event stream, which sees only a flag. */
static void *poll_cancel(void *arg)
{
	struct watch *w = arg;
	struct timespec ts = {0, SL_WATCH_POLL_MS * 1000000L};

	while (!atomic_load(&w->done)) {
		if (w->st->host->cancelled(w->call) || atomic_load(&w->st->stopping)) {
			atomic_store(&w->cancel, 1);
			break;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void watch_run(struct watch *w)
{
	const struct sl_state *st = w->st;
	struct sl_filters f;
	pthread_t poller;
	bool polling;
	char err[512];
	int64_t since;
	int r;

	/* Taken before the list: the stream replays what happens while it is
	 * read, so nothing falls in between. */
	since = now_nano();
	r = send_present(w, err, sizeof err);
	if (r == 0)
		r = send_event(w, "synced", NULL);
	if (r == -EPIPE || w->send_failed) {
		st->host->end(w->call, NAP_CANCELLED, "scheduler-local: watch cancelled");
		return;
	}
	if (r < 0) {
		st->host->end(w->call, NAP_UNAVAILABLE, "scheduler-local: %s", err);
		return;
	}

	polling = pthread_create(&poller, NULL, poll_cancel, w) == 0;
	if (!polling)
		st->host->log(NAP_LOG_WARNING,
			      "scheduler-local: watch: no thread to notice a cancel; it is noticed "
			      "with the next event");
	sl_filters_init(&f, st, w->app, 0);
	r = docker_events(st->docker, f.v, f.n, since, on_event, w, &w->cancel, err, sizeof err);
	atomic_store(&w->done, true);
	if (polling)
		pthread_join(poller, NULL);

	if (w->send_failed || atomic_load(&w->cancel) || st->host->cancelled(w->call))
		st->host->end(w->call, NAP_CANCELLED, "scheduler-local: watch cancelled");
	else if (r == -ECONNREFUSED && strstr(err, st->socket)) /* and says what to do */
		st->host->end(w->call, NAP_UNAVAILABLE, "scheduler-local: watch: %s", err);
	else
		st->host->end(
			w->call, NAP_UNAVAILABLE,
			"scheduler-local: Docker's event stream on %s ended (%s): watch again",
			st->socket, r < 0 ? err : "dockerd closed it");
}

void sl_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct sl_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	struct watch w = {.st = st, .call = call, .app = req->app ? req->app : ""};

	if (*w.app && !nap_app_name_valid(w.app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-local: invalid app name \"%.80s\": use "
			      "^[a-z][a-z0-9-]{0,62}$",
			      w.app);
		return;
	}
	atomic_init(&w.cancel, 0);
	atomic_init(&w.done, false);
	atomic_fetch_add(&st->watches, 1);
	watch_run(&w);
	atomic_fetch_sub(&st->watches, 1);
}
