/* fake-call: calls one method of nap.Builder, nap.Scheduler or
 * nap.Discovery through napd and prints what comes back, one line per
 * item, for the shell tests of the fakes (and of any real plugin).
 *
 *   fake-call [-s SOCKET] [-t TIMEOUT_MS] [-n MESSAGES] [-c CANCEL_MS] CMD ARG...
 *
 *   build APP RELEASE DIR           EVENT STAGE STEP/STEPS IMAGE|- MESSAGE
 *   run APP RELEASE N[,N...] [K=V...]  INSTANCE lines (below)
 *   remove APP [RELEASE [N[,N...]]]  REMOVED COUNT
 *   list [APP]                      INSTANCE APP RELEASE N ID HOST PORT STATE EXIT
 *   watch [APP]                     EVENT KIND [APP RELEASE N ID HOST PORT STATE EXIT]
 *   announce APP RELEASE N HOST PORT
 *   withdraw APP [RELEASE [N[,N...]]]  REMOVED COUNT
 *   resolve APP [RELEASE]           ENDPOINT APP HOST PORT N RELEASE URL
 *   dwatch APP [RELEASE [MIN]]      LIST COUNT, then its ENDPOINT lines
 *   put KEY VALUE
 *   get PREFIX                      RECORD KEY VALUE
 *   delete PREFIX
 *   plugins                         PLUGIN NAME STATE RESTARTS PID
 *
 * Every line is flushed at once (a test can follow a watch as it goes).
 * The end prints "END <STATUS> <message>". -n cancels a stream after that
 * many messages and -c after that many ms; a call cancelled so exits 0.
 * Otherwise the exit status is the call's status code (0-16), 2 for a
 * usage error, or 100 when napd cannot be reached. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/builder.pb-c.h>
#include <nap/bus.h>
#include <nap/control.pb-c.h>
#include <nap/discovery.pb-c.h>
#include <nap/scheduler.pb-c.h>

struct state {
	const ProtobufCMessageDescriptor *out;
	unsigned messages, max_messages;
	bool unary; /* the reply comes with the end, even when empty */
	bool done, cancel_now;
	int status;
};

static void print_instance(const char *tag, const Nap__Instance *i)
{
	printf("%s %s %u %u %s %s %u %s %d\n", tag, i->app, i->release, i->instance, i->id, i->host,
	       i->port, i->state, i->exit_code);
}

static void print_message(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (d == &nap__build_event__descriptor) {
		const Nap__BuildEvent *e = (const Nap__BuildEvent *)m;
		printf("EVENT %s %u/%u %s %s\n", e->stage, e->step, e->steps,
		       e->image && *e->image ? e->image : "-", e->message);
	} else if (d == &nap__run_reply__descriptor) {
		const Nap__RunReply *r = (const Nap__RunReply *)m;
		for (size_t i = 0; i < r->n_instances; i++)
			print_instance("INSTANCE", r->instances[i]);
	} else if (d == &nap__list_instances_reply__descriptor) {
		const Nap__ListInstancesReply *r = (const Nap__ListInstancesReply *)m;
		for (size_t i = 0; i < r->n_instances; i++)
			print_instance("INSTANCE", r->instances[i]);
	} else if (d == &nap__instance_event__descriptor) {
		const Nap__InstanceEvent *e = (const Nap__InstanceEvent *)m;
		if (e->instance) {
			char tag[40];
			snprintf(tag, sizeof tag, "EVENT %s", e->kind);
			print_instance(tag, e->instance);
		} else {
			printf("EVENT %s\n", e->kind);
		}
	} else if (d == &nap__remove_reply__descriptor) {
		printf("REMOVED %u\n", ((const Nap__RemoveReply *)m)->removed);
	} else if (d == &nap__withdraw_reply__descriptor) {
		printf("REMOVED %u\n", ((const Nap__WithdrawReply *)m)->removed);
	} else if (d == &nap__endpoint_list__descriptor) {
		const Nap__EndpointList *l = (const Nap__EndpointList *)m;
		printf("LIST %zu\n", l->n_endpoints);
		for (size_t i = 0; i < l->n_endpoints; i++) {
			const Nap__Endpoint *e = l->endpoints[i];
			printf("ENDPOINT %s %s %u %u %u %s\n", e->app, e->host, e->port,
			       e->instance, e->release, e->url);
		}
	} else if (d == &nap__list_plugins_reply__descriptor) {
		const Nap__ListPluginsReply *r = (const Nap__ListPluginsReply *)m;
		for (size_t i = 0; i < r->n_plugins; i++)
			printf("PLUGIN %s %s %u %d\n", r->plugins[i]->name, r->plugins[i]->state,
			       r->plugins[i]->restarts, r->plugins[i]->pid);
	} else if (d == &nap__get_records_reply__descriptor) {
		const Nap__GetRecordsReply *r = (const Nap__GetRecordsReply *)m;
		for (size_t i = 0; i < r->n_records; i++)
			printf("RECORD %s %.*s\n", r->records[i]->key,
			       (int)r->records[i]->value.len,
			       (const char *)r->records[i]->value.data);
	}
}

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct state *s = ud;

	if (r->payload_len || !r->end || (s->unary && r->status == NAP_OK)) {
		ProtobufCMessage *m = protobuf_c_message_unpack(s->out, NULL, r->payload_len,
								r->payload);
		if (m) {
			print_message(m);
			protobuf_c_message_free_unpacked(m, NULL);
		} else {
			printf("UNDECODABLE\n");
		}
		if (!r->end && s->max_messages && ++s->messages >= s->max_messages)
			s->cancel_now = true;
	}
	if (r->end) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

