/* soak-client: many simulated users of napd at once, for the soak.
 *
 *   soak-client --socket PATH --clients N --seconds S [--apps A,B,...]
 *               [--think-ms MS] [--seed N]
 *
 * One process, one poll loop, N connections (one per simulated user), each
 * doing one thing at a time picked at random: nap.Control Ping, Endpoints of
 * one of the apps, or WatchEndpoints of one held for a few seconds and then
 * left the way a user leaves `napc endpoints --watch`: mostly by cancelling,
 * sometimes by closing the connection. Now and then a user reconnects, as
 * each napc run does. Between actions a user thinks 0..2*MS ms.
 *
 * A call that should have succeeded and did not is a failure: a Ping that
 * fails, an Endpoints that fails with anything but NOT_FOUND (the app may
 * be in the middle of its destroy), a watch that ends by itself with
 * anything but OK or NOT_FOUND, a lost connection or one that cannot be
 * made. Prints "name: value" lines (calls by kind, failures, latency
 * percentiles; a watch's latency is the time to its first list) and the
 * first few failures on stderr. Exits 0 when there was no failure, 1 if
 * there was, 2 on bad usage. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>

enum kind {
	PING,
	ENDPOINTS,
	WATCH,
	NKINDS
};
static const char *const kind_name[NKINDS] = {"ping", "endpoints", "watch"};

/* Latencies in microseconds, kept in a growing array per kind. */
struct samples {
	uint32_t *v;
	size_t n, cap;
};

static struct {
	uint64_t calls[NKINDS];
	uint64_t failures[NKINDS];
	uint64_t watch_updates;
	uint64_t reconnects;
	uint64_t conn_failures; /* lost or refused connections */
	uint64_t not_found;
	struct samples lat[NKINDS];
	unsigned reported;
} S;

struct client {
	nap_conn *conn;
	nap_call *call; /* the call in flight, NULL when idle */
	enum kind kind;
	const char *app;
	uint64_t started;  /* usec */
	uint64_t next_at;  /* idle until then */
	uint64_t leave_at; /* a watch is left then */
	bool got_first;    /* a watch's first list came */
	bool leaving;      /* we cancel or close: the end that follows is ours */
	bool conn_dead;    /* the close callback ran */
};

static unsigned opt_think_ms = 100;
static uint32_t m_ping, m_endpoints, m_watch; /* nap.Control method indices */
static char **apps;
static size_t napps;
static const char *sock_path;

static uint64_t rnd(uint64_t n)
{
	return n ? (uint64_t)random() % n : 0;
}

static void sample(enum kind k, uint64_t usec)
{
	struct samples *s = &S.lat[k];
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return; /* a sample less; the counts stay right */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
}

static void failure(struct client *c, enum kind k, int status, const char *message)
{
	S.failures[k]++;
	if (S.reported++ < 10)
		fprintf(stderr, "soak-client: %s%s%s failed: %s: %s\n", kind_name[k],
			c->app ? " of " : "", c->app ? c->app : "", nap_status_name(status),
			message);
}

static void think(struct client *c)
{
	c->next_at = nap_now_usec() + rnd(2u * opt_think_ms * 1000u + 1);
}

static void call_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct client *c = ud;
	uint64_t now = nap_now_usec();
	if (!r->end) {
		/* Only watches stream. */
		S.watch_updates++;
		if (!c->got_first) {
			c->got_first = true;
			sample(WATCH, now - c->started);
		}
		return;
	}
	c->call = NULL;
	think(c);
	if (c->leaving) {
		c->leaving = false;
		return;
	}
	if (r->status == NAP_NOT_FOUND && c->kind != PING) {
		S.not_found++;
		return;
	}
	if (c->kind == WATCH) {
		/* A watch ends by itself only on an error (or OK, if napd
		 * ever gives it a min_instances). */
		if (r->status != NAP_OK)
			failure(c, WATCH, r->status, r->message);
		return;
	}
	if (r->status != NAP_OK) {
		failure(c, c->kind, r->status, r->message);
		return;
	}
	sample(c->kind, now - c->started);
}

static void on_close(nap_conn *conn, int err, int status, const char *message, void *ud)
{
	(void)conn;
	(void)err;
	struct client *c = ud;
	c->conn_dead = true;
	if (c->leaving)
		return;
	S.conn_failures++;
	if (S.reported++ < 10)
		fprintf(stderr, "soak-client: connection lost: %s: %s\n", nap_status_name(status),
			message);
}

static void drop(struct client *c)
{
	c->leaving = true;      /* what ends now is our doing */
	nap_conn_free(c->conn); /* ends a call in flight through call_done */
	c->conn = NULL;
	c->call = NULL;
	c->leaving = false;
	c->conn_dead = false;
}

