/* scheduler-swarm: nap.Scheduler.Watch.
 *
 * The manager's event stream carries service and node events but no task
 * events, so a watch follows three sources:
 *  - each node's own engine (node_engines / node_engine_port): its
 *    container events (start, die, health_status) of our tasks, as they
 *    happen on that node (registrator's model). A "started" carries the
 *    node's address and the port the container published; a "died" is sent
 *    the moment the node's engine reports it;
 *  - the manager's events: a node or service event re-reads the manager at
 *    once (a node Swarm marks down: its tasks are reported "died");
 *  - and, as a fallback for nodes whose engine cannot be reached, a re-read
 *    of the manager every poll_ms.
 * Each source updates one table of what was last said per instance, so an
 * instance's change is sent once, by whichever source saw it first.
 * The stream: "present" per instance the manager holds, "synced", then
 * "started", "died", "health", "removed" (its service is gone). It runs
 * until the caller cancels; a manager that stops answering ends it
 * UNAVAILABLE, and the caller watches again. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SW_WATCH_TICK_MS 100
#define SW_QUEUE_MAX 256
/* A manager that fails this many re-reads in a row ends the watch. */
#define SW_MANAGER_FAILS_MAX 20

struct nev {          /* what a node engine said */
	char kind[8]; /* "started", "died", "health" */
	struct sw_inst in;
	char health[16];
};

struct follower {
	struct watch *w;
	char addr[64];
	docker_client *docker; /* borrowed from st, or owned (node_engine_port) */
	bool owned;
	pthread_t thread;
};

struct known {
	struct sw_inst in;
	char health[16];
};

struct watch {
	struct sw_state *st;
	nap_plugin_call *call;
	const char *app;
	atomic_int cancel;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool resync;
	struct nev queue[SW_QUEUE_MAX];
	size_t nqueue;
	struct follower followers[SW_ENGINES_MAX];
	size_t nfollowers;
	pthread_t manager_thread;
	bool manager_started;
	struct known *known;
	size_t nknown, cap;
	bool send_failed;
};

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

