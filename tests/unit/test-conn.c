/* Connections, calls, deadlines and cancellation, between two nap_conns on
 * a socket pair in one process (no daemon), and a raw socket for the frames
 * a well-behaved peer would never send. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/echo.pb-c.h>
#include <nap/env.h>
#include <nap/frame.h>

#include "testing.h"

/* --- the serving side: nap.Echo, plus "hang" which never answers --- */

static int cancels_seen;
static uint64_t hanging_id;

static void serve(nap_conn *c, const Nap__Bus__Frame *f, void *ud)
{
	(void)ud;
	if (f->kind == NAP__BUS__KIND__CANCEL) {
		cancels_seen++;
		return;
	}
	if (strcmp(f->service, "nap.Echo") != 0) {
		nap_conn_end(c, f->call_id, NAP_UNIMPLEMENTED, "no service %s", f->service);
		return;
	}
	if (!nap_method_get(&nap__echo__descriptor, f->method)) {
		nap_conn_end(c, f->call_id, NAP_UNIMPLEMENTED, "no method %u", f->method);
		return;
	}
	if (f->method == 0) {
		Nap__EchoMessage *m = nap__echo_message__unpack(NULL, f->payload.len,
								f->payload.data);
		if (!m) {
			nap_conn_end(c, f->call_id, NAP_INVALID_ARGUMENT, "bad request");
			return;
		}
		if (m->payload.len == 4 && memcmp(m->payload.data, "hang", 4) == 0)
			hanging_id = f->call_id;
		else
			nap_conn_reply(c, f->call_id, &m->base);
		nap__echo_message__free_unpacked(m, NULL);
		return;
	}
	Nap__EchoStreamRequest *s = nap__echo_stream_request__unpack(NULL, f->payload.len,
								     f->payload.data);
	Nap__EchoMessage out = NAP__ECHO_MESSAGE__INIT;
	out.payload = s->payload;
	for (uint32_t i = 0; i < s->count; i++)
		nap_conn_send(c, f->call_id, &out.base);
	nap_conn_end(c, f->call_id, NAP_OK, "%s", "");
	nap__echo_stream_request__free_unpacked(s, NULL);
}

/* --- the calling side --- */

struct result {
	int messages;
	bool ended;
	int status;
	char message[256];
	char payload[64];
};

static void collect(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct result *res = ud;
	if (r->payload_len) {
		Nap__EchoMessage *m = nap__echo_message__unpack(NULL, r->payload_len, r->payload);
		if (m) {
			snprintf(res->payload, sizeof(res->payload), "%.*s", (int)m->payload.len,
				 (char *)m->payload.data);
			nap__echo_message__free_unpacked(m, NULL);
		}
	}
	if (!r->end) {
		res->messages++;
		return;
	}
	res->ended = true;
	res->status = r->status;
	snprintf(res->message, sizeof(res->message), "%s", r->message);
}

static void pump(nap_conn *a, nap_conn *b, bool (*until)(void *), void *ud, int max_ms)
{
	uint64_t end = nap_now_usec() + (uint64_t)max_ms * 1000u;
	while (!until(ud) && nap_now_usec() < end) {
		if (a)
			nap_conn_wait(a, 1);
		if (b)
			nap_conn_wait(b, 1);
	}
}

static bool ended(void *ud)
{
	return ((struct result *)ud)->ended;
}

static int echo_call(nap_call **callp, nap_conn *c, const char *text, uint32_t timeout,
		     struct result *res)
{
	Nap__EchoMessage m = NAP__ECHO_MESSAGE__INIT;
	m.payload.data = (uint8_t *)text;
	m.payload.len = strlen(text);
	return nap_call_start(callp, c, "nap.Echo", 0, &m.base, timeout, collect, res);
}

struct many {
	int answered, matched;
};

struct one {
	struct many *m;
	char want[16];
};

