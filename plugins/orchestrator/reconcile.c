/* The reconciler: one thread that compares each app's desired state with
 * what runs and converges, again on every change and at least every
 * resync_ms. A pass over an app decides under the lock (plan_app) and acts
 * without it (act), in this order: withdraw what must stop serving,
 * announce what became ready, start what is missing, write the record,
 * remove what is no longer wanted. So an instance leaves discovery before
 * it stops, and a release is announced before the one it replaces leaves. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/limits.h>
#include <nap/scheduler.pb-c.h>

#include "orchestrator.h"

#define STABLE_MS 10000u /* ready this long: a crash loop is over */

struct ids {
	uint32_t release;
	char sched[64]; /* for Remove: the scheduler that runs them */
	uint32_t v[NAP_INSTANCES_MAX];
	size_t n;
};

struct plan {
	char app[64];
	struct ids withdraw[4], remove[4], run[2];
	size_t nwithdraw, nremove, nrun;
	struct slot announce[8];
	size_t nannounce;
	json_t *rec; /* a copy for Run, when nrun */
	bool save;
	bool finish_rollout; /* every target instance ready: the old release goes */
	uint32_t from;       /* the release a finished rollout replaced */
};

static void ids_add(struct ids *list, size_t *n, size_t max, uint32_t release, uint32_t inst,
		    const char *sched)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i].release == release && strcmp(list[i].sched, sched) == 0) {
			if (list[i].n < NAP_INSTANCES_MAX)
				list[i].v[list[i].n++] = inst;
			return;
		}
	}
	if (*n < max) {
		list[*n] = (struct ids){.release = release, .v = {inst}, .n = 1};
		snprintf(list[*n].sched, sizeof(list[*n].sched), "%s", sched);
		(*n)++;
	}
}

static uint64_t backoff_ms(uint32_t crashes)
{
	if (crashes <= 1)
		return 0; /* the first replacement starts at once */
	uint64_t ms = (uint64_t)O.backoff_ms << (crashes - 2 < 16 ? crashes - 2 : 16);
	return ms < O.backoff_max_ms ? ms : O.backoff_max_ms;
}

