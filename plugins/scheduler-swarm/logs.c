/* scheduler-swarm: nap.Scheduler.Logs, each instance's service logs as the
 * manager gathers them from the nodes (GET /services/<id>/logs). The lines
 * there are (the last tail of each instance); follow is not streamed: the
 * call ends after them. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/control.pb-c.h>

struct logs {
	const struct sw_state *st;
	nap_plugin_call *call;
	uint32_t instance;
};

static int on_line(void *user, int stream, const char *line, size_t len)
{
	struct logs *l = user;
	Nap__LogLine out = NAP__LOG_LINE__INIT;

	(void)stream;
	(void)len;
	out.instance = l->instance;
	out.line = (char *)line;
	return l->st->host->send(l->call, &out.base) < 0 ? -EPIPE : 0;
}

void sw_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sw_state *st = state;
	const Nap__LogsRequest *req = (const Nap__LogsRequest *)request;
	struct sw_snapshot snap;
	char err[512], path[256];
	int r;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-swarm: invalid app name: use ^[a-z][a-z0-9-]{0,62}$");
		return;
	}
	r = sw_snapshot_read(&snap, st, req->app, err, sizeof err);
	if (r < 0) {
		st->host->end(call, sw_status(r), "scheduler-swarm: %s", err);
		return;
	}
	if (snap.n == 0) {
		sw_snapshot_free(&snap);
		st->host->end(call, NAP_NOT_FOUND, "scheduler-swarm: %s has no instances",
			      req->app);
		return;
	}
	for (size_t i = 0; i < snap.n && r == 0; i++) {
		struct logs l = {.st = st, .call = call, .instance = snap.v[i].instance};
		char tail[16] = "all";

		if (req->tail)
			snprintf(tail, sizeof tail, "%u", (unsigned)req->tail);
		snprintf(path, sizeof path, "/services/%s/logs?stdout=1&stderr=1&tail=%s",
			 snap.v[i].service_id, tail);
		r = docker_logs_get(st->manager, path, on_line, &l, err, sizeof err);
		if (r == -ENOENT) /* removed meanwhile */
			r = 0;
	}
	sw_snapshot_free(&snap);
	if (r == -EPIPE)
		st->host->end(call, NAP_CANCELLED, "scheduler-swarm: logs cancelled");
	else if (r < 0)
		st->host->end(call, sw_status(r), "scheduler-swarm: %s", err);
	else
		st->host->end(call, NAP_OK, "%s", "");
}