static void many_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct one *o = ud;
	if (!r->end)
		return;
	o->m->answered++;
	Nap__EchoMessage *e = nap__echo_message__unpack(NULL, r->payload_len, r->payload);
	if (e && e->payload.len == strlen(o->want) &&
	    memcmp(e->payload.data, o->want, e->payload.len) == 0)
		o->m->matched++;
	if (e)
		nap__echo_message__free_unpacked(e, NULL);
}

static bool all_answered(void *ud)
{
	return ((struct many *)ud)->answered == 1000;
}

/* Reads one frame from a raw fd (blocking, small). */
static Nap__Bus__Frame *read_frame(int fd)
{
	static uint8_t buf[65536];
	static size_t have;
	for (;;) {
		Nap__Bus__Frame *f;
		size_t used;
		if (nap_frame_take(&f, &used, buf, have, NULL, 0) == 1) {
			memmove(buf, buf + used, have - used);
			have -= used;
			return f;
		}
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return NULL;
		have += (size_t)n;
	}
}

/* Reads frames until an END for call 0; returns its status or -1. */
static int read_conn_end(int fd, char *msg, size_t n)
{
	Nap__Bus__Frame *f;
	while ((f = read_frame(fd))) {
		if (f->kind == NAP__BUS__KIND__END && f->call_id == 0) {
			int st = f->status;
			snprintf(msg, n, "%s", f->message);
			nap_frame_free(f);
			return st;
		}
		nap_frame_free(f);
	}
	return -1;
}

/* Reads what is there without blocking, appending to *buf. */
static void drain(int fd, uint8_t **buf, size_t *len, size_t *cap)
{
	for (;;) {
		if (*cap - *len < 65536) {
			*cap = *cap * 2 + 65536;
			*buf = realloc(*buf, *cap);
		}
		ssize_t r = recv(fd, *buf + *len, *cap - *len, MSG_DONTWAIT);
		if (r <= 0)
			return;
		*len += (size_t)r;
	}
}

struct closed {
	int err, status;
	char message[NAP_MESSAGE_MAX + 1];
};

static void on_closed(nap_conn *c, int err, int status, const char *message, void *ud)
{
	(void)c;
	struct closed *cl = ud;
	cl->err = err;
	cl->status = status;
	snprintf(cl->message, sizeof(cl->message), "%s", message);
}

