/* scheduler-fleet: nap.Scheduler.Run. Puts each instance's want key
 * (presence.c), submits its run and discovery units with desiredState
 * launched, then waits (never longer than the call's deadline or
 * start_timeout) until etcd holds each instance's announcement (its
 * sidekick puts it once the instance passes its check). A unit that fails,
 * or that no machine can take, ends the call FAILED_PRECONDITION as soon as
 * that is known; a failed state is believed only once the unit was seen in
 * another state since the submit, or after failed_grace (fleet first
 * reports the failed state systemd kept from an earlier unit of that name).
 * On any failure the instances this call created are removed, and the call
 * ends only once their containers are gone. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "run_request.h"
#include "scheduler_fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/env.h>
#include <nap/limits.h>
#include <nap/names.h>

/* More instances than this in one call is a mistake, not a deployment. */
#define SF_MAX_METADATA 32u

struct run {
	const struct sf_state *st;
	const Nap__RunRequest *req;
	struct sf_env *env;
	const char **metadata;
	size_t n_metadata;
	bool spread;
	bool *created;            /* per instance: this call made (or replaced) its units */
	uint64_t *unplaced_since; /* per instance: when first seen without a machine */
	uint64_t *failed_since;   /* per instance: when first seen failed */
	bool *seen_other;         /* per instance: seen in a state other than failed */
	Nap__Instance *inst;      /* the reply */
	Nap__Instance **ptrs;
	char (*ids)[SF_UNIT_NAME_MAX];
	char (*machines)[80];
	char (*hosts)[256];
};

static void run_free(struct run *run)
{
	free(run->env);
	free(run->metadata);
	free(run->created);
	free(run->unplaced_since);
	free(run->failed_since);
	free(run->seen_other);
	free(run->inst);
	free(run->ptrs);
	free(run->ids);
	free(run->machines);
	free(run->hosts);
}

/* Checks the request; returns NULL or why it is refused (into buf). */
static const char *run_check(const Nap__RunRequest *req, char *buf, size_t len)
{
	const Nap__Placement *pl = req->placement;
	const char *why = run_request_check(req, buf, len);

	if (why)
		return why;
	if (!sf_image_valid(req->image))
		return snprintf(buf, len,
				"invalid image reference \"%.120s\": use letters, digits and . _ / "
				": @ - only, starting with a letter or digit",
				req->image ? req->image : ""),
		       buf;
	if (pl && pl->n_machine_metadata > SF_MAX_METADATA)
		return "too many machine_metadata entries";
	for (size_t i = 0; pl && i < pl->n_machine_metadata; i++)
		if (!sf_metadata_valid(pl->machine_metadata[i]))
			return snprintf(buf, len,
					"invalid machine_metadata \"%.80s\": use key=value of "
					"letters, digits and _ . : / -",
					pl->machine_metadata[i]),
			       buf;
	if (req->memory_bytes > INT64_MAX)
		return "memory_bytes is too large";
	if (req->check && req->check->http_path && *req->check->http_path &&
	    !sf_check_path_valid(req->check->http_path))
		return snprintf(buf, len,
				"invalid check path \"%.80s\": give /path of letters, digits and "
				". _ ~ / %% ? = & + , ; : @ ! - (at most %d bytes)",
				req->check->http_path, SF_CHECK_PATH_MAX),
		       buf;
	return NULL;
}

static int run_prepare(struct run *run)
{
	const Nap__RunRequest *req = run->req;
	size_t n = req->n_instances;

	run->env = calloc(req->n_env ? req->n_env : 1, sizeof *run->env);
	run->created = calloc(n, sizeof *run->created);
	run->unplaced_since = calloc(n, sizeof *run->unplaced_since);
	run->failed_since = calloc(n, sizeof *run->failed_since);
	run->seen_other = calloc(n, sizeof *run->seen_other);
	run->inst = calloc(n, sizeof *run->inst);
	run->ptrs = calloc(n, sizeof *run->ptrs);
	run->ids = calloc(n, sizeof *run->ids);
	run->machines = calloc(n, sizeof *run->machines);
	run->hosts = calloc(n, sizeof *run->hosts);
	if (req->placement) {
		run->n_metadata = req->placement->n_machine_metadata;
		run->metadata = calloc(run->n_metadata ? run->n_metadata : 1,
				       sizeof *run->metadata);
		for (size_t i = 0; run->metadata && i < run->n_metadata; i++)
			run->metadata[i] = req->placement->machine_metadata[i];
	}
	run->spread = run->st->spread || (req->placement && req->placement->spread);
	if (!run->env || !run->created || !run->unplaced_since || !run->failed_since ||
	    !run->seen_other || !run->inst || !run->ptrs || !run->ids || !run->machines ||
	    !run->hosts || (req->placement && !run->metadata))
		return -ENOMEM;
	for (size_t i = 0; i < req->n_env; i++)
		run->env[i] = (struct sf_env){req->env[i]->key, req->env[i]->value};
	return 0;
}

