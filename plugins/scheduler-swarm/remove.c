/* scheduler-swarm: nap.Scheduler.Remove (the services of the instances;
 * absent ones count as removed) and List (what the manager holds). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool wanted(const Nap__RemoveRequest *req, const struct sw_inst *in)
{
	if (req->release && in->release != req->release)
		return false;
	if (req->n_instances == 0)
		return true;
	for (size_t i = 0; i < req->n_instances; i++)
		if (req->instances[i] == in->instance)
			return true;
	return false;
}

void sw_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sw_state *st = state;
	const Nap__RemoveRequest *req = (const Nap__RemoveRequest *)request;
	Nap__RemoveReply reply = NAP__REMOVE_REPLY__INIT;
	struct sw_snapshot snap;
	char err[512], path[128];
	int r;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-swarm: invalid app name: use ^[a-z][a-z0-9-]{0,62}$");
		return;
	}
	r = sw_snapshot_read(&snap, st, req->app, err, sizeof err);
	if (r < 0) {
		st->host->end(call, nap_status_from_errno(r), "scheduler-swarm: %s", err);
		return;
	}
	for (size_t i = 0; i < snap.n; i++) {
		const struct sw_inst *in = &snap.v[i];

		if (!wanted(req, in))
			continue;
		snprintf(path, sizeof path, "/services/%s", in->service_id);
		r = docker_json(NULL, st->manager, "DELETE", path, NULL, "service remove", err,
				sizeof err);
		if (r < 0 && r != -ENOENT) {
			sw_snapshot_free(&snap);
			st->host->end(call, nap_status_from_errno(r), "scheduler-swarm: %s", err);
			return;
		}
		st->host->log(NAP_LOG_INFO, "scheduler-swarm: removed %s instance %u (release %u)",
			      in->app, (unsigned)in->instance, (unsigned)in->release);
		reply.removed++;
	}
	sw_snapshot_free(&snap);
	st->host->reply(call, &reply.base);
}

void sw_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sw_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	Nap__ListInstancesReply reply = NAP__LIST_INSTANCES_REPLY__INIT;
	const char *app = req->app ? req->app : "";
	struct sw_snapshot snap;
	Nap__Instance *outs;
	Nap__Instance **ptrs;
	char err[512];
	int r;

	if (*app && !nap_app_name_valid(app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-swarm: invalid app name: use ^[a-z][a-z0-9-]{0,62}$");
		return;
	}
	r = sw_snapshot_read(&snap, st, app, err, sizeof err);
	if (r < 0) {
		st->host->end(call, nap_status_from_errno(r), "scheduler-swarm: %s", err);
		return;
	}
	outs = calloc(snap.n + 1, sizeof *outs);
	ptrs = calloc(snap.n + 1, sizeof *ptrs);
	if (!outs || !ptrs) {
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-swarm: out of memory");
	} else {
		for (size_t i = 0; i < snap.n; i++) {
			nap__instance__init(&outs[i]);
			sw_instance_fill(&outs[i], &snap.v[i]);
			ptrs[i] = &outs[i];
		}
		reply.n_instances = snap.n;
		reply.instances = ptrs;
		st->host->reply(call, &reply.base);
		for (size_t i = 0; i < snap.n; i++)
			instance_ports_free(&outs[i]);
	}
	free(outs);
	free(ptrs);
	sw_snapshot_free(&snap);
}
