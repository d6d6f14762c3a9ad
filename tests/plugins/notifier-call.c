/* notifier-call: a test tool that sends nap.Notifier/Notify through napd and
 * says how long each answer took.
 *
 *   notifier-call [-s SOCKET] [-n COUNT] [-v EVENT] [-r RELEASE] [-o OUTCOME]
 *                 [-g STAGE] [-e ERROR] [-S STARTED_MS] [-F FINISHED_MS]
 *                 [-E HOST:PORT:INSTANCE[:URL]]... APP
 *
 * Sends COUNT (default 1) notifications one after the other and prints, for
 * each, "OK <microseconds>" or "END <STATUS> <message>", then
 * "MAX_US <n> AVG_US <n>". Exit status: the status of the last call that
 * failed (0-16), 0 if none, 100 when napd could not be reached. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/notifier.pb-c.h>

#define MAX_ENDPOINTS 16

/* "host:port:instance[:url]" (the URL may itself hold colons). */
static int parse_endpoint(Nap__Endpoint *e, char *spec)
{
	char *port = strchr(spec, ':'), *inst, *url;

	if (!port)
		return -1;
	*port++ = '\0';
	inst = strchr(port, ':');
	if (!inst)
		return -1;
	*inst++ = '\0';
	url = strchr(inst, ':');
	if (url)
		*url++ = '\0';
	e->host = spec;
	e->port = (uint32_t)strtoul(port, NULL, 10);
	e->instance = (uint32_t)strtoul(inst, NULL, 10);
	e->url = url ? url : (char *)"";
	return 0;
}

int main(int argc, char **argv)
{
	static Nap__Endpoint eps[MAX_ENDPOINTS];
	static Nap__Endpoint *ep_ptrs[MAX_ENDPOINTS];
	Nap__Notification req = NAP__NOTIFICATION__INIT;
	const char *sock = NULL;
	unsigned count = 1;
	uint64_t max_us = 0, total_us = 0;
	int c, last_fail = 0;
	nap_conn *conn;

	req.outcome = (char *)"succeeded";
	req.release = 1;
	while ((c = getopt(argc, argv, "s:n:v:r:o:g:e:S:F:E:")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			count = (unsigned)atoi(optarg);
			break;
		case 'v':
			req.event = optarg;
			break;
		case 'r':
			req.release = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			req.outcome = optarg;
			break;
		case 'g':
			req.stage = optarg;
			break;
		case 'e':
			req.error = optarg;
			break;
		case 'S':
			req.started_unix_ms = strtoull(optarg, NULL, 10);
			break;
		case 'F':
			req.finished_unix_ms = strtoull(optarg, NULL, 10);
			break;
		case 'E':
			if (req.n_endpoints == MAX_ENDPOINTS)
				return 2;
			nap__endpoint__init(&eps[req.n_endpoints]);
			if (parse_endpoint(&eps[req.n_endpoints], optarg) < 0) {
				fprintf(stderr, "notifier-call: bad endpoint %s\n", optarg);
				return 2;
			}
			ep_ptrs[req.n_endpoints] = &eps[req.n_endpoints];
			req.n_endpoints++;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: notifier-call [options] APP\n");
		return 2;
	}
	req.app = argv[optind];
	req.endpoints = ep_ptrs;

	int r = nap_conn_connect(&conn, sock, "notifier-call");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	for (unsigned i = 0; i < count; i++) {
		ProtobufCMessage *reply = NULL;
		nap_error err = {0};
		uint64_t t0 = nap_now_usec(), us;

		r = nap_call_unary(&reply, conn, "nap.Notifier", 0, &req.base,
				   &nap__notify_reply__descriptor, 5000, &err);
		us = nap_now_usec() - t0;
		if (r == 0) {
			printf("OK %llu\n", (unsigned long long)us);
			protobuf_c_message_free_unpacked(reply, NULL);
		} else if (r == -EPROTO) {
			printf("END %s %s\n", nap_status_name(err.status), err.message);
			last_fail = err.status;
		} else {
			printf("LOST %s\n", err.message);
			return 100;
		}
		max_us = us > max_us ? us : max_us;
		total_us += us;
	}
	printf("MAX_US %llu AVG_US %llu\n", (unsigned long long)max_us,
	       (unsigned long long)(count ? total_us / count : 0));
	nap_conn_free(conn);
	return last_fail;
}
