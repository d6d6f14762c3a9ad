#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/control.pb-c.h>
#include <nap/discovery.pb-c.h>
#include <nap/echo.pb-c.h>
#include <nap/notifier.pb-c.h>
#include <nap/scheduler.pb-c.h>

#include "control.h"
#include "log.h"
#include "peer.h"
#include "router.h"
#include "supervisor.h"

struct route {
	char *service;
	struct plugin *plugin;
};

static struct route *routes;
static size_t nroutes;

/* A call from one peer passed on to the plugin providing its service. */
struct forward {
	struct peer *from; /* NULL once the caller is gone */
	uint64_t from_id;
	nap_call *call;
	struct plugin *to;
};

static const ProtobufCServiceDescriptor *const known[] = {
	&nap__control__descriptor,   &nap__apps__descriptor,     &nap__builder__descriptor,
	&nap__scheduler__descriptor,
	&nap__discovery__descriptor, &nap__notifier__descriptor, &nap__echo__descriptor,
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

/* "nap.Scheduler@scheduler-swarm" -> base "nap.Scheduler" (in buf), plugin
 * "scheduler-swarm"; plain names -> themselves and NULL. */
static const char *split_address(const char *service, char *buf, size_t n, const char **pluginp)
{
	const char *at = strchr(service, '@');
	*pluginp = NULL;
	if (!at || (size_t)(at - service) >= n)
		return service;
	snprintf(buf, n, "%.*s", (int)(at - service), service);
	*pluginp = at + 1;
	return buf;
}

static bool provides(const struct route *r, const char *base, const char *plugin)
{
	return strcmp(r->service, base) == 0 &&
	       (!plugin || strcmp(r->plugin->conf->name, plugin) == 0);
}

int router_register(const char *service, struct plugin *plugin, struct plugin **owner)
{
	struct plugin *have = router_provider(service);
	for (size_t i = 0; have && have != plugin && i < nroutes; i++)
		if (router_multi_service(service) && routes[i].plugin == plugin &&
		    strcmp(routes[i].service, service) == 0)
			have = plugin; /* registered already */
	if (have && have != plugin && !router_multi_service(service)) {
		*owner = have;
		return -EEXIST;
	}
	if (have == plugin)
		return 0;
	struct route *r = realloc(routes, (nroutes + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	routes = r;
	routes[nroutes].service = strdup(service);
	if (!routes[nroutes].service)
		return -ENOMEM;
	routes[nroutes++].plugin = plugin;
	return 0;
}

void router_unregister_plugin(struct plugin *plugin)
{
	size_t j = 0;
	for (size_t i = 0; i < nroutes; i++) {
		if (routes[i].plugin == plugin)
			free(routes[i].service);
		else
			routes[j++] = routes[i];
	}
	nroutes = j;
}

struct plugin *router_provider(const char *service)
{
	char base[NAP_NAME_MAX + 1];
	const char *plugin;
	const char *name = split_address(service, base, sizeof(base), &plugin);
	/* The first registered of several is the one listed first: plugins
	 * register in napd.conf's order once they run (see supervisor.c). */
	struct route *first = NULL;
	for (size_t i = 0; i < nroutes; i++)
		if (provides(&routes[i], name, plugin) && (!first || routes[i].plugin < first->plugin))
			first = &routes[i];
	return first ? first->plugin : NULL;
}

static void forward_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct forward *fw = ud;
	struct peer *from = fw->from;
	if (!r->end) {
		if (from)
			nap_conn_send_raw(from->conn, fw->from_id, r->payload, r->payload_len);
		return;
	}
	if (from) {
		nap_idmap_remove(&from->forwarded, fw->from_id);
		if (r->status == NAP_OK) {
			nap_conn_reply_raw(from->conn, fw->from_id, r->payload, r->payload_len);
		} else if (r->status == NAP_UNAVAILABLE && fw->to->state != PLUGIN_RUNNING) {
			nap_conn_end(from->conn, fw->from_id, NAP_UNAVAILABLE,
				     "plugin %s stopped during the call (%s); napd restarts it, "
				     "try again shortly",
				     fw->to->conf->name, r->message);
		} else {
			nap_conn_end(from->conn, fw->from_id, r->status, "%s", r->message);
		}
	}
	free(fw);
}

static void forward_to(struct peer *from, const Nap__Bus__Frame *f, const char *address,
		       uint32_t method)
{
	char base[NAP_NAME_MAX + 1];
	const char *plugin_name;
	const char *service = split_address(address, base, sizeof(base), &plugin_name);
	const ProtobufCServiceDescriptor *desc = router_known_service(service);
	if (desc && method >= desc->n_methods) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "service %s has no method %u (it has %u): the client is newer than "
			     "napd",
			     service, method, desc->n_methods);
		return;
	}
	struct plugin *pl = router_provider(address);
	if (!pl) {
		nap_conn_end(from->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "no plugin provides service %s ('napc plugins' lists what is loaded)",
			     address);
		return;
	}
	if (pl->state != PLUGIN_RUNNING || !pl->peer) {
		nap_conn_end(from->conn, f->call_id, NAP_UNAVAILABLE,
			     "plugin %s, which provides %s, is %s (%s); try again shortly",
			     pl->conf->name, service, plugin_state_name(pl->state),
			     pl->last_error[0] ? pl->last_error : "no error recorded");
		return;
	}
	struct forward *fw = calloc(1, sizeof(*fw));
	if (!fw) {
		nap_conn_end(from->conn, f->call_id, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
		return;
	}
	fw->from = from;
	fw->from_id = f->call_id;
	fw->to = pl;
	int r = nap_call_start_raw(&fw->call, pl->peer->conn, service, method,
				   f->payload.data, f->payload.len, f->timeout_ms, forward_done, fw);
	if (r < 0) {
		free(fw);
		nap_conn_end(from->conn, f->call_id, NAP_UNAVAILABLE,
			     "could not pass the call to plugin %s: %s", pl->conf->name,
			     nap_strerror(r));
		return;
	}
	if (nap_idmap_put(&from->forwarded, f->call_id, fw) < 0) {
		fw->from = NULL;
		nap_call_cancel(fw->call);
		nap_conn_end(from->conn, f->call_id, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
	}
}

static void forward(struct peer *from, const Nap__Bus__Frame *f)
{
	forward_to(from, f, f->service, f->method);
}

void router_forward_as(struct peer *from, const Nap__Bus__Frame *f, const char *service,
		       const char *method)
{
	const ProtobufCServiceDescriptor *desc = router_known_service(service);
	int idx = desc ? nap_method_index(desc, method) : -1;
	if (idx < 0) {
		nap_conn_end(from->conn, f->call_id, NAP_INTERNAL, "napd knows no %s.%s", service,
			     method);
		return;
	}
	forward_to(from, f, service, (uint32_t)idx);
}

void router_incoming(nap_conn *conn, const Nap__Bus__Frame *f, void *ud)
{
	struct peer *from = ud;
	if (!nap_conn_peer_ready(conn)) {
		nap_conn_abort(conn, NAP_FAILED_PRECONDITION,
			       "the first frame on a nap connection must be a HELLO "
			       "(see docs/protocol.md)");
		return;
	}
	if (f->kind == NAP__BUS__KIND__HELLO) {
		/* Services are registered from the first HELLO only. */
		if (from->plugin)
			supervisor_second_hello(from->plugin, from, f);
		else
			nap_conn_abort(conn, NAP_INVALID_ARGUMENT,
				       "a second HELLO on one connection: a peer says HELLO once "
				       "(docs/protocol.md section 3)");
		return;
	}
	if (f->kind == NAP__BUS__KIND__CANCEL) {
		struct forward *fw = nap_idmap_remove(&from->forwarded, f->call_id);
		if (fw) {
			fw->from = NULL;
			nap_call_cancel(fw->call);
		} else {
			control_cancel(from, f->call_id);
		}
		return;
	}
	if (nap_idmap_get(&from->forwarded, f->call_id) || nap_idmap_get(&from->served, f->call_id)) {
		nap_conn_abort(conn, NAP_INVALID_ARGUMENT,
			       "call id %llu was reused while that call is in flight",
			       (unsigned long long)f->call_id);
		return;
	}
	if (strcmp(f->service, NAP_CONTROL_SERVICE) == 0)
		control_call(from, f);
	else
		forward(from, f);
}

void router_peer_gone(struct peer *p)
{
	uint64_t id;
	void *v;
	while (nap_idmap_pop(&p->forwarded, &id, &v) > 0) {
		struct forward *fw = v;
		fw->from = NULL;
		nap_call_cancel(fw->call);
	}
	control_peer_gone(p);
}

int router_call(nap_call **callp, const char *address, uint32_t method,
		const ProtobufCMessage *req, uint32_t timeout_ms, nap_call_fn fn, void *ud,
		nap_error *err)
{
	char base[NAP_NAME_MAX + 1];
	const char *plugin_name;
	const char *service = split_address(address, base, sizeof(base), &plugin_name);
	struct plugin *pl = router_provider(address);
	if (!pl || pl->state != PLUGIN_RUNNING || !pl->peer) {
		if (err) {
			err->status = NAP_UNAVAILABLE;
			if (!pl)
				snprintf(err->message, sizeof(err->message),
					 "no plugin provides %s: add one to 'plugins =' in napd.conf",
					 service);
			else
				snprintf(err->message, sizeof(err->message),
					 "plugin %s (%s) is %s: %s", pl->conf->name, service,
					 plugin_state_name(pl->state), pl->last_error);
		}
		return -EHOSTUNREACH;
	}
	return nap_call_start(callp, pl->peer->conn, service, method, req, timeout_ms, fn, ud);
}
