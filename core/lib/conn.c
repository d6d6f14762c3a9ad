/* A bus connection: buffered non-blocking I/O of frames, the calls this side
 * started (with deadlines and cancellation), and hand-off of incoming CALL
 * and CANCEL frames to whoever serves them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/env.h>
#include <nap/frame.h>

#include "arena.h"
#include "buf.h"
#include "idmap.h"

/* How much one nap_conn_process() reads before it lets others have a turn. */
#define READ_CHUNK (64u * 1024u)
#define READ_BUDGET (1024u * 1024u)
/* Queued output past this is written at once rather than at the next flush. */
#define OUT_HIGH_WATER (256u * 1024u)
/* An empty input buffer larger than this is given back (it held a big frame). */
#define IN_KEEP (2u * READ_CHUNK)

struct nap_call {
	nap_conn *conn;
	uint64_t id;
	uint64_t deadline; /* CLOCK_MONOTONIC usec, 0 = none */
	uint32_t timeout_ms;
	uint32_t method;
	nap_call_fn fn;
	void *userdata;
	char *service; /* for the deadline message */
};

struct nap_conn {
	int fd;
	bool dead;
	nap_buf in;
	uint64_t in_since; /* when the unfinished frame in `in` began, 0 = none */
	nap_buf out;
	size_t out_left; /* bytes of the frame at the head of `out` not yet sent */
	bool closing;    /* dead, but the END call id 0 is still being written */
	uint64_t next_id;
	nap_idmap calls;
	size_t ndeadlines;
	uint64_t earliest; /* lower bound of the earliest deadline, 0 = unknown */
	nap_incoming_fn incoming;
	void *incoming_ud;
	nap_close_fn on_close;
	void *close_ud;
	void *userdata;
	Nap__Bus__Hello *peer_hello;
};

uint64_t nap_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *nap_socket_path(const char *path)
{
	if (path && *path)
		return path;
	const char *env = getenv("NAP_SOCKET");
	if (env && *env)
		return env;
	return NAP_DEFAULT_SOCKET;
}

/* --- output --- */

static void conn_fail(nap_conn *c, int err, int status, const char *message);
static void closing_flush(nap_conn *c);
static int end_frame(nap_conn *c, uint64_t id, int status, const char *message,
		     const uint8_t *payload, size_t len, const ProtobufCMessage *msg);

/* Drops n sent bytes from the front of the output, keeping track of where
 * the frame being sent ends (frames in `out` are always whole). */
static void out_consume(nap_conn *c, size_t n)
{
	const uint8_t *p = nap_buf_head(&c->out);
	for (size_t off = 0; off < n;) {
		if (c->out_left == 0)
			c->out_left = NAP_FRAME_HEADER_SIZE +
				      ((size_t)p[off] << 24 | (size_t)p[off + 1] << 16 |
				       (size_t)p[off + 2] << 8 | p[off + 3]);
		size_t take = c->out_left < n - off ? c->out_left : n - off;
		c->out_left -= take;
		off += take;
	}
	nap_buf_consume(&c->out, n);
}

/* The peer does not read: NAP_OUTPUT_MAX is queued. What it will never get
 * is dropped (all but the rest of the frame it is in the middle of), an END
 * call id 0 says why in its place, and the connection ends. */
static void out_overflow(nap_conn *c)
{
	char msg[NAP_MESSAGE_MAX];
	snprintf(msg, sizeof(msg),
		 "the peer does not read what it is sent: %u MiB of output queued "
		 "(NAP_OUTPUT_MAX); connection closed",
		 NAP_OUTPUT_MAX >> 20);
	c->out.len = c->out_left;
	(void)end_frame(c, 0, NAP_RESOURCE_EXHAUSTED, msg, NULL, 0, NULL);
	closing_flush(c);
	conn_fail(c, -ENOBUFS, NAP_RESOURCE_EXHAUSTED, msg);
}

