/* scheduler-local: nap.Scheduler.Remove, stopping and removing the
 * containers of an app found by their labels (Docker is the record). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>
#include <stdio.h>

static bool wanted(const Nap__RemoveRequest *req, const struct docker_container_summary *c)
{
	uint32_t instance;

	if (req->n_instances == 0)
		return true;
	instance = sl_label_u32(c, SL_LABEL_INSTANCE);
	for (size_t i = 0; i < req->n_instances; i++)
		if (req->instances[i] == instance)
			return true;
	return false;
}

void sl_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__RemoveRequest *req = (const Nap__RemoveRequest *)request;
	Nap__RemoveReply reply = NAP__REMOVE_REPLY__INIT;
	struct docker_container_summary *list = NULL;
	char err[512];
	size_t n = 0;
	int r;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-local: invalid app name \"%.80s\": use "
			      "^[a-z][a-z0-9-]{0,62}$",
			      req->app);
		return;
	}
	r = sl_list_containers(&list, &n, st, req->app, req->release, true, err, sizeof err);
	if (r < 0) {
		sl_end_docker(st, call, r, err);
		return;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (!wanted(req, &list[i]))
			continue;
		if (st->host->cancelled(call)) {
			r = -ECANCELED;
			snprintf(err, sizeof err, "remove of %s cancelled after %u containers",
				 req->app, (unsigned)reply.removed);
			break;
		}
		/* Stop first so the app gets its SIGTERM (Init forwards it at once);
		 * remove then kills whatever outlived the grace period. */
		r = docker_container_stop(st->docker, list[i].id, st->stop_grace_s, err, sizeof err);
		if (r == 0 || r == -ENOENT)
			r = docker_container_remove(st->docker, list[i].id, err, sizeof err);
		if (r == -ENOENT) {
			r = 0; /* gone already: someone else removed it */
			continue;
		}
		if (r == 0) {
			reply.removed++;
			st->host->log(NAP_LOG_INFO, "scheduler-local: removed %s", list[i].name);
		}
	}
	docker_container_list_free(list, n);
	if (r < 0)
		sl_end_docker(st, call, r, err);
	else
		st->host->reply(call, &reply.base);
}
