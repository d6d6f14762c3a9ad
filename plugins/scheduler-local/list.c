/* scheduler-local: nap.Scheduler.List, the instances of one app (or of all
 * nap apps) as Docker sees them, stopped ones included. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_app_release_instance(const void *a, const void *b)
{
	const Nap__Instance *x = *(Nap__Instance *const *)a, *y = *(Nap__Instance *const *)b;
	int c = strcmp(x->app, y->app);

	if (c)
		return c;
	if (x->release != y->release)
		return x->release < y->release ? -1 : 1;
	return x->instance < y->instance ? -1 : x->instance > y->instance;
}

void sl_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	Nap__ListInstancesReply reply = NAP__LIST_INSTANCES_REPLY__INIT;
	struct docker_container_summary *list = NULL;
	Nap__Instance *instances = NULL, **ptrs = NULL;
	struct docker_container_info **infos = NULL;
	char err[512];
	size_t n = 0, k = 0;
	int r;

	if (req->app && *req->app && !nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-local: invalid app name \"%.80s\": use "
			      "^[a-z][a-z0-9-]{0,62}$",
			      req->app);
		return;
	}
	r = sl_list_containers(&list, &n, st, req->app, 0, true, err, sizeof err);
	if (r < 0) {
		sl_end_docker(st, call, r, err);
		return;
	}
	if (n > 0) {
		instances = calloc(n, sizeof *instances);
		ptrs = calloc(n, sizeof *ptrs);
		infos = calloc(n, sizeof *infos);
		if (!instances || !ptrs || !infos) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct docker_container_summary *c = &list[i];
		const char *app = json_string_value(json_object_get(c->labels, NAP_LABEL_APP));
		Nap__Instance *in = &instances[k];

		if (!nap_app_name_valid(app))
			continue; /* labelled by someone else: not ours */
		/* The list has no ports, exit codes or health in our client: ask
		 * for them. A container removed meanwhile is simply left out. */
		r = docker_container_inspect(&infos[k], st->docker, c->id, err, sizeof err);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			goto out;
		nap__instance__init(in);
		sl_instance_fill(in, st, app, sl_label_u32(c, NAP_LABEL_RELEASE),
				 sl_label_u32(c, NAP_LABEL_INSTANCE), infos[k]);
		ptrs[k] = in;
		k++;
	}
	r = 0;
	if (k > 1)
		qsort(ptrs, k, sizeof *ptrs, by_app_release_instance);
	reply.n_instances = k;
	reply.instances = ptrs;
out:
	if (r == -ENOMEM)
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-local: out of memory");
	else if (r < 0)
		sl_end_docker(st, call, r, err);
	else
		st->host->reply(call, &reply.base);
	for (size_t i = 0; infos && i < k; i++) {
		instance_ports_free(&instances[i]);
		docker_container_info_free(infos[i]);
	}
	free(infos);
	free(instances);
	free(ptrs);
	docker_container_list_free(list, n);
}