/* The limits of docs/protocol.md section 12 that libnap applies itself. */
static void test_limits(void)
{
	int sv[2];
	/* A peer that does not read: NAP_OUTPUT_MAX, then END 0 after the
	 * frame in progress, flushed while the owner keeps flushing. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn *c;
	nap_conn_adopt(&c, sv[1], "writer", false);
	struct closed cl = {0};
	nap_conn_set_close(c, on_closed, &cl);
	size_t mib = 1u << 20;
	uint8_t *payload = calloc(1, mib);
	int r = 0, sent = 0;
	while (sent < 100 && (r = nap_conn_send_raw(c, 1, payload, mib)) == 0)
		sent++;
	CHECK(r == -ENOBUFS && sent >= 63 && sent < 65,
	      "output past NAP_OUTPUT_MAX is refused (%d MiB queued)", sent);
	CHECK(nap_conn_closed(c) && cl.err == -ENOBUFS && cl.status == NAP_RESOURCE_EXHAUSTED &&
		      strstr(cl.message, "NAP_OUTPUT_MAX"),
	      "... and the connection ends, saying why (%s)", cl.message);
	uint8_t *in = NULL;
	size_t len = 0, cap = 0;
	for (int i = 0; i < 1000 && nap_conn_pending(c) > 0; i++) {
		nap_conn_flush(c);
		drain(sv[0], &in, &len, &cap);
	}
	drain(sv[0], &in, &len, &cap);
	size_t off = 0, used = 0;
	int messages = 0, end0 = -1;
	Nap__Bus__Frame *f;
	while (nap_frame_take(&f, &used, in + off, len - off, NULL, 0) > 0) {
		if (f->kind == NAP__BUS__KIND__MESSAGE)
			messages++;
		if (f->kind == NAP__BUS__KIND__END && f->call_id == 0)
			end0 = f->status;
		nap_frame_free(f);
		off += used;
	}
	CHECK(off == len && end0 == NAP_RESOURCE_EXHAUSTED && messages >= 1,
	      "the reader gets whole frames (%d), then END 0 RESOURCE_EXHAUSTED", messages);
	char eof;
	CHECK(recv(sv[0], &eof, 1, MSG_DONTWAIT) == 0, "... then EOF");
	nap_conn_free(c);
	close(sv[0]);

	/* A big frame arriving in parts: held in a buffer of its own size,
	 * given back once whole. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(&c, sv[1], "reader", false);
	Nap__Bus__Frame big = NAP__BUS__FRAME__INIT;
	big.kind = NAP__BUS__KIND__END;
	big.call_id = 9;
	big.payload.data = payload;
	big.payload.len = 3 * mib;
	payload = realloc(payload, 3 * mib);
	memset(payload, 0, 3 * mib);
	big.payload.data = payload;
	size_t n = nap_frame_size(&big, NULL);
	uint8_t *wire = malloc(n);
	nap_frame_pack(&big, NULL, wire);
	size_t half = n / 2, put = 0;
	while (put < half) {
		ssize_t w = send(sv[0], wire + put, half - put, MSG_DONTWAIT);
		if (w > 0)
			put += (size_t)w;
		nap_conn_process(c);
	}
	uint64_t since = 0;
	size_t held = nap_conn_unfinished(c, &since);
	CHECK(held >= n && held < n + 65536 && since > 0,
	      "an unfinished %zu-byte frame holds %zu bytes, since it began", n, held);
	while (put < n) {
		ssize_t w = send(sv[0], wire + put, n - put, MSG_DONTWAIT);
		if (w > 0)
			put += (size_t)w;
		nap_conn_process(c);
	}
	nap_conn_process(c);
	CHECK(nap_conn_unfinished(c, NULL) == 0 && !nap_conn_closed(c),
	      "once whole, nothing is held");
	nap_conn_free(c);
	close(sv[0]);
	free(wire);
	free(payload);
	free(in);

	/* The peer's END 0: err -ESHUTDOWN with its status and message. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(&c, sv[1], "told", false);
	nap_conn_set_close(c, on_closed, &cl);
	Nap__Bus__Frame end = NAP__BUS__FRAME__INIT;
	end.kind = NAP__BUS__KIND__END;
	end.status = NAP__BUS__STATUS__ABORTED;
	end.message = (char *)"bye";
	uint8_t buf[64];
	(void)!write(sv[0], buf, nap_frame_pack(&end, NULL, buf));
	nap_conn_wait(c, 100);
	CHECK(cl.err == -ESHUTDOWN && cl.status == NAP_ABORTED && strcmp(cl.message, "bye") == 0,
	      "the peer's END 0 closes with -ESHUTDOWN, its status and message");
	nap_conn_free(c);
	close(sv[0]);

	/* What this side quotes is UTF-8, even cut at NAP_MESSAGE_MAX. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(&c, sv[1], "quoting", false);
	char *quote = malloc(NAP_MESSAGE_MAX + 8);
	memset(quote, 'a', NAP_MESSAGE_MAX + 7);
	quote[NAP_MESSAGE_MAX - 2] = '\xc3'; /* an 'é' cut in half by the limit */
	quote[NAP_MESSAGE_MAX - 1] = '\xa9';
	quote[10] = '\xff';
	quote[NAP_MESSAGE_MAX + 7] = '\0';
	nap_conn_end(c, 3, NAP_NOT_FOUND, "%s", quote);
	nap_conn_flush(c);
	f = read_frame(sv[0]);
	CHECK(f && f->call_id == 3 && nap_utf8_valid(f->message) && f->message[10] == '?',
	      "a message quoting bytes that are not UTF-8 goes out repaired");
	nap_frame_free(f);
	free(quote);
	nap_conn_free(c);
	close(sv[0]);
}

