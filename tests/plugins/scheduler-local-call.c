/* scheduler-local-call: makes one nap.Scheduler call through napd and prints
 * what came back, for tests/plugins/scheduler-local-test.sh.
 *
 *   scheduler-local-call -s SOCK run APP RELEASE IMAGE INSTANCES [-m BYTES] [-p CONSTRAINT]
 *                        [KEY=VALUE...]
 *   scheduler-local-call -s SOCK remove APP RELEASE [INSTANCE...]
 *   scheduler-local-call -s SOCK list [-v] [APP]
 *   scheduler-local-call -s SOCK logs APP [-f] [-n TAIL] [-c CANCEL_AFTER_MS]
 *   scheduler-local-call -s SOCK watch [-c CANCEL_AFTER_MS] [APP]
 *
 * INSTANCES is a comma-separated list ("1,2"); each -p adds one
 * placement.machine_metadata entry (any scheduler; the name is historical). Prints one line per result:
 * "INSTANCE app release instance id host port state" (with -v followed by
 * " exit=N oom=0|1 health=H started=MS announcer=A"),
 * "REMOVED n", "LOG instance line", "EVENT kind" followed by the instance
 * as with -v (when the event has one), and last "END STATUS message".
 * Exit status: the call's nap status (0-16), 100 if napd cannot be reached,
 * 2 on bad usage. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/scheduler.pb-c.h>

#define TIMEOUT_MS 120000u

static bool verbose;

static void print_instance(const Nap__Instance *in)
{
	printf("%s %u %u %s %s %u %s", in->app, (unsigned)in->release, (unsigned)in->instance,
	       in->id, in->host, (unsigned)in->port, in->state);
	if (verbose)
		printf(" exit=%d oom=%d health=%s started=%llu announcer=%s", (int)in->exit_code,
		       (int)in->oom_killed, in->health, (unsigned long long)in->started_unix_ms,
		       in->announcer);
}

static void print_instances(Nap__Instance **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("INSTANCE ");
		print_instance(v[i]);
		printf("\n");
	}
}

static int unary(nap_conn *conn, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **replyp)
{
	nap_error err = {0};
	int r = nap_call_unary(replyp, conn, nap__scheduler__descriptor.name,
			       (uint32_t)nap_method_index(&nap__scheduler__descriptor, method), req,
			       reply_desc, TIMEOUT_MS, &err);

	if (r < 0) {
		printf("END %s %s\n", nap_status_name(err.status), err.message);
		return err.status ? err.status : 14;
	}
	return 0;
}

static int do_run(nap_conn *conn, int argc, char **argv)
{
	Nap__RunRequest req = NAP__RUN_REQUEST__INIT;
	Nap__EnvVar *env = calloc((size_t)argc, sizeof *env);
	Nap__EnvVar **envp = calloc((size_t)argc, sizeof *envp);
	uint32_t inst[64];
	Nap__Placement placement = NAP__PLACEMENT__INIT;
	char *constraints[16];
	ProtobufCMessage *reply;
	char *list, *tok, *save = NULL;
	int r;

	if (argc < 4 || !env || !envp)
		return 2;
	placement.machine_metadata = constraints;
	req.app = argv[0];
	req.release = (uint32_t)strtoul(argv[1], NULL, 10);
	req.image = argv[2];
	list = argv[3];
	for (tok = strtok_r(list, ",", &save); tok && req.n_instances < 64;
	     tok = strtok_r(NULL, ",", &save))
		inst[req.n_instances++] = (uint32_t)strtoul(tok, NULL, 10);
	req.instances = inst;
	for (int i = 4; i < argc; i++) {
		char *eq;

		if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
			req.memory_bytes = strtoull(argv[++i], NULL, 10);
			continue;
		}
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc &&
		    placement.n_machine_metadata < 16) {
			constraints[placement.n_machine_metadata++] = argv[++i];
			req.placement = &placement;
			continue;
		}
		eq = strchr(argv[i], '=');
		if (!eq)
			return 2;
		*eq = '\0';
		nap__env_var__init(&env[req.n_env]);
		env[req.n_env].key = argv[i];
		env[req.n_env].value = eq + 1;
		envp[req.n_env] = &env[req.n_env];
		req.n_env++;
	}
	req.env = envp;
	r = unary(conn, "Run", &req.base, &nap__run_reply__descriptor, &reply);
	if (r == 0) {
		Nap__RunReply *rr = (Nap__RunReply *)reply;

		print_instances(rr->instances, rr->n_instances);
		printf("END OK\n");
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	free(env);
	free(envp);
	return r;
}

static int do_remove(nap_conn *conn, int argc, char **argv)
{
	Nap__RemoveRequest req = NAP__REMOVE_REQUEST__INIT;
	uint32_t inst[64];
	ProtobufCMessage *reply;
	int r;

	if (argc < 2)
		return 2;
	req.app = argv[0];
	req.release = (uint32_t)strtoul(argv[1], NULL, 10);
	for (int i = 2; i < argc && req.n_instances < 64; i++)
		inst[req.n_instances++] = (uint32_t)strtoul(argv[i], NULL, 10);
	req.instances = inst;
	r = unary(conn, "Remove", &req.base, &nap__remove_reply__descriptor, &reply);
	if (r == 0) {
		printf("REMOVED %u\nEND OK\n", (unsigned)((Nap__RemoveReply *)reply)->removed);
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	return r;
}

static int do_list(nap_conn *conn, int argc, char **argv)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	ProtobufCMessage *reply;
	int r;

	if (argc > 0 && strcmp(argv[0], "-v") == 0) {
		verbose = true;
		argc--, argv++;
	}
	req.app = argc > 0 ? argv[0] : "";
	r = unary(conn, "List", &req.base, &nap__list_instances_reply__descriptor, &reply);
	if (r == 0) {
		Nap__ListInstancesReply *lr = (Nap__ListInstancesReply *)reply;

		print_instances(lr->instances, lr->n_instances);
		printf("END OK\n");
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	return r;
}

struct stream_state {
	bool done;
	int status;
};

static void on_log(nap_call *call, const nap_reply *r, void *ud)
{
	struct stream_state *s = ud;

	(void)call;
	if (!r->end) {
		Nap__LogLine *m = nap__log_line__unpack(NULL, r->payload_len, r->payload);

		if (m) {
			printf("LOG %u %s\n", (unsigned)m->instance, m->line);
			nap__log_line__free_unpacked(m, NULL);
		} else {
			printf("UNDECODABLE\n");
		}
	} else {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

static int do_logs(nap_conn *conn, int argc, char **argv)
{
	Nap__LogsRequest req = NAP__LOGS_REQUEST__INIT;
	struct stream_state s = {0};
	long cancel_after = 0;
	nap_call *call;
	uint64_t start;
	int c, r;

	optind = 1;
	while ((c = getopt(argc, argv, "fn:c:")) != -1) {
		switch (c) {
		case 'f':
			req.follow = true;
			break;
		case 'n':
			req.tail = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cancel_after = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	req.app = argv[optind];
	r = nap_call_start(&call, conn, nap__scheduler__descriptor.name,
			   (uint32_t)nap_method_index(&nap__scheduler__descriptor, "Logs"),
			   &req.base, cancel_after ? 0 : TIMEOUT_MS, on_log, &s);
	if (r < 0) {
		printf("END UNAVAILABLE %s\n", nap_strerror(r));
		return 14;
	}
	start = nap_now_usec();
	while (!s.done) {
		if (cancel_after && call &&
		    nap_now_usec() - start >= (uint64_t)cancel_after * 1000u) {
			nap_call_cancel(call); /* ends the call: the callback ran */
			call = NULL;
			break;
		}
		if (nap_conn_wait(conn, 50) < 0 && !s.done) {
			printf("END UNAVAILABLE connection lost\n");
			return 14;
		}
	}
	return s.status;
}

