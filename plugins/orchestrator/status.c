/* GetApp and ListApps, and the AppStatus every app method answers with: the
 * desired state beside what each instance is doing. An app is "running"
 * only when every desired instance is ready; otherwise "degraded N/M" or
 * "down". Every string is copied, so that a status outlives the lock. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

#include "orchestrator.h"

static char *dup(const char *s)
{
	return strdup(s ? s : "");
}

static void app_state(char *buf, size_t n, struct app *a, uint32_t *readyp)
{
	json_t *rec = a->rec;
	uint32_t target = rec_u32(rec, "release"), want = rec_u32(rec, "instances"), ready = 0;
	for (size_t i = 0; i < a->nslots; i++)
		ready += a->slots[i].wanted && a->slots[i].release == target &&
			 a->slots[i].phase == PHASE_READY;
	*readyp = ready;
	json_t *ro = rec_rollout(rec);
	if (!rec_running(rec))
		snprintf(buf, n, "%s", rec_state(rec));
	else if (ro && rec_u32(ro, "from"))
		snprintf(buf, n, "deploying (release %u, %u of %u ready; release %u serves)",
			 target, ready, want, rec_u32(ro, "from"));
	else if (ro)
		snprintf(buf, n, "deploying (release %u, %u of %u ready)", target, ready, want);
	else if (ready >= want)
		snprintf(buf, n, "running");
	else if (ready == 0)
		snprintf(buf, n, "down");
	else
		snprintf(buf, n, "degraded %u/%u", ready, want);
}

static Nap__InstanceStatus *instance_status(const struct slot *s)
{
	Nap__InstanceStatus *is = malloc(sizeof(*is));
	if (!is)
		return NULL;
	nap__instance_status__init(is);
	is->instance = s->instance;
	is->release = s->release;
	is->state = dup(phase_name(s->phase));
	is->restarts = s->restarts;
	is->last_exit_code = s->last_exit;
	is->oom_killed = s->oom;
	is->last_check = dup(s->last_check);
	is->since_unix_ms = s->since_ms;
	is->host = dup(s->host);
	is->port = s->port;
	is->id = dup(s->id);
	if (s->phase == PHASE_RESTARTING)
		is->next_start_unix_ms = s->next_start_ms;
	return is;
}

void status_fill(Nap__AppStatus *st, struct app *a, bool with_env)
{
	json_t *rec = a->rec;
	char state[160];
	nap__app_status__init(st);
	st->app = dup(a->name);
	st->release = rec_u32(rec, "release");
	st->instances = rec_u32(rec, "instances");
	app_state(state, sizeof(state), a, &st->ready);
	json_t *f = json_object_get(rec, "failure");
	if (f && strcmp(state, "failed") == 0) {
		char more[sizeof(state) + 600];
		snprintf(more, sizeof(more), "failed (release %u at %s: %.500s)",
			 rec_u32(f, "release"), json_string_value(json_object_get(f, "stage")),
			 json_string_value(json_object_get(f, "reason")));
		st->state = dup(more);
	} else {
		st->state = dup(state);
	}
	st->updated_unix = (uint64_t)json_integer_value(json_object_get(rec, "updated"));
	st->memory_bytes = (uint64_t)json_integer_value(json_object_get(rec, "memory"));
	st->keep_releases = O.keep_releases;
	json_int_t bytes = json_integer_value(json_object_get(rec, "image_bytes"));
	st->image_bytes = bytes > 0 ? (uint64_t)bytes : 0;
	json_t *cur = rec_release(rec, 0);
	st->image = dup(cur ? json_string_value(json_object_get(cur, "image")) : "");
	st->scheduler = dup(cur ? release_sched(rec, 0) : "");
	json_t *cons = json_object_get(rec, "constraints");
	st->constraints = calloc(json_array_size(cons) + 1, sizeof(char *));
	for (size_t k = 0; st->constraints && k < json_array_size(cons); k++)
		st->constraints[st->n_constraints++] = dup(
			json_string_value(json_array_get(cons, k)));
	json_t *rels = json_object_get(rec, "releases");
	st->releases = calloc(json_array_size(rels) + 1, sizeof(uint32_t));
	size_t i;
	json_t *r;
	json_array_foreach(rels, i, r)
	{
		if (st->releases)
			st->releases[st->n_releases++] = rec_u32(r, "release");
	}
	json_t *env = cur ? json_object_get(cur, "env") : NULL;
	if (with_env && json_object_size(env)) {
		st->env = calloc(json_object_size(env), sizeof(*st->env));
		const char *k;
		json_t *v;
		json_object_foreach(env, k, v)
		{
			Nap__EnvVar *e = st->env ? malloc(sizeof(*e)) : NULL;
			if (!e)
				break;
			nap__env_var__init(e);
			e->key = dup(k);
			e->value = dup(json_string_value(v));
			st->env[st->n_env++] = e;
		}
	}
	st->instance_states = calloc(a->nslots + 1, sizeof(*st->instance_states));
	for (size_t k = 0; st->instance_states && k < a->nslots; k++) {
		const struct slot *s = &a->slots[k];
		if (!s->wanted && !s->exists)
			continue;
		Nap__InstanceStatus *is = instance_status(s);
		if (is)
			st->instance_states[st->n_instance_states++] = is;
	}
	for (size_t k = 0; k < a->nslots; k++)
		st->restarts += a->slots[k].wanted ? a->slots[k].restarts : 0;
	st->check = malloc(sizeof(*st->check));
	if (st->check) {
		rec_check(rec, st->check);
		st->check->http_path = dup(st->check->http_path);
	}
}

void status_clear(Nap__AppStatus *st)
{
	free(st->app);
	free(st->state);
	free(st->image);
	free(st->scheduler);
	for (size_t i = 0; i < st->n_constraints; i++)
		free(st->constraints[i]);
	free(st->constraints);
	free(st->releases);
	for (size_t i = 0; i < st->n_env; i++) {
		free(st->env[i]->key);
		free(st->env[i]->value);
		free(st->env[i]);
	}
	free(st->env);
	for (size_t i = 0; i < st->n_instance_states; i++) {
		Nap__InstanceStatus *is = st->instance_states[i];
		free(is->state);
		free(is->last_check);
		free(is->host);
		free(is->id);
		free(is);
	}
	free(st->instance_states);
	if (st->check)
		free(st->check->http_path);
	free(st->check);
	for (size_t i = 0; i < st->n_endpoints; i++)
		nap__endpoint__free_unpacked(st->endpoints[i], NULL);
	free(st->endpoints);
	nap__app_status__init(st);
}
