/* Client streaming in libnap (protocol 1.2), between two nap_conns on a
 * socket pair: the caller's credit and the WINDOW frames that raise it, the
 * half-close, what waits for the peer's HELLO, the refusal of a 1.1 peer,
 * and nap_call_send_wait() against a callee in another process. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>
#include <nap/echo.pb-c.h>
#include <nap/limits.h>

#include "testing.h"

/* --- the callee: records what the caller's stream brought --- */

struct seen {
	int calls, messages, half_closes, cancels;
	uint64_t bytes;
	uint64_t call_id;
	bool grant; /* grant back what arrives, at once */
};

static void serve(nap_conn *c, const Nap__Bus__Frame *f, void *ud)
{
	struct seen *s = ud;
	switch (f->kind) {
	case NAP__BUS__KIND__CALL:
		s->calls++;
		s->call_id = f->call_id;
		return;
	case NAP__BUS__KIND__CANCEL:
		s->cancels++;
		return;
	case NAP__BUS__KIND__MESSAGE:
		if (!f->from_caller || f->call_id != s->call_id)
			return;
		s->messages++;
		s->bytes += f->payload.len;
		if (s->grant)
			nap_conn_window(c, f->call_id, (uint32_t)f->payload.len);
		return;
	case NAP__BUS__KIND__END:
		if (f->from_caller && f->call_id == s->call_id) {
			s->half_closes++;
			Nap__SumReply r = NAP__SUM_REPLY__INIT;
			r.bytes = s->bytes;
			r.messages = (uint64_t)s->messages + 1;
			nap_conn_reply(c, f->call_id, &r.base);
		}
		return;
	default:
		return;
	}
}

/* --- the caller --- */

struct result {
	bool ended;
	int status;
	char message[512];
	uint64_t bytes;
	int windows;
	uint64_t granted;
};

static void collect(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct result *res = ud;
	if (!r->end)
		return;
	res->ended = true;
	res->status = r->status;
	snprintf(res->message, sizeof(res->message), "%s", r->message);
	Nap__SumReply *m = r->status == NAP_OK
				   ? nap__sum_reply__unpack(NULL, r->payload_len, r->payload)
				   : NULL;
	if (m) {
		res->bytes = m->bytes;
		nap__sum_reply__free_unpacked(m, NULL);
	}
}

static void on_window(nap_call *call, uint32_t granted, void *ud)
{
	(void)call;
	struct result *res = ud;
	res->windows++;
	res->granted += granted;
}

static void pump(nap_conn *a, nap_conn *b, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		nap_conn_wait(a, 1);
		nap_conn_wait(b, 1);
	}
}

static uint8_t chunk[NAP_STREAM_WINDOW + 1];

static void hello(nap_conn *c, unsigned minor)
{
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR;
	h.protocol_minor = minor;
	h.peer_name = (char *)"server";
	nap_conn_send_hello(c, &h);
}

static void pair(nap_conn **client, nap_conn **server, struct seen *s)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	nap_conn_adopt(client, sv[0], "client", true);
	/* The server says HELLO when the test wants it to. */
	nap_conn_adopt(server, sv[1], "server", false);
	nap_conn_set_incoming(*server, serve, s);
}

static void test_credit(void)
{
	nap_conn *client, *server;
	struct seen s = {0};
	pair(&client, &server, &s);
	struct result res = {0};
	nap_call *call;
	CHECK(nap_call_start_raw(&call, client, "nap.Echo", 2, NULL, 0, 0, collect, &res) == 0,
	      "a call starts before the peer's HELLO");
	nap_call_set_window(call, on_window);
	CHECK(nap_call_credit(call) == 0 && nap_call_send_raw(call, chunk, 10) == -EAGAIN,
	      "before the peer's HELLO there is no credit: -EAGAIN, nothing sent");
	pump(client, server, 3);
	CHECK(s.calls == 1 && s.messages == 0, "... the callee saw the CALL only");
	nap_error err = {0};
	CHECK(nap_conn_require(client, 2, 30, &err) == -ETIMEDOUT,
	      "nap_conn_require waits for the peer's HELLO, up to its timeout (%s)", err.message);
	hello(server, NAP_PROTOCOL_MINOR);
	nap_conn_wait(server, 1);
	CHECK(nap_conn_require(client, 2, 1000, &err) == 0,
	      "... and passes once a 1.2 peer's HELLO came");
	pump(client, server, 3);
	CHECK(nap_call_credit(call) == NAP_STREAM_WINDOW && res.windows == 1 && res.granted == 0,
	      "the peer's HELLO (1.2) opens the first NAP_STREAM_WINDOW, and the window "
	      "callback hears of it");
	int sent = 0;
	while (nap_call_send_raw(call, chunk, 65536) == 0)
		sent++;
	CHECK(sent == NAP_STREAM_WINDOW / 65536 && nap_call_credit(call) == 0,
	      "the caller sends %d chunks of 64 KiB, a window's worth, then -EAGAIN", sent);
	CHECK(nap_call_send_raw(call, chunk, NAP_STREAM_WINDOW + 1) == -EMSGSIZE,
	      "a message over NAP_STREAM_WINDOW: -EMSGSIZE");
	pump(client, server, 5);
	CHECK(s.messages == sent && s.bytes == (uint64_t)sent * 65536,
	      "the callee got each as a MESSAGE from_caller with the call's id");
	nap_conn_window(server, s.call_id, 100000);
	pump(client, server, 3);
	CHECK(nap_call_credit(call) == 100000 && res.windows == 2 && res.granted == 100000,
	      "a WINDOW of 100000 raises the credit by that, and the callback hears it");
	CHECK(nap_call_send_raw(call, chunk, 100001) == -EAGAIN &&
		      nap_call_send_raw(call, chunk, 100000) == 0 && nap_call_credit(call) == 0,
	      "the credit is counted in bytes of payload: 100001 waits, 100000 goes");
	CHECK(nap_call_close_send(call) == 0, "the half-close goes out");
	CHECK(nap_call_send_raw(call, chunk, 1) == -EPIPE && nap_call_close_send(call) == -EPIPE,
	      "after it, sending or closing again: -EPIPE");
	for (int i = 0; i < 50 && !res.ended; i++)
		pump(client, server, 1);
	CHECK(s.half_closes == 1 && res.ended && res.status == NAP_OK &&
		      res.bytes == (uint64_t)sent * 65536 + 100000,
	      "the callee saw the END from_caller and answered; the caller got the reply "
	      "(%llu bytes)",
	      (unsigned long long)res.bytes);
	nap_conn_free(client);
	nap_conn_free(server);
}

