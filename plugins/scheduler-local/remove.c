/* scheduler-local: nap.Scheduler.Remove, stopping and removing the
 * containers of an app found by their labels (Docker is the record), up to
 * SL_RUN_PARALLEL at once. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static bool wanted(const Nap__RemoveRequest *req, const struct docker_container_summary *c)
{
	uint32_t instance;

	if (req->n_instances == 0)
		return true;
	instance = sl_label_u32(c, NAP_LABEL_INSTANCE);
	for (size_t i = 0; i < req->n_instances; i++)
		if (req->instances[i] == instance)
			return true;
	return false;
}

/* One container to remove, worked on by one thread. */
struct remove_slot {
	const struct docker_container_summary *c;
	bool tried, removed;
	int r; /* 0 or the failure's errno */
	char err[512];
};

struct removal {
	const struct sl_state *st;
	nap_plugin_call *call;
	struct remove_slot *slots;
};

static bool remove_one(void *ctx, size_t i)
{
	struct removal *rm = ctx;
	struct remove_slot *slot = &rm->slots[i];
	const struct sl_state *st = rm->st;
	int r;

	slot->tried = true;
	if (st->host->cancelled(rm->call)) {
		slot->r = -ECANCELED;
		return false;
	}
	/* Stop first so the app gets its SIGTERM (Init forwards it at once);
	 * remove then kills whatever outlived the grace period. */
	r = docker_container_stop(st->docker, slot->c->id, st->stop_grace_s, slot->err,
				  sizeof slot->err);
	if (r == 0 || r == -ENOENT)
		r = docker_container_remove(st->docker, slot->c->id, slot->err, sizeof slot->err);
	if (r == -ENOENT)
		return true; /* gone already: someone else removed it */
	if (r < 0) {
		slot->r = r;
		return false;
	}
	slot->removed = true;
	st->host->log(NAP_LOG_INFO, "scheduler-local: removed %s", slot->c->name);
	return true;
}

void sl_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__RemoveRequest *req = (const Nap__RemoveRequest *)request;
	Nap__RemoveReply reply = NAP__REMOVE_REPLY__INIT;
	struct docker_container_summary *list = NULL;
	struct removal rm = {.st = st, .call = call};
	const struct remove_slot *failed = NULL;
	char err[512];
	size_t n = 0, k = 0;
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
	rm.slots = calloc(n ? n : 1, sizeof *rm.slots);
	if (!rm.slots) {
		docker_container_list_free(list, n);
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-local: out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (wanted(req, &list[i]))
			rm.slots[k++].c = &list[i];
	/* In parallel, as Run: a release of 40 instances stops in the time of
	 * a few, not of 40 grace periods in a row. */
	sl_parallel(k, SL_RUN_PARALLEL, remove_one, &rm);
	for (size_t i = 0; i < k; i++) {
		if (rm.slots[i].removed)
			reply.removed++;
		else if (rm.slots[i].tried && rm.slots[i].r < 0 && !failed)
			failed = &rm.slots[i];
	}
	if (failed && failed->r == -ECANCELED)
		st->host->end(call, NAP_CANCELLED,
			      "scheduler-local: remove of %s cancelled after %u containers",
			      req->app, (unsigned)reply.removed);
	else if (failed)
		sl_end_docker(st, call, failed->r, failed->err);
	else
		st->host->reply(call, &reply.base);
	free(rm.slots);
	docker_container_list_free(list, n);
}