static bool connect_client(struct client *c)
{
	int r = nap_conn_connect(&c->conn, sock_path, "soak-client");
	if (r < 0) {
		c->conn = NULL;
		S.conn_failures++;
		if (S.reported++ < 10)
			fprintf(stderr, "soak-client: cannot connect to %s: %s\n", sock_path,
				nap_strerror(r));
		c->next_at = nap_now_usec() + 200000;
		return false;
	}
	nap_conn_set_close(c->conn, on_close, c);
	return true;
}

static void start_action(struct client *c)
{
	/* One action in 50 comes from a new connection, as from a new napc. */
	if (!c->conn || rnd(50) == 0) {
		if (c->conn)
			drop(c);
		S.reconnects++;
		if (!connect_client(c))
			return;
	}
	uint64_t pick = rnd(100);
	c->kind = pick < 45 ? PING : pick < 95 ? ENDPOINTS : WATCH;
	c->app = NULL;
	c->got_first = false;
	c->leaving = false;
	c->started = nap_now_usec();
	int r;
	if (c->kind == PING) {
		Nap__PingRequest req = NAP__PING_REQUEST__INIT;
		uint8_t payload[16] = "soak";
		req.payload.data = payload;
		req.payload.len = sizeof(payload);
		r = nap_call_start(&c->call, c->conn, "nap.Control", m_ping, &req.base, 10000,
				   call_done, c);
	} else {
		Nap__AppRequest req = NAP__APP_REQUEST__INIT;
		c->app = apps[rnd(napps)];
		req.app = (char *)c->app;
		if (c->kind == ENDPOINTS) {
			r = nap_call_start(&c->call, c->conn, "nap.Control", m_endpoints, &req.base,
					   10000, call_done, c);
		} else {
			r = nap_call_start(&c->call, c->conn, "nap.Control", m_watch, &req.base, 0,
					   call_done, c);
			c->leave_at = c->started + 1000000u + rnd(4000000u);
		}
	}
	S.calls[c->kind]++;
	if (r < 0) {
		c->call = NULL;
		failure(c, c->kind, NAP_UNAVAILABLE, nap_strerror(r));
		think(c);
	}
}

/* Leaves a watch: three times in four by cancelling, else by closing. */
static void leave_watch(struct client *c)
{
	if (rnd(4) == 0) {
		drop(c);
		think(c);
		return;
	}
	c->leaving = true;
	nap_call_cancel(c->call); /* call_done runs before this returns */
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const struct samples *s, double p)
{
	if (!s->n)
		return 0;
	return s->v[(size_t)(p * (double)(s->n - 1))] / 1000.0;
}

static void report(double seconds)
{
	uint64_t calls = 0, failures = S.conn_failures;
	struct samples all = {0};
	for (int k = 0; k < NKINDS; k++) {
		calls += S.calls[k];
		failures += S.failures[k];
		qsort(S.lat[k].v, S.lat[k].n, sizeof(uint32_t), cmp_u32);
	}
	/* All unary calls together (watches excluded: their first list is a
	 * different measure). */
	all.cap = S.lat[PING].n + S.lat[ENDPOINTS].n;
	all.v = malloc((all.cap ? all.cap : 1) * sizeof(uint32_t));
	if (all.v) {
		memcpy(all.v, S.lat[PING].v, S.lat[PING].n * sizeof(uint32_t));
		memcpy(all.v + S.lat[PING].n, S.lat[ENDPOINTS].v,
		       S.lat[ENDPOINTS].n * sizeof(uint32_t));
		all.n = all.cap;
		qsort(all.v, all.n, sizeof(uint32_t), cmp_u32);
	}
	printf("calls: %llu\n", (unsigned long long)calls);
	for (int k = 0; k < NKINDS; k++)
		printf("calls_%s: %llu\n", kind_name[k], (unsigned long long)S.calls[k]);
	printf("calls_per_s: %.0f\n", (double)calls / seconds);
	printf("watch_updates: %llu\n", (unsigned long long)S.watch_updates);
	printf("reconnects: %llu\n", (unsigned long long)S.reconnects);
	printf("not_found: %llu\n", (unsigned long long)S.not_found);
	printf("failures: %llu\n", (unsigned long long)failures);
	for (int k = 0; k < NKINDS; k++)
		printf("failures_%s: %llu\n", kind_name[k], (unsigned long long)S.failures[k]);
	printf("failures_connection: %llu\n", (unsigned long long)S.conn_failures);
	printf("latency_p50_ms: %.2f\n", pct_ms(&all, 0.50));
	printf("latency_p99_ms: %.2f\n", pct_ms(&all, 0.99));
	printf("latency_max_ms: %.2f\n", all.n ? all.v[all.n - 1] / 1000.0 : 0.0);
	for (int k = 0; k < NKINDS; k++) {
		printf("latency_%s_p50_ms: %.2f\n", kind_name[k], pct_ms(&S.lat[k], 0.50));
		printf("latency_%s_p99_ms: %.2f\n", kind_name[k], pct_ms(&S.lat[k], 0.99));
	}
	free(all.v);
}

