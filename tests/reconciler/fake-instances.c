/* Test fixture: fake-scheduler's instances and their network thread (see
 * fake-scheduler.h).
 *
 * One thread does all the networking: every FAKE_TICK_MS (or when woken)
 * it fires the instances' timers (exit at once, start delay, flapping),
 * opens or closes each listener to match what the instance should be,
 * frees removed instances, and then polls the listeners and answers each
 * connection: an HTTP request gets "HTTP/1.0 <status>" and a short page, a
 * bare TCP connect (a readiness check) is simply closed. Only this thread
 * closes a listener, so a descriptor it polls stays valid while it does. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake-scheduler.h"

/* How long a client may take to send its request, and its largest size. */
#define SERVE_WAIT_MS 200
#define REQUEST_MAX 4096

/* A listener to poll, with what its answers say (copied under the lock). */
struct target {
	int fd;
	uint32_t status;
	char app[64];
	uint32_t release, instance;
};

/* A socket bound to 127.0.0.1:port (0 = any free port); -1 on failure. */
static int bind_loopback(uint32_t port, uint32_t *portp)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (portp)
		*portp = ntohs(sa.sin_port);
	return fd;
}

void fs_emit(struct fsched *fs, const char *kind, const struct fsnap *s)
{
	for (struct fwatcher *w = fs->watchers; w; w = w->next) {
		if (w->app[0] && strcmp(w->app, s->app) != 0)
			continue;
		struct fevent *e = calloc(1, sizeof *e);
		if (!e) {
			fs->host->log(NAP_LOG_ERROR, "fake-scheduler: out of memory: event lost");
			continue;
		}
		snprintf(e->kind, sizeof e->kind, "%s", kind);
		e->s = *s;
		if (w->tail)
			w->tail->next = e;
		else
			w->head = e;
		w->tail = e;
		pthread_cond_signal(&w->cond);
	}
}

static void count_run(struct fsched *fs, const char *app, uint64_t when)
{
	struct fapp_runs *r;

	for (r = fs->runs; r && strcmp(r->app, app) != 0; r = r->next)
		;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return;
		snprintf(r->app, sizeof r->app, "%s", app);
		r->next = fs->runs;
		fs->runs = r;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		uint64_t *t = realloc(r->times, cap * sizeof *t);
		if (!t)
			return;
		r->times = t;
		r->cap = cap;
	}
	r->times[r->n++] = when;
}

struct finst *fs_inst_start(struct fsched *fs, const char *app, uint32_t release, uint32_t instance,
			    const struct fbehaviour *b)
{
	struct finst *i = calloc(1, sizeof *i), **tail;

	if (!i)
		return NULL;
	if ((i->fd = bind_loopback(0, &i->s.port)) < 0) {
		int e = errno;
		free(i);
		errno = e;
		return NULL;
	}
	snprintf(i->s.app, sizeof i->s.app, "%s", app);
	i->s.release = release;
	i->s.instance = instance;
	i->s.running = true;
	i->s.started_ms = fake_now_ms();
	snprintf(i->s.id, sizeof i->s.id, "fake-%s-%u-%u-%llu", app, release, instance,
		 (unsigned long long)++fs->seq);
	i->b = *b;
	for (tail = &fs->insts; *tail; tail = &(*tail)->next)
		;
	*tail = i;
	count_run(fs, app, i->s.started_ms);
	fs_emit(fs, "started", &i->s);
	return i;
}

void fs_inst_die(struct fsched *fs, struct finst *i, int code)
{
	if (!i->s.running)
		return;
	i->s.running = false;
	i->s.exit_code = code;
	fs_emit(fs, "died", &i->s);
}

void fs_inst_remove(struct fsched *fs, struct finst *i)
{
	if (i->gone)
		return;
	i->gone = true;
	fs_emit(fs, "removed", &i->s);
}

void fs_apply(struct fsched *fs)
{
	uint64_t gen = ++fs->want_gen;

	if (write(fs->wake[1], "", 1) < 0 && errno != EAGAIN)
		fs->host->log(NAP_LOG_WARNING, "fake-scheduler: waking the network thread: %s",
			      strerror(errno));
	while (fs->done_gen < gen && !fs->stop)
		pthread_cond_wait(&fs->applied, &fs->lock);
}

static bool should_listen(const struct finst *i, uint64_t now)
{
	return i->s.running && !i->gone && !i->unhealthy && !i->b.exit_at_once && !i->flap_down &&
	       now >= i->s.started_ms + i->b.start_delay_ms;
}

static void close_listener(struct finst *i)
{
	if (i->fd >= 0)
		close(i->fd);
	i->fd = -1;
	i->listening = false;
}

/* Fires the instance's timers and opens or closes its listener. */
static void tick(struct fsched *fs, struct finst *i, uint64_t now)
{
	if (i->s.running && i->b.exit_at_once && now >= i->s.started_ms + FAKE_EXIT_AT_ONCE_MS)
		fs_inst_die(fs, i, i->b.exit_code);
	if (i->s.running && i->b.flap_ms && now >= i->s.started_ms + i->b.start_delay_ms) {
		if (!i->next_flap_ms) {
			i->next_flap_ms = now + i->b.flap_ms;
		} else if (now >= i->next_flap_ms) {
			i->flap_down = !i->flap_down;
			i->next_flap_ms += i->b.flap_ms;
			if (i->next_flap_ms <= now)
				i->next_flap_ms = now + i->b.flap_ms;
		}
	}
	if (!i->s.running) {
		close_listener(i);
		return;
	}
	if (!should_listen(i, now)) {
		/* A starting instance keeps its port bound but refuses; an
		 * unhealthy or flapping one closes it and binds it again. */
		if (i->listening)
			close_listener(i);
		return;
	}
	if (i->listening)
		return;
	if (i->fd < 0 && (i->fd = bind_loopback(i->s.port, NULL)) < 0) {
		fs->host->log(NAP_LOG_WARNING, "fake-scheduler: %s: port %u again: %s; retrying",
			      i->s.id, i->s.port, strerror(errno));
		return;
	}
	if (listen(i->fd, 64) < 0) {
		fs->host->log(NAP_LOG_WARNING, "fake-scheduler: %s: listen: %s", i->s.id,
			      strerror(errno));
		close_listener(i);
		return;
	}
	i->listening = true;
}