void rollout_fail(struct app *a, const char *stage, const char *fmt, ...)
{
	json_t *rec = a->rec, *ro = rec_rollout(rec);
	if (!ro)
		return;
	char reason[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	uint32_t target = rec_u32(rec, "release"), from = rec_u32(ro, "from");
	O.host->log(NAP_LOG_NOTICE, "orchestrator: %s release %u failed at %s: %s", a->name, target,
		    stage, reason);
	json_object_set_new(rec, "failure",
			    json_pack("{s:i, s:s, s:s, s:I}", "release", (json_int_t)target,
				      "stage", stage, "reason", reason, "at_ms",
				      (json_int_t)wall_ms()));
	/* The failed release is not one to roll back to. */
	json_t *rels = json_object_get(rec, "releases");
	for (size_t i = 0; i < json_array_size(rels); i++) {
		if (rec_u32(json_array_get(rels, i), "release") == target) {
			json_array_remove(rels, i);
			break;
		}
	}
	json_object_set_new(rec, "release", json_integer(from));
	json_object_set(rec, "slots", json_object_get(ro, "from_slots"));
	if (!from)
		json_object_set_new(rec, "state", json_string("failed"));
	json_object_del(rec, "rollout");
	a->save = true;
	orch_changed(a);
}

/* An instance that exited or turned unhealthy: counted once, withdrawn,
 * removed, and started again after its back-off. */
static void plan_replace(struct app *a, struct slot *s, struct plan *p, bool exited)
{
	json_t *ro = rec_rollout(a->rec);
	if (!s->handled_exit) {
		s->handled_exit = true;
		s->restarts++;
		s->crashes_in_row++;
		s->next_start_ms = wall_ms() + backoff_ms(s->crashes_in_row);
		char how[96];
		/* exit code -1: the scheduler lost it with its machine (swarm) */
		if (s->last_exit == -1)
			snprintf(how, sizeof(how), "was lost with its machine");
		else
			snprintf(how, sizeof(how), "exited with code %d%s", s->last_exit,
				 s->oom ? " (out of memory)" : "");
		if (exited)
			O.host->log(NAP_LOG_NOTICE,
				    "orchestrator: %s instance %u (release %u) %s; replacing it%s",
				    a->name, s->instance, s->release, how,
				    s->crashes_in_row > 1 ? " after a back-off" : "");
		slot_phase(s, exited ? PHASE_CRASHED : PHASE_UNHEALTHY);
		if (ro && s->release == rec_u32(a->rec, "release") && !s->was_ready) {
			if (exited)
				rollout_fail(
					a, "ready",
					"instance %u exited with code %d%s before it was ready "
					"(last check: %s); see 'napc logs %s'",
					s->instance, s->last_exit,
					s->oom ? " (killed: out of memory)" : "",
					s->last_check[0] ? s->last_check : "none yet", a->name);
		}
	}
	if (s->announced)
		ids_add(p->withdraw, &p->nwithdraw, 4, s->release, s->instance, "");
	ids_add(p->remove, &p->nremove, 4, s->release, s->instance, s->sched);
}

static void plan_slot(struct app *a, struct slot *s, struct plan *p, uint64_t now)
{
	if (!s->wanted) {
		if (s->announced)
			ids_add(p->withdraw, &p->nwithdraw, 4, s->release, s->instance, "");
		if (s->exists)
			ids_add(p->remove, &p->nremove, 4, s->release, s->instance, s->sched);
		slot_phase(s, PHASE_STOPPED);
		return;
	}
	if (s->phase == PHASE_READY && s->crashes_in_row && mono_ms() - s->ready_at_ms >= STABLE_MS)
		s->crashes_in_row = 0;
	if (s->exists && s->dead) {
		plan_replace(a, s, p, true);
	} else if (s->exists && s->phase == PHASE_UNHEALTHY) {
		plan_replace(a, s, p, false);
	} else if (!s->exists && !s->starting) {
		if (now >= s->next_start_ms && p->nrun < 2) {
			ids_add(p->run, &p->nrun, 2, s->release, s->instance, s->sched);
			s->starting = true;
			s->handled_exit = false;
			slot_phase(s, PHASE_STARTING);
		} else if (s->restarts) {
			slot_phase(s, PHASE_RESTARTING);
		}
	} else if (s->running && s->phase == PHASE_READY && !s->announced &&
		   slot_ours_to_announce(s) && p->nannounce < 8) {
		p->announce[p->nannounce++] = *s;
	}
}

/* The rollout ends when every target instance is ready (the old release
 * goes), or fails at its deadline. */
static void plan_rollout(struct app *a, struct plan *p)
{
	json_t *rec = a->rec, *ro = rec_rollout(rec);
	if (!ro)
		return;
	uint32_t target = rec_u32(rec, "release");
	const struct slot *waiting = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(rec, "slots"), i, v)
	{
		const struct slot *s = slot_find(a, target, (uint32_t)json_integer_value(v));
		if (!s || !slot_serving(s)) {
			waiting = s;
			break;
		}
	}
	if (i == json_array_size(json_object_get(rec, "slots")) && !waiting) {
		p->finish_rollout = true;
		p->from = rec_u32(ro, "from");
		return;
	}
	if (wall_ms() < (uint64_t)json_integer_value(json_object_get(ro, "deadline_ms")))
		return;
	Nap__Check c;
	rec_check(rec, &c);
	rollout_fail(a, "ready",
		     "release %u was not ready within %u s: instance %u is %s (last check: %s)",
		     target, c.ready_timeout_s, waiting ? waiting->instance : 0,
		     waiting ? phase_name(waiting->phase) : "not started",
		     waiting && waiting->last_check[0] ? waiting->last_check : "none yet");
}

