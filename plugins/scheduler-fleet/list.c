/* scheduler-fleet: nap.Scheduler.List, from fleet's /units (what should
 * run), /state (what runs, and where) and etcd (the published ports). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

struct row {
	char app[NAP_APP_NAME_MAX + 1];
	char id[SF_UNIT_NAME_MAX];
	char host[256];
	char machine[80];
	const char *state;
};

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

void sf_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	const char *only = req->app && *req->app ? req->app : NULL;
	Nap__ListInstancesReply rep = NAP__LIST_INSTANCES_REPLY__INIT;
	struct fleet_unit *units = NULL;
	struct fleet_unit_state *states = NULL;
	struct sf_announced *ann = NULL;
	Nap__Instance *inst = NULL, **ptrs = NULL;
	struct row *rows = NULL;
	size_t nu = 0, ns = 0, na = 0, n = 0;
	char err[768], ann_app[NAP_APP_NAME_MAX + 1] = "";
	int r;

	if (only && !nap_app_name_valid(only)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-fleet: invalid app name \"%.80s\": %s", only,
			      NAP_APP_NAME_RULE);
		return;
	}
	r = fleet_units_list(&units, &nu, st->fleet, err, sizeof err);
	if (r == 0)
		r = fleet_states_list(&states, &ns, st->fleet, err, sizeof err);
	if (r < 0)
		goto fail;
	inst = calloc(nu + 1, sizeof *inst);
	ptrs = calloc(nu + 1, sizeof *ptrs);
	rows = calloc(nu + 1, sizeof *rows);
	if (!inst || !ptrs || !rows) {
		r = -ENOMEM;
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nu; i++) {
		struct row *row = &rows[n];
		const struct fleet_unit_state *s = NULL;
		const struct sf_announced *a;
		enum sf_unit_kind kind;
		uint32_t rel, ins;

		if (!sf_unit_parse(units[i].name, row->app, &kind, &rel, &ins) ||
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
			r = sf_announced_read(&ann, &na, st, row->app, err, sizeof err);
			if (r < 0)
				goto fail;
			strcpy(ann_app, row->app);
		}
		a = sf_announced_find(st, ann, na, rel, ins);
		snprintf(row->id, sizeof row->id, "%s", units[i].name);
		snprintf(row->host, sizeof row->host, "%s", a ? a->host : "");
		snprintf(row->machine, sizeof row->machine, "%s",
			 s && s->machine_id ? s->machine_id
					    : units[i].machine_id ? units[i].machine_id : "");
		row->state = state_word(s);
		nap__instance__init(&inst[n]);
		inst[n].app = row->app;
		inst[n].release = rel;
		inst[n].instance = ins;
		inst[n].id = row->id;
		inst[n].host = row->host;
		inst[n].port = a ? a->port : 0;
		inst[n].state = (char *)row->state;
		inst[n].machine = row->machine;
		ptrs[n] = &inst[n];
		n++;
	}
	rep.n_instances = n;
	rep.instances = ptrs;
	st->host->reply(call, &rep.base);
	goto out;
fail:
	st->host->end(call, sf_status(r), "scheduler-fleet: list: %s", err);
out:
	fleet_units_free(units, nu);
	fleet_states_free(states, ns);
	free(ann);
	free(inst);
	free(ptrs);
	free(rows);
}