static void on_event(nap_call *call, const nap_reply *r, void *ud)
{
	struct stream_state *s = ud;

	(void)call;
	if (!r->end) {
		Nap__InstanceEvent *m = nap__instance_event__unpack(NULL, r->payload_len,
								    r->payload);

		if (m) {
			printf("EVENT %s", m->kind);
			if (m->instance) {
				printf(" ");
				print_instance(m->instance);
			}
			printf("\n");
			nap__instance_event__free_unpacked(m, NULL);
		} else {
			printf("UNDECODABLE\n");
		}
	} else {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

static int do_watch(nap_conn *conn, int argc, char **argv)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	struct stream_state s = {0};
	long cancel_after = 0;
	nap_call *call;
	uint64_t start;
	int c, r;

	optind = 1;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		switch (c) {
		case 'c':
			cancel_after = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	req.app = optind < argc ? argv[optind] : "";
	verbose = true;
	r = nap_call_start(&call, conn, nap__scheduler__descriptor.name,
			   (uint32_t)nap_method_index(&nap__scheduler__descriptor, "Watch"),
			   &req.base, 0, on_event, &s);
	if (r < 0) {
		printf("END UNAVAILABLE %s\n", nap_strerror(r));
		return 14;
	}
	start = nap_now_usec();
	while (!s.done) {
		if (cancel_after && nap_now_usec() - start >= (uint64_t)cancel_after * 1000u) {
			nap_call_cancel(call);
			printf("CANCELLED\n");
			return 1;
		}
		if (nap_conn_wait(conn, 50) < 0 && !s.done) {
			printf("END UNAVAILABLE connection lost\n");
			return 14;
		}
	}
	return s.status;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	nap_conn *conn;
	int r;

	if (argc >= 3 && strcmp(argv[1], "-s") == 0) {
		sock = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		fprintf(stderr,
			"usage: scheduler-local-call [-s SOCK] run|remove|list|logs|watch ...\n");
		return 2;
	}
	r = nap_conn_connect(&conn, sock, "scheduler-local-call");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	if (strcmp(argv[1], "run") == 0)
		r = do_run(conn, argc - 2, argv + 2);
	else if (strcmp(argv[1], "remove") == 0)
		r = do_remove(conn, argc - 2, argv + 2);
	else if (strcmp(argv[1], "list") == 0)
		r = do_list(conn, argc - 2, argv + 2);
	else if (strcmp(argv[1], "logs") == 0)
		r = do_logs(conn, argc - 1, argv + 1);
	else if (strcmp(argv[1], "watch") == 0)
		r = do_watch(conn, argc - 1, argv + 1);
	else
		r = 2;
	fflush(stdout);
	nap_conn_free(conn);
	return r;
}