/* "1,2,3" into a new array; NULL if malformed. */
static uint32_t *numbers(const char *list, size_t *np)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	uint32_t *v = calloc(n, sizeof *v);
	char *end;
	const char *p = list;
	for (size_t i = 0; v && i < n; i++) {
		unsigned long x = strtoul(p, &end, 10);
		if (end == p || (*end != ',' && *end) || x > UINT32_MAX) {
			free(v);
			return NULL;
		}
		v[i] = (uint32_t)x;
		p = end + 1;
	}
	*np = n;
	return v;
}

#define ARG(i) (argc > (i) ? argv[i] : NULL)
#define NUM(i) (argc > (i) ? (uint32_t)strtoul(argv[i], NULL, 10) : 0u)

static int usage(void)
{
	fprintf(stderr,
		"usage: fake-call [-s SOCKET] [-t MS] [-n MESSAGES] [-c MS] COMMAND ARG...\n"
		"commands: build run remove list watch announce withdraw resolve dwatch "
		"put get delete plugins\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned timeout = 0, cancel_after = 0, max_messages = 0;
	int c;

	while ((c = getopt(argc, argv, "+s:t:n:c:")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'n':
			max_messages = (unsigned)atoi(optarg);
			break;
		case 'c':
			cancel_after = (unsigned)atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage();
	const char *cmd = argv[0];

	/* Every request the commands may send; the one used is `req`. */
	Nap__BuildRequest build = NAP__BUILD_REQUEST__INIT;
	Nap__RunRequest run = NAP__RUN_REQUEST__INIT;
	Nap__RemoveRequest remove = NAP__REMOVE_REQUEST__INIT;
	Nap__ListInstancesRequest list = NAP__LIST_INSTANCES_REQUEST__INIT;
	Nap__AnnounceRequest announce = NAP__ANNOUNCE_REQUEST__INIT;
	Nap__Endpoint ep = NAP__ENDPOINT__INIT, *eps[1] = {&ep};
	Nap__WithdrawRequest withdraw = NAP__WITHDRAW_REQUEST__INIT;
	Nap__ResolveRequest resolve = NAP__RESOLVE_REQUEST__INIT;
	Nap__Record record = NAP__RECORD__INIT;
	Nap__GetRecordsRequest records = NAP__GET_RECORDS_REQUEST__INIT;
	Nap__ListPluginsRequest plugins = NAP__LIST_PLUGINS_REQUEST__INIT;
	Nap__EnvVar *env = NULL, **envp = NULL;
	const ProtobufCServiceDescriptor *service;
	const char *method;
	ProtobufCMessage *req;

	if (strcmp(cmd, "build") == 0 && argc == 4) {
		service = &nap__builder__descriptor, method = "Build", req = &build.base;
		build.app = argv[1], build.release = NUM(2), build.dir = argv[3], build.push = true;
	} else if (strcmp(cmd, "run") == 0 && argc >= 4) {
		service = &nap__scheduler__descriptor, method = "Run", req = &run.base;
		run.app = argv[1], run.release = NUM(2);
		run.image = "fake/image";
		if (!(run.instances = numbers(argv[3], &run.n_instances)))
			return usage();
		run.n_env = (size_t)(argc - 4);
		env = calloc(run.n_env + 1, sizeof *env);
		envp = calloc(run.n_env + 1, sizeof *envp);
		for (size_t i = 0; env && envp && i < run.n_env; i++) {
			char *kv = argv[4 + i], *eq = strchr(kv, '=');
			if (!eq)
				return usage();
			*eq = '\0';
			nap__env_var__init(&env[i]);
			env[i].key = kv, env[i].value = eq + 1, envp[i] = &env[i];
		}
		run.env = envp;
	} else if (strcmp(cmd, "remove") == 0 && argc >= 2 && argc <= 4) {
		service = &nap__scheduler__descriptor, method = "Remove", req = &remove.base;
		remove.app = argv[1], remove.release = NUM(2);
		if (ARG(3) && !(remove.instances = numbers(argv[3], &remove.n_instances)))
			return usage();
	} else if ((strcmp(cmd, "list") == 0 || strcmp(cmd, "watch") == 0) && argc <= 2) {
		service = &nap__scheduler__descriptor, method = cmd[0] == 'l' ? "List" : "Watch";
		req = &list.base, list.app = argc == 2 ? argv[1] : "";
	} else if (strcmp(cmd, "announce") == 0 && argc == 6) {
		service = &nap__discovery__descriptor, method = "Announce", req = &announce.base;
		ep.app = argv[1], ep.release = NUM(2), ep.instance = NUM(3), ep.host = argv[4];
		ep.port = NUM(5), announce.n_endpoints = 1, announce.endpoints = eps;
	} else if (strcmp(cmd, "withdraw") == 0 && argc >= 2 && argc <= 4) {
		service = &nap__discovery__descriptor, method = "Withdraw", req = &withdraw.base;
		withdraw.app = argv[1], withdraw.release = NUM(2);
		if (ARG(3) && !(withdraw.instances = numbers(argv[3], &withdraw.n_instances)))
			return usage();
	} else if ((strcmp(cmd, "resolve") == 0 && argc >= 2 && argc <= 3) ||
		   (strcmp(cmd, "dwatch") == 0 && argc >= 2 && argc <= 4)) {
		service = &nap__discovery__descriptor, method = cmd[0] == 'r' ? "Resolve" : "Watch";
		req = &resolve.base;
		resolve.app = argv[1], resolve.release = NUM(2), resolve.min_instances = NUM(3);
	} else if (strcmp(cmd, "put") == 0 && argc == 3) {
		service = &nap__discovery__descriptor, method = "PutRecord", req = &record.base;
		record.key = argv[1];
		record.value = (ProtobufCBinaryData){strlen(argv[2]), (uint8_t *)argv[2]};
	} else if ((strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0) && argc == 2) {
		service = &nap__discovery__descriptor, req = &records.base;
		method = cmd[0] == 'g' ? "GetRecords" : "DeleteRecords";
		records.prefix = argv[1];
	} else if (strcmp(cmd, "plugins") == 0 && argc == 1) {
		service = &nap__control__descriptor, method = "ListPlugins", req = &plugins.base;
	} else {
		return usage();
	}

	const ProtobufCMethodDescriptor *m =
		protobuf_c_service_descriptor_get_method_by_name(service, method);
	struct state s = {.out = m->output, .max_messages = max_messages};
	s.unary = strcmp(method, "Build") != 0 && strcmp(method, "Watch") != 0;
	nap_conn *conn;
	nap_call *call;
	int r = nap_conn_connect(&conn, sock, "fake-call");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	r = nap_call_start(&call, conn, service->name, (uint32_t)(m - service->methods), req,
			   timeout, on_reply, &s);
	if (r < 0) {
		printf("START %s\n", nap_strerror(r));
		return 100;
	}
	uint64_t cancel_at = cancel_after ? nap_now_usec() + cancel_after * 1000ull : 0;
	bool cancelled = false;
	while (!s.done) {
		int wait = cancel_at ? 10 : -1;
		if (!cancelled && (s.cancel_now || (cancel_at && nap_now_usec() >= cancel_at))) {
			nap_call_cancel(call);
			nap_conn_flush(conn);
			cancelled = true;
			continue;
		}
		if (nap_conn_wait(conn, wait) < 0 && !s.done) {
			printf("LOST\n");
			return 100;
		}
	}
	nap_conn_flush(conn);
	nap_conn_free(conn);
	free(run.instances);
	free(remove.instances);
	free(withdraw.instances);
	free(env);
	free(envp);
	return cancelled && s.status == NAP_CANCELLED ? 0 : s.status;
}