static void test_deferred_close(void)
{
	nap_conn *client, *server;
	struct seen s = {0};
	pair(&client, &server, &s);
	struct result res = {0};
	nap_call *call;
	nap_call_start_raw(&call, client, "nap.Echo", 2, NULL, 0, 0, collect, &res);
	CHECK(nap_call_close_send(call) == 0, "a half-close before the peer's HELLO is accepted");
	pump(client, server, 3);
	CHECK(s.half_closes == 0, "... and waits for the HELLO");
	hello(server, NAP_PROTOCOL_MINOR);
	for (int i = 0; i < 50 && !res.ended; i++)
		pump(client, server, 1);
	CHECK(s.half_closes == 1 && res.ended && res.status == NAP_OK,
	      "... then goes out, and the call is answered");
	nap_conn_free(client);
	nap_conn_free(server);
}

static void test_old_peer(void)
{
	nap_conn *client, *server;
	struct seen s = {0};
	pair(&client, &server, &s);
	hello(server, 1);
	pump(client, server, 3);
	struct result res = {0};
	nap_call *call;
	nap_call_start_raw(&call, client, "nap.Echo", 2, NULL, 0, 0, collect, &res);
	CHECK(nap_call_send_raw(call, chunk, 10) == -EPROTONOSUPPORT,
	      "a request stream to a 1.1 peer: -EPROTONOSUPPORT");
	CHECK(res.ended && res.status == NAP_FAILED_PRECONDITION &&
		      strcmp(res.message, "server speaks protocol 1.1; this needs 1.2 (a "
					  "client-streaming call): upgrade server") == 0,
	      "... the call ended here with one line: %s", res.message);
	pump(client, server, 5);
	CHECK(s.calls == 1 && s.cancels == 1 && s.messages == 0 && s.half_closes == 0,
	      "the 1.1 peer got the CALL and a CANCEL, never a caller's MESSAGE or END");
	CHECK(nap_conn_window(client, 1, 100) == -EPROTONOSUPPORT,
	      "no WINDOW goes to a 1.1 peer either (-EPROTONOSUPPORT)");
	nap_error err = {0};
	CHECK(nap_conn_require(client, 2, 100, &err) == -EPROTONOSUPPORT &&
		      err.status == NAP_FAILED_PRECONDITION &&
		      strcmp(err.message, "server speaks protocol 1.1; this needs 1.2: upgrade "
					  "server") == 0,
	      "nap_conn_require(1.2) of a 1.1 peer: one line before any call (%s)", err.message);
	CHECK(nap_conn_require(client, 1, 100, NULL) == 0, "... and of 1.1 passes");
	/* A half-close asked for before a 1.1 peer's HELLO ends the call when
	 * the HELLO comes. */
	nap_conn *c2, *s2;
	struct seen ss = {0};
	pair(&c2, &s2, &ss);
	struct result r2 = {0};
	nap_call_start_raw(&call, c2, "nap.Echo", 2, NULL, 0, 0, collect, &r2);
	nap_call_close_send(call);
	hello(s2, 0);
	for (int i = 0; i < 50 && !r2.ended; i++)
		pump(c2, s2, 1);
	CHECK(r2.ended && r2.status == NAP_FAILED_PRECONDITION && strstr(r2.message, "1.0") &&
		      ss.half_closes == 0,
	      "a half-close waiting for a 1.0 peer's HELLO ends the call instead: %s", r2.message);
	nap_conn_free(c2);
	nap_conn_free(s2);
	nap_conn_free(client);
	nap_conn_free(server);
}

