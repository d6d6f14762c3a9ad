/* Deploy: build the image, write the new release into the desired state,
 * then follow the rollout (reconcile.c) until every new instance is ready
 * and the old release is out of discovery. A deploy that fails or is
 * cancelled after the build leaves the release before it serving: the
 * reconciler removes what the new one started. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>
#include <nap/names.h>

#include "orchestrator.h"
#include "requests.h"

struct build {
	nap_plugin_call *call;
	uint32_t release;
	char *image;
};

static int on_build_event(const ProtobufCMessage *msg, void *ud)
{
	struct build *b = ud;
	if (!msg)
		return O.host->cancelled(b->call);
	const Nap__BuildEvent *ev = (const Nap__BuildEvent *)msg;
	op_progress(b->call, ev->stage && *ev->stage ? ev->stage : "build", b->release, ev->step,
		    ev->steps, "%s", ev->message ? ev->message : "");
	if (ev->image && *ev->image) {
		free(b->image);
		b->image = strdup(ev->image);
	}
	return 0;
}

/* Builds and pushes the context the request names (the id of one napc
 * uploaded, or a directory, which the builder refuses unless its setting
 * allow_path_context is on); the image name, or NULL with why in err. */
static char *build(nap_plugin_call *call, const char *app, uint32_t release,
		   const Nap__DeployRequest *d, char *err, size_t errlen)
{
	struct build b = {.call = call, .release = release};
	Nap__BuildRequest req = NAP__BUILD_REQUEST__INIT;
	bool uploaded = d->context_id && *d->context_id;
	req.app = (char *)app;
	req.release = release;
	req.dir = uploaded ? (char *)"" : d->dir;
	req.context_id = uploaded ? d->context_id : (char *)"";
	req.push = true;
	op_progress(call, "build", release, 0, 0, "building %s (release %u) from %s", app, release,
		    uploaded ? "the uploaded context" : d->dir);
	nap_error e = {0};
	int idx = nap_method_index(&nap__builder__descriptor, "Build");
	int r = O.host->call_stream("nap.Builder", (uint32_t)idx, &req.base,
				    &nap__build_event__descriptor, O.deploy_timeout_s * 1000u, call,
				    on_build_event, &b, &e);
	if (r == 0 && !b.image) {
		snprintf(err, errlen, "the builder reported no image");
	} else if (r < 0) {
		snprintf(err, errlen, "%s",
			 e.status == NAP_DEADLINE_EXCEEDED
				 ? "the build did not end within the deploy timeout"
				 : e.message);
		free(b.image);
		b.image = NULL;
	}
	return b.image;
}

/* The request's checks; why filled and false when one fails. */
static bool deploy_ok(const Nap__DeployRequest *d, json_t **envp, char *why, size_t n)
{
	*envp = NULL;
	if (d->memory_bytes && d->memory_bytes < 6u * 1024 * 1024) {
		snprintf(why, n, "the memory limit must be at least 6 MiB (Docker's minimum)");
		return false;
	}
	if (d->instances > NAP_INSTANCES_MAX) {
		snprintf(why, n, "instances must be 1 to %u (NAP_INSTANCES_MAX)",
			 NAP_INSTANCES_MAX);
		return false;
	}
	if (d->check && d->check->http_path && *d->check->http_path &&
	    !check_path_ok(d->check->http_path, why, n))
		return false;
	if (!request_context_ok(d->context_id, d->dir, why, n))
		return false;
	if (!constraints_ok(d->constraints, d->n_constraints, why, n))
		return false;
	if (d->scheduler && strlen(d->scheduler) > 63) {
		snprintf(why, n, "a scheduler is named by its plugin's name, at most 63 bytes");
		return false;
	}
	*envp = request_env_object(d->env, d->n_env, why, n);
	return *envp != NULL;
}

/* The new release in the record (lock held). false with why when the
 * merged environment is past a limit. */
static bool add_release(struct app *a, const Nap__DeployRequest *d, json_t *env, uint32_t release,
			const char *image, char *why, size_t n)
{
	json_t *rec = a->rec, *cur = rec_release(rec, 0);
	json_t *merged = cur ? json_deep_copy(json_object_get(cur, "env")) : json_object();
	json_object_update(merged, env);
	if (!request_env_merged_ok(merged, why, n)) {
		json_decref(merged);
		return false;
	}
	/* The scheduler: the request's, else the release before's (moving an
	 * app is a redeploy naming another one). */
	const char *sched = d->scheduler && *d->scheduler
				    ? d->scheduler
				    : json_string_value(json_object_get(cur, "scheduler"));
	if (sched && *sched && !sched_known(sched)) {
		char known[512];
		sched_list(known, sizeof(known));
		snprintf(why, n, "no scheduler plugin '%.63s' runs in this napd (it runs: %s)",
			 sched, known[0] ? known : "none yet");
		json_decref(merged);
		return false;
	}
	json_t *rels = json_object_get(rec, "releases");
	json_array_append_new(rels,
			      json_pack("{s:i, s:s, s:o, s:I, s:s}", "release", (json_int_t)release,
					"image", image, "env", merged, "created",
					(json_int_t)(wall_ms() / 1000), "scheduler",
					sched && *sched ? sched : O.default_sched));
	while (json_array_size(rels) > O.keep_releases)
		json_array_remove(rels, 0);
	uint32_t instances = d->instances ? d->instances : rec_u32(rec, "instances");
	json_object_set_new(rec, "instances", json_integer(instances ? instances : 1));
	if (d->memory_bytes)
		json_object_set_new(rec, "memory", json_integer((json_int_t)d->memory_bytes));
	if (d->check)
		json_object_set_new(rec, "check", check_to_json(d->check));
	if (d->n_constraints) {
		json_t *c = json_array();
		for (size_t i = 0; i < d->n_constraints; i++)
			if (strcmp(d->constraints[i], "none") != 0)
				json_array_append_new(c, json_string(d->constraints[i]));
		json_object_set_new(rec, "constraints", c);
	}
	return true;
}

