/* discovery-etcd-client: the hands of tests/plugins/discovery-etcd-test.sh.
 *
 *   discovery-etcd-client -s SOCK resolve APP [RELEASE]
 *   discovery-etcd-client -s SOCK watch APP RELEASE MIN [TIMEOUT_MS]
 *   discovery-etcd-client -s SOCK announce APP HOST PORT INSTANCE RELEASE
 *   discovery-etcd-client -s SOCK withdraw APP RELEASE [INSTANCE...]
 *   discovery-etcd-client -s SOCK put KEY VALUE | get PREFIX | delete PREFIX
 *   discovery-etcd-client probe ETCD_URL APP IMAGE COUNT [NAPD_ID]
 *
 * The calls go through napd (nap.Discovery) and print what came back, one
 * line each ("EP host port instance release url", "LIST n", "REC key value",
 * "REMOVED n"), then "END <STATUS> <message>"; the exit status is the call's
 * status. probe measures, with its own etcd watch and Docker event stream,
 * the time from Docker's start event to the key appearing in etcd and from
 * the kill (or die) event to the key going, over COUNT containers, and prints
 * "ANNOUNCE median_ms max_ms" and "WITHDRAW median_ms max_ms". Its
 * containers carry nap.napd=NAPD_ID when given: the plugin follows only
 * the containers of its napd. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include <nap/bus.h>
#include <nap/discovery.pb-c.h>

#include "docker_api.h"
#include "etcd_v3.h"

static const char *sock;

/* ---- calls through napd ---- */

static void print_list(const Nap__EndpointList *l)
{
	for (size_t i = 0; i < l->n_endpoints; i++) {
		const Nap__Endpoint *e = l->endpoints[i];
		printf("EP %s %u %u %u %s\n", e->host, e->port, e->instance, e->release, e->url);
	}
}

static nap_conn *connect_or_die(void)
{
	nap_conn *conn;
	int r = nap_conn_connect(&conn, sock, "discovery-etcd-client");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		exit(100);
	}
	return conn;
}

/* One unary call of method `name`; prints the reply with show(). */
static int unary(const char *name, const ProtobufCMessage *req,
		 void (*show)(const ProtobufCMessage *reply))
{
	nap_conn *conn = connect_or_die();
	int m = nap_method_index(&nap__discovery__descriptor, name);
	const ProtobufCMethodDescriptor *md = &nap__discovery__descriptor.methods[m];
	ProtobufCMessage *reply = NULL;
	nap_error err = {0};
	int r = nap_call_unary(&reply, conn, "nap.Discovery", (uint32_t)m, req, md->output, 10000,
			       &err);
	int status = r == 0 ? NAP_OK : err.status;

	if (r == 0 && show)
		show(reply);
	printf("END %s %s\n", nap_status_name(status), r == 0 ? "" : err.message);
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	nap_conn_free(conn);
	return r == 0 ? 0 : (r == -EPROTO ? status : 100);
}

static void show_list(const ProtobufCMessage *m)
{
	print_list((const Nap__EndpointList *)m);
}

static void show_withdraw(const ProtobufCMessage *m)
{
	printf("REMOVED %u\n", ((const Nap__WithdrawReply *)m)->removed);
}

static void show_records(const ProtobufCMessage *m)
{
	const Nap__GetRecordsReply *g = (const Nap__GetRecordsReply *)m;
	for (size_t i = 0; i < g->n_records; i++)
		printf("REC %s %.*s\n", g->records[i]->key, (int)g->records[i]->value.len,
		       (const char *)g->records[i]->value.data);
}

struct watch_state {
	bool done;
	int status;
};