static int queue_frame(nap_conn *c, const Nap__Bus__Frame *f, const ProtobufCMessage *msg)
{
	if (c->dead)
		return -ENOTCONN;
	char why[160];
	if (msg && nap_message_utf8_check(msg, why, sizeof(why)) < 0) {
		/* Never send what a conforming decoder refuses: the call ends
		 * with INTERNAL instead (later frames for it are ignored). */
		if (f->call_id)
			(void)nap_conn_end(c, f->call_id, NAP_INTERNAL,
					   "reply not sent: %s (a bug of the callee)", why);
		return -EILSEQ;
	}
	size_t n = nap_frame_size(f, msg);
	if (n - NAP_FRAME_HEADER_SIZE > NAP_FRAME_MAX)
		return -EMSGSIZE;
	if (c->out.len + n > NAP_OUTPUT_MAX) {
		out_overflow(c);
		return -ENOBUFS;
	}
	int r = nap_buf_reserve(&c->out, n);
	if (r < 0)
		return r;
	c->out.len += nap_frame_pack(f, msg, nap_buf_tail(&c->out));
	if (c->out.len >= OUT_HIGH_WATER)
		(void)nap_conn_flush(c);
	return 0;
}

int nap_conn_flush(nap_conn *c)
{
	if (c->dead && !c->closing)
		return -ENOTCONN;
	while (c->out.len > 0) {
		ssize_t w = send(c->fd, nap_buf_head(&c->out), c->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			int err = -errno;
			c->closing = false;
			nap_buf_consume(&c->out, c->out.len);
			/* A peer that closed on us (napd refusing a client) may
			 * have said why first: read that before giving up. */
			if (err == -EPIPE || err == -ECONNRESET)
				(void)nap_conn_process(c);
			if (!c->dead)
				conn_fail(c, err, NAP_UNAVAILABLE, "connection lost");
			return err;
		}
		out_consume(c, (size_t)w);
	}
	if (c->closing) {
		/* The END call id 0 is out: now the peer may see EOF. */
		shutdown(c->fd, SHUT_WR);
		c->closing = false;
	}
	return 0;
}

/* Writes what it can of a closing connection's last frames (the END call
 * id 0 last). What does not fit now stays queued: the connection is dead
 * but its owner may go on flushing it (nap_conn_pending() > 0) before it
 * frees it, so that a slow reader still learns why. */
static void closing_flush(nap_conn *c)
{
	if (c->dead)
		return;
	c->closing = true;
	(void)nap_conn_flush(c);
}

size_t nap_conn_pending(const nap_conn *c)
{
	if (c->dead && !c->closing)
		return 0;
	return c->out.len;
}

int nap_conn_send_hello(nap_conn *c, const struct Nap__Bus__Hello *hello)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__HELLO;
	return queue_frame(c, &f, &hello->base);
}

static int send_hello(nap_conn *c, const char *peer_name)
{
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR;
	h.protocol_minor = NAP_PROTOCOL_MINOR;
	h.peer_name = (char *)(peer_name ? peer_name : "");
	h.peer_version = (char *)PACKAGE_VERSION;
	return nap_conn_send_hello(c, &h);
}

/* --- calls --- */

static void call_free(nap_call *call)
{
	free(call->service);
	free(call);
}

/* Runs a call's callback with end = true and frees it; the call is already
 * out of the table. */
static void call_end(nap_call *call, int status, const char *message, const uint8_t *payload,
		     size_t len)
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
	call_end(call, status, message, payload, len);
}

