/* napd's own calls to plugin services, by method name, with the reply
 * unpacked: the orchestrator's building block. Every callback runs exactly
 * once for a unary call (and once per message plus once at the end for a
 * stream), from napd's event loop. */
#ifndef NAPD_CALLS_H
#define NAPD_CALLS_H

#include <stdbool.h>

#include <nap/bus.h>

/* reply is NULL unless status is NAP_OK; it is freed after the callback. */
typedef void (*call_done_fn)(void *ud, int status, const char *message, ProtobufCMessage *reply);
/* For streams: end false with each message; end true once, reply NULL. */
typedef void (*call_stream_fn)(void *ud, bool end, int status, const char *message,
			       ProtobufCMessage *msg);

/* Starts service.method (a service nap defines). When it cannot even start
 * (no plugin provides the service), the callback runs before this returns
 * with UNAVAILABLE and the reason. */
void call_unary(const char *service, const char *method, const ProtobufCMessage *req,
		uint32_t timeout_ms, call_done_fn fn, void *ud);
/* As call_unary for a server-streaming method; *callp (may be NULL) gets
 * the call for nap_call_cancel(), or NULL when it could not start. */
void call_stream(nap_call **callp, const char *service, const char *method,
		 const ProtobufCMessage *req, uint32_t timeout_ms, call_stream_fn fn, void *ud);

#endif
