/* What every app method shares: taking an app (one operation at a time per
 * app, the others queue), following convergence with the caller's deadline
 * and CANCEL in mind, and saying how an operation ended. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

#include "orchestrator.h"

#define LOAD_WAIT_MS 10000u

static bool gone(nap_plugin_call *call)
{
	return O.host->cancelled(call) || atomic_load(&O.stopping);
}

struct app *op_begin(nap_plugin_call *call, const char *name, bool create)
{
	if (!nap_app_name_valid(name)) {
		O.host->end(call, NAP_INVALID_ARGUMENT, "'%.80s' is not a valid app name: %s",
			    name ? name : "", NAP_APP_NAME_RULE);
		return NULL;
	}
	if (!op_loaded(call))
		return NULL;
	pthread_mutex_lock(&O.lock);
	bool said = false, checked = false;
	for (;;) {
		struct app *a = create ? app_get(name) : app_find(name);
		if (!a || (!a->rec && !create && !a->owner[0])) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_NOT_FOUND,
				    "no app %s has been deployed ('napc ls' lists the apps)", name);
			return NULL;
		}
		if (a->damaged) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_DATA_LOSS,
				    "the record of %s in %sapps/%s/app is damaged: restore it "
				    "(napc destroy %s removes it)",
				    name, O.key_prefix, name, name);
			return NULL;
		}
		if (!a->busy && (!a->rec || a->owner[0]) && create && !checked) {
			/* A new app here: another napd may have made it since we
			 * read the records. */
			char owner[sizeof(a->owner)], err[512];
			a->busy = true;
			pthread_mutex_unlock(&O.lock);
			int r = store_owner(name, owner, sizeof(owner), err, sizeof(err));
			pthread_mutex_lock(&O.lock);
			a->busy = false;
			if (r < 0) {
				pthread_mutex_unlock(&O.lock);
				O.host->end(call, NAP_UNAVAILABLE, "%s", err);
				return NULL;
			}
			/* set, or cleared when the other napd destroyed it */
			snprintf(a->owner, sizeof(a->owner), "%s",
				 *owner && strcmp(owner, O.napd_id) != 0 ? owner : "");
			checked = true;
			continue;
		}
		if (a->owner[0]) {
			char owner[sizeof(a->owner)];
			snprintf(owner, sizeof(owner), "%s", a->owner);
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_FAILED_PRECONDITION,
				    "app %s belongs to the napd at %s (several napds share this "
				    "etcd): use that napd, or another app name",
				    name, owner);
			return NULL;
		}
		if (!a->busy) {
			a->busy = true;
			if (a->rec && !*rec_owner(a->rec)) /* nap 0.1's: whoever acts on it */
				json_object_set_new(a->rec, "napd", json_string(O.napd_id));
			return a;
		}
		if (!said)
			op_progress(call, "wait", 0, 0, 0,
				    "waiting for the operation on %s in "
				    "progress",
				    name);
		said = true;
		if (gone(call)) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_CANCELLED, "cancelled while waiting for %s", name);
			return NULL;
		}
		orch_wait(200);
	}
}

bool op_loaded(nap_plugin_call *call)
{
	uint64_t limit = mono_ms() + LOAD_WAIT_MS;
	char why[sizeof(O.load_error)];
	pthread_mutex_lock(&O.lock);
	while (!O.loaded && !gone(call) && mono_ms() < limit)
		orch_wait(100);
	bool ok = O.loaded;
	snprintf(why, sizeof(why), "%s", O.load_error[0] ? O.load_error : "no answer yet");
	pthread_mutex_unlock(&O.lock);
	if (!ok)
		O.host->end(call, NAP_UNAVAILABLE,
			    "the orchestrator has not read the apps' desired state: %s", why);
	return ok;
}

int op_wait_settled(nap_plugin_call *call, struct app *a, const char *op)
{
	uint64_t limit = mono_ms() + 60000u;
	for (;;) {
		bool busy = !app_synced(a); /* what runs is not known yet */
		state_mark_wanted(a);
		for (size_t i = 0; i < a->nslots && !busy; i++) {
			const struct slot *s = &a->slots[i];
			busy = !s->wanted && (s->exists || s->starting || s->announced);
		}
		if (!busy)
			return 0;
		if (gone(call) || mono_ms() > limit) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(
				call, NAP_DEADLINE_EXCEEDED,
				"%s of %s: its extra instances did not all stop within 60 s; nap "
				"keeps removing them",
				op, a->name);
			pthread_mutex_lock(&O.lock);
			return -1;
		}
		orch_wait(100);
	}
}

void op_finish(struct app *a)
{
	a->busy = false;
	orch_changed(a);
	pthread_mutex_unlock(&O.lock);
}

void op_progress(nap_plugin_call *call, const char *stage, uint32_t release, uint32_t step,
		 uint32_t steps, const char *fmt, ...)
{
	if (!call)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	Nap__DeployEvent ev = NAP__DEPLOY_EVENT__INIT;
	ev.stage = (char *)stage;
	ev.message = line;
	ev.step = step;
	ev.steps = steps;
	ev.release = release;
	O.host->send(call, &ev.base);
}

void op_fail(nap_plugin_call *call, struct app *a, const char *op, uint32_t release,
	     const char *stage, int status, const char *reason, uint64_t started_ms)
{
	char msg[2048];
	json_t *rec = a->rec;
	uint32_t serving = rec ? rec_u32(rec, "release") : 0;
	if (serving && serving != release && rec_running(rec))
		snprintf(msg, sizeof(msg), "%s of %s failed at %s: %s (release %u keeps serving)",
			 op, a->name, stage, reason, serving);
	else
		snprintf(msg, sizeof(msg), "%s of %s failed at %s: %s", op, a->name, stage, reason);
	O.host->log(NAP_LOG_NOTICE, "orchestrator: %s", msg);
	char app[64];
	snprintf(app, sizeof(app), "%s", a->name);
	pthread_mutex_unlock(&O.lock);
	O.host->end(call, status, "%s", msg);
	bus_notify(app, release, op, false, stage, reason, started_ms, NULL);
	pthread_mutex_lock(&O.lock);
}