/* A callee in a child process that grants what it receives, slowly enough
 * that the caller waits for credit many times. */
static pid_t child_server(int fd, int end_after)
{
	pid_t pid = fork();
	if (pid != 0) {
		close(fd);
		return pid;
	}
	nap_conn *server;
	struct seen s = {.grant = true};
	nap_conn_adopt(&server, fd, "server", true);
	nap_conn_set_incoming(server, serve, &s);
	while (!nap_conn_closed(server)) {
		nap_conn_wait(server, 100);
		if (end_after && s.messages >= end_after && s.half_closes == 0) {
			nap_conn_end(server, s.call_id, NAP_ABORTED, "enough");
			s.half_closes = 1;
		}
	}
	_exit(0);
}

static void test_send_wait(void)
{
	for (int end_after = 0; end_after <= 10; end_after += 10) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		pid_t pid = child_server(sv[1], end_after);
		nap_conn *client;
		nap_conn_adopt(&client, sv[0], "client", true);
		struct result res = {0};
		nap_call *call;
		nap_call_start_raw(&call, client, "nap.Echo", 2, NULL, 0, 5000, collect, &res);
		Nap__SumChunk m = NAP__SUM_CHUNK__INIT;
		m.data.data = chunk;
		m.data.len = 32768;
		int r = 0, n = 0;
		while (n < 64 && (r = nap_call_send_wait(call, &m.base, 2000)) == 0)
			n++;
		if (end_after == 0) {
			CHECK(r == 0 && n == 64,
			      "nap_call_send_wait sends 2 MiB through a 256 KiB "
			      "window (%d chunks of 32 KiB)",
			      n);
			nap_call_close_send(call);
			while (!res.ended && nap_conn_wait(client, 1000) == 0)
				;
			CHECK(res.ended && res.status == NAP_OK &&
				      res.bytes == 64 * nap__sum_chunk__get_packed_size(&m),
			      "... and the callee's reply counts every byte of payload (%llu)",
			      (unsigned long long)res.bytes);
		} else {
			CHECK(r == -EPIPE && res.ended && res.status == NAP_ABORTED && n >= 10 &&
				      n < 64,
			      "nap_call_send_wait returns -EPIPE once the callee ended the call "
			      "(%d chunks in, %s)",
			      n, res.message);
		}
		nap_conn_free(client);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* A frame's payload is not copied out of the connection's input buffer
 * (libnap decodes frames as views): a callback that waits on the same
 * connection while it holds one (here a blocking call, whose 100 KB reply
 * arrives meanwhile) must still find its payload intact. The child calls
 * the parent's "nap.Test" with 1000 bytes and answers its Echo calls. */
static uint8_t big[100000];

static void child_echo(nap_conn *c, const Nap__Bus__Frame *f, void *ud)
{
	(void)ud;
	if (f->kind == NAP__BUS__KIND__CALL) {
		Nap__EchoMessage m = NAP__ECHO_MESSAGE__INIT;
		m.payload.data = big;
		m.payload.len = sizeof(big);
		nap_conn_reply(c, f->call_id, &m.base);
	}
}

struct nested {
	bool called, intact, echoed;
};

static void parent_serves(nap_conn *c, const Nap__Bus__Frame *f, void *ud)
{
	struct nested *n = ud;
	if (f->kind != NAP__BUS__KIND__CALL)
		return;
	uint8_t copy[1000];
	size_t len = f->payload.len < sizeof(copy) ? f->payload.len : sizeof(copy);
	memcpy(copy, f->payload.data, len);
	Nap__EchoMessage req = NAP__ECHO_MESSAGE__INIT;
	ProtobufCMessage *reply = NULL;
	n->echoed = nap_call_unary(&reply, c, "nap.Echo", 0, &req.base,
				   &nap__echo_message__descriptor, 5000, NULL) == 0;
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	n->called = true;
	n->intact = f->payload.len == 1000 && memcmp(copy, f->payload.data, len) == 0;
	nap_conn_reply_raw(c, f->call_id, NULL, 0);
}

static void test_nested_wait(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		nap_conn *c;
		nap_conn_adopt(&c, sv[1], "child", true);
		nap_conn_set_incoming(c, child_echo, NULL);
		uint8_t payload[1000];
		for (size_t i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)(i * 7);
		nap_call_start_raw(NULL, c, "nap.Test", 0, payload, sizeof(payload), 0, NULL, NULL);
		while (!nap_conn_closed(c))
			nap_conn_wait(c, 100);
		_exit(0);
	}
	close(sv[1]);
	nap_conn *c;
	nap_conn_adopt(&c, sv[0], "parent", true);
	struct nested n = {0};
	nap_conn_set_incoming(c, parent_serves, &n);
	for (int i = 0; i < 500 && !n.called; i++)
		nap_conn_wait(c, 10);
	CHECK(n.called && n.echoed && n.intact,
	      "a callback that waits on its own connection (a 100 KB reply arriving) still "
	      "finds its frame's payload intact");
	nap_conn_free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_nested_wait();
	test_credit();
	test_deferred_close();
	test_old_peer();
	test_send_wait();
	return DONE();
}
