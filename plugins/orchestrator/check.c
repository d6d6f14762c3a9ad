/* The checker: readiness and liveness checks of every running instance,
 * from this process. A check is a TCP connection to the instance's
 * published port, or an HTTP GET of the app's check path that must answer
 * 2xx or 3xx; with a Dockerfile HEALTHCHECK, Docker's verdict must be
 * "healthy" too. A starting instance is checked every starting_interval_ms,
 * a ready one every interval_ms of its app's check.
 *
 * Docker's userland proxy accepts a connection on a published port even
 * when nothing listens in the container, and closes it at once: so a TCP
 * check also waits PROXY_GRACE_MS for the connection to stay open (or to
 * bring data, for servers that speak first). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orchestrator.h"

#define PROXY_GRACE_MS 50
#define WORKER_GRACE_MS 1000u /* a worker that runs this long is ready */
#define TICK_MS 1000u
#define PROBE_THREADS 16 /* checks run at once: 40 starting instances take one round */

struct probe {
	char app[64];
	uint32_t release, instance;
	char id[160];
	char host[256];
	uint32_t port;
	char path[256];
	uint32_t timeout_ms;
	bool ok;
	char why[200];
};

static int remaining(uint64_t deadline)
{
	uint64_t now = mono_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

/* A connected socket to host:port within the deadline, or -1 with why. */
static int dial(const struct probe *p, uint64_t deadline, char *why, size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	char port[16];
	snprintf(port, sizeof(port), "%u", p->port);
	int r = getaddrinfo(p->host, port, &hints, &ai);
	if (r != 0) {
		snprintf(why, n, "cannot resolve %s: %s", p->host, gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		snprintf(why, n, "connection to %s:%u: %s", p->host, p->port, strerror(errno));
		close(fd);
		fd = -1;
	} else if (fd >= 0) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof(err);
		if (poll(&pf, 1, remaining(deadline)) <= 0) {
			snprintf(why, n, "no connection to %s:%u within %u ms", p->host, p->port,
				 p->timeout_ms);
			close(fd);
			fd = -1;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			snprintf(why, n, "connection to %s:%u: %s", p->host, p->port,
				 strerror(err ? err : errno));
			close(fd);
			fd = -1;
		}
	} else {
		snprintf(why, n, "socket: %s", strerror(errno));
	}
	freeaddrinfo(ai);
	return fd;
}

static void check_tcp(struct probe *p, int fd, uint64_t deadline)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	int wait = remaining(deadline) < PROXY_GRACE_MS ? remaining(deadline) : PROXY_GRACE_MS;
	char c;
	if (poll(&pf, 1, wait) == 1 && recv(fd, &c, 1, MSG_PEEK) <= 0) {
		snprintf(p->why, sizeof(p->why),
			 "%s:%u accepted and closed the connection at once (nothing listens "
			 "behind the published port yet)",
			 p->host, p->port);
		return;
	}
	p->ok = true;
}

static void check_http(struct probe *p, int fd, uint64_t deadline)
{
	char req[600], buf[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: nap-check\r\n"
			 "Connection: close\r\n\r\n",
			 p->path, p->host, p->port);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(p->why, sizeof(p->why), "GET %s: cannot send: %s", p->path,
			 strerror(errno));
		return;
	}
	size_t got = 0;
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, remaining(deadline)) <= 0) {
			snprintf(p->why, sizeof(p->why), "GET %s: no answer within %u ms", p->path,
				 p->timeout_ms);
			return;
		}
		ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0) {
			snprintf(p->why, sizeof(p->why),
				 "GET %s: connection closed before an answer", p->path);
			return;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	unsigned code = 0;
	if (sscanf(buf, "HTTP/%*u.%*u %u", &code) != 1) {
		snprintf(p->why, sizeof(p->why), "GET %s: not an HTTP answer", p->path);
		return;
	}
	if (code < 200 || code >= 400) {
		snprintf(p->why, sizeof(p->why), "GET %s answered %u", p->path, code);
		return;
	}
	p->ok = true;
}

static void run_probe(struct probe *p)
{
	uint64_t deadline = mono_ms() + p->timeout_ms;
	p->ok = false;
	int fd = dial(p, deadline, p->why, sizeof(p->why));
	if (fd < 0)
		return;
	if (p->path[0])
		check_http(p, fd, deadline);
	else
		check_tcp(p, fd, deadline);
	close(fd);
}

/* A worker (no published port) has nothing to connect to: it is ready once
 * it has run WORKER_GRACE_MS without exiting, and while its HEALTHCHECK (if
 * any) says healthy; it turns unhealthy when the HEALTHCHECK does. */
static void worker_ready(struct app *a, struct slot *s, uint64_t now, uint64_t *next)
{
	bool docker_ok = !s->health[0] || strcmp(s->health, "healthy") == 0;
	if (s->phase == PHASE_READY) {
		if (strcmp(s->health, "unhealthy") == 0) {
			snprintf(s->last_check, sizeof(s->last_check),
				 "the image's HEALTHCHECK says unhealthy");
			slot_phase(s, PHASE_UNHEALTHY);
			orch_changed(a);
		}
		return;
	}
	if (s->next_check_ms + WORKER_GRACE_MS > now) {
		if (s->next_check_ms + WORKER_GRACE_MS < *next)
			*next = s->next_check_ms + WORKER_GRACE_MS;
		return;
	}
	if (!docker_ok) {
		snprintf(s->last_check, sizeof(s->last_check),
			 "running, but the image's HEALTHCHECK says %s", s->health);
		return;
	}
	snprintf(s->last_check, sizeof(s->last_check), "running (no port to check)");
	slot_phase(s, PHASE_READY);
	s->was_ready = true;
	s->ready_at_ms = now;
	orch_changed(a);
}