static void on_watch(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct watch_state *s = ud;
	if (!r->end) {
		Nap__EndpointList *l = nap__endpoint_list__unpack(NULL, r->payload_len, r->payload);
		if (l) {
			printf("LIST %zu\n", l->n_endpoints);
			print_list(l);
			nap__endpoint_list__free_unpacked(l, NULL);
		}
	} else {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
	fflush(stdout);
}

static int watch(int argc, char **argv)
{
	Nap__ResolveRequest req = NAP__RESOLVE_REQUEST__INIT;
	struct watch_state s = {0};
	nap_call *call;

	if (argc < 4)
		return 2;
	req.app = argv[1];
	req.release = (uint32_t)atoi(argv[2]);
	req.min_instances = (uint32_t)atoi(argv[3]);
	nap_conn *conn = connect_or_die();
	int r = nap_call_start(&call, conn, "nap.Discovery",
			       (uint32_t)nap_method_index(&nap__discovery__descriptor, "Watch"),
			       &req.base, argc > 4 ? (uint32_t)atoi(argv[4]) : 0, on_watch, &s);
	if (r < 0)
		return 100;
	while (!s.done)
		if (nap_conn_wait(conn, -1) < 0 && !s.done)
			return 100;
	nap_conn_free(conn);
	return s.status;
}

/* ---- probe: announce and withdraw latency ---- */

#define PROBE_MAX 64

struct probe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *app;
	atomic_int cancel;
	/* by instance - 100: realtime ns of the events */
	int64_t started[PROBE_MAX], died[PROBE_MAX] /* kill or die */, put[PROBE_MAX], deleted[PROBE_MAX];
	etcd_client *etcd;
	docker_client *docker;
	bool watching;
};

