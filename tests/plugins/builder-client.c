/* builder-client: a test tool that makes one nap.Builder call through napd
 * and prints what came back, one line each, for builder-test.sh.
 *
 *   builder-client [-s SOCKET] [-t TIMEOUT_MS] [-C STEP [-D MS]] build APP RELEASE DIR [push]
 *   builder-client [-s SOCKET] remove IMAGE
 *
 * Build prints "EVENT <stage> <step> <steps> <message>" per event and
 * "RESULT <image> <digest or ->" for an event that names the image; with -C
 * it cancels the call once an event of step STEP or later arrived (-D: MS
 * milliseconds after that, reading what comes meanwhile). Every
 * call ends with "END <STATUS> <message>". Exit status: the call's status
 * code (0-16), 100 when napd could not be reached, 2 for bad usage. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/bus.h>

struct state {
	bool done;
	int status;
	unsigned cancel_step; /* 0: never cancel */
	unsigned cancel_delay_ms;
	uint64_t cancel_at; /* nap_now_usec() to cancel at; 0: not yet */
};

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct state *s = ud;

	if (!r->end) {
		Nap__BuildEvent *ev = nap__build_event__unpack(NULL, r->payload_len, r->payload);

		if (!ev) {
			printf("UNDECODABLE\n");
		} else {
			printf("EVENT %s %u %u %s\n", ev->stage, ev->step, ev->steps, ev->message);
			if (ev->image[0])
				printf("RESULT %s %s\n", ev->image,
				       ev->digest[0] ? ev->digest : "-");
			if (s->cancel_step && ev->step >= s->cancel_step && !s->cancel_at)
				s->cancel_at = nap_now_usec() + s->cancel_delay_ms * 1000ull;
			nap__build_event__free_unpacked(ev, NULL);
		}
	} else {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: builder-client [-s SOCKET] [-t MS] [-C STEP [-D MS]] build APP RELEASE "
		"DIR [push]\n       builder-client [-s SOCKET] remove IMAGE\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned timeout = 0;
	struct state s = {0};
	nap_conn *conn;
	nap_call *call;
	int c, r;

	while ((c = getopt(argc, argv, "s:t:C:D:")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'C':
			s.cancel_step = (unsigned)atoi(optarg);
			break;
		case 'D':
			s.cancel_delay_ms = (unsigned)atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage();
	r = nap_conn_connect(&conn, sock, "builder-client");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	if (strcmp(argv[0], "build") == 0 && (argc == 4 || argc == 5)) {
		Nap__BuildRequest req = NAP__BUILD_REQUEST__INIT;

		req.app = argv[1];
		req.release = (uint32_t)strtoul(argv[2], NULL, 10);
		req.dir = argv[3];
		req.push = argc == 5 && strcmp(argv[4], "push") == 0;
		r = nap_call_start(&call, conn, "nap.Builder", 0, &req.base, timeout, on_reply, &s);
	} else if (strcmp(argv[0], "remove") == 0 && argc == 2) {
		Nap__RemoveImageRequest req = NAP__REMOVE_IMAGE_REQUEST__INIT;

		req.image = argv[1];
		r = nap_call_start(&call, conn, "nap.Builder", 1, &req.base, timeout, on_reply, &s);
	} else {
		nap_conn_free(conn);
		return usage();
	}
	if (r < 0) {
		printf("START %s\n", nap_strerror(r));
		return 100;
	}
	while (!s.done) {
		int wait = -1;

		if (s.cancel_at) {
			uint64_t now = nap_now_usec();

			if (now >= s.cancel_at) {
				nap_call_cancel(call); /* runs the callback with the end */
				nap_conn_flush(conn);
				break;
			}
			wait = (int)((s.cancel_at - now) / 1000) + 1;
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