static void plan_app(struct app *a, struct plan *p)
{
	uint64_t now = wall_ms();
	memset(p, 0, sizeof(*p));
	snprintf(p->app, sizeof(p->app), "%s", a->name);
	if (a->damaged || a->owner[0])
		return; /* an operator's to mend, or another napd's: not touched */
	if (!app_synced(a))
		return; /* a scheduler of it has not listed its instances yet */
	if (!a->rec && !a->known) {
		/* Containers of an app this orchestrator never had a record of
		 * (etcd lost it, or someone ran them by hand): not removed on a
		 * guess. napc destroy removes them. */
		if (a->nslots && !a->warned)
			O.host->log(NAP_LOG_NOTICE,
				    "orchestrator: %s runs here but has no record: left alone "
				    "('napc destroy %s' removes it)",
				    a->name, a->name);
		a->warned = a->nslots > 0;
		return;
	}
	if (a->rec && !*rec_owner(a->rec)) {
		/* A record of nap 0.1 names no napd: it is ours only if our
		 * scheduler runs an instance of it (labelled with our napd). */
		bool ours = false;
		for (size_t i = 0; i < a->nslots; i++)
			ours = ours || a->slots[i].exists;
		if (!ours)
			return;
		json_object_set_new(a->rec, "napd", json_string(O.napd_id));
		a->save = true;
		O.host->log(NAP_LOG_NOTICE,
			    "orchestrator: %s: adopted (its record named no napd, "
			    "its instances run here)",
			    a->name);
	}
	state_mark_wanted(a);
	for (size_t i = 0; i < a->nslots; i++)
		plan_slot(a, &a->slots[i], p, now);
	if (a->rec)
		plan_rollout(a, p);
	/* forget slots that are gone and not wanted */
	for (size_t i = a->nslots; i-- > 0;) {
		struct slot *s = &a->slots[i];
		if (!s->wanted && !s->exists && !s->starting && !s->announced)
			slot_drop(a, s);
	}
	if (p->nrun)
		p->rec = json_deep_copy(a->rec);
	p->save = a->save;
	a->save = false;
}

static void after_run(const char *app, const struct ids *ids, int r, const char *err)
{
	struct app *a = app_find(app);
	if (!a)
		return;
	for (size_t i = 0; i < ids->n; i++) {
		struct slot *s = slot_find(a, ids->release, ids->v[i]);
		if (!s)
			continue;
		s->starting = false;
		if (r == 0)
			continue;
		snprintf(s->last_check, sizeof(s->last_check), "could not start: %s", err);
		s->restarts++;
		s->crashes_in_row++;
		s->next_start_ms = wall_ms() + backoff_ms(s->crashes_in_row + 1);
		slot_phase(s, PHASE_RESTARTING);
	}
	if (r < 0 && a->rec && rec_rollout(a->rec) && ids->release == rec_u32(a->rec, "release"))
		rollout_fail(a, "schedule", "%s", err);
	orch_changed(a);
}

