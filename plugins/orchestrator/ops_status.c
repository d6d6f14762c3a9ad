/* GetApp and ListApps: the status of status.c, with the endpoints
 * discovery holds. */
#include "config.h"

#include <stdlib.h>

#include <nap/names.h>

#include "orchestrator.h"

void ops_get_app(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__AppRequest *r = (const Nap__AppRequest *)request;
	if (!nap_app_name_valid(r->app)) {
		O.host->end(call, NAP_INVALID_ARGUMENT, "'%.80s' is not a valid app name: %s",
			    r->app ? r->app : "", NAP_APP_NAME_RULE);
		return;
	}
	if (!op_loaded(call))
		return;
	Nap__AppStatus st;
	pthread_mutex_lock(&O.lock);
	struct app *a = app_find(r->app);
	if (!a || !a->rec || a->owner[0] || !*rec_owner(a->rec)) {
		pthread_mutex_unlock(&O.lock);
		O.host->end(call, NAP_NOT_FOUND, "no app %s ('napc ls' lists the apps)", r->app);
		return;
	}
	status_fill(&st, a, true);
	pthread_mutex_unlock(&O.lock);
	Nap__EndpointList *l = bus_resolve(r->app, 0);
	if (l) {
		st.n_endpoints = l->n_endpoints;
		st.endpoints = l->endpoints;
		l->n_endpoints = 0;
		l->endpoints = NULL;
		nap__endpoint_list__free_unpacked(l, NULL);
	}
	O.host->reply(call, &st.base);
	status_clear(&st);
}

void ops_list_apps(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	(void)request;
	if (!op_loaded(call))
		return;
	Nap__ListAppsReply out = NAP__LIST_APPS_REPLY__INIT;
	pthread_mutex_lock(&O.lock);
	size_t n = 0;
	for (struct app *a = O.apps; a; a = a->next)
		n++;
	out.apps = calloc(n + 1, sizeof(*out.apps));
	for (struct app *a = O.apps; out.apps && a; a = a->next) {
		if (!a->rec || !*rec_owner(a->rec))
			continue; /* not ours (yet) */
		Nap__AppStatus *st = malloc(sizeof(*st));
		if (!st)
			break;
		status_fill(st, a, false);
		out.apps[out.n_apps++] = st;
	}
	pthread_mutex_unlock(&O.lock);
	O.host->reply(call, &out.base);
	for (size_t i = 0; i < out.n_apps; i++) {
		status_clear(out.apps[i]);
		free(out.apps[i]);
	}
	free(out.apps);
}