void ops_deploy(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__DeployRequest *d = (const Nap__DeployRequest *)request;
	uint64_t started = wall_ms();
	char why[1024];
	json_t *env;
	if (d->scheduler && *d->scheduler)
		sched_discover(d->scheduler);
	if (!deploy_ok(d, &env, why, sizeof(why))) {
		if (!nap_app_name_valid(d->app))
			op_begin(call, d->app, false); /* says what is wrong with the name */
		else
			O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		return;
	}
	struct app *a = op_begin(call, d->app, true);
	if (!a) {
		json_decref(env);
		return;
	}
	if (d->scheduler && *d->scheduler && !sched_known(d->scheduler)) {
		char known[512];
		sched_list(known, sizeof(known));
		snprintf(why, sizeof(why),
			 "no scheduler plugin '%s' runs in this napd (it runs: %s)", d->scheduler,
			 known[0] ? known : "none yet");
		op_finish(a);
		O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		json_decref(env);
		return;
	}
	if (!a->rec)
		a->rec = record_new(a->name);
	a->known = true;
	uint32_t release = rec_last_release(a->rec) + 1;
	/* The release number is taken now, so that a failed build is not
	 * numbered again by the next deploy. */
	pthread_mutex_unlock(&O.lock);
	char *image = build(call, a->name, release, d, why, sizeof(why));
	pthread_mutex_lock(&O.lock);
	if (!image) {
		if (!O.host->cancelled(call))
			op_fail(call, a, "deploy", release, "build", NAP_ABORTED, why, started);
		if (!rec_u32(a->rec, "release") && !a->nslots && !rec_last_release(a->rec)) {
			/* nothing was ever deployed: no record is left behind */
			a->busy = false;
			app_drop(a);
			pthread_mutex_unlock(&O.lock);
		} else {
			op_finish(a);
		}
		json_decref(env);
		return;
	}
	if (!add_release(a, d, env, release, image, why, sizeof(why))) {
		op_fail(call, a, "deploy", release, "build", NAP_INVALID_ARGUMENT, why, started);
		op_finish(a);
		json_decref(env);
		free(image);
		return;
	}
	json_decref(env);
	json_object_del(a->rec, "failure");
	op_rollout(a, release, "deploy");
	uint32_t n = rec_u32(a->rec, "instances");
	op_progress(call, "schedule", release, 0, n, "starting %u instance%s of release %u", n,
		    n == 1 ? "" : "s", release);
	pthread_mutex_unlock(&O.lock);
	char err[512];
	int r = store_save(a, err, sizeof(err));
	pthread_mutex_lock(&O.lock);
	if (r < 0) {
		rollout_fail(a, "save", "%s", err);
		op_fail(call, a, "deploy", release, "save", NAP_UNAVAILABLE, err, started);
		op_finish(a);
		free(image);
		return;
	}
	if (op_wait_ready(call, a, release, "deploy", started) == 0) {
		Nap__EndpointList *l = NULL;
		pthread_mutex_unlock(&O.lock);
		l = bus_resolve(d->app, release);
		Nap__DeployEvent ev = NAP__DEPLOY_EVENT__INIT;
		char line[256];
		snprintf(line, sizeof(line), "%s is up (release %u)", d->app, release);
		ev.stage = (char *)"done";
		ev.message = line;
		ev.release = release;
		if (l) {
			ev.n_endpoints = l->n_endpoints;
			ev.endpoints = l->endpoints;
		}
		bus_notify(d->app, release, "deploy", true, "", "", started, l);
		O.host->send(call, &ev.base);
		O.host->end(call, NAP_OK, "%s", "");
		if (l)
			nap__endpoint_list__free_unpacked(l, NULL);
		pthread_mutex_lock(&O.lock);
		/* The new release serves: older images go, after the answer (a
		 * slow registry delays no deploy), before the app is given back. */
		images_prune(a);
	}
	op_finish(a);
	free(image);
}