static void act(struct plan *p)
{
	char err[1024];
	for (size_t i = 0; i < p->nwithdraw; i++)
		if (bus_withdraw(p->app, p->withdraw[i].release, p->withdraw[i].v, p->withdraw[i].n,
				 err, sizeof(err)) < 0)
			O.host->log(NAP_LOG_WARNING, "orchestrator: %s: withdrawing: %s", p->app,
				    err);
	pthread_mutex_lock(&O.lock);
	struct app *a = app_find(p->app);
	for (size_t i = 0; a && i < p->nwithdraw; i++)
		for (size_t j = 0; j < p->withdraw[i].n; j++) {
			struct slot *s = slot_find(a, p->withdraw[i].release, p->withdraw[i].v[j]);
			if (s)
				s->announced = false;
		}
	pthread_mutex_unlock(&O.lock);
	for (size_t i = 0; i < p->nannounce; i++) {
		int r = bus_announce(p->app, &p->announce[i], err, sizeof(err));
		pthread_mutex_lock(&O.lock);
		a = app_find(p->app);
		struct slot *s = a ? slot_find(a, p->announce[i].release, p->announce[i].instance)
				   : NULL;
		if (r < 0)
			O.host->log(NAP_LOG_WARNING, "orchestrator: %s: announcing instance %u: %s",
				    p->app, p->announce[i].instance, err);
		else if (s && strcmp(s->id, p->announce[i].id) == 0) {
			s->announced = true;
			orch_changed(a);
		}
		if (r == 0)
			O.host->log(NAP_LOG_DEBUG,
				    "orchestrator: %s instance %u (release %u) announced "
				    "at %s:%u",
				    p->app, p->announce[i].instance, p->announce[i].release,
				    p->announce[i].host, p->announce[i].port);
		pthread_mutex_unlock(&O.lock);
	}
	for (size_t i = 0; i < p->nrun; i++) {
		int r = bus_run(p->app, p->run[i].release, p->rec, p->run[i].v, p->run[i].n, err,
				sizeof(err));
		pthread_mutex_lock(&O.lock);
		after_run(p->app, &p->run[i], r, err);
		pthread_mutex_unlock(&O.lock);
	}
	if (p->finish_rollout) {
		/* The new release serves: the old leaves discovery first, then
		 * the record says so (the operation waiting answers), then the
		 * old instances stop. */
		if (p->from && bus_withdraw(p->app, p->from, NULL, 0, err, sizeof(err)) < 0)
			O.host->log(NAP_LOG_WARNING, "orchestrator: %s: withdrawing release %u: %s",
				    p->app, p->from, err);
		pthread_mutex_lock(&O.lock);
		a = app_find(p->app);
		if (a && a->rec) {
			json_object_del(a->rec, "rollout");
			for (size_t i = 0; i < a->nslots; i++)
				if (a->slots[i].release == p->from)
					a->slots[i].announced = false;
			state_mark_wanted(a);
			for (size_t i = 0; i < a->nslots; i++)
				if (!a->slots[i].wanted && a->slots[i].exists)
					ids_add(p->remove, &p->nremove, 4, a->slots[i].release,
						a->slots[i].instance, a->slots[i].sched);
			p->save = true;
			orch_changed(a);
		}
		pthread_mutex_unlock(&O.lock);
	}
	if (p->save) {
		pthread_mutex_lock(&O.lock);
		a = app_find(p->app);
		pthread_mutex_unlock(&O.lock);
		if (a && store_save(a, err, sizeof(err)) < 0) {
			O.host->log(NAP_LOG_WARNING, "orchestrator: %s: %s (trying again)", p->app,
				    err);
			pthread_mutex_lock(&O.lock);
			a->save = true;
			pthread_mutex_unlock(&O.lock);
		}
	}
	for (size_t i = 0; i < p->nremove; i++) {
		int r = bus_remove(p->app, p->remove[i].sched, p->remove[i].release, p->remove[i].v,
				   p->remove[i].n, err, sizeof(err));
		if (r < 0)
			O.host->log(NAP_LOG_WARNING, "orchestrator: %s: removing release %u: %s",
				    p->app, p->remove[i].release, err);
		pthread_mutex_lock(&O.lock);
		a = app_find(p->app);
		for (size_t j = 0; a && r == 0 && j < p->remove[i].n; j++) {
			struct slot *s = slot_find(a, p->remove[i].release, p->remove[i].v[j]);
			if (s) {
				s->exists = s->running = s->dead = false;
				s->id[0] = '\0';
			}
		}
		if (a)
			orch_changed(a);
		pthread_mutex_unlock(&O.lock);
	}
	json_decref(p->rec);
}

/* Every resync_ms, what discovery holds is compared with what was
 * announced: entries lost (etcd lost its data, discovery restarted) are
 * announced again. */