/* The probes that are due (lock held); *next gets when the next one is. */
static size_t collect(struct probe **out, uint64_t *next)
{
	uint64_t now = mono_ms();
	size_t n = 0, cap = 0;
	*out = NULL;
	*next = now + TICK_MS;
	for (struct app *a = O.apps; a; a = a->next) {
		if (!a->rec)
			continue;
		Nap__Check c;
		rec_check(a->rec, &c);
		for (size_t i = 0; i < a->nslots; i++) {
			struct slot *s = &a->slots[i];
			if (!s->running || !s->wanted ||
			    (s->phase != PHASE_STARTING && s->phase != PHASE_READY))
				continue;
			if (!s->port) {
				worker_ready(a, s, now, next);
				continue;
			}
			if (s->next_check_ms > now) {
				if (s->next_check_ms < *next)
					*next = s->next_check_ms;
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				struct probe *v = realloc(*out, cap * sizeof(*v));
				if (!v)
					return n;
				*out = v;
			}
			struct probe *p = &(*out)[n++];
			snprintf(p->app, sizeof(p->app), "%s", a->name);
			p->release = s->release;
			p->instance = s->instance;
			snprintf(p->id, sizeof(p->id), "%s", s->id);
			snprintf(p->host, sizeof(p->host), "%s", s->host);
			p->port = s->port;
			snprintf(p->path, sizeof(p->path), "%s", c.http_path);
			p->timeout_ms = c.timeout_ms;
			s->next_check_ms = now + (s->phase == PHASE_READY
							  ? c.interval_ms
							  : O.check.starting_interval_ms);
		}
	}
	return n;
}

static void apply(const struct probe *p)
{
	struct app *a = app_find(p->app);
	struct slot *s = a ? slot_find(a, p->release, p->instance) : NULL;
	if (!s || strcmp(s->id, p->id) != 0 || !s->running)
		return; /* it changed meanwhile */
	Nap__Check c;
	rec_check(a->rec, &c);
	bool docker_ok = !s->health[0] || strcmp(s->health, "healthy") == 0;
	bool docker_bad = strcmp(s->health, "unhealthy") == 0;
	snprintf(s->last_check, sizeof(s->last_check), "%s", p->ok ? "ok" : p->why);
	if (p->ok && !docker_ok)
		snprintf(s->last_check, sizeof(s->last_check),
			 "ok, but the image's HEALTHCHECK "
			 "says %s",
			 s->health);
	if (s->phase == PHASE_STARTING) {
		if (p->ok && docker_ok) {
			slot_phase(s, PHASE_READY);
			s->was_ready = true;
			s->ready_at_ms = mono_ms();
			s->fails = 0;
			s->next_check_ms = mono_ms() + c.interval_ms;
			orch_changed(a);
		}
		return;
	}
	if (p->ok && !docker_bad) {
		s->fails = 0;
		return;
	}
	s->fails++;
	if (s->fails >= c.failures || docker_bad) {
		O.host->log(NAP_LOG_NOTICE,
			    "orchestrator: %s instance %u (release %u) is unhealthy: %s", a->name,
			    s->instance, s->release, s->last_check);
		slot_phase(s, PHASE_UNHEALTHY);
		orch_changed(a);
	}
}

struct batch {
	struct probe *probes;
	size_t n;
	atomic_size_t next;
};

static void *probe_worker(void *arg)
{
	struct batch *b = arg;
	for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->n;)
		run_probe(&b->probes[i]);
	return NULL;
}

/* Runs the probes on up to PROBE_THREADS threads (each may wait up to its
 * timeout, and a TCP check waits PROXY_GRACE_MS). */
static void run_all(struct probe *probes, size_t n)
{
	struct batch b = {.probes = probes, .n = n};
	pthread_t t[PROBE_THREADS];
	size_t started = 0;
	atomic_init(&b.next, 0);
	for (; started + 1 < n && started < PROBE_THREADS; started++)
		if (pthread_create(&t[started], NULL, probe_worker, &b) != 0)
			break;
	probe_worker(&b);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
}

void *check_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&O.lock);
	while (!atomic_load(&O.stopping)) {
		struct probe *probes;
		uint64_t next;
		size_t n = collect(&probes, &next);
		if (!n) {
			uint64_t now = mono_ms();
			orch_wait(next > now ? (uint32_t)(next - now) : 1);
			continue;
		}
		pthread_mutex_unlock(&O.lock);
		run_all(probes, n);
		pthread_mutex_lock(&O.lock);
		for (size_t i = 0; i < n; i++)
			apply(&probes[i]);
		free(probes);
	}
	pthread_mutex_unlock(&O.lock);
	return NULL;
}