static void split_apps(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		char **a = realloc(apps, (napps + 1) * sizeof(*a));
		if (!a)
			exit(1);
		apps = a;
		apps[napps++] = tok;
	}
}

int main(int argc, char **argv)
{
	unsigned nclients = 0, seconds = 0, seed = 1;
	char *app_list = NULL;
	static const struct option lo[] = {
		{"socket", 1, 0, 's'}, {"clients", 1, 0, 'c'},  {"seconds", 1, 0, 't'},
		{"apps", 1, 0, 'a'},   {"think-ms", 1, 0, 'k'}, {"seed", 1, 0, 'r'},
		{0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			sock_path = optarg;
			break;
		case 'c':
			nclients = (unsigned)atoi(optarg);
			break;
		case 't':
			seconds = (unsigned)atoi(optarg);
			break;
		case 'a':
			app_list = optarg;
			break;
		case 'k':
			opt_think_ms = (unsigned)atoi(optarg);
			break;
		case 'r':
			seed = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!sock_path || nclients == 0 || nclients > 10000 || seconds == 0) {
		fprintf(stderr, "usage: soak-client --socket PATH --clients N --seconds S "
				"[--apps A,B,...] [--think-ms MS] [--seed N]\n");
		return 2;
	}
	m_ping = (uint32_t)nap_method_index(&nap__control__descriptor, "Ping");
	m_endpoints = (uint32_t)nap_method_index(&nap__control__descriptor, "Endpoints");
	m_watch = (uint32_t)nap_method_index(&nap__control__descriptor, "WatchEndpoints");
	static char default_app[] = "soak-nothing";
	split_apps(app_list ? app_list : default_app);
	srandom(seed);
	signal(SIGPIPE, SIG_IGN);

	struct client *cl = calloc(nclients, sizeof(*cl));
	struct pollfd *pf = calloc(nclients, sizeof(*pf));
	size_t *who = calloc(nclients, sizeof(*who));
	if (!cl || !pf || !who)
		return 1;
	uint64_t t0 = nap_now_usec(), end = t0 + (uint64_t)seconds * 1000000u;
	/* Users arrive over the first second rather than all at once. */
	for (unsigned i = 0; i < nclients; i++)
		cl[i].next_at = t0 + rnd(1000000);

	for (uint64_t now = t0; now < end; now = nap_now_usec()) {
		uint64_t wake = now + 50000;
		size_t n = 0;
		for (unsigned i = 0; i < nclients; i++) {
			struct client *c = &cl[i];
			if (c->conn && c->conn_dead) {
				drop(c);
				think(c);
			}
			if (!c->call && now >= c->next_at)
				start_action(c);
			else if (c->call && c->kind == WATCH && now >= c->leave_at)
				leave_watch(c);
			if (!c->conn)
				continue;
			uint64_t t;
			if (nap_conn_get_timeout(c->conn, &t) == 0 && t < wake)
				wake = t;
			if (!c->call && c->next_at < wake)
				wake = c->next_at;
			if (c->call && c->kind == WATCH && c->leave_at < wake)
				wake = c->leave_at;
			pf[n] = (struct pollfd){.fd = nap_conn_get_fd(c->conn),
						.events = nap_conn_get_events(c->conn)};
			who[n++] = i;
		}
		now = nap_now_usec();
		int timeout = wake > now ? (int)((wake - now + 999) / 1000) : 0;
		int r = poll(pf, n, timeout);
		if (r < 0 && errno != EINTR) {
			perror("soak-client: poll");
			return 1;
		}
		now = nap_now_usec();
		for (size_t j = 0; j < n; j++) {
			struct client *c = &cl[who[j]];
			uint64_t t;
			/* Deadlines expire through process() too. */
			bool due = nap_conn_get_timeout(c->conn, &t) == 0 && t <= now;
			if ((pf[j].revents || due) && !c->conn_dead)
				nap_conn_process(c->conn);
		}
	}
	double took = (double)(nap_now_usec() - t0) / 1e6;
	/* What is still in flight was started in time and is left as a user
	 * leaves: by closing. */
	for (unsigned i = 0; i < nclients; i++) {
		if (!cl[i].conn)
			continue;
		cl[i].leaving = true;
		cl[i].conn_dead = true;
		nap_conn_free(cl[i].conn);
	}
	report(took);
	uint64_t failures = S.conn_failures;
	for (int k = 0; k < NKINDS; k++) {
		failures += S.failures[k];
		free(S.lat[k].v);
	}
	free(cl);
	free(pf);
	free(who);
	free(apps);
	return failures ? 1 : 0;
}
