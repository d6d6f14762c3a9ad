#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "router.h"
#include "supervisor.h"

struct pending {
	const ProtobufCMessageDescriptor *out;
	call_done_fn done;
	call_stream_fn stream;
	void *ud;
	const char *service; /* a literal of the caller's */
};

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct pending *p = ud;
	ProtobufCMessage *msg = NULL;
	int status = r->status;
	const char *message = r->message;
	char why[512];
	if (r->end && status == NAP_UNAVAILABLE) {
		/* "connection closed by the peer" alone does not say who. */
		struct plugin *pl = router_provider(p->service);
		if (pl && pl->state != PLUGIN_RUNNING) {
			snprintf(why, sizeof(why), "plugin %s stopped during the call (%s)",
				 pl->conf->name, message);
			message = why;
		}
	}
	if (status == NAP_OK && (!r->end || p->done)) {
		msg = protobuf_c_message_unpack(p->out, NULL, r->payload_len, r->payload);
		if (!msg) {
			status = NAP_INTERNAL;
			message = "a plugin sent a reply that does not decode";
		}
	}
	if (p->stream)
		p->stream(p->ud, r->end, r->end ? status : NAP_OK, message, r->end ? NULL : msg);
	else if (r->end)
		p->done(p->ud, status, message, status == NAP_OK ? msg : NULL);
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	if (r->end)
		free(p);
}

static int start(nap_call **callp, const char *service, const char *method,
		 const ProtobufCMessage *req, uint32_t timeout_ms, struct pending *p, nap_error *err)
{
	const ProtobufCServiceDescriptor *d = router_known_service(service);
	int idx = d ? nap_method_index(d, method) : -1;
	if (idx < 0) {
		err->status = NAP_INTERNAL;
		snprintf(err->message, sizeof(err->message), "napd knows no method %s.%s", service,
			 method);
		return -1;
	}
	p->out = d->methods[idx].output;
	p->service = service;
	return router_call
(callp, service, (uint32_t)idx, req, timeout_ms, on_reply, p, err);
}

void call_unary(const char *service, const char *method, const ProtobufCMessage *req,
		uint32_t timeout_ms, call_done_fn fn, void *ud)
{
	struct pending *p = calloc(1, sizeof(*p));
	nap_error err = {NAP_RESOURCE_EXHAUSTED, "napd is out of memory"};
	if (p) {
		p->done = fn;
		p->ud = ud;
		if (start(NULL, service, method, req, timeout_ms, p, &err) == 0)
			return;
		if (err.status == NAP_OK) {
			err.status = NAP_UNAVAILABLE;
			snprintf(err.message, sizeof(err.message), "cannot call %s", service);
		}
		free(p);
	}
	fn(ud, err.status, err.message, NULL);
}

void call_stream(nap_call **callp, const char *service, const char *method,
		 const ProtobufCMessage *req, uint32_t timeout_ms, call_stream_fn fn, void *ud)
{
	struct pending *p = calloc(1, sizeof(*p));
	nap_error err = {NAP_RESOURCE_EXHAUSTED, "napd is out of memory"};
	nap_call *call = NULL;
	if (callp)
		*callp = NULL;
	if (p) {
		p->stream = fn;
		p->ud = ud;
		if (start(&call, service, method, req, timeout_ms, p, &err) == 0) {
			if (callp)
				*callp = call;
			return;
		}
		if (err.status == NAP_OK) {
			err.status = NAP_UNAVAILABLE;
			snprintf(err.message, sizeof(err.message), "cannot call %s", service);
		}
		free(p);
	}
	fn(ud, true, err.status, err.message, NULL);
}