static void poke(struct watch *w, const struct nev *ev)
{
	pthread_mutex_lock(&w->mu);
	if (ev && w->nqueue < SW_QUEUE_MAX)
		w->queue[w->nqueue++] = *ev;
	else
		w->resync = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- the manager's events ---- */

static int on_manager_event(void *user, const struct docker_event *ev)
{
	if (strcmp(ev->type, "node") == 0 || strcmp(ev->type, "service") == 0)
		poke(user, NULL);
	return 0;
}

static void *follow_manager(void *arg)
{
	struct watch *w = arg;
	char err[512];

	while (!atomic_load(&w->cancel)) {
		docker_events(w->st->manager, NULL, 0, 0, on_manager_event, w, &w->cancel, err,
			      sizeof err);
		poke(w, NULL); /* something may have been missed meanwhile */
		for (int i = 0; i < 10 && !atomic_load(&w->cancel); i++)
			sleep_ms(100);
	}
	return NULL;
}

/* ---- each node's engine ---- */

static uint32_t attr_u32(json_t *attrs, const char *key)
{
	const char *s = json_string_value(json_object_get(attrs, key));

	return s ? (uint32_t)strtoul(s, NULL, 10) : 0;
}

static int on_node_event(void *user, const struct docker_event *ev)
{
	struct follower *f = user;
	json_t *a = ev->attributes;
	const char *app = json_string_value(json_object_get(a, NAP_LABEL_APP));
	const char *task = json_string_value(json_object_get(a, "com.docker.swarm.task.id"));
	struct nev n;

	if (strcmp(ev->type, "container") != 0 || !nap_app_name_valid(app) || !task)
		return 0;
	if (*f->w->app && strcmp(app, f->w->app) != 0)
		return 0;
	memset(&n, 0, sizeof n);
	snprintf(n.in.app, sizeof n.in.app, "%s", app);
	n.in.release = attr_u32(a, NAP_LABEL_RELEASE);
	n.in.instance = attr_u32(a, NAP_LABEL_INSTANCE);
	snprintf(n.in.task_id, sizeof n.in.task_id, "%s", task);
	snprintf(n.in.host, sizeof n.in.host, "%s", f->addr);
	snprintf(n.in.machine, sizeof n.in.machine, "%s", f->addr);
	if (strcmp(ev->action, "start") == 0) {
		struct docker_container_info *info = NULL;
		char err[256];

		if (docker_container_inspect(&info, f->docker, ev->id, err, sizeof err) < 0)
			return 0; /* gone already: its die follows */
		snprintf(n.kind, sizeof n.kind, "started");
		snprintf(n.in.state, sizeof n.in.state, "running");
		n.in.n_ports = endpoint_ports(n.in.ports, ENDPOINT_PORTS_MAX, info->ports,
					      info->n_ports);
		n.in.port = n.in.n_ports ? n.in.ports[0].host_port : 0;
		n.in.started_unix_ms = info->started_unix_ms;
		docker_container_info_free(info);
	} else if (strcmp(ev->action, "die") == 0) {
		const char *code = json_string_value(json_object_get(a, "exitCode"));

		snprintf(n.kind, sizeof n.kind, "died");
		snprintf(n.in.state, sizeof n.in.state, "exited");
		n.in.exit_code = code ? atoi(code) : 0;
	} else if (strncmp(ev->action, "health_status: ", 15) == 0) {
		snprintf(n.kind, sizeof n.kind, "health");
		snprintf(n.in.state, sizeof n.in.state, "running");
		snprintf(n.health, sizeof n.health, "%s", ev->action + 15);
	} else {
		return 0;
	}
	poke(f->w, &n);
	return 0;
}

static void *follow_node(void *arg)
{
	struct follower *f = arg;
	struct watch *w = f->w;
	char err[512], napd_f[400];
	const char *filters[2] = {NAP_LABEL_APP, napd_f};

	snprintf(napd_f, sizeof napd_f, NAP_LABEL_NAPD "=%s", w->st->napd_id);
	while (!atomic_load(&w->cancel)) {
		docker_events(f->docker, filters, *w->st->napd_id ? 2 : 1, 0, on_node_event, f,
			      &w->cancel, err, sizeof err);
		/* The node's engine went away (or the node): the manager says
		 * what became of its tasks. */
		poke(w, NULL);
		for (int i = 0; i < 10 && !atomic_load(&w->cancel); i++)
			sleep_ms(100);
	}
	return NULL;
}

/* Starts following the engine of the node at addr, once. */
static void follow(struct watch *w, const char *addr)
{
	struct follower *f;
	char url[128];

	if (!*addr || w->nfollowers >= SW_ENGINES_MAX)
		return;
	for (size_t i = 0; i < w->nfollowers; i++)
		if (strcmp(w->followers[i].addr, addr) == 0)
			return;
	f = &w->followers[w->nfollowers];
	memset(f, 0, sizeof *f);
	f->w = w;
	snprintf(f->addr, sizeof f->addr, "%s", addr);
	f->docker = sw_engine_for(w->st, addr);
	if (!f->docker && w->st->engine_port) {
		snprintf(url, sizeof url, "tcp://%s:%u", addr, w->st->engine_port);
		if (docker_client_new(&f->docker, url) == 0)
			f->owned = true;
	}
	if (!f->docker)
		return;
	if (pthread_create(&f->thread, NULL, follow_node, f) != 0) {
		if (f->owned)
			docker_client_free(f->docker);
		return;
	}
	w->st->host->log(NAP_LOG_DEBUG, "scheduler-swarm: watch follows the engine of node %s",
			 addr);
	w->nfollowers++;
}

/* ---- what was said ---- */

static struct known *known_find(struct watch *w, const char *app, uint32_t release,
				uint32_t instance)
{
	for (size_t i = 0; i < w->nknown; i++) {
		struct sw_inst *k = &w->known[i].in;

		if (k->release == release && k->instance == instance && strcmp(k->app, app) == 0)
			return &w->known[i];
	}
	return NULL;
}

static struct known *known_add(struct watch *w, const struct sw_inst *in)
{
	if (w->nknown == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct known *v = realloc(w->known, cap * sizeof *v);

		if (!v)
			return NULL;
		w->known = v;
		w->cap = cap;
	}
	memset(&w->known[w->nknown], 0, sizeof w->known[w->nknown]);
	w->known[w->nknown].in = *in;
	return &w->known[w->nknown++];
}

static void send_event(struct watch *w, const char *kind, const struct sw_inst *in,
		       const char *health)
{
	Nap__InstanceEvent ev = NAP__INSTANCE_EVENT__INIT;
	Nap__Instance out = NAP__INSTANCE__INIT;

	if (in) {
		sw_instance_fill(&out, in);
		if (health)
			out.health = (char *)health;
		ev.instance = &out;
	}
	ev.kind = (char *)kind;
	if (w->st->host->send(w->call, &ev.base) < 0)
		w->send_failed = true;
	else if (in)
		w->st->host->log(NAP_LOG_DEBUG, "scheduler-swarm: %s %s instance %u (%s:%u)", kind,
				 in->app, (unsigned)in->instance, in->host, (unsigned)in->port);
	instance_ports_free(&out);
}

/* What a node's engine said, unless it was said already. */
static void apply_node_event(struct watch *w, const struct nev *n)
{
	struct known *k = known_find(w, n->in.app, n->in.release, n->in.instance);
	bool running = k && strcmp(k->in.state, "running") == 0;
	bool same_task = k && strcmp(k->in.task_id, n->in.task_id) == 0;

	if (strcmp(n->kind, "health") == 0) {
		if (!k || !same_task || strcmp(k->health, n->health) == 0)
			return;
		snprintf(k->health, sizeof k->health, "%s", n->health);
		struct sw_inst in = k->in;
		send_event(w, "health", &in, k->health);
		return;
	}
	if (strcmp(n->kind, "started") == 0 && running && same_task)
		return;
	if (strcmp(n->kind, "died") == 0 &&
	    ((k && !running && same_task) || (!same_task && running)))
		return; /* said, or an older task's end */
	if (!k && strcmp(n->kind, "died") == 0)
		return; /* its service is gone ("removed" was sent): it stops */
	if (!k)
		k = known_add(w, &n->in);
	if (!k)
		return;
	{
		char service_id[64];

		snprintf(service_id, sizeof service_id, "%s", k->in.service_id);
		k->in = n->in;
		snprintf(k->in.service_id, sizeof k->in.service_id, "%s", service_id);
	}
	send_event(w, n->kind, &k->in, NULL);
}

/* The manager's view against what was said. */
static void apply_snapshot(struct watch *w, const struct sw_snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++) {
		const struct sw_inst *in = &snap->v[i];
		struct known *k = known_find(w, in->app, in->release, in->instance);
		bool now_running = strcmp(in->state, "running") == 0 && (in->port || in->no_ports);
		bool was_running = k && strcmp(k->in.state, "running") == 0;
		bool ended = strcmp(in->state, "exited") == 0 || strcmp(in->state, "failed") == 0;

		follow(w, in->host);
		if (!k) {
			k = known_add(w, in);
			if (!k)
				continue;
			if (now_running)
				send_event(w, "started", in, NULL);
			else if (ended)
				send_event(w, "died", in, NULL);
			continue;
		}
		if (now_running && (!was_running || strcmp(k->in.task_id, in->task_id) != 0)) {
			k->in = *in;
			send_event(w, "started", in, NULL);
		} else if (ended && (was_running || strcmp(k->in.state, "pending") == 0)) {
			k->in = *in;
			send_event(w, "died", in, NULL);
		} else if (!was_running || strcmp(k->in.task_id, in->task_id) == 0) {
			char host[64];

			/* keep what a node said (its address) unless the task changed */
			snprintf(host, sizeof host, "%s", k->in.host);
			k->in = *in;
			if (!*k->in.host)
				snprintf(k->in.host, sizeof k->in.host, "%s", host);
		}
	}
	for (size_t i = w->nknown; i-- > 0;) {
		struct known *k = &w->known[i];
		bool found = false;

		for (size_t j = 0; j < snap->n && !found; j++)
			found = snap->v[j].release == k->in.release &&
				snap->v[j].instance == k->in.instance &&
				strcmp(snap->v[j].app, k->in.app) == 0;
		if (found)
			continue;
		struct sw_inst gone = k->in;
		snprintf(gone.state, sizeof gone.state, "removed");
		send_event(w, "removed", &gone, NULL);
		w->known[i] = w->known[--w->nknown];
	}
}