int main(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn *client, *server;
	CHECK(nap_conn_adopt(&client, sv[0], "client", true) == 0 &&
		      nap_conn_adopt(&server, sv[1], "server", true) == 0,
	      "two connections on a socket pair");
	nap_conn_set_incoming(server, serve, NULL);

	struct result r1 = {0};
	CHECK(echo_call(NULL, client, "hello", 1000, &r1) == 0, "a unary call starts");
	pump(client, server, ended, &r1, 2000);
	CHECK(r1.ended && r1.status == NAP_OK && strcmp(r1.payload, "hello") == 0,
	      "the unary reply comes back (status %s, payload '%s')", nap_status_name(r1.status),
	      r1.payload);
	CHECK(nap_conn_peer_ready(client) && strcmp(nap_conn_peer_name(client), "server") == 0,
	      "each side saw the other's HELLO");

	struct result r2 = {0};
	Nap__EchoStreamRequest sr = NAP__ECHO_STREAM_REQUEST__INIT;
	sr.payload.data = (uint8_t *)"x";
	sr.payload.len = 1;
	sr.count = 5;
	nap_call_start(NULL, client, "nap.Echo", 1, &sr.base, 0, collect, &r2);
	pump(client, server, ended, &r2, 2000);
	CHECK(r2.ended && r2.messages == 5 && r2.status == NAP_OK,
	      "a server stream delivers 5 messages, then its end (%d)", r2.messages);

	struct result r3 = {0};
	uint64_t t0 = nap_now_usec();
	echo_call(NULL, client, "hang", 50, &r3);
	pump(client, server, ended, &r3, 2000);
	uint64_t took = (nap_now_usec() - t0) / 1000;
	CHECK(r3.ended && r3.status == NAP_DEADLINE_EXCEEDED,
	      "a call nobody answers ends DEADLINE_EXCEEDED (%s: %s)", nap_status_name(r3.status),
	      r3.message);
	CHECK(took >= 50 && took < 1000, "... after its 50 ms deadline (%llu ms)",
	      (unsigned long long)took);
	int before = cancels_seen;
	for (int i = 0; i < 20 && cancels_seen == before; i++)
		nap_conn_wait(server, 5);
	CHECK(cancels_seen == before + 1 || cancels_seen == 1,
	      "the callee is told with a CANCEL when the deadline passes");

	struct result r4 = {0};
	nap_call *hang;
	echo_call(&hang, client, "hang", 0, &r4);
	nap_conn_flush(client);
	nap_conn_wait(server, 50);
	before = cancels_seen;
	nap_call_cancel(hang);
	CHECK(r4.ended && r4.status == NAP_CANCELLED, "a cancelled call ends CANCELLED at once");
	nap_conn_flush(client);
	for (int i = 0; i < 20 && cancels_seen == before; i++)
		nap_conn_wait(server, 5);
	CHECK(cancels_seen == before + 1, "the callee sees the CANCEL frame");
	/* A late reply to the cancelled call is dropped quietly. */
	nap_conn_end(server, hanging_id, NAP_OK, "%s", "late");
	nap_conn_flush(server);
	nap_conn_wait(client, 10);

	struct result r5 = {0};
	nap_call_start(NULL, client, "nap.Echo", 7, NULL, 0, collect, &r5);
	pump(client, server, ended, &r5, 2000);
	CHECK(r5.ended && r5.status == NAP_UNIMPLEMENTED, "an unknown method index: UNIMPLEMENTED");
	CHECK(nap_method_get(&nap__echo__descriptor, 4) == NULL &&
		      nap_method_get(&nap__echo__descriptor, 1) != NULL &&
		      nap_method_index(&nap__echo__descriptor, "EchoStream") == 1,
	      "method lookups validate the index");

	/* Many calls in flight on one connection, answered to the right ids. */
	struct many m = {0};
	static struct one ones[1000];
	for (int i = 0; i < 1000; i++) {
		ones[i].m = &m;
		snprintf(ones[i].want, sizeof(ones[i].want), "p%d", i);
		Nap__EchoMessage em = NAP__ECHO_MESSAGE__INIT;
		em.payload.data = (uint8_t *)ones[i].want;
		em.payload.len = strlen(ones[i].want);
		nap_call_start(NULL, client, "nap.Echo", 0, &em.base, 0, many_done, &ones[i]);
	}
	pump(client, server, all_answered, &m, 5000);
	CHECK(m.answered == 1000 && m.matched == 1000,
	      "1000 calls in flight at once each get their own reply (%d answered, %d matched)",
	      m.answered, m.matched);

	/* The peer goes away with a call in flight. */
	struct result r6 = {0};
	echo_call(NULL, client, "hang", 0, &r6);
	nap_conn_flush(client);
	nap_conn_wait(server, 20);
	nap_conn_free(server);
	pump(client, NULL, ended, &r6, 2000);
	CHECK(r6.ended && r6.status == NAP_UNAVAILABLE,
	      "a call in flight when the peer goes ends UNAVAILABLE (%s)", r6.message);
	CHECK(nap_conn_process(client) < 0, "the connection reports itself dead");
	struct result r7 = {0};
	CHECK(echo_call(NULL, client, "x", 0, &r7) == -ENOTCONN,
	      "a dead connection takes no calls");
	nap_conn_free(client);

	/* Garbage from a raw peer: the conn says why (END call 0) and closes. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn *victim;
	nap_conn_adopt(&victim, sv[1], "victim", false);
	(void)!write(sv[0], "\xff\xff\xff\xff", 4);
	nap_conn_wait(victim, 100);
	char msg[256];
	int st = read_conn_end(sv[0], msg, sizeof(msg));
	CHECK(st == NAP_INVALID_ARGUMENT,
	      "a length over the limit gets END 0 INVALID_ARGUMENT (%s)", msg);
	nap_conn_free(victim);
	close(sv[0]);

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(&victim, sv[1], "victim", false);
	(void)!write(sv[0], "\x00\x00\x00\x05garbage", 9);
	nap_conn_wait(victim, 100);
	st = read_conn_end(sv[0], msg, sizeof(msg));
	CHECK(st == NAP_INVALID_ARGUMENT, "garbage bytes get END 0 INVALID_ARGUMENT (%s)", msg);
	nap_conn_free(victim);
	close(sv[0]);

	/* A HELLO from another major version. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(&victim, sv[1], "victim", false);
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR + 1;
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__HELLO;
	uint8_t buf[256];
	size_t n = nap_frame_pack(&f, &h.base, buf);
	(void)!write(sv[0], buf, n);
	nap_conn_wait(victim, 100);
	st = read_conn_end(sv[0], msg, sizeof(msg));
	CHECK(st == NAP_FAILED_PRECONDITION, "another major version: FAILED_PRECONDITION (%s)",
	      msg);
	nap_conn_free(victim);
	close(sv[0]);

	/* A frame cut short when the peer closes. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn *cut;
	nap_conn_adopt(&cut, sv[1], "cut", false);
	struct result r8 = {0};
	echo_call(NULL, cut, "x", 0, &r8);
	nap_conn_flush(cut);
	(void)!write(sv[0], "\x00\x00\x00\x40\x08", 5);
	char sink[256];
	(void)!read(sv[0], sink, sizeof(sink)); /* unread data would make the close a reset */
	close(sv[0]);
	pump(cut, NULL, ended, &r8, 1000);
	CHECK(r8.ended && r8.status == NAP_UNAVAILABLE && strstr(r8.message, "middle of a frame"),
	      "a truncated frame at EOF fails the calls (%s)", r8.message);
	nap_conn_free(cut);
	test_limits();
	return DONE();
}
