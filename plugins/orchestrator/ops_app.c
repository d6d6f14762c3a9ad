/* The app methods other than Deploy: each writes the desired state and,
 * where instances must start, follows convergence (ops.c). A cancelled or
 * expired Scale or Start leaves the new count in force (nap keeps
 * converging); a cancelled SetEnv or Rollback is undone like a deploy. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/limits.h>
#include <nap/names.h>

#include "orchestrator.h"
#include "requests.h"

/* Saves a's record (lock held, dropped during the write). */
static int save(nap_plugin_call *call, struct app *a, const char *op)
{
	char err[512];
	pthread_mutex_unlock(&O.lock);
	int r = store_save(a, err, sizeof(err));
	pthread_mutex_lock(&O.lock);
	if (r < 0) {
		pthread_mutex_unlock(&O.lock);
		O.host->end(call, NAP_UNAVAILABLE, "%s of %s: %s", op, a->name, err);
		pthread_mutex_lock(&O.lock);
	}
	return r;
}

static void reply_status(nap_plugin_call *call, struct app *a, bool with_env)
{
	Nap__AppStatus st;
	status_fill(&st, a, with_env);
	O.host->reply(call, &st.base);
	status_clear(&st);
}

/* An operation that changed no release went well: the notifier hears of it
 * (as of every operation), then the caller gets the app's status. Lock
 * held. */
static void succeed(nap_plugin_call *call, struct app *a, const char *op, uint64_t started)
{
	char app[64];
	uint32_t release = rec_u32(a->rec, "release");
	snprintf(app, sizeof(app), "%s", a->name);
	pthread_mutex_unlock(&O.lock);
	bus_notify(app, release, op, true, "", "", started, NULL);
	pthread_mutex_lock(&O.lock);
	reply_status(call, a, false);
}

/* Rolls out a new release made from image and env (SetEnv, Rollback). */
static void new_release(nap_plugin_call *call, struct app *a, const char *op, const char *image,
			json_t *env)
{
	uint64_t started = wall_ms();
	uint32_t release = rec_last_release(a->rec) + 1;
	json_t *rels = json_object_get(a->rec, "releases");
	/* on the scheduler of the release that serves */
	json_array_append_new(rels, json_pack("{s:i, s:s, s:O, s:I, s:s}", "release",
					      (json_int_t)release, "image", image, "env", env,
					      "created", (json_int_t)(wall_ms() / 1000),
					      "scheduler", release_sched(a->rec, 0)));
	while (json_array_size(rels) > O.keep_releases)
		json_array_remove(rels, 0);
	json_object_del(a->rec, "failure");
	op_rollout(a, release, op);
	if (save(call, a, op) < 0) {
		rollout_fail(a, "save", "the desired state could not be saved");
		return;
	}
	if (op_wait_ready(call, a, release, op, started) == 0) {
		char app[64];
		snprintf(app, sizeof(app), "%s", a->name);
		pthread_mutex_unlock(&O.lock);
		bus_notify(app, release, op, true, "", "", started, NULL);
		pthread_mutex_lock(&O.lock);
		reply_status(call, a, strcmp(op, "env") == 0);
		images_prune(a); /* after the answer, as a deploy does */
	}
}

static bool need_running(nap_plugin_call *call, struct app *a)
{
	if (rec_u32(a->rec, "release"))
		return true;
	pthread_mutex_unlock(&O.lock);
	O.host->end(call, NAP_NOT_FOUND, "no release of %s has run yet ('napc deploy' first)",
		    a->name);
	pthread_mutex_lock(&O.lock);
	return false;
}