static const char *reason(uint32_t status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Fake";
	}
}

/* Answers one accepted connection and closes it. */
static void serve(int fd, const struct target *t)
{
	char req[REQUEST_MAX], body[200], head[300];
	size_t have = 0;
	uint64_t until = fake_now_ms() + SERVE_WAIT_MS;

	while (have < sizeof req - 1) {
		uint64_t now = fake_now_ms();
		struct pollfd p = {fd, POLLIN, 0};
		if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
			break;
		ssize_t n = recv(fd, req + have, sizeof req - 1 - have, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (have) {
		const char *why = reason(t->status);
		int blen = snprintf(body, sizeof body, "fake app=%s release=%u instance=%u\n",
				    t->app, t->release, t->instance);
		int hlen = snprintf(head, sizeof head,
				    "HTTP/1.0 %u %s\r\nContent-Type: text/plain\r\n"
				    "Content-Length: %d\r\nConnection: close\r\n\r\n",
				    t->status, why, blen);
		if (send(fd, head, (size_t)hlen, MSG_NOSIGNAL) == hlen)
			(void)send(fd, body, (size_t)blen, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
	}
	close(fd);
}

static void *net_main(void *arg)
{
	struct fsched *fs = arg;
	struct pollfd *pfds = NULL;
	struct target *targets = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stop) {
		uint64_t gen = fs->want_gen, now = fake_now_ms();
		size_t n = 0;

		for (struct finst **pp = &fs->insts; *pp;) {
			struct finst *i = *pp;
			bool was = i->listening;
			if (i->gone) {
				close_listener(i);
				if (was)
					fs_announce_queue(fs, &i->s, false);
				*pp = i->next;
				free(i);
				continue;
			}
			tick(fs, i, now);
			if (was != i->listening)
				fs_announce_queue(fs, &i->s, i->listening);
			n += i->listening;
			pp = &i->next;
		}
		if (n + 1 > cap) {
			size_t c = 2 * (n + 1);
			struct pollfd *p = realloc(pfds, c * sizeof *p);
			if (p)
				pfds = p;
			struct target *t = p ? realloc(targets, c * sizeof *t) : NULL;
			if (t) {
				targets = t;
				cap = c;
			}
		}
		if (!cap) { /* out of memory: try again in a while */
			pthread_mutex_unlock(&fs->lock);
			fake_sleep_ms(FAKE_TICK_MS);
			pthread_mutex_lock(&fs->lock);
			continue;
		}
		size_t k = 0;
		pfds[k++] = (struct pollfd){fs->wake[0], POLLIN, 0};
		for (struct finst *i = fs->insts; i && k < cap; i = i->next) {
			if (!i->listening)
				continue;
			struct target *t = &targets[k];
			t->fd = i->fd;
			t->status = i->b.http_status;
			snprintf(t->app, sizeof t->app, "%s", i->s.app);
			t->release = i->s.release;
			t->instance = i->s.instance;
			pfds[k++] = (struct pollfd){i->fd, POLLIN, 0};
		}
		fs->done_gen = gen;
		pthread_cond_broadcast(&fs->applied);
		pthread_mutex_unlock(&fs->lock);

		if (poll(pfds, k, FAKE_TICK_MS) > 0) {
			char drain[64];
			if (pfds[0].revents)
				while (read(fs->wake[0], drain, sizeof drain) > 0)
					;
			for (size_t j = 1; j < k; j++) {
				if (!pfds[j].revents)
					continue;
				int c = accept4(pfds[j].fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0)
					serve(c, &targets[j]);
			}
		}
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	free(pfds);
	free(targets);
	return NULL;
}

int fs_net_start(struct fsched *fs)
{
	if (pipe2(fs->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	int r = pthread_create(&fs->net, NULL, net_main, fs);
	if (r) {
		close(fs->wake[0]);
		close(fs->wake[1]);
		return -r;
	}
	return 0;
}

void fs_net_stop(struct fsched *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stop = true;
	pthread_cond_broadcast(&fs->applied);
	pthread_mutex_unlock(&fs->lock);
	if (write(fs->wake[1], "", 1) < 0 && errno != EAGAIN)
		fs->host->log(NAP_LOG_WARNING, "fake-scheduler: waking the network thread: %s",
			      strerror(errno));
	pthread_join(fs->net, NULL);
	/* The wake pipe stays open: a handler may still write to it. */
	pthread_mutex_lock(&fs->lock);
	for (struct finst *i = fs->insts; i; i = i->next)
		i->gone = true;
	while (fs->insts) {
		struct finst *i = fs->insts;
		fs->insts = i->next;
		close_listener(i);
		free(i);
	}
	for (struct fwatcher *w = fs->watchers; w; w = w->next)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&fs->lock);
}
