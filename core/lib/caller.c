/* The caller side of a bus connection: the calls this side started, their
 * deadlines and cancellation, what the callee sends back (MESSAGE, END), and
 * since protocol 1.2 the request stream of a client-streaming call: more
 * request messages and the half-close, within the credit the callee grants
 * (NAP_STREAM_WINDOW at first, then WINDOW frames). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/limits.h>

#include "conn.h"

static void call_free(nap_call *call)
{
	free(call->service);
	free(call);
}

void call_end(nap_call *call, int status, const char *message, const uint8_t *payload, size_t len)
{
	nap_reply r = {
		.end = true,
		.status = status,
		.message = message ? message : "",
		.payload = payload,
		.payload_len = len,
	};
	if (call->fn)
		call->fn(call, &r, call->userdata);
	call_free(call);
}

/* Ends a call locally: removes it from the table, then as call_end(). */
static void call_finish(nap_call *call, int status, const char *message, const uint8_t *payload,
			size_t len)
{
	nap_conn *c = call->conn;
	nap_idmap_remove(&c->calls, call->id);
	if (call->deadline)
		c->ndeadlines--;
	if (call->hello_wait)
		c->nhello_wait--;
	call_end(call, status, message, payload, len);
}

int nap_call_start_raw(nap_call **callp, nap_conn *c, const char *service, uint32_t method,
		       const uint8_t *payload, size_t len, uint32_t timeout_ms, nap_call_fn fn,
		       void *userdata)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__CALL;
	f.service = (char *)service;
	f.method = method;
	f.timeout_ms = timeout_ms;
	f.payload.data = (uint8_t *)payload;
	f.payload.len = len;
	if (!service || !*service || strlen(service) > NAP_NAME_MAX)
		return -EINVAL;
	if (c->dead)
		return -ENOTCONN;
	nap_call *call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->conn = c;
	call->id = ++c->next_id;
	call->fn = fn;
	call->userdata = userdata;
	call->timeout_ms = timeout_ms;
	call->credit = NAP_STREAM_WINDOW;
	f.call_id = call->id;
	int r = conn_queue_frame(c, &f, NULL);
	if (r < 0 || (r = nap_idmap_put(&c->calls, call->id, call)) < 0) {
		call_free(call);
		return r;
	}
	if (timeout_ms) {
		call->deadline = nap_now_usec() + (uint64_t)timeout_ms * 1000u;
		if (c->ndeadlines++ == 0 || call->deadline < c->earliest)
			c->earliest = call->deadline;
		call->method = method;
		call->service = strdup(service);
	}
	if (callp)
		*callp = call;
	return 0;
}

int nap_call_start(nap_call **callp, nap_conn *c, const char *service, uint32_t method,
		   const ProtobufCMessage *request, uint32_t timeout_ms, nap_call_fn fn,
		   void *userdata)
{
	size_t n = request ? protobuf_c_message_get_packed_size(request) : 0;
	if (n > NAP_FRAME_MAX)
		return -EMSGSIZE;
	uint8_t stackbuf[512] = {0};
	uint8_t *p = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
	if (!p)
		return -ENOMEM;
	if (request)
		protobuf_c_message_pack(request, p);
	int r = nap_call_start_raw(callp, c, service, method, p, n, timeout_ms, fn, userdata);
	if (p != stackbuf)
		free(p);
	return r;
}

static void send_cancel(nap_conn *c, uint64_t id)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__CANCEL;
	f.call_id = id;
	(void)conn_queue_frame(c, &f, NULL);
}

int nap_call_cancel(nap_call *call)
{
	nap_conn *c = call->conn;
	if (!c->dead)
		send_cancel(c, call->id);
	call_finish(call, NAP_CANCELLED, "cancelled by the caller", NULL, 0);
	return 0;
}

uint64_t nap_call_get_id(const nap_call *call)
{
	return call->id;
}

void *nap_call_get_userdata(const nap_call *call)
{
	return call->userdata;
}

/* --- the request stream (protocol 1.2) --- */

/* A peer older than 1.2 would take a caller's MESSAGE for a reply to a call
 * of its own: the call ends here instead, saying what to upgrade. */
static int refuse_old_peer(nap_call *call)
{
	nap_conn *c = call->conn;
	char msg[NAP_MESSAGE_MAX];
	conn_too_old(c, 2, "a client-streaming call", msg, sizeof(msg));
	send_cancel(c, call->id);
	call_finish(call, NAP_FAILED_PRECONDITION, msg, NULL, 0);
	return -EPROTONOSUPPORT;
}

/* 0 when the request stream may go out now; -EAGAIN until the peer's HELLO
 * says which protocol it speaks; the refusal of an older peer. */
static int stream_ready(nap_call *call)
{
	nap_conn *c = call->conn;
	if (c->dead)
		return -ENOTCONN;
	call->streaming = true;
	if (!conn_peer_known(c)) {
		if (!call->hello_wait) {
			call->hello_wait = true;
			c->nhello_wait++;
		}
		return -EAGAIN;
	}
	if (conn_peer_minor(c) < 2)
		return refuse_old_peer(call);
	return 0;
}

static int send_request(nap_call *call, const uint8_t *payload, size_t len,
			const ProtobufCMessage *msg)
{
	if (call->send_closed)
		return -EPIPE;
	if (len > NAP_STREAM_WINDOW)
		return -EMSGSIZE;
	int r = stream_ready(call);
	if (r < 0)
		return r;
	if (len > call->credit)
		return -EAGAIN;
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__MESSAGE;
	f.call_id = call->id;
	f.from_caller = true;
	f.payload.data = (uint8_t *)payload;
	f.payload.len = msg ? 0 : len;
	r = conn_queue_frame(call->conn, &f, msg);
	if (r == 0)
		call->credit -= len;
	return r;
}

