/* The router: which provider serves which service, and the dispatch of each
 * CALL and CANCEL a peer sends to the provider of its service. A provider is
 * napd itself (nap.Control, control.c) or a plugin (supervisor.c): both sit
 * behind struct provider_ops, so the router calls neither by name. */
#ifndef NAPD_ROUTER_H
#define NAPD_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>

struct peer;
struct provider;

/* A call in flight from a peer to a provider. The provider embeds it in its
 * own state, hands it to router_track() when the call outlives the CALL
 * frame and to router_untrack() when it ends. */
struct inflight {
	struct peer *from; /* NULL once the caller is gone */
	uint64_t id;       /* the caller's call id */
	struct provider *to;
};

struct provider_ops {
	/* Serves CALL f from `from` as service.method (method is below the
	 * descriptor's n_methods when napd knows the service). Answers on
	 * from->conn at once, or tracks an inflight and answers later. */
	void (*call)(struct provider *pv, struct peer *from, const Nap__Bus__Frame *f,
		     const char *service, uint32_t method);
	/* The caller cancelled c or went away (c->from is then NULL): end the
	 * call without answering. Called only for tracked calls, after they
	 * were untracked. */
	void (*cancel)(struct inflight *c);
	/* Protocol 1.2: the caller's MESSAGE (one more request message) or END
	 * (its half-close) of tracked call c, frame f (f->from_caller). NULL:
	 * the provider serves no request streams, and they are ignored. */
	void (*stream)(struct inflight *c, const Nap__Bus__Frame *f);
};

struct provider {
	const struct provider_ops *ops;
	const char *name; /* in messages: "napd", "plugin builder" */
	void *ud;         /* the provider's own (struct plugin * for plugins) */
};

/* Registers service for pv. -EEXIST if another provider has it (*owner is
 * set to it); -ENOMEM. The router keeps pv, not a copy: it must stay until
 * router_unregister(pv). */
int router_register(const char *service, struct provider *pv, struct provider **owner);
/* Drops every service pv registered. */
void router_unregister(struct provider *pv);
/* The provider of SERVICE (the first one registered in napd.conf's order)
 * or of SERVICE@PLUGIN (that plugin's); NULL if none. */
struct provider *router_provider(const char *service);
/* True for a service several plugins may provide (nap.Scheduler). */
bool router_multi_service(const char *service);
/* The descriptor of a service nap itself defines, or NULL. */
const ProtobufCServiceDescriptor *router_known_service(const char *service);

/* Dispatches a CALL or CANCEL frame, or a caller's MESSAGE or END (1.2),
 * from a peer that said HELLO. */
void router_incoming(struct peer *from, const Nap__Bus__Frame *f);
/* Passes CALL f on to service.method instead of what it named (nap.Control
 * methods that a plugin answers with the same messages). */
void router_forward_as(struct peer *from, const Nap__Bus__Frame *f, const char *service,
		       uint32_t method);
/* Remembers c under c->from's call id c->id, so that a CANCEL or the
 * caller's going reaches c->to. -ENOMEM. */
int router_track(struct inflight *c);
/* Forgets c (its call ended). */
void router_untrack(struct inflight *c);
/* A peer went away: cancels every call it had in flight. */
void router_peer_gone(struct peer *p);
/* Frees the table of routes (at exit, after every provider is gone). */
void router_finish(void);

#endif