static void spec_of(struct sf_instance_spec *s, const struct run *run, uint32_t instance)
{
	const struct sf_state *st = run->st;
	const Nap__Check *c = run->req->check;

	*s = (struct sf_instance_spec){
		.app = run->req->app,
		.release = run->req->release,
		.instance = instance,
		.image = run->req->image,
		.env = run->env,
		.n_env = run->req->n_env,
		.memory_bytes = run->req->memory_bytes,
		.metadata = run->metadata,
		.n_metadata = run->n_metadata,
		.spread = run->spread,
		.docker = st->docker,
		.announce = st->announce,
		.key_prefix = st->key_prefix,
		.etcd = st->etcd_url,
		.host = st->address,
		.check_interval_ms = c && c->interval_ms ? c->interval_ms
							 : SF_DEFAULT_CHECK_INTERVAL_MS,
		.check_timeout_ms = c && c->timeout_ms ? c->timeout_ms
						       : SF_DEFAULT_CHECK_TIMEOUT_MS,
		.check_failures = c && c->failures ? c->failures : SF_DEFAULT_CHECK_FAILURES,
		.check_path = c ? c->http_path : NULL,
	};
}

/* PUTs both units of instance i (launched). Returns a nap status. */
static int submit(struct run *run, size_t i, char *err, size_t errlen)
{
	struct sf_instance_spec spec;
	struct sf_unit units[2];
	char msg[512];
	int r;

	spec_of(&spec, run, run->req->instances[i]);
	if (sf_run_unit(&units[0], &spec) < 0)
		return snprintf(err, errlen, "out of memory"), NAP_RESOURCE_EXHAUSTED;
	if (sf_discovery_unit(&units[1], &spec) < 0) {
		sf_unit_release(&units[0]);
		return snprintf(err, errlen, "out of memory"), NAP_RESOURCE_EXHAUSTED;
	}
	/* Wanted before it exists: the claim of a unit without it fails. */
	r = sf_want_put(run->st, run->req->app, run->req->release, run->req->instances[i], msg,
			sizeof msg);
	if (r < 0)
		snprintf(err, errlen, "cannot put the want key of instance %" PRIu32 ": %s",
			 run->req->instances[i], msg);
	for (int k = 0; k < 2 && r == 0; k++) {
		bool created = false;

		r = fleet_unit_put(&created, run->st->fleet, units[k].name, "launched",
				   units[k].options, units[k].n_options, msg, sizeof msg);
		if (r == 0 && created)
			run->created[i] = true;
		if (r < 0)
			snprintf(err, errlen, "cannot submit %s: %s", units[k].name, msg);
	}
	sf_unit_release(&units[0]);
	sf_unit_release(&units[1]);
	return r < 0 ? nap_status_from_errno(r) : NAP_OK;
}

/* Deletes the units this call created (after a failure). */
static void rollback(struct run *run, size_t n_submitted)
{
	uint32_t *rel = calloc(n_submitted ? n_submitted : 1, sizeof *rel);
	uint32_t *ins = calloc(n_submitted ? n_submitted : 1, sizeof *ins);
	size_t n = 0;
	char err[512];

	if (!rel || !ins)
		goto out;
	for (size_t i = 0; i < n_submitted; i++)
		if (run->created[i]) {
			rel[n] = run->req->release;
			ins[n++] = run->req->instances[i];
		}
	if (n && sf_remove_units(NULL, run->st, NULL, run->req->app, rel, ins, n,
				 sf_now_us() + (uint64_t)run->st->stop_timeout_ms * 1000u, err,
				 sizeof err) < 0)
		run->st->host->log(NAP_LOG_WARNING, "scheduler-fleet: undoing run of %s: %s",
				   run->req->app, err);
out:
	free(rel);
	free(ins);
}