/* The first slot of release that is not ready (or NULL). */
static const struct slot *not_ready(struct app *a, uint32_t release, size_t *ready)
{
	const struct slot *first = NULL;
	size_t i;
	json_t *v;
	*ready = 0;
	json_array_foreach(json_object_get(a->rec, "slots"), i, v)
	{
		const struct slot *s = slot_find(a, release, (uint32_t)json_integer_value(v));
		if (s && slot_serving(s))
			(*ready)++;
		else if (!first)
			first = s ? s
				  : &(const struct slot){
					    .instance = (uint32_t)json_integer_value(v)};
	}
	return first;
}

/* Deploy progress: one line per instance whose phase changed. */
struct seen {
	uint32_t instance;
	enum slot_phase phase;
	bool running;
};

static void report(nap_plugin_call *call, struct app *a, uint32_t release, struct seen *seen,
		   size_t max)
{
	for (size_t i = 0; i < a->nslots && i < max; i++) {
		const struct slot *s = &a->slots[i];
		if (s->release != release || !s->wanted)
			continue;
		struct seen *w = NULL;
		for (size_t j = 0; j < max && !w; j++)
			if (seen[j].instance == s->instance || seen[j].instance == 0)
				w = &seen[j];
		if (!w)
			continue;
		bool fresh = w->instance == 0;
		w->instance = s->instance;
		if (s->running && (fresh || !w->running))
			op_progress(call, "schedule", release, 0, 0, "instance %u started on %s:%u",
				    s->instance, s->host, s->port);
		if (s->phase != w->phase || fresh) {
			if (s->phase == PHASE_READY)
				op_progress(call, "ready", release, 0, 0,
					    "instance %u is ready (%s) and announced", s->instance,
					    s->last_check);
			else if (s->phase == PHASE_CRASHED || s->phase == PHASE_RESTARTING)
				op_progress(call, "ready", release, 0, 0,
					    "instance %u exited with code %d", s->instance,
					    s->last_exit);
		}
		w->phase = s->phase;
		w->running = s->running;
	}
}

int op_wait_ready(nap_plugin_call *call, struct app *a, uint32_t release, const char *op,
		  uint64_t started_ms)
{
	bool deploy = strcmp(op, "scale") != 0 && strcmp(op, "start") != 0;
	uint64_t limit = mono_ms() + (uint64_t)O.deploy_timeout_s * 1000u;
	struct seen seen[NAP_SEEN_MAX] = {{0}};
	for (;;) {
		json_t *rec = a->rec, *f = json_object_get(rec, "failure");
		if (deploy && rec_u32(f, "release") == release &&
		    (uint64_t)json_integer_value(json_object_get(f, "at_ms")) >= started_ms) {
			const char *stage = json_string_value(json_object_get(f, "stage"));
			const char *why = json_string_value(json_object_get(f, "reason"));
			op_fail(call, a, op, release, stage ? stage : "ready",
				strcmp(stage ? stage : "", "cancelled") == 0 ? NAP_CANCELLED
									     : NAP_ABORTED,
				why ? why : "", started_ms);
			return -1;
		}
		if (deploy)
			report(call, a, release, seen, NAP_SEEN_MAX);
		size_t ready;
		const struct slot *wait = not_ready(a, release, &ready);
		if (rec_u32(rec, "release") == release && !rec_rollout(rec) && !wait)
			return 0;
		if (gone(call)) {
			/* A cancelled deploy leaves what served before it. */
			if (deploy && rec_rollout(rec) && rec_u32(rec, "release") == release)
				rollout_fail(a, "cancelled",
					     "the caller cancelled the %s or its "
					     "deadline passed",
					     op);
			return -1;
		}
		if (!deploy && mono_ms() >= limit) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(
				call, NAP_DEADLINE_EXCEEDED,
				"%s of %s: %zu of %zu instances ready after %u s; instance %u is "
				"%s (last check: %s); nap keeps trying",
				op, a->name, ready, json_array_size(json_object_get(rec, "slots")),
				O.deploy_timeout_s, wait ? wait->instance : 0,
				wait ? phase_name(wait->phase) : "?",
				wait && wait->last_check[0] ? wait->last_check : "none yet");
			pthread_mutex_lock(&O.lock);
			return -1;
		}
		orch_wait(200);
	}
}

void op_rollout(struct app *a, uint32_t release, const char *op)
{
	json_t *rec = a->rec;
	uint32_t from = rec_running(rec) ? rec_u32(rec, "release") : 0;
	json_t *from_slots = from ? json_object_get(rec, "slots") : NULL;
	json_t *slots = slots_pick(from_slots, rec_u32(rec, "instances"));
	Nap__Check c;
	rec_check(rec, &c);
	json_t *kept = from_slots ? json_incref(from_slots) : json_array();
	json_object_set_new(rec, "rollout",
			    json_pack("{s:i, s:o, s:I, s:s}", "from", (json_int_t)from,
				      "from_slots", kept, "deadline_ms",
				      (json_int_t)(wall_ms() + (uint64_t)c.ready_timeout_s * 1000u),
				      "op", op));
	json_object_set_new(rec, "slots", slots);
	json_object_set_new(rec, "release", json_integer(release));
	json_object_set_new(rec, "state", json_string("running"));
	orch_changed(a);
}
