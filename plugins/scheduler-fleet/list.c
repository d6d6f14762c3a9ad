/* scheduler-fleet: nap.Scheduler.List, from fleet's /units (what should
 * run), /state (what runs, and where) and etcd (the published ports); the
 * same rows feed Watch (watch.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

static const char *state_word(const struct fleet_unit_state *s)
{
	if (!s || !s->active_state)
		return "pending";
	if (strcmp(s->active_state, "active") == 0)
		return "running";
	if (strcmp(s->active_state, "failed") == 0)
		return "failed";
	if (strcmp(s->active_state, "inactive") == 0)
		return "exited";
	return "pending";
}

int sf_rows_read(struct sf_row **rowsp, size_t *np, const struct sf_state *st, const char *only,
		 char *err, size_t errlen)
{
	struct fleet_unit *units = NULL;
	struct fleet_unit_state *states = NULL;
	struct sf_announced *ann = NULL;
	struct sf_row *rows = NULL;
	size_t nu = 0, ns = 0, na = 0, n = 0;
	char ann_app[NAP_APP_NAME_MAX + 1] = "";
	int r;

	r = fleet_units_list(&units, &nu, st->fleet, err, errlen);
	if (r == 0)
		r = fleet_states_list(&states, &ns, st->fleet, err, errlen);
	if (r < 0)
		goto out;
	rows = calloc(nu + 1, sizeof *rows);
	if (!rows) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nu; i++) {
		struct sf_row *row = &rows[n];
		const struct fleet_unit_state *s = NULL;
		const struct sf_announced *a;
		enum sf_unit_kind kind;

		if (!sf_unit_parse(units[i].name, row->app, &kind, &row->release, &row->instance) ||
		    kind != SF_UNIT_RUN || (only && strcmp(row->app, only) != 0))
			continue;
		for (size_t k = 0; k < ns && !s; k++)
			if (strcmp(states[k].name, units[i].name) == 0)
				s = &states[k];
		/* Units are listed sorted by name: one etcd read per app. */
		if (strcmp(ann_app, row->app) != 0) {
			free(ann);
			ann = NULL;
			na = 0;
			r = sf_announced_read(&ann, &na, st, row->app, err, errlen);
			if (r < 0)
				goto out;
			strcpy(ann_app, row->app);
		}
		a = sf_announced_find(st, ann, na, row->release, row->instance);
		snprintf(row->id, sizeof row->id, "%s", units[i].name);
		snprintf(row->host, sizeof row->host, "%s", a ? a->host : "");
		snprintf(row->machine, sizeof row->machine, "%s",
			 s && s->machine_id    ? s->machine_id
			 : units[i].machine_id ? units[i].machine_id
					       : "");
		row->state = state_word(s);
		row->port = a ? a->port : 0;
		n++;
	}
out:
	fleet_units_free(units, nu);
	fleet_states_free(states, ns);
	free(ann);
	if (r < 0) {
		free(rows);
		return r;
	}
	*rowsp = rows;
	*np = n;
	return 0;
}

void sf_row_instance(Nap__Instance *in, struct sf_row *row)
{
	nap__instance__init(in);
	in->app = row->app;
	in->release = row->release;
	in->instance = row->instance;
	in->id = row->id;
	in->host = row->host;
	in->port = row->port;
	in->state = (char *)row->state;
	in->machine = row->machine;
	in->announcer = SF_ANNOUNCER;
}

void sf_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	const char *only = req->app && *req->app ? req->app : NULL;
	Nap__ListInstancesReply rep = NAP__LIST_INSTANCES_REPLY__INIT;
	Nap__Instance *inst = NULL, **ptrs = NULL;
	struct sf_row *rows = NULL;
	size_t n = 0;
	char err[768];
	int r;

	if (only && !nap_app_name_valid(only)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-fleet: invalid app name \"%.80s\": %s", only,
			      NAP_APP_NAME_RULE);
		return;
	}
	r = sf_rows_read(&rows, &n, st, only, err, sizeof err);
	if (r < 0) {
		st->host->end(call, nap_status_from_errno(r), "scheduler-fleet: list: %s", err);
		return;
	}
	inst = calloc(n + 1, sizeof *inst);
	ptrs = calloc(n + 1, sizeof *ptrs);
	if (!inst || !ptrs) {
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-fleet: list: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sf_row_instance(&inst[i], &rows[i]);
		ptrs[i] = &inst[i];
	}
	rep.n_instances = n;
	rep.instances = ptrs;
	st->host->reply(call, &rep.base);
out:
	free(rows);
	free(inst);
	free(ptrs);
}
