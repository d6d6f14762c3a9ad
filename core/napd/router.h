/* The router: which plugin provides which service, and the forwarding of
 * calls from one peer to the provider and of the replies back. */
#ifndef NAPD_ROUTER_H
#define NAPD_ROUTER_H

#include <stdbool.h>
#include <nap/bus.h>
#include <nap/bus.pb-c.h>

struct peer;
struct plugin;

/* Registers a service for a plugin. -EEXIST if another plugin has it (its
 * name in *owner). */
int router_register(const char *service, struct plugin *plugin, struct plugin **owner);
void router_unregister_plugin(struct plugin *plugin);
/* The plugin a service name goes to: SERVICE (the first that provides it)
 * or SERVICE@PLUGIN (that plugin). NULL if none. */
struct plugin *router_provider(const char *service);
/* True for a service several plugins may provide (nap.Scheduler). */
bool router_multi_service(const char *service);
/* The descriptor of a service nap itself defines, or NULL. */
const ProtobufCServiceDescriptor *router_known_service(const char *service);

/* Handles a CALL or CANCEL frame from a peer. */
void router_incoming(nap_conn *conn, const Nap__Bus__Frame *f, void *ud);
/* Passes a call on to service.method instead of the one it named (for
 * nap.Control methods that a plugin answers with the same messages). */
void router_forward_as(struct peer *from, const Nap__Bus__Frame *f, const char *service,
		       const char *method);
/* A peer went away: cancel what it had forwarded. */
void router_peer_gone(struct peer *p);

/* napd's own calls to a service (the orchestrator's). Fails with
 * -EHOSTUNREACH (and a reason in err) when no running plugin provides it. */
int router_call(nap_call **callp, const char *service, uint32_t method,
		const ProtobufCMessage *req, uint32_t timeout_ms, nap_call_fn fn, void *ud,
		nap_error *err);

#endif
