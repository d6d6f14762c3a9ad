#include "config.h"

#include <errno.h>
#include <stdbool.h>
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

/* Services several plugins may provide side by side, each addressed as
 * SERVICE@PLUGIN (plain SERVICE: the first one listed in napd.conf). */
bool router_multi_service(const char *service)
{
	return strcmp(service, "nap.Scheduler") == 0;
}

/* "nap.Scheduler@scheduler-swarm" -> "nap.Scheduler" (in buf), *pluginp
 * "scheduler-swarm"; a plain name -> itself, *pluginp NULL. */
static const char *split_address(const char *service, char *buf, size_t n, const char **pluginp)
{
	const char *at = strchr(service, '@');
	*pluginp = NULL;
	if (!at || (size_t)(at - service) >= n)
		return service;
	memcpy(buf, service, (size_t)(at - service));
	buf[at - service] = '\0';
	*pluginp = at + 1;
	return buf;
}

int router_register(const char *service, struct provider *pv, struct provider **owner)
{
	for (size_t i = 0; i < nroutes; i++)
		if (routes[i].provider == pv && strcmp(routes[i].service, service) == 0)
			return 0; /* registered already */
	struct provider *have = router_provider(service);
	if (have && have != pv && !router_multi_service(service)) {
		*owner = have;
		return -EEXIST;
	}
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

struct provider *router_provider(const char *address)
{
	char base[NAP_NAME_MAX + 1];
	const char *plugin;
	const char *service = split_address(address, base, sizeof(base), &plugin);
	/* Of several, the first in napd.conf: plugin providers live in one
	 * array in that order (supervisor.c). */
	struct provider *first = NULL;
	for (size_t i = 0; i < nroutes; i++) {
		struct provider *pv = routes[i].provider;
		if (strcmp(routes[i].service, service) != 0 ||
		    (plugin && strcmp(pv->name, plugin) != 0))
			continue;
		if (!first || pv < first)
			first = pv;
	}
	return first;
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

void router_forward_as(struct peer *from, const Nap__Bus__Frame *f, const char *address,
		       uint32_t method)
{
	char base[NAP_NAME_MAX + 1];
	const char *plugin;
	/* the provider gets the plain service name, never "@plugin" */
	const char *service = split_address(address, base, sizeof(base), &plugin);
	const ProtobufCServiceDescriptor *desc = router_known_service(service);
	if (desc && method >= desc->n_methods) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "service %s has no method %u (it has %u): the client is newer than "
			     "napd",
			     service, method, desc->n_methods);
		return;
	}
	struct provider *pv = router_provider(address);
	if (!pv) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "no plugin provides service %s ('napc plugins' lists what is loaded)",
			     address);
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
	if (f->kind == NAP__BUS__KIND__MESSAGE || f->kind == NAP__BUS__KIND__END) {
		/* The request stream of a call in flight (libnap passes only
		 * the caller's here); for a call that ended, or that napd
		 * answered at once, it is ignored. */
		struct inflight *c = nap_idmap_get(&from->calls, f->call_id);
		if (c && c->to->ops->stream)
			c->to->ops->stream(c, f);
		return;
	}
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
