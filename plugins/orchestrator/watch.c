/* The watchers: one thread per scheduler plugin follows its instances
 * through nap.Scheduler.Watch (a list, then every change), addressed as
 * "nap.Scheduler@<plugin>", and keeps the picture in state.c current. A
 * stream that ends (a scheduler restarting, Docker restarting) is opened
 * again; a scheduler without Watch is listed every second instead. The
 * schedulers are found through nap.Control.ListPlugins, again every few
 * seconds. Until a scheduler's list is complete (watcher.synced) the
 * reconciler touches no app that runs on it, so that a gap in what is known
 * never looks like a missing instance. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/scheduler.pb-c.h>

#include "orchestrator.h"

#define POLL_MS 1000u
#define RETRY_MS 500u
#define DISCOVER_MS 2000u

struct watcher {
	char name[64];    /* the scheduler plugin */
	char address[96]; /* nap.Scheduler@name */
	bool synced;      /* its list is complete (O.lock) */
	pthread_t thread;
	struct watcher *next;
};

static struct watcher *watchers; /* O.lock */

/* Lock held. */
bool sched_synced(const char *name)
{
	if (!*name)
		name = O.default_sched;
	for (struct watcher *w = watchers; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			return w->synced;
	return false;
}

bool sched_known(const char *name)
{
	for (struct watcher *w = watchers; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			return true;
	return false;
}

void sched_list(char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (struct watcher *w = watchers; w && used < n; w = w->next)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", w->name);
}

bool app_synced(struct app *a)
{
	json_t *rec = a->rec, *ro = rec ? rec_rollout(rec) : NULL;
	if (!O.default_sched[0])
		return false;
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].sched[0] && !sched_synced(a->slots[i].sched))
			return false;
	if (rec && !sched_synced(release_sched(rec, 0)))
		return false;
	return !ro || !rec_u32(ro, "from") || sched_synced(release_sched(rec, rec_u32(ro, "from")));
}

static void set_synced(struct watcher *w, bool synced)
{
	w->synced = synced;
	orch_changed(NULL);
}

static int on_event(const ProtobufCMessage *msg, void *ud)
{
	struct watcher *w = ud;
	if (atomic_load(&O.stopping))
		return 1;
	if (!msg)
		return 0;
	const Nap__InstanceEvent *ev = (const Nap__InstanceEvent *)msg;
	pthread_mutex_lock(&O.lock);
	if (ev->kind && strcmp(ev->kind, "synced") == 0)
		set_synced(w, true);
	else if (ev->kind && ev->instance)
		state_apply(ev->kind, ev->instance, w->name);
	pthread_mutex_unlock(&O.lock);
	return 0;
}

/* One List, applied as a complete picture. */
static int poll_once(struct watcher *w, nap_error *e)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	req.app = (char *)"";
	ProtobufCMessage *reply = NULL;
	int r = bus_call_at(&reply, &nap__scheduler__descriptor, w->address, "List", &req.base,
			    10000, e);
	if (r < 0)
		return r;
	const Nap__ListInstancesReply *l = (const Nap__ListInstancesReply *)reply;
	pthread_mutex_lock(&O.lock);
	state_unsee(w->name);
	for (size_t i = 0; i < l->n_instances; i++)
		state_apply("present", l->instances[i], w->name);
	set_synced(w, true);
	pthread_mutex_unlock(&O.lock);
	protobuf_c_message_free_unpacked(reply, NULL);
	return 0;
}

