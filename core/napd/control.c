/* nap.Control: what napd answers itself (Ping, ListPlugins), and which
 * plugin service answers each other method: the app methods are the
 * orchestrator plugin's nap.Apps, the endpoint and log methods discovery's
 * and the scheduler's. Requests and replies are the same messages, so a
 * call is passed on unchanged, CANCEL and deadline included. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nap/control.pb-c.h>
#include <nap/frame.h>

#include "control.h"
#include "log.h"
#include "peer.h"
#include "router.h"
#include "supervisor.h"

static uint64_t started_usec;

typedef void (*control_fn)(struct peer *p, const Nap__Bus__Frame *f, const ProtobufCMessage *req);

static void ping(struct peer *p, const Nap__Bus__Frame *f, const ProtobufCMessage *m)
{
	const Nap__PingRequest *req = (const Nap__PingRequest *)m;
	Nap__PingReply rep = NAP__PING_REPLY__INIT;
	rep.payload = req->payload;
	rep.version = (char *)PACKAGE_VERSION;
	rep.protocol_major = NAP_PROTOCOL_MAJOR;
	rep.protocol_minor = NAP_PROTOCOL_MINOR;
	rep.uptime_ms = (nap_now_usec() - started_usec) / 1000u;
	nap_conn_reply(p->conn, f->call_id, &rep.base);
}

static void list_plugins(struct peer *p, const Nap__Bus__Frame *f, const ProtobufCMessage *m)
{
	(void)m;
	Nap__ListPluginsReply rep = NAP__LIST_PLUGINS_REPLY__INIT;
	supervisor_list(&rep);
	nap_conn_reply(p->conn, f->call_id, &rep.base);
	supervisor_list_free(&rep);
}

/* One entry per method, in the order of nap.Control's descriptor (checked
 * by control_init): napd serves it (fn), or passes it on to service.as. */
static struct control_method {
	const char *name;
	control_fn fn;
	const char *service, *as;
	uint32_t as_index; /* as's index in service, found by control_init */
} methods[] = {
	{"Ping", ping, NULL, NULL, 0},
	{"ListPlugins", list_plugins, NULL, NULL, 0},
	{"Deploy", NULL, "nap.Apps", "Deploy", 0},
	{"ListApps", NULL, "nap.Apps", "ListApps", 0},
	{"GetApp", NULL, "nap.Apps", "GetApp", 0},
	{"Endpoints", NULL, "nap.Discovery", "Resolve", 0},
	{"WatchEndpoints", NULL, "nap.Discovery", "Watch", 0},
	{"Scale", NULL, "nap.Apps", "Scale", 0},
	{"SetEnv", NULL, "nap.Apps", "SetEnv", 0},
	{"Rollback", NULL, "nap.Apps", "Rollback", 0},
	{"Logs", NULL, "nap.Scheduler", "Logs", 0},
	{"Stop", NULL, "nap.Apps", "Stop", 0},
	{"Start", NULL, "nap.Apps", "Start", 0},
	{"Destroy", NULL, "nap.Apps", "Destroy", 0},
	{"SetCheck", NULL, "nap.Apps", "SetCheck", 0},
	{"Export", NULL, "nap.Apps", "Export", 0},
	{"Import", NULL, "nap.Apps", "Import", 0},
};

/* Strings in a request are UTF-8, as protobuf requires: a nap.Control
 * request is checked here, where it arrives (the plugin hosts check what
 * they serve), so that napd never echoes anything else. */
static void control_call(struct provider *pv, struct peer *p, const Nap__Bus__Frame *f,
			 const char *service, uint32_t method)
{
	(void)pv;
	(void)service;
	const ProtobufCServiceDescriptor *desc = &nap__control__descriptor;
	if (method >= desc->n_methods) {
		nap_conn_end(p->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "nap.Control has no method %u: the client is newer than napd %s",
			     method, PACKAGE_VERSION);
		return;
	}
	const struct control_method *cm = &methods[method];
	const ProtobufCMethodDescriptor *md = &desc->methods[method];
	ProtobufCMessage *req = protobuf_c_message_unpack(md->input, NULL, f->payload.len,
							  f->payload.data);
	char why[160];
	if (req && nap_message_utf8_check(req, why, sizeof(why)) < 0) {
		nap_conn_end(p->conn, f->call_id, NAP_INVALID_ARGUMENT,
			     "nap.Control.%s: %s: strings are UTF-8 (docs/protocol.md section 12)",
			     md->name, why);
	} else if (cm->as) {
		/* The provider judges what it cannot read. */
		router_forward_as(p, f, cm->service, cm->as_index);
	} else if (!req) {
		nap_conn_end(p->conn, f->call_id, NAP_INVALID_ARGUMENT,
			     "%s: the request is not a %s", md->name, md->input->name);
	} else {
		log_debug("%s: nap.Control.%s", p->name, md->name);
		cm->fn(p, f, req);
	}
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
}

static const struct provider_ops control_ops = {.call = control_call};
static struct provider napd_provider = {.ops = &control_ops, .name = "napd"};

int control_init(uint64_t started)
{
	const ProtobufCServiceDescriptor *desc = &nap__control__descriptor;
	if (desc->n_methods != sizeof(methods) / sizeof(methods[0]))
		return -EINVAL;
	for (unsigned i = 0; i < desc->n_methods; i++) {
		struct control_method *cm = &methods[i];
		if (strcmp(cm->name, desc->methods[i].name) != 0)
			return -EINVAL;
		if (!cm->as)
			continue;
		const ProtobufCServiceDescriptor *to = router_known_service(cm->service);
		int idx = to ? nap_method_index(to, cm->as) : -1;
		if (idx < 0)
			return -EINVAL;
		cm->as_index = (uint32_t)idx;
	}
	started_usec = started;
	struct provider *owner;
	return router_register(NAP_CONTROL_SERVICE, &napd_provider, &owner);
}

void control_finish(void)
{
	router_unregister(&napd_provider);
}
