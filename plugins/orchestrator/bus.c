/* The orchestrator's calls to the other plugins, by service and method
 * name, blocking (from its own threads, never with O.lock held). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>
#include <nap/discovery.pb-c.h>
#include <nap/notifier.pb-c.h>
#include <nap/scheduler.pb-c.h>

#include "orchestrator.h"

#define SCHEDULE_TIMEOUT_MS 120000u
#define CLEANUP_TIMEOUT_MS 60000u
#define DISCOVERY_TIMEOUT_MS 10000u

int bus_call(ProtobufCMessage **replyp, const ProtobufCServiceDescriptor *svc, const char *method,
	     const ProtobufCMessage *req, uint32_t timeout_ms, nap_error *e)
{
	return bus_call_at(replyp, svc, svc->name, method, req, timeout_ms, e);
}

int bus_call_at(ProtobufCMessage **replyp, const ProtobufCServiceDescriptor *svc,
		const char *address, const char *method, const ProtobufCMessage *req,
		uint32_t timeout_ms, nap_error *e)
{
	int idx = nap_method_index(svc, method);
	ProtobufCMessage *reply = NULL;
	if (idx < 0) {
		snprintf(e->message, sizeof(e->message), "%s has no method %s", svc->name, method);
		return -ENOSYS;
	}
	int r = O.host->call(&reply, address, (uint32_t)idx, req, svc->methods[idx].output,
			     timeout_ms, e);
	if (replyp)
		*replyp = reply;
	else if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	return r;
}

/* "nap.Scheduler@<plugin>", or plain "nap.Scheduler" while no scheduler
 * is known yet. */
static const char *scheduler_at(char *buf, size_t n, const char *sched)
{
	if (!*sched)
		return "nap.Scheduler";
	snprintf(buf, n, "nap.Scheduler@%s", sched);
	return buf;
}

static int failed(int r, const nap_error *e, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", e->message[0] ? e->message : nap_strerror(r));
	return r;
}

