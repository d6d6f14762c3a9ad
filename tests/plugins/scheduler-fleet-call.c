/* scheduler-fleet-call: one nap.Scheduler call through napd, for
 * tests/plugins/scheduler-fleet-test.sh.
 *
 *   scheduler-fleet-call -s SOCK [-t TIMEOUT_MS] run APP RELEASE IMAGE 1,2 [-M KEY=VALUE]... [-C HTTP_PATH] [KEY=VALUE]...
 *   scheduler-fleet-call -s SOCK remove APP RELEASE [INSTANCE...]
 *   scheduler-fleet-call -s SOCK list [APP]
 *   scheduler-fleet-call -s SOCK logs APP
 *   scheduler-fleet-call -s SOCK watch APP SECONDS   (Watch, cancelled after SECONDS)
 *
 * Prints "INSTANCE app release instance id host port state machine",
 * "EVENT kind app release instance host port state announcer" (watch),
 * "REMOVED n", and last "END STATUS message". Exit status: the call's nap
 * status, 100 if napd cannot be reached, 2 on bad usage. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/scheduler.pb-c.h>

static uint32_t timeout_ms = 120000u;

static int call(nap_conn *conn, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **replyp)
{
	nap_error err = {0};
	int r = nap_call_unary(replyp, conn, nap__scheduler__descriptor.name,
			       (uint32_t)nap_method_index(&nap__scheduler__descriptor, method), req,
			       reply_desc, timeout_ms, &err);

	if (r < 0) {
		printf("END %s %s\n", nap_status_name(err.status), err.message);
		return err.status ? err.status : 14;
	}
	return 0;
}

static void print(Nap__Instance **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("INSTANCE %s %u %u %s %s %u %s %s\n", v[i]->app, (unsigned)v[i]->release,
		       (unsigned)v[i]->instance, v[i]->id, *v[i]->host ? v[i]->host : "-",
		       (unsigned)v[i]->port, v[i]->state, *v[i]->machine ? v[i]->machine : "-");
}

static int run(nap_conn *conn, int argc, char **argv)
{
	Nap__RunRequest req = NAP__RUN_REQUEST__INIT;
	Nap__Placement pl = NAP__PLACEMENT__INIT;
	Nap__Check check = NAP__CHECK__INIT;
	Nap__EnvVar env[32], *envp[32];
	char *meta[16], *save = NULL;
	uint32_t inst[64];
	ProtobufCMessage *reply;
	int r;

	if (argc < 4)
		return 2;
	req.app = argv[0];
	req.release = (uint32_t)strtoul(argv[1], NULL, 10);
	req.image = argv[2];
	for (char *t = strtok_r(argv[3], ",", &save); t && req.n_instances < 64;
	     t = strtok_r(NULL, ",", &save))
		inst[req.n_instances++] = (uint32_t)strtoul(t, NULL, 10);
	req.instances = inst;
	for (int i = 4; i < argc; i++) {
		char *eq;

		if (!strcmp(argv[i], "-M") && i + 1 < argc && pl.n_machine_metadata < 16) {
			meta[pl.n_machine_metadata++] = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			check.http_path = argv[++i];
			req.check = &check;
			continue;
		}
		eq = strchr(argv[i], '=');
		if (!eq || req.n_env == 32)
			return 2;
		*eq = '\0';
		nap__env_var__init(&env[req.n_env]);
		env[req.n_env].key = argv[i];
		env[req.n_env].value = eq + 1;
		envp[req.n_env] = &env[req.n_env];
		req.n_env++;
	}
	req.env = envp;
	pl.machine_metadata = meta;
	req.placement = &pl;
	r = call(conn, "Run", &req.base, &nap__run_reply__descriptor, &reply);
	if (r == 0) {
		print(((Nap__RunReply *)reply)->instances, ((Nap__RunReply *)reply)->n_instances);
		printf("END OK\n");
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	return r;
}

static int remove_(nap_conn *conn, int argc, char **argv)
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
	r = call(conn, "Remove", &req.base, &nap__remove_reply__descriptor, &reply);
	if (r == 0) {
		printf("REMOVED %u\nEND OK\n", (unsigned)((Nap__RemoveReply *)reply)->removed);
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	return r;
}

static int list(nap_conn *conn, int argc, char **argv)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	ProtobufCMessage *reply;
	int r;

	req.app = argc > 0 ? argv[0] : "";
	r = call(conn, "List", &req.base, &nap__list_instances_reply__descriptor, &reply);
	if (r == 0) {
		Nap__ListInstancesReply *l = (Nap__ListInstancesReply *)reply;

		print(l->instances, l->n_instances);
		printf("END OK\n");
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	return r;
}

/* Logs is a stream; the plugin ends it at once, so wait for the end only. */
struct end {
	bool done;
	int status;
};

