/* nap-call: a test tool that makes one nap.Echo-shaped call through libnap
 * and prints what came back, for the shell tests.
 *
 *   nap-call [-s SOCKET] [-t TIMEOUT_MS] [-c CANCEL_AFTER_MS]
 *            [-S SERVICE] [-m METHOD_INDEX] [-n COUNT] [-i INTERVAL_MS] PAYLOAD
 *
 * Without -n it calls Echo (unary) and prints "OK <payload>"; with -n it
 * calls EchoStream and prints "MSG <payload>" per message. The end prints
 * "END <STATUS> <message>". Exit status: the call's status code (0-16), or
 * 100 when napd could not be reached. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/echo.pb-c.h>

struct state {
	bool done;
	int status;
	bool stream;
};

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct state *s = ud;
	if (r->payload_len || !r->end) {
		Nap__EchoMessage *m = nap__echo_message__unpack(NULL, r->payload_len, r->payload);
		if (m) {
			printf("%s %.*s\n", r->end ? "OK" : "MSG", (int)m->payload.len,
			       (const char *)m->payload.data);
			nap__echo_message__free_unpacked(m, NULL);
		} else {
			printf("UNDECODABLE\n");
		}
	}
	if (r->end) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *service = "nap.Echo";
	unsigned timeout = 0, cancel_after = 0, count = 0, interval = 0;
	int method = -1;
	int c;
	while ((c = getopt(argc, argv, "s:t:c:S:m:n:i:")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'c':
			cancel_after = (unsigned)atoi(optarg);
			break;
		case 'S':
			service = optarg;
			break;
		case 'm':
			method = atoi(optarg);
			break;
		case 'n':
			count = (unsigned)atoi(optarg);
			break;
		case 'i':
			interval = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: nap-call [options] PAYLOAD\n");
		return 2;
	}
	const char *payload = argv[optind];
	nap_conn *conn;
	int r = nap_conn_connect(&conn, sock, "nap-call");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	struct state s = {.stream = count > 0};
	ProtobufCBinaryData pl = {strlen(payload), (uint8_t *)payload};
	nap_call *call;
	if (count) {
		Nap__EchoStreamRequest req = NAP__ECHO_STREAM_REQUEST__INIT;
		req.payload = pl;
		req.count = count;
		req.interval_ms = interval;
		r = nap_call_start(&call, conn, service, method >= 0 ? (uint32_t)method : 1,
				   &req.base, timeout, on_reply, &s);
	} else {
		Nap__EchoMessage req = NAP__ECHO_MESSAGE__INIT;
		req.payload = pl;
		r = nap_call_start(&call, conn, service, method >= 0 ? (uint32_t)method : 0,
				   &req.base, timeout, on_reply, &s);
	}
	if (r < 0) {
		printf("START %s\n", nap_strerror(r));
		return 100;
	}
	uint64_t cancel_at = cancel_after ? nap_now_usec() + cancel_after * 1000ull : 0;
	while (!s.done) {
		int wait = -1;
		if (cancel_at) {
			uint64_t now = nap_now_usec();
			if (now >= cancel_at) {
				nap_call_cancel(call);
				cancel_at = 0;
				nap_conn_flush(conn);
				continue;
			}
			wait = (int)((cancel_at - now) / 1000) + 1;
		}
		if (nap_conn_wait(conn, wait) < 0 && !s.done) {
			printf("LOST\n");
			return 100;
		}
	}
	nap_conn_flush(conn);
	nap_conn_free(conn);
	return s.status;
}
