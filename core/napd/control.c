/* nap.Control: what napd answers itself (Ping, ListPlugins), and which
 * plugin service answers each other method: the app methods are the
 * orchestrator plugin's nap.Apps, the endpoint and log methods discovery's
 * and the scheduler's. Requests and replies are the same messages, so a
 * call is passed on unchanged, CANCEL and deadline included. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <nap/control.pb-c.h>

#include "control.h"
#include "log.h"
#include "router.h"
#include "peer.h"
#include "supervisor.h"

static uint64_t started_usec;

void control_init(uint64_t started)
{
	started_usec = started;
}

static void ping(struct peer *p, const Nap__Bus__Frame *f)
{
	Nap__PingRequest *req = nap__ping_request__unpack(NULL, f->payload.len, f->payload.data);
	if (!req) {
		nap_conn_end(p->conn, f->call_id, NAP_INVALID_ARGUMENT,
			     "Ping: the request is not a nap.PingRequest");
		return;
	}
	Nap__PingReply rep = NAP__PING_REPLY__INIT;
	rep.payload = req->payload;
	rep.version = (char *)PACKAGE_VERSION;
	rep.protocol_major = NAP_PROTOCOL_MAJOR;
	rep.protocol_minor = NAP_PROTOCOL_MINOR;
	rep.uptime_ms = (nap_now_usec() - started_usec) / 1000u;
	nap_conn_reply(p->conn, f->call_id, &rep.base);
	nap__ping_request__free_unpacked(req, NULL);
}

static void list_plugins(struct peer *p, const Nap__Bus__Frame *f)
{
	Nap__ListPluginsReply rep = NAP__LIST_PLUGINS_REPLY__INIT;
	supervisor_list(&rep);
	nap_conn_reply(p->conn, f->call_id, &rep.base);
	supervisor_list_free(&rep);
}

typedef void (*control_fn)(struct peer *p, const Nap__Bus__Frame *f);

void control_call(struct peer *p, const Nap__Bus__Frame *f)
{
	const ProtobufCMethodDescriptor *m = nap_method_get(&nap__control__descriptor, f->method);
	if (!m) {
		nap_conn_end(p->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "nap.Control has no method %u: the client is newer than napd %s",
			     f->method, PACKAGE_VERSION);
		return;
	}
	control_fn fn = NULL;
	if (strcmp(m->name, "Ping") == 0)
		fn = ping;
	else if (strcmp(m->name, "ListPlugins") == 0)
		fn = list_plugins;
	static const struct {
		const char *method, *service, *as;
	} passed_on[] = {
		{"Deploy", "nap.Apps", "Deploy"},
		{"ListApps", "nap.Apps", "ListApps"},
		{"GetApp", "nap.Apps", "GetApp"},
		{"Scale", "nap.Apps", "Scale"},
		{"SetEnv", "nap.Apps", "SetEnv"},
		{"Rollback", "nap.Apps", "Rollback"},
		{"Stop", "nap.Apps", "Stop"},
		{"Start", "nap.Apps", "Start"},
		{"Destroy", "nap.Apps", "Destroy"},
		{"SetCheck", "nap.Apps", "SetCheck"},
		{"Endpoints", "nap.Discovery", "Resolve"},
		{"WatchEndpoints", "nap.Discovery", "Watch"},
		{"Logs", "nap.Scheduler", "Logs"},
	};
	for (size_t i = 0; !fn && i < sizeof(passed_on) / sizeof(passed_on[0]); i++) {
		if (strcmp(m->name, passed_on[i].method) == 0) {
			router_forward_as(p, f, passed_on[i].service, passed_on[i].as);
			return;
		}
	}
	if (!fn) {
		nap_conn_end(p->conn, f->call_id, NAP_UNIMPLEMENTED,
			     "nap.Control.%s is not available in napd %s yet", m->name,
			     PACKAGE_VERSION);
		return;
	}
	log_debug("%s: nap.Control.%s", p->name, m->name);
	fn(p, f);
}

void control_cancel(struct peer *p, uint64_t call_id)
{
	(void)p;
	(void)call_id; /* Ping and ListPlugins answer before they return; the
			* other methods are passed on, and their CANCEL with them */
}

void control_peer_gone(struct peer *p)
{
	(void)p; /* napd's own methods answer at once: nothing outlives a peer */
}