static void conn_fail(nap_conn *c, int err, int status, const char *message)
{
	if (c->dead)
		return;
	c->dead = true;
	/* The owner hears first, so that the calls' callbacks see the
	 * connection's end already accounted for. */
	if (c->on_close)
		c->on_close(c, err, status, message, c->close_ud);
	/* One at a time: a callback may end other calls of this conn. */
	uint64_t id;
	void *call;
	while (nap_idmap_pop(&c->calls, &id, &call) > 0)
		call_end(call, status, message, NULL, 0);
	c->ndeadlines = 0;
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
	f.call_id = call->id;
	int r = queue_frame(c, &f, NULL);
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
	(void)queue_frame(c, &f, NULL);
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

/* --- callee side --- */

static int end_frame(nap_conn *c, uint64_t id, int status, const char *message,
		     const uint8_t *payload, size_t len, const ProtobufCMessage *msg)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__END;
	f.call_id = id;
	f.status = (Nap__Bus__Status)status;
	f.message = (char *)(message ? message : "");
	f.payload.data = (uint8_t *)payload;
	f.payload.len = len;
	return queue_frame(c, &f, msg);
}

int nap_conn_reply(nap_conn *c, uint64_t id, const ProtobufCMessage *msg)
{
	return end_frame(c, id, NAP_OK, NULL, NULL, 0, msg);
}

int nap_conn_reply_raw(nap_conn *c, uint64_t id, const uint8_t *payload, size_t len)
{
	return end_frame(c, id, NAP_OK, NULL, payload, len, NULL);
}

int nap_conn_send(nap_conn *c, uint64_t id, const ProtobufCMessage *msg)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__MESSAGE;
	f.call_id = id;
	return queue_frame(c, &f, msg);
}

int nap_conn_send_raw(nap_conn *c, uint64_t id, const uint8_t *payload, size_t len)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__MESSAGE;
	f.call_id = id;
	f.payload.data = (uint8_t *)payload;
	f.payload.len = len;
	return queue_frame(c, &f, NULL);
}

/* Messages quote what peers sent (names, other messages) and may be cut at
 * NAP_MESSAGE_MAX in the middle of a character: what goes out is UTF-8. */
static void vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
	vsnprintf(buf, n, fmt, ap);
	nap_utf8_repair(buf);
}

int nap_conn_end(nap_conn *c, uint64_t id, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return end_frame(c, id, status, msg, NULL, 0, NULL);
}

int nap_conn_abort(nap_conn *c, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->dead)
		return -ENOTCONN;
	int r = end_frame(c, 0, status, msg, NULL, 0, NULL);
	closing_flush(c);
	conn_fail(c, -ECONNABORTED, status, msg);
	return r;
}

/* --- input --- */

static void take_hello(nap_conn *c, const Nap__Bus__Frame *f)
{
	/* A peer says HELLO once. What it said first stands; a second one goes
	 * to the incoming callback, whose owner decides (napd refuses it and
	 * says why), or ends the connection. */
	if (c->peer_hello) {
		if (c->incoming)
			c->incoming(c, f, c->incoming_ud);
		else
			nap_conn_abort(c, NAP_INVALID_ARGUMENT,
				       "a second HELLO on one connection: a peer says HELLO once");
		return;
	}
	Nap__Bus__Hello *h = nap__bus__hello__unpack(NULL, f->payload.len, f->payload.data);
	if (!h) {
		nap_conn_abort(c, NAP_INVALID_ARGUMENT, "HELLO payload is not a nap.bus.Hello");
		return;
	}
	char why[160];
	if (nap_message_utf8_check(&h->base, why, sizeof(why)) < 0) {
		nap_conn_abort(c, NAP_INVALID_ARGUMENT, "HELLO refused: %s", why);
		nap__bus__hello__free_unpacked(h, NULL);
		return;
	}
	if (h->protocol_major != NAP_PROTOCOL_MAJOR) {
		nap_conn_abort(c, NAP_FAILED_PRECONDITION,
			       "peer speaks nap protocol %u.%u, this side speaks %u.%u: upgrade "
			       "the older side",
			       h->protocol_major, h->protocol_minor, NAP_PROTOCOL_MAJOR,
			       NAP_PROTOCOL_MINOR);
		nap__bus__hello__free_unpacked(h, NULL);
		return;
	}
	c->peer_hello = h;
}