int bus_run(const char *app, uint32_t release, json_t *rec, const uint32_t *instances, size_t n,
	    char *err, size_t errlen)
{
	/* rec is a copy the caller owns: read without the lock */
	json_t *rel = rec_release(rec, release);
	Nap__RunRequest r = NAP__RUN_REQUEST__INIT;
	Nap__Check check;
	r.app = (char *)app;
	r.release = release;
	r.image = (char *)json_string_value(json_object_get(rel, "image"));
	if (!r.image) {
		snprintf(err, errlen, "release %u of %s has no image", release, app);
		return -EINVAL;
	}
	r.n_instances = n;
	r.instances = (uint32_t *)instances;
	json_t *env = json_object_get(rel, "env");
	size_t nenv = json_object_size(env);
	Nap__EnvVar *vars = calloc(nenv + 1, sizeof(*vars));
	Nap__EnvVar **ptrs = calloc(nenv + 1, sizeof(*ptrs));
	if (!vars || !ptrs) {
		free(vars);
		free(ptrs);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	const char *k;
	json_t *v;
	json_object_foreach(env, k, v)
	{
		nap__env_var__init(&vars[r.n_env]);
		vars[r.n_env].key = (char *)k;
		vars[r.n_env].value = (char *)json_string_value(v);
		ptrs[r.n_env] = &vars[r.n_env];
		r.n_env++;
	}
	r.env = ptrs;
	r.memory_bytes = (uint64_t)json_integer_value(json_object_get(rec, "memory"));
	r.timeout_s = SCHEDULE_TIMEOUT_MS / 1000u;
	rec_check(rec, &check);
	r.check = &check;
	/* where it may run: the app's constraints */
	Nap__Placement placement = NAP__PLACEMENT__INIT;
	json_t *cons = json_object_get(rec, "constraints");
	char *cv[NAP_CONSTRAINTS_MAX];
	for (size_t i = 0;
	     i < json_array_size(cons) && placement.n_machine_metadata < NAP_CONSTRAINTS_MAX; i++)
		if (json_is_string(json_array_get(cons, i)))
			cv[placement.n_machine_metadata++] = (char *)json_string_value(
				json_array_get(cons, i));
	placement.machine_metadata = cv;
	r.placement = &placement;
	nap_error e = {0};
	char at[96];
	int rc = bus_call_at(NULL, &nap__scheduler__descriptor,
			     scheduler_at(at, sizeof(at), release_sched(rec, release)), "Run",
			     &r.base, SCHEDULE_TIMEOUT_MS, &e);
	free(vars);
	free(ptrs);
	return rc < 0 ? failed(rc, &e, err, errlen) : 0;
}

int bus_remove(const char *app, const char *sched, uint32_t release, const uint32_t *instances,
	       size_t n, char *err, size_t errlen)
{
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = (char *)app;
	r.release = release;
	r.n_instances = n;
	r.instances = (uint32_t *)instances;
	nap_error e = {0};
	char at[96];
	int rc = bus_call_at(NULL, &nap__scheduler__descriptor, scheduler_at(at, sizeof(at), sched),
			     "Remove", &r.base, CLEANUP_TIMEOUT_MS, &e);
	return rc < 0 ? failed(rc, &e, err, errlen) : 0;
}

/* Every endpoint port of the slot in one call (docs/protocol.md,
 * "Endpoints"): the default port (s->port, the one the check passed on)
 * under the instance's key, the others as extra ports. */
int bus_announce(const char *app, const struct slot *s, char *err, size_t errlen)
{
	Nap__Endpoint eps[ENDPOINT_PORTS_MAX], *ptrs[ENDPOINT_PORTS_MAX];
	size_t n = s->n_ports ? s->n_ports : 1;

	for (size_t i = 0; i < n; i++) {
		nap__endpoint__init(&eps[i]);
		eps[i].app = (char *)app;
		eps[i].host = (char *)s->host;
		eps[i].port = s->n_ports ? s->ports[i].host_port : s->port;
		eps[i].container_port = s->n_ports ? s->ports[i].container_port : 0;
		eps[i].extra_port = i > 0;
		eps[i].instance = s->instance;
		eps[i].release = s->release;
		ptrs[i] = &eps[i];
	}
	Nap__AnnounceRequest r = NAP__ANNOUNCE_REQUEST__INIT;
	r.n_endpoints = n;
	r.endpoints = ptrs;
	nap_error e = {0};
	int rc = bus_call(NULL, &nap__discovery__descriptor, "Announce", &r.base,
			  DISCOVERY_TIMEOUT_MS, &e);
	return rc < 0 ? failed(rc, &e, err, errlen) : 0;
}

int bus_withdraw(const char *app, uint32_t release, const uint32_t *instances, size_t n, char *err,
		 size_t errlen)
{
	Nap__WithdrawRequest r = NAP__WITHDRAW_REQUEST__INIT;
	r.app = (char *)app;
	r.release = release;
	r.n_instances = n;
	r.instances = (uint32_t *)instances;
	nap_error e = {0};
	int rc = bus_call(NULL, &nap__discovery__descriptor, "Withdraw", &r.base,
			  DISCOVERY_TIMEOUT_MS, &e);
	return rc < 0 ? failed(rc, &e, err, errlen) : 0;
}

Nap__EndpointList *bus_resolve(const char *app, uint32_t release)
{
	Nap__ResolveRequest r = NAP__RESOLVE_REQUEST__INIT;
	r.app = (char *)app;
	r.release = release;
	ProtobufCMessage *reply = NULL;
	nap_error e = {0};
	if (bus_call(&reply, &nap__discovery__descriptor, "Resolve", &r.base, DISCOVERY_TIMEOUT_MS,
		     &e) < 0)
		return NULL;
	return (Nap__EndpointList *)reply;
}

/* Never waited on for long, never fails an operation. */
void bus_notify(const char *app, uint32_t release, const char *event, bool ok, const char *stage,
		const char *error, uint64_t started_ms, const Nap__EndpointList *endpoints)
{
	Nap__Notification n = NAP__NOTIFICATION__INIT;
	n.app = (char *)app;
	n.release = release;
	n.outcome = (char *)(ok ? "succeeded" : "failed");
	n.event = (char *)event;
	n.error = (char *)(ok ? "" : error);
	n.stage = (char *)(ok ? "" : stage);
	n.started_unix_ms = started_ms;
	n.finished_unix_ms = wall_ms();
	if (ok && endpoints) {
		n.n_endpoints = endpoints->n_endpoints;
		n.endpoints = endpoints->endpoints;
	}
	nap_error e = {0};
	int r = bus_call(NULL, &nap__notifier__descriptor, "Notify", &n.base, 5000, &e);
	if (r < 0 && e.status != NAP_UNAVAILABLE && e.status != NAP_UNIMPLEMENTED)
		O.host->log(NAP_LOG_WARNING, "orchestrator: notifier: %s", e.message);
}

void bus_remove_image(const char *image)
{
	Nap__RemoveImageRequest r = NAP__REMOVE_IMAGE_REQUEST__INIT;
	r.image = (char *)image;
	nap_error e = {0};
	if (bus_call(NULL, &nap__builder__descriptor, "RemoveImage", &r.base, 30000, &e) < 0 &&
	    e.status != NAP_NOT_FOUND)
		O.host->log(NAP_LOG_INFO, "orchestrator: image %s not removed: %s", image,
			    e.message);
}