static void watch_run(struct watch *w)
{
	struct sw_state *st = w->st;
	struct sw_snapshot snap;
	char err[512];
	int fails = 0, r;
	struct timespec last;

	r = sw_snapshot_read(&snap, st, w->app, err, sizeof err);
	if (r < 0) {
		st->host->end(w->call, NAP_UNAVAILABLE, "scheduler-swarm: %s", err);
		return;
	}
	for (size_t i = 0; i < snap.n; i++) {
		known_add(w, &snap.v[i]);
		send_event(w, "present", &snap.v[i], NULL);
		follow(w, snap.v[i].host);
	}
	/* Every node's engine, not only those running our tasks yet. */
	{
		size_t i;
		json_t *n;

		json_array_foreach(snap.nodes, i, n)
		{
			char addr[64];
			const char *id = json_string_value(json_object_get(n, "ID"));

			if (id && sw_node_addr(snap.nodes, id, addr, sizeof addr))
				follow(w, addr);
		}
	}
	sw_snapshot_free(&snap);
	send_event(w, "synced", NULL, NULL);
	w->manager_started = pthread_create(&w->manager_thread, NULL, follow_manager, w) == 0;
	clock_gettime(CLOCK_MONOTONIC, &last);

	while (!w->send_failed && !st->host->cancelled(w->call) && !atomic_load(&st->stopping)) {
		struct nev batch[32];
		size_t nb;
		bool resync;
		struct timespec now, until;

		pthread_mutex_lock(&w->mu);
		if (!w->nqueue && !w->resync) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += SW_WATCH_TICK_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &until);
		}
		nb = w->nqueue < 32 ? w->nqueue : 32;
		memcpy(batch, w->queue, nb * sizeof *batch);
		memmove(w->queue, w->queue + nb, (w->nqueue - nb) * sizeof *w->queue);
		w->nqueue -= nb;
		resync = w->resync;
		w->resync = false;
		pthread_mutex_unlock(&w->mu);

		for (size_t i = 0; i < nb; i++)
			apply_node_event(w, &batch[i]);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!resync && (uint64_t)(now.tv_sec - last.tv_sec) * 1000u +
					       (uint64_t)((now.tv_nsec - last.tv_nsec) / 1000000L) <
				       st->poll_ms)
			continue;
		last = now;
		r = sw_snapshot_read(&snap, st, w->app, err, sizeof err);
		if (r < 0) {
			if (++fails >= SW_MANAGER_FAILS_MAX)
				break;
			continue;
		}
		fails = 0;
		apply_snapshot(w, &snap);
		sw_snapshot_free(&snap);
	}
	atomic_store(&w->cancel, 1);
	if (w->manager_started)
		pthread_join(w->manager_thread, NULL);
	for (size_t i = 0; i < w->nfollowers; i++) {
		pthread_join(w->followers[i].thread, NULL);
		if (w->followers[i].owned)
			docker_client_free(w->followers[i].docker);
	}
	if (fails >= SW_MANAGER_FAILS_MAX)
		st->host->end(w->call, NAP_UNAVAILABLE,
			      "scheduler-swarm: the manager at %s stopped answering (%s): watch "
			      "again",
			      st->manager_url, err);
	else
		st->host->end(w->call, NAP_CANCELLED, "scheduler-swarm: watch cancelled");
}

void sw_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct sw_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	struct watch *w;

	if (req->app && *req->app && !nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-swarm: invalid app name: use ^[a-z][a-z0-9-]{0,62}$");
		return;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-swarm: out of memory");
		return;
	}
	w->st = st;
	w->call = call;
	w->app = req->app ? req->app : "";
	atomic_init(&w->cancel, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_fetch_add(&st->watches, 1);
	watch_run(w);
	atomic_fetch_sub(&st->watches, 1);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->known);
	free(w);
}