static void on_reply(nap_call *c, const nap_reply *r, void *ud)
{
	struct end *e = ud;

	(void)c;
	if (r->end) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		e->done = true;
		e->status = r->status;
	}
}

static int logs(nap_conn *conn, int argc, char **argv)
{
	Nap__LogsRequest req = NAP__LOGS_REQUEST__INIT;
	struct end e = {0};
	nap_call *c;

	if (argc < 1)
		return 2;
	req.app = argv[0];
	if (nap_call_start(&c, conn, nap__scheduler__descriptor.name,
			   (uint32_t)nap_method_index(&nap__scheduler__descriptor, "Logs"),
			   &req.base, timeout_ms, on_reply, &e) < 0)
		return 14;
	while (!e.done)
		if (nap_conn_wait(conn, 100) < 0 && !e.done)
			return 14;
	return e.status;
}

static void on_event(nap_call *c, const nap_reply *r, void *ud)
{
	struct end *e = ud;
	Nap__InstanceEvent *ev;

	(void)c;
	if (r->end) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		e->done = true;
		e->status = r->status;
		fflush(stdout);
		return;
	}
	ev = nap__instance_event__unpack(NULL, r->payload_len, r->payload);
	if (!ev)
		return;
	if (ev->instance)
		printf("EVENT %s %s %u %u %s %u %s %s\n", ev->kind, ev->instance->app,
		       (unsigned)ev->instance->release, (unsigned)ev->instance->instance,
		       *ev->instance->host ? ev->instance->host : "-", (unsigned)ev->instance->port,
		       ev->instance->state,
		       *ev->instance->announcer ? ev->instance->announcer : "-");
	else
		printf("EVENT %s\n", ev->kind);
	fflush(stdout);
	nap__instance_event__free_unpacked(ev, NULL);
}

static int watch(nap_conn *conn, int argc, char **argv)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	struct end e = {0};
	nap_call *c;
	int waited = 0, seconds;

	if (argc < 2)
		return 2;
	req.app = argv[0];
	seconds = atoi(argv[1]);
	if (nap_call_start(&c, conn, nap__scheduler__descriptor.name,
			   (uint32_t)nap_method_index(&nap__scheduler__descriptor, "Watch"),
			   &req.base, 0, on_event, &e) < 0)
		return 14;
	while (!e.done) {
		if (nap_conn_wait(conn, 100) < 0 && !e.done)
			return 14;
		if (!e.done && ++waited == seconds * 10)
			nap_call_cancel(c);
	}
	return e.status;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	nap_conn *conn;
	int r;

	while (argc >= 3 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-s"))
			sock = argv[2];
		else if (!strcmp(argv[1], "-t"))
			timeout_ms = (uint32_t)strtoul(argv[2], NULL, 10);
		else
			return 2;
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		fprintf(stderr,
			"usage: scheduler-fleet-call [-s SOCK] [-t MS] run|remove|list|logs|watch ...\n");
		return 2;
	}
	if (nap_conn_connect(&conn, sock, "scheduler-fleet-call") < 0) {
		printf("CONNECT failed\n");
		return 100;
	}
	if (!strcmp(argv[1], "run"))
		r = run(conn, argc - 2, argv + 2);
	else if (!strcmp(argv[1], "remove"))
		r = remove_(conn, argc - 2, argv + 2);
	else if (!strcmp(argv[1], "list"))
		r = list(conn, argc - 2, argv + 2);
	else if (!strcmp(argv[1], "logs"))
		r = logs(conn, argc - 2, argv + 2);
	else if (!strcmp(argv[1], "watch"))
		r = watch(conn, argc - 2, argv + 2);
	else
		r = 2;
	fflush(stdout);
	nap_conn_free(conn);
	return r;
}