void ops_set_env(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__SetEnvRequest *r = (const Nap__SetEnvRequest *)request;
	char why[512] = "";
	json_t *set = request_env_object(r->set, r->n_set, why, sizeof(why));
	if (!set || !request_unset_ok(r->unset, r->n_unset, why, sizeof(why))) {
		json_decref(set);
		if (nap_app_name_valid(r->app))
			O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		else
			op_begin(call, r->app, false);
		return;
	}
	struct app *a = op_begin(call, r->app, false);
	if (a && need_running(call, a)) {
		json_t *cur = rec_release(a->rec, 0);
		json_t *env = json_deep_copy(json_object_get(cur, "env"));
		json_object_update(env, set);
		for (size_t i = 0; i < r->n_unset; i++)
			json_object_del(env, r->unset[i]);
		if (!request_env_merged_ok(env, why, sizeof(why))) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
			pthread_mutex_lock(&O.lock);
		} else {
			char *image = strdup(json_string_value(json_object_get(cur, "image")));
			new_release(call, a, "env", image, env);
			free(image);
		}
		json_decref(env);
	}
	if (a)
		op_finish(a);
	json_decref(set);
}

void ops_rollback(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__RollbackRequest *r = (const Nap__RollbackRequest *)request;
	struct app *a = op_begin(call, r->app, false);
	if (!a)
		return;
	if (need_running(call, a)) {
		uint32_t cur = rec_u32(a->rec, "release"), target = r->release;
		size_t i;
		json_t *rel;
		json_array_foreach(json_object_get(a->rec, "releases"), i, rel)
		{
			uint32_t n = rec_u32(rel, "release");
			if (!r->release && n < cur && n > target)
				target = n;
		}
		rel = target ? rec_release(a->rec, target) : NULL;
		uint32_t oldest = UINT32_MAX;
		json_array_foreach(json_object_get(a->rec, "releases"), i, rel)
		{
			if (rec_u32(rel, "release") < oldest)
				oldest = rec_u32(rel, "release");
		}
		rel = target ? rec_release(a->rec, target) : NULL;
		if (!rel && target && target < oldest) {
			/* it existed: dropped with its image (images.c) */
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_NOT_FOUND,
				    "release %u's image was deleted (keep_releases = %u): deploy "
				    "again",
				    target, O.keep_releases);
			pthread_mutex_lock(&O.lock);
		} else if (!rel) {
			pthread_mutex_unlock(&O.lock);
			O.host->end(call, NAP_NOT_FOUND,
				    "%s has no release %u to roll back to (the last %u are kept; "
				    "'napc status %s' lists them)",
				    a->name, target, O.keep_releases, a->name);
			pthread_mutex_lock(&O.lock);
		} else {
			char *image = strdup(json_string_value(json_object_get(rel, "image")));
			json_t *env = json_deep_copy(json_object_get(rel, "env"));
			new_release(call, a, "rollback", image, env);
			json_decref(env);
			free(image);
		}
	}
	op_finish(a);
}

void ops_scale(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__ScaleRequest *r = (const Nap__ScaleRequest *)request;
	if (nap_app_name_valid(r->app) && (r->instances < 1 || r->instances > NAP_INSTANCES_MAX)) {
		O.host->end(
			call, NAP_INVALID_ARGUMENT,
			"instances must be 1 to %u (NAP_INSTANCES_MAX; use 'napc stop' for none)",
			NAP_INSTANCES_MAX);
		return;
	}
	struct app *a = op_begin(call, r->app, false);
	if (!a)
		return;
	if (!need_running(call, a)) {
		op_finish(a);
		return;
	}
	json_t *rec = a->rec, *slots = json_object_get(rec, "slots");
	json_object_set_new(rec, "instances", json_integer(r->instances));
	if (rec_running(rec)) {
		/* New instance numbers join; the highest go first. */
		json_t *more = slots_pick(slots, r->instances > json_array_size(slots)
							 ? r->instances - json_array_size(slots)
							 : 0);
		json_array_extend(slots, more);
		json_decref(more);
		while (json_array_size(slots) > r->instances)
			json_array_remove(slots, json_array_size(slots) - 1);
	}
	orch_changed(a);
	uint64_t started = wall_ms();
	if (save(call, a, "scale") == 0 &&
	    (!rec_running(rec) ||
	     op_wait_ready(call, a, rec_u32(rec, "release"), "scale", started) == 0) &&
	    op_wait_settled(call, a, "scale") == 0)
		succeed(call, a, "scale", started);
	op_finish(a);
}