static const struct fleet_unit_state *state_of(const struct fleet_unit_state *v, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static bool machine_matches(const struct fleet_machine *m, const char *const *meta, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(meta[i], '=');
		bool found = false;

		for (size_t k = 0; k < m->n_meta && !found; k++)
			found = strlen(m->meta_keys[k]) == (size_t)(eq - meta[i]) &&
				strncmp(m->meta_keys[k], meta[i], (size_t)(eq - meta[i])) == 0 &&
				strcmp(m->meta_values[k], eq + 1) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Why fleet cannot place unit `name` (instance of the run), into err;
 * returns NAP_OK while some machine could still take it. */
static int why_unplaced(struct run *run, const char *name, char *err, size_t errlen)
{
	const struct sf_state *st = run->st;
	struct fleet_machine *machines = NULL;
	struct fleet_unit *units = NULL;
	size_t nm = 0, nu = 0, eligible = 0, occupied = 0;
	char msg[512], want[256] = "";
	int r, status = NAP_OK;

	r = fleet_machines_list(&machines, &nm, st->fleet, msg, sizeof msg);
	if (r == 0)
		r = fleet_units_list(&units, &nu, st->fleet, msg, sizeof msg);
	if (r < 0) {
		snprintf(err, errlen, "%s", msg);
		status = nap_status_from_errno(r);
		goto out;
	}
	for (size_t i = 0; i < run->n_metadata; i++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? "," : "",
			 run->metadata[i]);
	for (size_t i = 0; i < nm; i++) {
		bool busy = false;

		if (!machine_matches(&machines[i], run->metadata, run->n_metadata))
			continue;
		eligible++;
		for (size_t k = 0; k < nu && run->spread && !busy; k++) {
			char app[NAP_APP_NAME_MAX + 1];
			enum sf_unit_kind kind;
			uint32_t rel, ins;

			busy = units[k].machine_id &&
			       strcmp(units[k].machine_id, machines[i].id) == 0 &&
			       strcmp(units[k].name, name) != 0 &&
			       sf_unit_parse(units[k].name, app, &kind, &rel, &ins) &&
			       kind == SF_UNIT_RUN && strcmp(app, run->req->app) == 0 &&
			       rel == run->req->release;
		}
		if (busy)
			occupied++;
	}
	if (eligible == 0 && run->n_metadata) {
		snprintf(err, errlen,
			 "unit %s cannot be placed: none of fleet's %zu machines matches %s "
			 "(MachineMetadata)",
			 name, nm, want);
		status = NAP_FAILED_PRECONDITION;
	} else if (eligible == 0) {
		snprintf(err, errlen, "unit %s cannot be placed: fleet has no machine", name);
		status = NAP_FAILED_PRECONDITION;
	} else if (occupied == eligible) {
		snprintf(err, errlen,
			 "unit %s cannot be placed: %zu machine%s%s%s, each already runs an "
			 "instance of %s release %" PRIu32
			 " (Conflicts): add machines or run fewer "
			 "instances",
			 name, eligible, eligible == 1 ? "" : "s", *want ? " matching " : "", want,
			 run->req->app, run->req->release);
		status = NAP_FAILED_PRECONDITION;
	}
out:
	fleet_machines_free(machines, nm);
	fleet_units_free(units, nu);
	return status;
}

static const struct fleet_unit *unit_of(const struct fleet_unit *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* A failed state of instance i's units: NAP_OK while it may be systemd's
 * state from before the submit, else FAILED_PRECONDITION with err. */
static int judge_failed(struct run *run, size_t i, const struct fleet_unit_state *s, uint64_t now,
			char *pending, size_t plen, char *err, size_t errlen)
{
	if (!run->failed_since[i])
		run->failed_since[i] = now;
	if (run->seen_other[i] ||
	    now - run->failed_since[i] >= run->st->failed_grace_ms * 1000ull) {
		snprintf(err, errlen,
			 "unit %s failed on machine %s (%s/%s): see `journalctl -u %s` there",
			 s->name, s->machine_id ? s->machine_id : "?", s->active_state,
			 s->sub_state ? s->sub_state : "?", s->name);
		return NAP_FAILED_PRECONDITION;
	}
	snprintf(pending, plen,
		 "%s reports failed/%s, which may be systemd's state from before it was "
		 "submitted again",
		 s->name, s->sub_state ? s->sub_state : "?");
	return NAP_OK;
}

/* One look at fleet and etcd. Returns NAP_OK with *donep set when every
 * instance is announced, a nap status to stop with (err says why), or
 * NAP_OK with *donep false to look again; pending gets what is still
 * awaited. */
static int look(struct run *run, bool *donep, char *pending, size_t plen, char *err, size_t errlen)
{
	const Nap__RunRequest *req = run->req;
	struct fleet_unit *units = NULL;
	struct fleet_unit_state *states = NULL;
	struct sf_announced *ann = NULL;
	size_t nu = 0, ns = 0, na = 0;
	uint64_t now = sf_now_us();
	char msg[512];
	int r, status = NAP_OK;
	bool done = true;

	*pending = '\0';
	r = fleet_units_list(&units, &nu, run->st->fleet, msg, sizeof msg);
	if (r == 0)
		r = fleet_states_list(&states, &ns, run->st->fleet, msg, sizeof msg);
	if (r == 0)
		r = sf_announced_read(&ann, &na, run->st, req->app, msg, sizeof msg);
	if (r < 0) {
		snprintf(err, errlen, "%s", msg);
		status = nap_status_from_errno(r);
		goto out;
	}
	for (size_t i = 0; i < req->n_instances && status == NAP_OK; i++) {
		char run_name[SF_UNIT_NAME_MAX], disc_name[SF_UNIT_NAME_MAX];
		const struct fleet_unit_state *rs, *ds;
		const struct fleet_unit *u;
		const struct sf_announced *a;
		const char *machine;

		sf_unit_name(run_name, sizeof run_name, SF_UNIT_RUN, req->app, req->release,
			     req->instances[i]);
		sf_unit_name(disc_name, sizeof disc_name, SF_UNIT_DISCOVERY, req->app, req->release,
			     req->instances[i]);
		u = unit_of(units, nu, run_name);
		rs = state_of(states, ns, run_name);
		ds = state_of(states, ns, disc_name);
		machine = rs && rs->machine_id && *rs->machine_id ? rs->machine_id
			  : u && u->machine_id                    ? u->machine_id
								  : "";
		snprintf(run->machines[i], sizeof run->machines[i], "%s", machine);
		/* Its sidekick announces it only once it passed its check. */
		a = sf_announced_find(run->st, ann, na, req->release, req->instances[i]);
		if (a) {
			snprintf(run->hosts[i], sizeof run->hosts[i], "%s", a->host);
			nap__instance__init(&run->inst[i]);
			run->inst[i].port = a->port;
			continue;
		}
		done = false;
		for (int k = 0; k < 2 && status == NAP_OK; k++) {
			const struct fleet_unit_state *s = k ? ds : rs;

			if (!s || !s->active_state)
				continue;
			if (strcmp(s->active_state, "failed") == 0)
				status = judge_failed(run, i, s, now, pending, plen, err, errlen);
			else
				run->seen_other[i] = true;
		}
		if (status != NAP_OK)
			goto out;
		if (!*machine) {
			if (!run->unplaced_since[i])
				run->unplaced_since[i] = now;
			else if (now - run->unplaced_since[i] >= SF_PLACEMENT_GRACE_MS * 1000u) {
				status = why_unplaced(run, run_name, err, errlen);
				if (status != NAP_OK)
					goto out;
			}
			snprintf(pending, plen, "%s is not placed on a machine yet", run_name);
			continue;
		}
		run->unplaced_since[i] = 0;
		if (*pending)
			continue;
		if (!rs || !rs->active_state || strcmp(rs->active_state, "active") != 0)
			snprintf(pending, plen, "%s is %s/%s on machine %s", run_name,
				 rs && rs->active_state ? rs->active_state : "not reported",
				 rs && rs->sub_state ? rs->sub_state : "yet", machine);
		else
			snprintf(pending, plen,
				 "%s runs on machine %s but is not announced in etcd yet (%s is "
				 "%s; the instance must pass its check)",
				 run_name, machine, disc_name,
				 ds && ds->active_state ? ds->active_state : "not started");
	}
out:
	fleet_units_free(units, nu);
	fleet_states_free(states, ns);
	free(ann);
	*donep = status == NAP_OK && done;
	return status;
}

static void reply(struct run *run, nap_plugin_call *call)
{
	const Nap__RunRequest *req = run->req;
	Nap__RunReply rep = NAP__RUN_REPLY__INIT;

	for (size_t i = 0; i < req->n_instances; i++) {
		Nap__Instance *in = &run->inst[i];

		sf_unit_name(run->ids[i], sizeof run->ids[i], SF_UNIT_RUN, req->app, req->release,
			     req->instances[i]);
		in->app = (char *)req->app;
		in->release = req->release;
		in->instance = req->instances[i];
		in->id = run->ids[i];
		in->host = run->hosts[i];
		in->state = "running";
		in->machine = run->machines[i];
		in->announcer = SF_ANNOUNCER;
		run->ptrs[i] = in;
		run->st->host->log(NAP_LOG_INFO, "scheduler-fleet: %s on machine %s at %s:%" PRIu32,
				   in->id, in->machine, in->host, in->port);
	}
	rep.n_instances = req->n_instances;
	rep.instances = run->ptrs;
	run->st->host->reply(call, &rep.base);
}

void sf_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__RunRequest *req = (const Nap__RunRequest *)request;
	struct run run = {.st = st, .req = req};
	uint32_t wait_ms = st->start_timeout_ms;
	uint64_t start = sf_now_us(), deadline;
	char err[768], pending[400] = "";
	size_t submitted = 0;
	const char *why;
	int status = NAP_OK;
	bool done = false;

	why = run_check(req, err, sizeof err);
	if (why) {
		st->host->end(call, NAP_INVALID_ARGUMENT, "scheduler-fleet: %s", why);
		return;
	}
	if (run_prepare(&run) < 0) {
		run_free(&run);
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-fleet: out of memory");
		return;
	}
	if (req->timeout_s && req->timeout_s * 1000u < wait_ms)
		wait_ms = req->timeout_s * 1000u;
	if (st->host->remaining_ms(call) < wait_ms)
		wait_ms = st->host->remaining_ms(call);
	/* Leave a moment to undo and answer before the caller gives up. */
	wait_ms = wait_ms > 2000 ? wait_ms - 1000 : wait_ms / 2;
	deadline = start + (uint64_t)wait_ms * 1000u;

	for (; submitted < req->n_instances && status == NAP_OK; submitted++)
		status = submit(&run, submitted, err, sizeof err);
	while (status == NAP_OK && !done) {
		status = look(&run, &done, pending, sizeof pending, err, sizeof err);
		if (status != NAP_OK || done)
			break;
		if (st->host->cancelled(call)) {
			status = NAP_CANCELLED;
			snprintf(err, sizeof err, "run of %s cancelled while waiting: %s", req->app,
				 pending);
		} else if (sf_now_us() >= deadline) {
			status = NAP_DEADLINE_EXCEEDED;
			snprintf(err, sizeof err, "run of %s not up after %u s: %s", req->app,
				 (unsigned)(wait_ms / 1000), pending);
		} else {
			sf_sleep_ms(SF_POLL_MS);
		}
	}
	if (status != NAP_OK) {
		if (status != NAP_UNAVAILABLE || submitted > 0)
			rollback(&run, submitted);
		st->host->log(NAP_LOG_WARNING,
			      "scheduler-fleet: run of %s release %" PRIu32 " failed: %s", req->app,
			      req->release, err);
		st->host->end(call, status, "scheduler-fleet: %s", err);
	} else {
		st->host->log(NAP_LOG_INFO,
			      "scheduler-fleet: %s release %" PRIu32
			      ": %zu instances up in %" PRIu64 " ms",
			      req->app, req->release, req->n_instances,
			      (sf_now_us() - start) / 1000u);
		reply(&run, call);
	}
	run_free(&run);
}