static void dispatch(nap_conn *c, const Nap__Bus__Frame *f)
{
	switch (f->kind) {
	case NAP__BUS__KIND__HELLO:
		take_hello(c, f);
		return;
	case NAP__BUS__KIND__CALL:
	case NAP__BUS__KIND__CANCEL:
		if (c->incoming)
			c->incoming(c, f, c->incoming_ud);
		else if (f->kind == NAP__BUS__KIND__CALL)
			nap_conn_end(c, f->call_id, NAP_UNIMPLEMENTED,
				     "this peer provides no services");
		return;
	case NAP__BUS__KIND__MESSAGE: {
		nap_call *call = nap_idmap_get(&c->calls, f->call_id);
		if (!call)
			return; /* late message for a call this side gave up */
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
		if (f->call_id == 0) {
			/* The peer ends the whole connection and says why. */
			conn_fail(c, -ESHUTDOWN, f->status, f->message);
			return;
		}
		nap_call *call = nap_idmap_get(&c->calls, f->call_id);
		if (call)
			call_finish(call, f->status, f->message, f->payload.data, f->payload.len);
		return;
	default:
		return; /* nap_frame_check() let no other kind through */
	}
}

static void expire_deadlines(nap_conn *c, uint64_t now);

/* Room to read into: a chunk, or once a frame's length is known, the rest
 * of that frame, so that a big frame's buffer is the frame's size (not the
 * next power of two) and is allocated once. */
static size_t in_want(nap_conn *c)
{
	if (c->in.len < NAP_FRAME_HEADER_SIZE)
		return READ_CHUNK;
	const uint8_t *p = nap_buf_head(&c->in);
	size_t n = NAP_FRAME_HEADER_SIZE +
		   ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
	if (n > NAP_FRAME_HEADER_SIZE + NAP_FRAME_MAX || n <= c->in.len)
		return READ_CHUNK;
	return n > READ_CHUNK ? n - c->in.len : READ_CHUNK;
}

int nap_conn_process(nap_conn *c)
{
	if (c->dead)
		return -ENOTCONN;
	size_t budget = READ_BUDGET;
	bool eof = false;
	bool took = false;
	/* Frames are decoded into it, not malloc'd: each lives only while it
	 * is dispatched. On the stack, so a nested process() has its own. */
	nap_arena arena;
	nap_arena_init(&arena);
	while (budget > 0 && !c->dead) {
		if (nap_buf_reserve(&c->in, in_want(c)) < 0) {
			conn_fail(c, -ENOMEM, NAP_RESOURCE_EXHAUSTED, "out of memory");
			break;
		}
		ssize_t r = recv(c->fd, nap_buf_tail(&c->in), nap_buf_room(&c->in), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_fail(c, -errno, NAP_UNAVAILABLE, "connection lost");
			break;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		c->in.len += (size_t)r;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		/* Dispatch as frames complete so that a large read does not
		 * hold back the first replies. */
		for (;;) {
			Nap__Bus__Frame *f = NULL;
			size_t used = 0;
			char why[160];
			int t = nap_frame_take_alloc(&f, &used, nap_buf_head(&c->in), c->in.len,
						     why, sizeof(why), &arena.alloc);
			if (t == 0)
				break;
			if (t < 0) {
				nap_conn_abort(c, NAP_INVALID_ARGUMENT, "malformed frame: %s", why);
				break;
			}
			nap_buf_consume(&c->in, used);
			took = true;
			dispatch(c, f);
			nap_arena_reset(&arena, &f->base);
			if (c->dead)
				break;
		}
		if ((size_t)r < READ_CHUNK)
			break; /* drained */
	}
	if (!c->dead && (took || !c->in_since))
		c->in_since = c->in.len ? nap_now_usec() : 0;
	if (!c->dead && c->in.len == 0 && c->in.cap > IN_KEEP)
		nap_buf_release(&c->in); /* it held a big frame: give it back */
	if (!c->dead && c->ndeadlines > 0) {
		uint64_t now = nap_now_usec();
		if (now >= c->earliest)
			expire_deadlines(c, now);
	}
	if (!c->dead && eof)
		conn_fail(c, -ECONNRESET, NAP_UNAVAILABLE,
			  c->in.len ? "connection closed in the middle of a frame"
				    : "connection closed by the peer");
	if (!c->dead)
		(void)nap_conn_flush(c);
	return c->dead ? -ECONNRESET : 0;
}

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

static void expire_deadlines(nap_conn *c, uint64_t now)
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

/* --- life cycle --- */

int nap_conn_adopt(nap_conn **connp, int fd, const char *peer_name, bool send_hello_frame)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	nap_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	if (send_hello_frame) {
		int r = send_hello(c, peer_name);
		if (r < 0) {
			free(c);
			return r;
		}
	}
	*connp = c;
	return 0;
}

int nap_conn_connect(nap_conn **connp, const char *path, const char *peer_name)
{
	path = nap_socket_path(path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	nap_conn *c;
	int r = nap_conn_adopt(&c, fd, peer_name, true);
	if (r < 0) {
		close(fd);
		return r;
	}
	*connp = c;
	return 0;
}

nap_conn *nap_conn_free(nap_conn *c)
{
	if (!c)
		return NULL;
	if (!c->dead) {
		c->on_close = NULL; /* the owner is freeing: it knows */
		conn_fail(c, -ECONNABORTED, NAP_UNAVAILABLE, "connection closed");
	}
	nap_idmap_release(&c->calls);
	nap_buf_release(&c->in);
	nap_buf_release(&c->out);
	if (c->peer_hello)
		nap__bus__hello__free_unpacked(c->peer_hello, NULL);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void nap_conn_set_incoming(nap_conn *c, nap_incoming_fn fn, void *ud)
{
	c->incoming = fn;
	c->incoming_ud = ud;
}

void nap_conn_set_close(nap_conn *c, nap_close_fn fn, void *ud)
{
	c->on_close = fn;
	c->close_ud = ud;
}

void nap_conn_set_userdata(nap_conn *c, void *ud)
{
	c->userdata = ud;
}

void *nap_conn_get_userdata(const nap_conn *c)
{
	return c->userdata;
}

int nap_conn_get_fd(const nap_conn *c)
{
	return c->fd;
}

short nap_conn_get_events(const nap_conn *c)
{
	return (short)(POLLIN | (c->out.len > 0 ? POLLOUT : 0));
}

int nap_conn_get_timeout(const nap_conn *c, uint64_t *usec)
{
	if (c->ndeadlines == 0)
		return -ENODATA;
	*usec = c->earliest;
	return 0;
}

bool nap_conn_closed(const nap_conn *c)
{
	return c->dead;
}

size_t nap_conn_unfinished(const nap_conn *c, uint64_t *since)
{
	if (c->dead || c->in.len == 0)
		return 0;
	if (since)
		*since = c->in_since;
	return c->in.cap;
}

bool nap_conn_peer_ready(const nap_conn *c)
{
	return c->peer_hello != NULL;
}

const char *nap_conn_peer_name(const nap_conn *c)
{
	return c->peer_hello && c->peer_hello->peer_name ? c->peer_hello->peer_name : "";
}

const Nap__Bus__Hello *nap_conn_peer_hello(const nap_conn *c)
{
	return c->peer_hello;
}

int nap_conn_wait(nap_conn *c, int timeout_ms)
{
	if (c->dead)
		return -ENOTCONN;
	uint64_t dl;
	if (nap_conn_get_timeout(c, &dl) == 0) {
		uint64_t now = nap_now_usec();
		int left = dl <= now ? 0 : (int)((dl - now + 999) / 1000);
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = left;
	}
	struct pollfd p = {.fd = c->fd, .events = nap_conn_get_events(c)};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -errno;
	return nap_conn_process(c);
}