void ops_start(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__AppRequest *r = (const Nap__AppRequest *)request;
	struct app *a = op_begin(call, r->app, false);
	if (!a)
		return;
	if (need_running(call, a)) {
		json_t *rec = a->rec;
		if (!rec_running(rec)) {
			json_object_set_new(rec, "state", json_string("running"));
			json_object_set_new(rec, "slots",
					    slots_pick(NULL, rec_u32(rec, "instances")));
			orch_changed(a);
		}
		uint64_t started = wall_ms();
		if (save(call, a, "start") == 0 &&
		    op_wait_ready(call, a, rec_u32(rec, "release"), "start", started) == 0)
			succeed(call, a, "start", started);
	}
	op_finish(a);
}

void ops_stop(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__AppRequest *r = (const Nap__AppRequest *)request;
	struct app *a = op_begin(call, r->app, false);
	if (!a)
		return;
	json_object_set_new(a->rec, "state", json_string("stopped"));
	json_object_del(a->rec, "rollout");
	json_object_set_new(a->rec, "slots", json_array());
	orch_changed(a);
	uint64_t started = wall_ms();
	if (save(call, a, "stop") == 0 && op_wait_settled(call, a, "stop") == 0)
		succeed(call, a, "stop", started);
	op_finish(a);
}

void ops_destroy(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__AppRequest *r = (const Nap__AppRequest *)request;
	/* also an app that runs here without a record (etcd lost it) */
	struct app *a = op_begin(call, r->app, true);
	if (!a)
		return;
	if (!a->rec && !a->nslots) {
		op_finish(a);
		O.host->end(call, NAP_NOT_FOUND, "no app %s ('napc ls' lists the apps)", r->app);
		return;
	}
	json_t *rec = a->rec;
	a->known = true;
	a->rec = NULL; /* nothing is wanted: the reconciler removes everything */
	a->damaged = false;
	orch_changed(a);
	if (op_wait_settled(call, a, "destroy") < 0) {
		a->rec = rec;
		op_finish(a);
		return;
	}
	char err[512], app[64];
	snprintf(app, sizeof(app), "%s", a->name);
	pthread_mutex_unlock(&O.lock);
	int rc = bus_withdraw(app, 0, NULL, 0, err, sizeof(err));
	if (rc == 0)
		rc = store_delete(app, err, sizeof(err));
	size_t i;
	json_t *rel;
	json_array_foreach(json_object_get(rec, "releases"), i, rel)
	{
		const char *image = json_string_value(json_object_get(rel, "image"));
		if (image)
			bus_remove_image(image);
	}
	if (rc == 0)
		images_forget(app); /* and the registry's copies: the repository */
	pthread_mutex_lock(&O.lock);
	if (rc < 0) {
		a->rec = rec;
		pthread_mutex_unlock(&O.lock);
		O.host->end(call, NAP_UNAVAILABLE, "%s was stopped but its records remain: %s", app,
			    err);
		pthread_mutex_lock(&O.lock);
		op_finish(a);
		return;
	}
	json_decref(rec);
	app_drop(a);
	orch_changed(NULL);
	pthread_mutex_unlock(&O.lock);
	Nap__DestroyReply rep = NAP__DESTROY_REPLY__INIT;
	rep.app = app;
	O.host->reply(call, &rep.base);
}

void ops_set_check(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__SetCheckRequest *r = (const Nap__SetCheckRequest *)request;
	char why[512];
	if (nap_app_name_valid(r->app) && r->check && r->check->http_path && *r->check->http_path &&
	    !check_path_ok(r->check->http_path, why, sizeof(why))) {
		O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		return;
	}
	struct app *a = op_begin(call, r->app, false);
	if (!a)
		return;
	Nap__Check none = NAP__CHECK__INIT;
	json_object_set_new(a->rec, "check", check_to_json(r->check ? r->check : &none));
	orch_changed(a);
	if (save(call, a, "check") == 0)
		reply_status(call, a, false);
	op_finish(a);
}
