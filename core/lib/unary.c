/* libnap's blocking unary call, built on the asynchronous API of conn.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <nap/bus.h>

/* --- blocking unary --- */

struct unary_state {
	bool done;
	int status;
	nap_error *err;
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *reply;
};

static void set_error(nap_error *err, int status, const char *message)
{
	if (!err)
		return;
	err->status = status;
	snprintf(err->message, sizeof(err->message), "%s", message ? message : "");
}

static void unary_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct unary_state *s = ud;
	if (!r->end)
		return; /* a unary method sends no MESSAGE frames; ignore strays */
	s->done = true;
	s->status = r->status;
	if (r->status != NAP_OK) {
		set_error(s->err, r->status, r->message);
		return;
	}
	s->reply = protobuf_c_message_unpack(s->desc, NULL, r->payload_len, r->payload);
	if (!s->reply) {
		s->status = NAP_INTERNAL;
		set_error(s->err, NAP_INTERNAL, "reply could not be decoded");
	}
}

int nap_call_unary(ProtobufCMessage **replyp, nap_conn *c, const char *service, uint32_t method,
		   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
		   uint32_t timeout_ms, nap_error *err)
{
	struct unary_state s = {.err = err, .desc = reply_desc};
	int r = nap_call_start(NULL, c, service, method, request, timeout_ms, unary_done, &s);
	if (r < 0) {
		set_error(err, NAP_UNAVAILABLE, nap_strerror(r));
		return r;
	}
	while (!s.done) {
		r = nap_conn_wait(c, -1);
		if (r < 0 && !s.done) {
			set_error(err, NAP_UNAVAILABLE, nap_strerror(r));
			return r;
		}
	}
	if (s.status != NAP_OK)
		/* The peer's answer, or the connection's end: callers tell
		 * "it failed" from "it went away". */
		return nap_conn_closed(c) ? -ECONNRESET : -EPROTO;
	*replyp = s.reply;
	return 0;
}