int nap_call_send_raw(nap_call *call, const uint8_t *payload, size_t len)
{
	return send_request(call, payload, len, NULL);
}

int nap_call_send(nap_call *call, const ProtobufCMessage *msg)
{
	return send_request(call, NULL, protobuf_c_message_get_packed_size(msg), msg);
}

size_t nap_call_credit(const nap_call *call)
{
	const nap_conn *c = call->conn;
	if (call->send_closed || c->dead || !conn_peer_known(c) || conn_peer_minor(c) < 2)
		return 0;
	return call->credit;
}

static int send_half_close(nap_call *call)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__END;
	f.call_id = call->id;
	f.from_caller = true;
	return conn_queue_frame(call->conn, &f, NULL);
}

int nap_call_close_send(nap_call *call)
{
	if (call->send_closed)
		return -EPIPE;
	int r = stream_ready(call);
	if (r < 0 && r != -EAGAIN)
		return r;
	call->send_closed = true;
	/* Before the peer's HELLO the END waits for it (calls_peer_known). */
	return r == -EAGAIN ? 0 : send_half_close(call);
}

void nap_call_set_window(nap_call *call, nap_window_fn fn)
{
	call->on_window = fn;
}

int nap_call_send_wait(nap_call *call, const ProtobufCMessage *msg, int timeout_ms)
{
	nap_conn *c = call->conn;
	uint64_t id = call->id;
	uint64_t until = timeout_ms >= 0 ? nap_now_usec() + (uint64_t)timeout_ms * 1000u : 0;
	for (;;) {
		int r = nap_call_send(call, msg);
		if (r != -EAGAIN) {
			if (r == 0)
				(void)nap_conn_flush(c);
			return r;
		}
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = nap_now_usec();
			if (now >= until)
				return -ETIMEDOUT;
			left = (int)((until - now + 999) / 1000);
		}
		r = nap_conn_wait(c, left);
		/* Ids are never reused: gone from the table means ended (its
		 * callback saw the end and it was freed). */
		if (!nap_idmap_get(&c->calls, id))
			return -EPIPE;
		if (r < 0)
			return r;
	}
}

static void find_hello_wait(uint64_t id, void *value, void *ud)
{
	(void)id;
	nap_call *call = value;
	nap_call **found = ud;
	if (call->hello_wait && !*found)
		*found = call;
}

void calls_peer_known(nap_conn *c)
{
	/* One at a time: what each one does (its callback) may end others. */
	while (c->nhello_wait > 0 && !c->dead) {
		nap_call *call = NULL;
		nap_idmap_foreach(&c->calls, find_hello_wait, &call);
		if (!call) {
			c->nhello_wait = 0;
			return;
		}
		call->hello_wait = false;
		c->nhello_wait--;
		if (conn_peer_minor(c) < 2) {
			(void)refuse_old_peer(call);
			continue;
		}
		if (call->send_closed)
			(void)send_half_close(call);
		if (call->on_window)
			call->on_window(call, 0, call->userdata);
	}
}

/* --- what the callee sends back --- */

void calls_dispatch(nap_conn *c, const Nap__Bus__Frame *f)
{
	nap_call *call = nap_idmap_get(&c->calls, f->call_id);
	if (!call)
		return; /* a late frame for a call this side gave up */
	switch (f->kind) {
	case NAP__BUS__KIND__MESSAGE: {
		nap_reply r = {
			.status = NAP_OK,
			.message = "",
			.payload = f->payload.data,
			.payload_len = f->payload.len,
		};
		if (call->fn)
			call->fn(call, &r, call->userdata);
		return;
	}
	case NAP__BUS__KIND__END:
		call_finish(call, f->status, f->message, f->payload.data, f->payload.len);
		return;
	case NAP__BUS__KIND__WINDOW:
		/* Saturates rather than wraps: a callee that grants without
		 * end only lets more through to itself. */
		call->credit = call->credit > SIZE_MAX - f->credit ? SIZE_MAX
								   : call->credit + f->credit;
		if (call->on_window)
			call->on_window(call, f->credit, call->userdata);
		return;
	default:
		return;
	}
}

/* --- deadlines --- */

struct expiry {
	uint64_t now;
	uint64_t earliest;
	nap_call *expired;
};

static void find_expired(uint64_t id, void *value, void *ud)
{
	(void)id;
	struct expiry *e = ud;
	nap_call *call = value;
	if (!call->deadline)
		return;
	if (call->deadline <= e->now) {
		if (!e->expired)
			e->expired = call;
	} else if (!e->earliest || call->deadline < e->earliest) {
		e->earliest = call->deadline;
	}
}

void calls_expire(nap_conn *c, uint64_t now)
{
	for (;;) {
		struct expiry e = {.now = now};
		nap_idmap_foreach(&c->calls, find_expired, &e);
		if (!e.expired) {
			c->earliest = e.earliest;
			return;
		}
		nap_call *call = e.expired;
		char msg[NAP_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), NAP_DEADLINE_MESSAGE, call->timeout_ms,
			 call->service ? call->service : "?", call->method);
		send_cancel(c, call->id);
		call_finish(call, NAP_DEADLINE_EXCEEDED, msg, NULL, 0);
		if (c->dead)
			return;
	}
}
