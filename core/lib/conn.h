/* The inside of a bus connection, shared by the files that make it up (not
 * libnap's API):
 *   conn.c     life cycle, settings, the HELLO each side says
 *   conn_io.c  the output queue, reading and dispatching frames
 *   caller.c   the calls this side started: deadlines, cancel, and the
 *              request stream of a client-streaming call with its credit
 *   callee.c   answering calls the peer started: replies, ends, WINDOW */
#ifndef NAP_CONN_H
#define NAP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>

#include "buf.h"
#include "idmap.h"

struct nap_call {
	nap_conn *conn;
	uint64_t id;
	uint64_t deadline; /* CLOCK_MONOTONIC usec, 0 = none */
	uint32_t timeout_ms;
	uint32_t method;
	nap_call_fn fn;
	void *userdata;
	char *service; /* for the deadline message */
	/* The request stream (protocol 1.2). */
	size_t credit;    /* bytes of request payload the callee accepts now */
	bool streaming;   /* sent, or tried to send, a request stream */
	bool send_closed; /* nap_call_close_send() was called */
	bool hello_wait;  /* tried before the peer's HELLO came: act when it does */
	nap_window_fn on_window;
};

struct nap_conn {
	int fd;
	bool dead;
	nap_buf in;
	uint64_t in_since; /* when the unfinished frame in `in` began, 0 = none */
	unsigned in_views; /* frames being dispatched whose payload points into `in` */
	nap_buf out;
	size_t out_left; /* bytes of the frame at the head of `out` not yet sent */
	bool closing;    /* dead, but the END call id 0 is still being written */
	uint64_t next_id;
	nap_idmap calls;
	size_t ndeadlines;
	uint64_t earliest;  /* lower bound of the earliest deadline, 0 = unknown */
	size_t nhello_wait; /* calls with hello_wait set */
	nap_incoming_fn incoming;
	void *incoming_ud;
	nap_close_fn on_close;
	void *close_ud;
	void *userdata;
	Nap__Bus__Hello *peer_hello;
	/* Why the peer ended the connection (its END call id 0), for a caller
	 * that had no call to hear it: nap_conn_require() before HELLO (napd
	 * refusing a uid says so this way). Status NAP_OK: it did not say. */
	int peer_end_status;
	char peer_end_message[512];
};

/* conn_io.c */
/* Encodes f (with msg as its payload if not NULL) onto the output queue;
 * 0, or -ENOTCONN, -EMSGSIZE, -ENOBUFS (NAP_OUTPUT_MAX: the connection is
 * then dead), -EILSEQ (a string in msg is not UTF-8), -ENOMEM. */
int conn_queue_frame(nap_conn *c, const Nap__Bus__Frame *f, const ProtobufCMessage *msg);
/* The connection is dead: the owner hears, then every call ends. */
void conn_fail(nap_conn *c, int err, int status, const char *message);
/* Writes what it can of a closing connection's last frames. */
void conn_closing_flush(nap_conn *c);

/* conn.c */
/* Takes the peer's HELLO frame (the first; a later one goes to the owner). */
void conn_take_hello(nap_conn *c, const Nap__Bus__Frame *f);
/* The line that says the peer is older than 1.minor, in buf:
 * "napd speaks protocol 1.1; this needs 1.2 (WHY): upgrade napd" (the
 * parenthesis only with why). */
void conn_too_old(const nap_conn *c, uint32_t minor, const char *why, char *buf, size_t n);

/* caller.c */
/* A MESSAGE, END (not from_caller) or WINDOW for a call this side started. */
void calls_dispatch(nap_conn *c, const Nap__Bus__Frame *f);
/* Ends the calls whose deadline passed by now. */
void calls_expire(nap_conn *c, uint64_t now);
/* The peer's HELLO came: streams that waited for it go on, or end when the
 * peer is older than 1.2. */
void calls_peer_known(nap_conn *c);
/* Runs a call's callback with its end and frees it (already out of the
 * table). */
void call_end(nap_call *call, int status, const char *message, const uint8_t *payload, size_t len);

/* callee.c */
int conn_end_frame(nap_conn *c, uint64_t id, int status, const char *message,
		   const uint8_t *payload, size_t len, const ProtobufCMessage *msg);

/* The peer's minor protocol version, once its HELLO came. */
static inline bool conn_peer_known(const nap_conn *c)
{
	return c->peer_hello != NULL;
}
static inline uint32_t conn_peer_minor(const nap_conn *c)
{
	return c->peer_hello ? c->peer_hello->protocol_minor : 0;
}

#endif