static void pause_ms(uint32_t ms)
{
	for (uint32_t t = 0; t < ms && !atomic_load(&O.stopping); t += 50)
		usleep(50 * 1000);
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	bool polling = false, said_info = false, said_warning = false;
	while (!atomic_load(&O.stopping)) {
		nap_error e = {0};
		int r;
		if (polling) {
			r = poll_once(w, &e);
			if (r == 0) {
				said_info = said_warning = false;
				pause_ms(POLL_MS);
				continue;
			}
		} else {
			pthread_mutex_lock(&O.lock);
			state_unsee(w->name);
			set_synced(w, false);
			pthread_mutex_unlock(&O.lock);
			Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
			req.app = (char *)"";
			int idx = nap_method_index(&nap__scheduler__descriptor, "Watch");
			uint64_t began = mono_ms();
			r = O.host->call_stream(w->address, (uint32_t)idx, &req.base,
						&nap__instance_event__descriptor, 0, NULL, on_event,
						w, &e);
			/* UNIMPLEMENTED also means "not running (yet)": only a
			 * scheduler that answers List but not Watch is polled. */
			if (r < 0 && e.status == NAP_UNIMPLEMENTED && poll_once(w, &e) == 0) {
				O.host->log(NAP_LOG_NOTICE,
					    "orchestrator: %s has no Watch: listing its instances "
					    "every %u ms instead",
					    w->name, POLL_MS);
				polling = true;
				continue;
			}
			if (mono_ms() - began > 5000u)
				said_info = said_warning = false; /* it ran a while */
			if (r == 0 || atomic_load(&O.stopping))
				continue;
		}
		int level = orch_retry_level();
		bool *said = level == NAP_LOG_WARNING ? &said_warning : &said_info;
		if (!*said)
			O.host->log(level,
				    "orchestrator: cannot follow the instances of %s: %s (trying "
				    "again)",
				    w->name, e.message);
		*said = true;
		pause_ms(RETRY_MS);
	}
	return NULL;
}

/* The running plugins that provide nap.Scheduler, in napd.conf's order. */
static int list_schedulers(char names[][64], size_t max, size_t *np, nap_error *e)
{
	Nap__ListPluginsRequest req = NAP__LIST_PLUGINS_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	int r = bus_call(&reply, &nap__control__descriptor, "ListPlugins", &req.base, 5000, e);
	if (r < 0)
		return r;
	const Nap__ListPluginsReply *l = (const Nap__ListPluginsReply *)reply;
	size_t n = 0;
	for (size_t i = 0; i < l->n_plugins && n < max; i++)
		for (size_t j = 0; j < l->plugins[i]->n_services; j++)
			if (strcmp(l->plugins[i]->services[j], "nap.Scheduler") == 0 &&
			    strlen(l->plugins[i]->name) < 64)
				snprintf(names[n++], 64, "%s", l->plugins[i]->name);
	protobuf_c_message_free_unpacked(reply, NULL);
	*np = n;
	return 0;
}

/* Starts a watcher for every scheduler plugin not watched yet; true when
 * at least one scheduler is known. */
static bool discover(void)
{
	char names[16][64];
	size_t n = 0;
	nap_error e = {0};
	if (list_schedulers(names, 16, &n, &e) < 0)
		return false;
	pthread_mutex_lock(&O.lock);
	if (n && !O.default_sched[0])
		snprintf(O.default_sched, sizeof(O.default_sched), "%s", names[0]);
	/* once stopping, watch_main's teardown may have taken the list */
	for (size_t i = 0; i < n && !atomic_load(&O.stopping); i++) {
		if (sched_known(names[i]))
			continue;
		struct watcher *w = calloc(1, sizeof(*w));
		if (!w)
			break;
		snprintf(w->name, sizeof(w->name), "%s", names[i]);
		snprintf(w->address, sizeof(w->address), "nap.Scheduler@%s", names[i]);
		if (pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
			free(w);
			break;
		}
		/* in napd.conf's order: the first is the default */
		struct watcher **pp = &watchers;
		while (*pp)
			pp = &(*pp)->next;
		*pp = w;
		set_synced(w, false);
	}
	bool found = watchers != NULL;
	pthread_mutex_unlock(&O.lock);
	return found;
}

void sched_discover(const char *name)
{
	pthread_mutex_lock(&O.lock);
	bool known = sched_known(name);
	pthread_mutex_unlock(&O.lock);
	if (!known)
		discover();
}

void *watch_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&O.stopping))
		pause_ms(discover() ? DISCOVER_MS : 200);
	/* the watchers notice O.stopping within a stream's 250 ms tick */
	pthread_mutex_lock(&O.lock);
	struct watcher *all = watchers;
	watchers = NULL;
	pthread_mutex_unlock(&O.lock);
	while (all) {
		struct watcher *next = all->next;
		pthread_join(all->thread, NULL);
		free(all);
		all = next;
	}
	return NULL;
}