static void resync_discovery(struct app *a)
{
	uint64_t now = mono_ms();
	if (now - a->resolved_ms < O.resync_ms)
		return;
	a->resolved_ms = now;
	char name[64];
	snprintf(name, sizeof(name), "%s", a->name);
	pthread_mutex_unlock(&O.lock);
	Nap__EndpointList *l = bus_resolve(name, 0);
	char owner[400], err[512];
	int have = store_owner(name, owner, sizeof(owner), err, sizeof(err));
	pthread_mutex_lock(&O.lock);
	a = app_find(name);
	if (a && a->rec && have == 0 && !a->busy) {
		/* etcd lost it (its data, or someone deleted the key): the
		 * orchestrator holds the desired state and writes it again */
		O.host->log(NAP_LOG_NOTICE,
			    "orchestrator: the record of %s was missing from etcd: writing it "
			    "again",
			    name);
		a->save = true;
		orch_changed(a);
	}
	if (!l || !a) {
		if (l)
			nap__endpoint_list__free_unpacked(l, NULL);
		return;
	}
	for (size_t i = 0; i < a->nslots; i++) {
		struct slot *s = &a->slots[i];
		bool found = false;
		for (size_t j = 0; j < l->n_endpoints && !found; j++)
			found = l->endpoints[j]->release == s->release &&
				l->endpoints[j]->instance == s->instance &&
				!l->endpoints[j]->extra_port;
		if (s->announced && !found) {
			O.host->log(NAP_LOG_NOTICE,
				    "orchestrator: %s instance %u was missing from discovery: "
				    "announcing it again",
				    a->name, s->instance);
			s->announced = false;
			orch_changed(a);
		}
	}
	nap__endpoint_list__free_unpacked(l, NULL);
}

static bool any_work(struct app *a)
{
	if (a->save || (a->rec && rec_rollout(a->rec)))
		return true;
	for (size_t i = 0; i < a->nslots; i++) {
		const struct slot *s = &a->slots[i];
		if (s->wanted != s->exists || (s->exists && s->dead) ||
		    s->phase == PHASE_UNHEALTHY || s->phase == PHASE_RESTARTING ||
		    (s->phase == PHASE_READY && !slot_serving(s)) || (!s->wanted && s->announced))
			return true;
	}
	return false;
}

void *reconcile_main(void *arg)
{
	(void)arg;
	char err[512];
	bool said_info = false, said_warning = false;
	while (!atomic_load(&O.stopping) && store_load_all(err, sizeof(err)) < 0) {
		pthread_mutex_lock(&O.lock);
		snprintf(O.load_error, sizeof(O.load_error), "%s", err);
		pthread_mutex_unlock(&O.lock);
		int level = orch_retry_level();
		bool *said = level == NAP_LOG_WARNING ? &said_warning : &said_info;
		if (!*said)
			O.host->log(level, "orchestrator: %s (trying again)", err);
		*said = true;
		for (int i = 0; i < 20 && !atomic_load(&O.stopping); i++)
			usleep(50 * 1000);
	}
	pthread_mutex_lock(&O.lock);
	while (!atomic_load(&O.stopping)) {
		uint64_t seen = 0;
		for (struct app *a = O.apps; a; a = a->next)
			seen += a->version;
		if (O.default_sched[0]) {
			/* One pass over every app; each may drop the lock. */
			char **names = NULL;
			size_t n = 0;
			for (struct app *a = O.apps; a; a = a->next) {
				char **v = realloc(names, (n + 1) * sizeof(*v));
				if (!v)
					break;
				names = v;
				names[n++] = strdup(a->name);
			}
			for (size_t i = 0; i < n; i++) {
				struct app *a = names[i] ? app_find(names[i]) : NULL;
				if (a && a->rec && !a->busy)
					resync_discovery(a);
				a = names[i] ? app_find(names[i]) : NULL;
				if (a) {
					struct plan p;
					plan_app(a, &p);
					pthread_mutex_unlock(&O.lock);
					act(&p);
					pthread_mutex_lock(&O.lock);
				}
				free(names[i]);
			}
			free(names);
		}
		uint64_t now_seen = 0;
		bool work = false;
		for (struct app *a = O.apps; a; a = a->next) {
			now_seen += a->version;
			work = work || any_work(a);
		}
		if (now_seen == seen)
			orch_wait(work ? 100 : 1000);
	}
	pthread_mutex_unlock(&O.lock);
	return NULL;
}