static int64_t now_nano(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int instance_of_key(const char *key)
{
	const char *c = strrchr(key, ':');
	int i = c ? atoi(c + 1) - 100 : -1;
	return i >= 0 && i < PROBE_MAX ? i : -1;
}

static int on_etcd(void *user, const struct etcd_event *ev)
{
	struct probe *p = user;
	int64_t t = now_nano();
	pthread_mutex_lock(&p->lock);
	if (ev->type == ETCD_WATCH_CREATED) {
		p->watching = true;
	} else {
		int i = instance_of_key(ev->kv->key);
		if (i >= 0 && ev->type == ETCD_EVENT_PUT && !p->put[i])
			p->put[i] = t;
		if (i >= 0 && ev->type == ETCD_EVENT_DELETE && !p->deleted[i])
			p->deleted[i] = t;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int on_docker(void *user, const struct docker_event *ev)
{
	struct probe *p = user;
	const char *inst = json_string_value(json_object_get(ev->attributes, "nap.instance"));
	int i = inst ? atoi(inst) - 100 : -1;
	if (i < 0 || i >= PROBE_MAX || !ev->action || !ev->type || strcmp(ev->type, "container"))
		return 0;
	pthread_mutex_lock(&p->lock);
	if (strcmp(ev->action, "start") == 0 && !p->started[i])
		p->started[i] = ev->time_nano;
	/* The end starts with the kill (the plugin acts on it already). */
	if ((strcmp(ev->action, "kill") == 0 || strcmp(ev->action, "die") == 0) && !p->died[i])
		p->died[i] = ev->time_nano;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void *etcd_main(void *arg)
{
	struct probe *p = arg;
	char prefix[128], err[256];
	snprintf(prefix, sizeof prefix, "/services/%s/", p->app);
	struct etcd_watch_options o = {.key = prefix, .prefix = true, .cancel = &p->cancel};
	etcd_watch(NULL, p->etcd, &o, on_etcd, p, err, sizeof err);
	return NULL;
}

static void *docker_main(void *arg)
{
	struct probe *p = arg;
	char filter[128], err[256];
	snprintf(filter, sizeof filter, "nap.app=%s", p->app);
	const char *filters[] = {filter};
	docker_events(p->docker, filters, 1, 0, on_docker, p, &p->cancel, err, sizeof err);
	return NULL;
}

/* Waits until *slot is set, at most ms. */
static bool wait_slot(struct probe *p, int64_t *slot, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!*slot && pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0)
		;
	bool ok = *slot != 0;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	if (n == 0) {
		printf("%s none\n", what);
		return;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%s %.2f %.2f (median and max ms over %d)\n", what, median, v[n - 1], n);
}

static int probe(int argc, char **argv)
{
	static struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER};
	pthread_t te, td;
	char err[512], release[] = "7", inst[16];
	double ann[PROBE_MAX], wd[PROBE_MAX];
	int n, nann = 0, nwd = 0, failures = 0;

	if (argc < 5)
		return 2;
	n = atoi(argv[4]);
	if (n < 1 || n > PROBE_MAX)
		return 2;
	p.app = argv[2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (etcd_client_new(&p.etcd, argv[1]) < 0 || docker_client_new(&p.docker, NULL) < 0)
		return 100;
	pthread_create(&te, NULL, etcd_main, &p);
	pthread_create(&td, NULL, docker_main, &p);
	struct timespec settle = {0, 300 * 1000000L}; /* let the event stream connect */
	nanosleep(&settle, NULL);
	for (int i = 0; i < n; i++) {
		struct docker_kv labels[] = {{"nap.app", p.app},
					     {"nap.release", release},
					     {"nap.instance", inst},
					     {"nap.napd", argc > 5 ? argv[5] : ""}};
		struct docker_container_spec spec = {.image = argv[3], .labels = labels,
						     .n_labels = argc > 5 ? 4 : 3};
		char *id = NULL;
		snprintf(inst, sizeof inst, "%d", 100 + i);
		if (docker_container_run(&id, p.docker, &spec, err, sizeof err) < 0) {
			printf("# run failed: %s\n", err);
			failures++;
			continue;
		}
		if (wait_slot(&p, &p.put[i], 3000) && wait_slot(&p, &p.started[i], 1000))
			ann[nann++] = (double)(p.put[i] - p.started[i]) / 1e6;
		else
			failures++, printf("# instance %d: key not seen within 3 s\n", 100 + i);
		docker_container_remove(p.docker, id, err, sizeof err);
		if (wait_slot(&p, &p.deleted[i], 3000) && wait_slot(&p, &p.died[i], 1000))
			wd[nwd++] = (double)(p.deleted[i] - p.died[i]) / 1e6;
		else
			failures++, printf("# instance %d: key not deleted within 3 s\n", 100 + i);
		free(id);
	}
	atomic_store(&p.cancel, 1);
	pthread_join(te, NULL);
	pthread_join(td, NULL);
	report("ANNOUNCE", ann, nann);
	report("WITHDRAW", wd, nwd);
	etcd_client_free(p.etcd);
	docker_client_free(p.docker);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		sock = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: discovery-etcd-client [-s SOCK] COMMAND ARGS...\n");
		return 2;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "resolve") == 0 && argc >= 2) {
		Nap__ResolveRequest req = NAP__RESOLVE_REQUEST__INIT;
		req.app = argv[1];
		req.release = argc > 2 ? (uint32_t)atoi(argv[2]) : 0;
		return unary("Resolve", &req.base, show_list);
	}
	if (strcmp(cmd, "watch") == 0)
		return watch(argc, argv);
	if (strcmp(cmd, "announce") == 0 && argc >= 6) {
		Nap__Endpoint ep = NAP__ENDPOINT__INIT, *eps[] = {&ep};
		Nap__AnnounceRequest req = NAP__ANNOUNCE_REQUEST__INIT;
		ep.app = argv[1];
		ep.host = argv[2];
		ep.port = (uint32_t)atoi(argv[3]);
		ep.instance = (uint32_t)atoi(argv[4]);
		ep.release = (uint32_t)atoi(argv[5]);
		req.n_endpoints = 1;
		req.endpoints = eps;
		return unary("Announce", &req.base, NULL);
	}
	if (strcmp(cmd, "withdraw") == 0 && argc >= 3) {
		Nap__WithdrawRequest req = NAP__WITHDRAW_REQUEST__INIT;
		uint32_t inst[16];
		req.app = argv[1];
		req.release = (uint32_t)atoi(argv[2]);
		for (int i = 3; i < argc && i - 3 < 16; i++)
			inst[req.n_instances++] = (uint32_t)atoi(argv[i]);
		req.instances = inst;
		return unary("Withdraw", &req.base, show_withdraw);
	}
	if (strcmp(cmd, "put") == 0 && argc >= 3) {
		Nap__Record req = NAP__RECORD__INIT;
		req.key = argv[1];
		req.value.data = (uint8_t *)argv[2];
		req.value.len = strlen(argv[2]);
		return unary("PutRecord", &req.base, NULL);
	}
	if ((strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0) && argc >= 2) {
		Nap__GetRecordsRequest req = NAP__GET_RECORDS_REQUEST__INIT;
		req.prefix = argv[1];
		return strcmp(cmd, "get") == 0 ? unary("GetRecords", &req.base, show_records)
					       : unary("DeleteRecords", &req.base, NULL);
	}
	if (strcmp(cmd, "probe") == 0)
		return probe(argc, argv);
	fprintf(stderr, "discovery-etcd-client: bad command or arguments\n");
	return 2;
}
