/* limits-call: a test tool that sends one nap.Control request built from its
 * arguments, sizes included, straight through libnap (no napc checks in the
 * way), and prints how it ended, for tests/limits/test-limits.sh.
 *
 *   limits-call SOCKET METHOD [FIELD=VALUE]...
 *
 * METHOD is Deploy, SetEnv, Scale or Hello2 (a second HELLO, then a Ping).
 * Fields: app=S, app-len=N, dir=S, dir-len=N, instances=N, env=K=V,
 * env-name=S (a variable named S, whatever S holds),
 * env-count=N (N variables), env-key-len=N, env-value-len=N, env-total=N
 * (variables of 30000 bytes up to about N bytes), unset-count=N. The end
 * prints "END <STATUS> <message>"; the exit status is the status code, or
 * 100 when napd could not be reached. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>
#include <nap/control.pb-c.h>

struct state {
	bool done;
	int status;
};

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct state *s = ud;
	if (r->end) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		s->done = true;
		s->status = r->status;
	}
}

/* Everything the tool allocates, freed before it exits (so that a
 * sanitizer build reports real leaks only). */
static void **owned;
static size_t nowned;

static void *own(void *p)
{
	void **v = p ? realloc(owned, (nowned + 1) * sizeof(*v)) : NULL;
	if (!v)
		exit(99);
	owned = v;
	owned[nowned++] = p;
	return p;
}

struct req {
	char *app, *dir;
	uint32_t instances;
	Nap__EnvVar **env;
	size_t n_env;
	char **unset;
	size_t n_unset;
};

static struct req *the_req;

static void free_owned(void)
{
	if (the_req)
		free(the_req->env);
	while (nowned)
		free(owned[--nowned]);
	free(owned);
}

/* A string of n copies of c, after an optional prefix. */
static char *repeat(const char *prefix, char c, size_t n)
{
	size_t p = strlen(prefix);
	char *s = own(malloc(p + n + 1));
	memcpy(s, prefix, p);
	memset(s + p, c, n);
	s[p + n] = '\0';
	return s;
}

static Nap__EnvVar *var(char *key, char *value)
{
	Nap__EnvVar *e = own(malloc(sizeof(*e)));
	nap__env_var__init(e);
	e->key = key;
	e->value = value;
	return e;
}

static void add_env(struct req *q, Nap__EnvVar *e)
{
	q->env = realloc(q->env, (q->n_env + 1) * sizeof(*q->env));
	if (!q->env)
		exit(99);
	q->env[q->n_env++] = e;
}

static void parse(struct req *q, char *arg)
{
	char *eq = strchr(arg, '=');
	if (!eq) {
		fprintf(stderr, "limits-call: '%s' is not FIELD=VALUE\n", arg);
		exit(2);
	}
	*eq++ = '\0';
	size_t n = strtoul(eq, NULL, 10);
	if (strcmp(arg, "app") == 0)
		q->app = eq;
	else if (strcmp(arg, "app-len") == 0)
		q->app = repeat("", 'a', n);
	else if (strcmp(arg, "dir") == 0)
		q->dir = eq;
	else if (strcmp(arg, "dir-len") == 0)
		q->dir = repeat("/", 'd', n - 1);
	else if (strcmp(arg, "instances") == 0)
		q->instances = (uint32_t)n;
	else if (strcmp(arg, "env") == 0) {
		char *v = strchr(eq, '=');
		if (!v)
			exit(2);
		*v++ = '\0';
		add_env(q, var(eq, v));
	} else if (strcmp(arg, "env-name") == 0) {
		add_env(q, var(eq, (char *)"v")); /* a name as it is, '=' and all */
	} else if (strcmp(arg, "env-count") == 0) {
		for (size_t i = 0; i < n; i++) {
			char *k = own(malloc(16));
			snprintf(k, 16, "K%zu", i);
			add_env(q, var(k, (char *)"v"));
		}
	} else if (strcmp(arg, "env-key-len") == 0) {
		add_env(q, var(repeat("", 'K', n), (char *)"v"));
	} else if (strcmp(arg, "env-value-len") == 0) {
		add_env(q, var((char *)"BIG", repeat("", 'x', n)));
	} else if (strcmp(arg, "env-total") == 0) {
		for (size_t i = 0, have = 0; have < n; i++) {
			char *k = own(malloc(16));
			snprintf(k, 16, "T%zu", i);
			size_t len = n - have > 30000 ? 30000 : n - have;
			add_env(q, var(k, repeat("", 'x', len)));
			have += strlen(k) + 1 + len;
		}
	} else if (strcmp(arg, "unset-count") == 0) {
		q->unset = own(calloc(n ? n : 1, sizeof(*q->unset)));
		for (size_t i = 0; i < n; i++)
			q->unset[i] = (char *)"K";
		q->n_unset = n;
	} else {
		fprintf(stderr, "limits-call: unknown field %s\n", arg);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: limits-call SOCKET METHOD [FIELD=VALUE]...\n");
		return 2;
	}
	const char *method = argv[2];
	static struct req q = {.app = (char *)"", .dir = (char *)""};
	the_req = &q;
	atexit(free_owned);
	for (int i = 3; i < argc; i++)
		parse(&q, argv[i]);
	nap_conn *conn;
	int r = nap_conn_connect(&conn, argv[1], "limits-call");
	if (r < 0) {
		printf("CONNECT %s\n", nap_strerror(r));
		return 100;
	}
	Nap__DeployRequest d = NAP__DEPLOY_REQUEST__INIT;
	Nap__SetEnvRequest s = NAP__SET_ENV_REQUEST__INIT;
	Nap__ScaleRequest sc = NAP__SCALE_REQUEST__INIT;
	Nap__PingRequest ping = NAP__PING_REQUEST__INIT;
	const ProtobufCMessage *req;
	const char *name = method;
	if (strcmp(method, "Deploy") == 0) {
		d.app = q.app;
		d.dir = q.dir;
		d.instances = q.instances;
		d.env = q.env;
		d.n_env = q.n_env;
		req = &d.base;
	} else if (strcmp(method, "SetEnv") == 0) {
		s.app = q.app;
		s.set = q.env;
		s.n_set = q.n_env;
		s.unset = q.unset;
		s.n_unset = q.n_unset;
		req = &s.base;
	} else if (strcmp(method, "Scale") == 0) {
		sc.app = q.app;
		sc.instances = q.instances;
		req = &sc.base;
	} else if (strcmp(method, "Hello2") == 0) {
		/* A client that says HELLO again, claiming a service. */
		Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
		char *services[] = {(char *)"nap.Builder"};
		h.protocol_major = NAP_PROTOCOL_MAJOR;
		h.peer_name = (char *)"limits-call";
		h.services = services;
		h.n_services = 1;
		nap_conn_send_hello(conn, &h);
		name = "Ping";
		req = &ping.base;
	} else {
		fprintf(stderr, "limits-call: unknown method %s\n", method);
		nap_conn_free(conn);
		return 2;
	}
	int m = nap_method_index(&nap__control__descriptor, name);
	struct state st = {0};
	nap_call *call;
	r = nap_call_start(&call, conn, "nap.Control", (uint32_t)m, req, 30000, on_reply, &st);
	if (r < 0) {
		printf("START %s\n", nap_strerror(r));
		nap_conn_free(conn);
		return 100;
	}
	while (!st.done) {
		if (nap_conn_wait(conn, -1) < 0 && !st.done) {
			printf("LOST\n");
			nap_conn_free(conn);
			return 100;
		}
	}
	nap_conn_free(conn);
	return st.status;
}
