/* napc's calls of nap.Control (call.c) and the request arguments deploy and
 * env share (deploy.c). */
#ifndef NAPC_CALL_H
#define NAPC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>

#include "napc.h"

/* A streaming call of nap.Control in progress. */
struct stream {
	struct napc *n;
	nap_call *call; /* until done */
	bool done;
	int status;
	char message[1024];
	void (*on_msg)(struct stream *s, const uint8_t *data, size_t len);
	bool tty;
	bool progress_line; /* a \r progress line is on the terminal */
	Nap__DeployEvent *last;
};

/* 0, or NAPC_EXIT_USAGE with one line on stderr saying why app is not a
 * valid app name. */
int napc_check_app(const char *app);
/* The index of a nap.Control method. */
uint32_t napc_method(const char *name);
/* A unary call answered by an AppStatus, which is printed; an exit code. */
int napc_app_call(struct napc *n, const char *name, const ProtobufCMessage *req);
/* Starts a streaming call; its messages go to s->on_msg. An exit code. */
int napc_stream_start(struct stream *s, const char *name, const ProtobufCMessage *req,
		      uint32_t timeout_ms);
/* Waits for the end of a started stream; an exit code. */
int napc_stream_finish(struct stream *s);
/* Both of the above. */
int napc_run_stream(struct stream *s, const char *name, const ProtobufCMessage *req,
		    uint32_t timeout_ms);

/* KEY=VALUE into e (pointing into kv); 0 or NAPC_EXIT_USAGE with a line. */
int napc_parse_env(Nap__EnvVar *e, char *kv);
/* The environment's limits (count, size) before it is sent. */
int napc_check_env_list(Nap__EnvVar **vars, size_t n);
/* --check-http (c), --ready-timeout (r), --interval (i) or --failures (f)
 * into check; 0 or NAPC_EXIT_USAGE with a line. */
int napc_parse_check_option(Nap__Check *check, int c, const char *arg);

#endif
