/* How napc's app commands call nap.Control: the app-name check, a unary
 * call answered by an AppStatus, and streaming calls whose messages go to a
 * callback, waited for on napc's one connection. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>
#include <nap/limits.h>
#include <nap/names.h>

#include "call.h"
#include "napc.h"

/* Checks the app argument before any work starts. */
int napc_check_app(const char *app)
{
	if (nap_app_name_valid(app))
		return 0;
	fprintf(stderr, "napc: '%s' is not a valid app name: %s\n", app ? app : "",
		NAP_APP_NAME_RULE);
	return NAPC_EXIT_USAGE;
}

uint32_t napc_method(const char *name)
{
	return (uint32_t)nap_method_index(&nap__control__descriptor, name);
}

/* A unary call returning AppStatus, printed. */
/* Scale, stop, start, env and rollback wait for instances to start and be
 * announced, which napd bounds by its deploy_timeout: napc waits as long
 * unless --timeout says otherwise. A lookup (GetApp) keeps the short
 * default. */
int napc_app_call(struct napc *n, const char *name, const ProtobufCMessage *req)
{
	bool changes = strcmp(name, "GetApp") != 0;
	uint32_t timeout_ms = changes && !n->timeout_given ? 0 : n->timeout_ms;
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__AppStatus *st = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&st, n->conn, "nap.Control", napc_method(name), req,
			   &nap__app_status__descriptor, timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	napc_print_status(n, st);
	nap__app_status__free_unpacked(st, NULL);
	return NAPC_EXIT_OK;
}

/* --- streaming calls --- */

static void on_stream(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct stream *s = ud;
	if (!r->end) {
		s->on_msg(s, r->payload, r->payload_len);
		return;
	}
	s->done = true;
	s->status = r->status;
	snprintf(s->message, sizeof(s->message), "%s", r->message);
}

/* Starts a streaming call of nap.Control; its events go to s->on_msg. */
int napc_stream_start(struct stream *s, const char *name, const ProtobufCMessage *req,
		      uint32_t timeout_ms)
{
	int r = napc_connect(s->n);
	if (r)
		return r;
	r = nap_call_start(&s->call, s->n->conn, "nap.Control", napc_method(name), req, timeout_ms,
			   on_stream, s);
	if (r < 0) {
		nap_error err = {NAP_UNAVAILABLE, "napd went away"};
		return napc_fail(s->n, &err, r);
	}
	return NAPC_EXIT_OK;
}

/* Waits for the end of a started stream; its exit code. */
int napc_stream_finish(struct stream *s)
{
	int r = 0;
	while (r == 0 && !s->done)
		r = nap_conn_wait(s->n->conn, -1);
	if (s->progress_line)
		fputc('\n', stdout);
	if (!s->done) {
		nap_error err = {NAP_UNAVAILABLE, "napd went away"};
		return napc_fail(s->n, &err, r < 0 ? r : -ECONNRESET);
	}
	if (s->status != NAP_OK) {
		nap_error err = {.status = s->status};
		snprintf(err.message, sizeof(err.message), "%s", s->message);
		return napc_fail(s->n, &err, -EPROTO);
	}
	return NAPC_EXIT_OK;
}

int napc_run_stream(struct stream *s, const char *name, const ProtobufCMessage *req,
		    uint32_t timeout_ms)
{
	int r = napc_stream_start(s, name, req, timeout_ms);
	return r ? r : napc_stream_finish(s);
}
