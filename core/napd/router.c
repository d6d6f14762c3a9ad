#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/control.pb-c.h>
#include <nap/discovery.pb-c.h>
#include <nap/echo.pb-c.h>
#include <nap/notifier.pb-c.h>
#include <nap/scheduler.pb-c.h>

#include "peer.h"
#include "router.h"

struct route {
	char *service;
	struct provider *provider;
};

static struct route *routes;
static size_t nroutes;

static const ProtobufCServiceDescriptor *const known[] = {
	&nap__control__descriptor,   &nap__apps__descriptor,      &nap__builder__descriptor,
	&nap__scheduler__descriptor, &nap__discovery__descriptor, &nap__notifier__descriptor,
	&nap__echo__descriptor,
};

const ProtobufCServiceDescriptor *router_known_service(const char *service)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i]->name, service) == 0)
			return known[i];
	return NULL;
}

int router_register(const char *service, struct provider *pv, struct provider **owner)
{
	struct provider *have = router_provider(service);
	if (have && have != pv) {
		*owner = have;
		return -EEXIST;
	}
	if (have)
		return 0;
	struct route *r = realloc(routes, (nroutes + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	routes = r;
	routes[nroutes].service = strdup(service);
	if (!routes[nroutes].service)
		return -ENOMEM;
	routes[nroutes++].provider = pv;
	return 0;
}

void router_unregister(struct provider *pv)
{
	size_t j = 0;
	for (size_t i = 0; i < nroutes; i++) {
		if (routes[i].provider == pv)
			free(routes[i].service);
		else
			routes[j++] = routes[i];
	}
	nroutes = j;
}

struct provider *router_provider(const char *service)
{
	for (size_t i = 0; i < nroutes; i++)
		if (strcmp(routes[i].service, service) == 0)
			return routes[i].provider;
	return NULL;
}

void router_finish(void)
{
	for (size_t i = 0; i < nroutes; i++)
		free(routes[i].service);
	free(routes);
	routes = NULL;
	nroutes = 0;
}

int router_track(struct inflight *c)
{
	return nap_idmap_put(&c->from->calls, c->id, c);
}

void router_untrack(struct inflight *c)
{
	if (c->from)
		nap_idmap_remove(&c->from->calls, c->id);
}

void router_forward_as(struct peer *from, const Nap__Bus__Frame *f, const char *service,
		       uint32_t method)
{
	const ProtobufCServiceDescriptor *desc = router_known_service(service);
	if (desc && method >= desc->n_methods) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "service %s has no method %u (it has %u): the client is newer than "
			     "napd",
			     service, method, desc->n_methods);
		return;
	}
	struct provider *pv = router_provider(service);
	if (!pv) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "no plugin provides service %s ('napc plugins' lists what is loaded)",
			     service);
		return;
	}
	pv->ops->call(pv, from, f, service, method);
}

static void cancel(struct inflight *c)
{
	c->from = NULL;
	if (c->to->ops->cancel)
		c->to->ops->cancel(c);
}

void router_incoming(struct peer *from, const Nap__Bus__Frame *f)
{
	if (f->kind == NAP__BUS__KIND__CANCEL) {
		struct inflight *c = nap_idmap_remove(&from->calls, f->call_id);
		if (c)
			cancel(c);
		/* else it ended already, or napd answered it at once */
		return;
	}
	if (nap_idmap_get(&from->calls, f->call_id)) {
		nap_conn_abort(from->conn, NAP_INVALID_ARGUMENT,
			       "call id %llu was reused while that call is in flight",
			       (unsigned long long)f->call_id);
		return;
	}
	router_forward_as(from, f, f->service, f->method);
}

void router_peer_gone(struct peer *p)
{
	uint64_t id;
	void *v;
	while (nap_idmap_pop(&p->calls, &id, &v) > 0)
		cancel(v);
}
