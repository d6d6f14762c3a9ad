/* The orchestrator's picture of every app: the desired state (the record)
 * beside what the scheduler reports of each instance. Every function here
 * runs with O.lock held. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>
#include <nap/scheduler.pb-c.h>

#include "orchestrator.h"

static const char *const phase_names[] = {
	[PHASE_STARTING] = "starting",     [PHASE_READY] = "ready",
	[PHASE_UNHEALTHY] = "unhealthy",   [PHASE_CRASHED] = "crashed",
	[PHASE_RESTARTING] = "restarting", [PHASE_STOPPED] = "stopped",
};

const char *phase_name(enum slot_phase phase)
{
	return phase_names[phase];
}

bool slot_ours_to_announce(const struct slot *s)
{
	return !s->sidekick && s->port;
}

bool slot_serving(const struct slot *s)
{
	return s->phase == PHASE_READY && (s->announced || !slot_ours_to_announce(s));
}

struct app *app_find(const char *name)
{
	for (struct app *a = O.apps; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct app *app_get(const char *name)
{
	struct app *a = app_find(name);
	if (a || !nap_app_name_valid(name))
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->next = O.apps;
	O.apps = a;
	return a;
}

void app_drop(struct app *a)
{
	for (struct app **pp = &O.apps; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	json_decref(a->rec);
	free(a->slots);
	free(a);
}

struct slot *slot_find(struct app *a, uint32_t release, uint32_t instance)
{
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].release == release && a->slots[i].instance == instance)
			return &a->slots[i];
	return NULL;
}

struct slot *slot_get(struct app *a, uint32_t release, uint32_t instance)
{
	struct slot *s = slot_find(a, release, instance);
	if (s)
		return s;
	struct slot *v = realloc(a->slots, (a->nslots + 1) * sizeof(*v));
	if (!v)
		return NULL;
	a->slots = v;
	s = &a->slots[a->nslots++];
	*s = (struct slot){.release = release,
			   .instance = instance,
			   .phase = PHASE_STARTING,
			   .since_ms = wall_ms()};
	return s;
}

void slot_drop(struct app *a, struct slot *s)
{
	size_t i = (size_t)(s - a->slots);
	memmove(&a->slots[i], &a->slots[i + 1], (a->nslots - i - 1) * sizeof(*s));
	a->nslots--;
}

void slot_phase(struct slot *s, enum slot_phase phase)
{
	if (s->phase == phase)
		return;
	s->phase = phase;
	s->since_ms = wall_ms();
}

/* Which slots the record wants, marked on the slots (created as needed). */
void state_mark_wanted(struct app *a)
{
	json_t *rec = a->rec, *ro = rec ? rec_rollout(rec) : NULL;
	bool running = rec && rec_running(rec);
	uint32_t target = rec ? rec_u32(rec, "release") : 0, from = rec_u32(ro, "from");
	for (size_t i = 0; i < a->nslots; i++)
		a->slots[i].wanted = false;
	if (!running)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(rec, "slots"), i, v)
	{
		struct slot *s = slot_get(a, target, (uint32_t)json_integer_value(v));
		if (s)
			s->wanted = true;
		if (s && !s->exists)
			snprintf(s->sched, sizeof(s->sched), "%s", release_sched(rec, target));
	}
	json_array_foreach(json_object_get(ro, "from_slots"), i, v)
	{
		struct slot *s = from ? slot_get(a, from, (uint32_t)json_integer_value(v)) : NULL;
		if (s)
			s->wanted = true;
		if (s && !s->exists)
			snprintf(s->sched, sizeof(s->sched), "%s", release_sched(rec, from));
	}
}

void state_unsee(const char *sched)
{
	for (struct app *a = O.apps; a; a = a->next)
		for (size_t i = 0; i < a->nslots; i++)
			if (strcmp(a->slots[i].sched, sched) == 0)
				a->slots[i].exists = false;
}

const char *release_sched(json_t *rec, uint32_t release)
{
	const char *s = json_string_value(json_object_get(rec_release(rec, release), "scheduler"));
	return s && *s ? s : O.default_sched;
}

static bool is_dead_state(const char *state)
{
	static const char *const dead[] = {"exited", "dead", "failed", "inactive"};
	for (size_t i = 0; state && i < sizeof(dead) / sizeof(dead[0]); i++)
		if (strcmp(state, dead[i]) == 0)
			return true;
	return false;
}

/* An instance the scheduler reports. A died instance stays in the picture
 * (exists, not running) until the reconciler has removed it: that is what
 * makes it replace it. */
void state_apply(const char *kind, const void *instance, const char *sched)
{
	const Nap__Instance *in = instance;
	if (!in || !in->app || !nap_app_name_valid(in->app) || !in->release || !in->instance)
		return;
	struct app *a = app_get(in->app);
	if (!a)
		return;
	struct slot *s = slot_get(a, in->release, in->instance);
	if (!s)
		return;
	if (strcmp(kind, "removed") == 0) {
		if (s->id[0] && in->id && strcmp(s->id, in->id) != 0)
			return; /* an older container of the slot: the new one stays */
		s->exists = s->running = s->dead = false;
		s->id[0] = '\0';
		orch_changed(a);
		return;
	}
	/* Events may repeat what a list said, or come late: a death or a
	 * health verdict about another container than the slot's is old. */
	if (s->id[0] && in->id && *in->id && strcmp(s->id, in->id) != 0 &&
	    (strcmp(kind, "died") == 0 || strcmp(kind, "health") == 0))
		return;
	bool was_running = s->running;
	s->exists = true;
	snprintf(s->sched, sizeof(s->sched), "%s", sched);
	s->running = in->state && strcmp(in->state, "running") == 0;
	/* "created", "pending", "restarting": on its way, not dead */
	s->dead = !s->running && (strcmp(kind, "died") == 0 || is_dead_state(in->state));
	s->sidekick = in->announcer && strcmp(in->announcer, "sidekick") == 0;
	snprintf(s->id, sizeof(s->id), "%s", in->id ? in->id : "");
	snprintf(s->host, sizeof(s->host), "%s", in->host ? in->host : "");
	snprintf(s->health, sizeof(s->health), "%s", in->health ? in->health : "");
	if (in->port) {
		s->port = in->port;
		s->n_ports = 0;
		for (size_t i = 0; i < in->n_ports && s->n_ports < ENDPOINT_PORTS_MAX; i++)
			if (in->ports[i]->container_port && in->ports[i]->host_port)
				s->ports[s->n_ports++] =
					(struct endpoint_port){in->ports[i]->container_port,
							       in->ports[i]->host_port};
	}
	if (s->running && !was_running) {
		/* a (new) start: checks begin now */
		s->handled_exit = false;
		s->fails = 0;
		s->was_ready = false;
		s->next_check_ms = mono_ms();
		if (s->phase != PHASE_STOPPED)
			slot_phase(s, PHASE_STARTING);
	}
	if (s->dead) {
		s->last_exit = in->exit_code;
		s->oom = in->oom_killed;
		O.host->log(NAP_LOG_DEBUG,
			    "orchestrator: %s instance %u (release %u): %s says %s (%s, %s, exit "
			    "code %d)",
			    a->name, s->instance, s->release, sched, kind,
			    in->state ? in->state : "no state", s->id, in->exit_code);
	}
	orch_changed(a);
}
