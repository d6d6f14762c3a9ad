/* discovery-etcd: Announce, Withdraw, Resolve and Watch.
 *
 * Resolve reads /services/<app> with one prefix range, which holds the
 * default port's keys (/services/<app>/...) and the extra ports'
 * (/services/<app>:<port>/...), and other apps' whose names start with
 * <app>, which are left out. Watch sends that list, then follows etcd's
 * watch API from the revision after the range (no polling) and sends the
 * whole list again after every change that concerns the requested release;
 * with min_instances it ends OK as soon as a list it sent held that many
 * instances (default ports) of the release. A broken watch
 * stream (etcd restarted) is resumed where it stopped. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nap/discovery.pb-c.h>
#include <nap/limits.h>

#include "discovery.h"

/* The endpoints of one app as last read or watched. */
struct epset {
	struct endpoint_record *v;
	char **keys;
	size_t n, cap;
};

static void epset_free(struct epset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->v);
	*s = (struct epset){0};
}

static ssize_t epset_find(const struct epset *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return (ssize_t)i;
	return -1;
}

static int epset_put(struct epset *s, const char *key, const struct endpoint_record *ep)
{
	ssize_t i = epset_find(s, key);

	if (i >= 0) {
		s->v[i] = *ep;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct endpoint_record *v = realloc(s->v, cap * sizeof *v);
		if (v)
			s->v = v;
		char **k = v ? realloc(s->keys, cap * sizeof *k) : NULL;
		if (!k)
			return -ENOMEM;
		s->keys = k;
		s->cap = cap;
	}
	if (!(s->keys[s->n] = strdup(key)))
		return -ENOMEM;
	s->v[s->n++] = *ep;
	return 0;
}

static void epset_remove(struct epset *s, size_t i)
{
	free(s->keys[i]);
	s->n--;
	s->keys[i] = s->keys[s->n];
	s->v[i] = s->v[s->n];
}

/* Reads every endpoint of app under prefix (endpoint_app_prefix()), which
 * may hold other apps' too; entries that do not parse are skipped. */
static int epset_load(struct epset *s, int64_t *revisionp, struct discovery *d, const char *prefix,
		      const char *app, char *err, size_t errlen)
{
	struct etcd_range range;
	int r = etcd_get(&range, d->etcd, prefix, true, 0, err, errlen);

	if (r < 0)
		return r;
	for (size_t i = 0; i < range.n && r == 0; i++) {
		struct endpoint_record ep;
		if (endpoint_record_parse(&ep, range.kvs[i].key, range.kvs[i].value,
					  range.kvs[i].value_len) == 0 &&
		    strcmp(ep.app, app) == 0)
			r = epset_put(s, range.kvs[i].key, &ep);
	}
	if (revisionp)
		*revisionp = range.revision;
	etcd_range_release(&range);
	return r;
}

static bool release_matches(uint32_t want, uint32_t have)
{
	return want == 0 || want == have;
}

/* By instance, then host, then port, the default port first: the order a
 * user reads them in. */
static int cmp_endpoint(const void *a, const void *b)
{
	const Nap__Endpoint *x = *(Nap__Endpoint *const *)a, *y = *(Nap__Endpoint *const *)b;
	int c;

	if (x->instance != y->instance)
		return x->instance < y->instance ? -1 : 1;
	if (x->release != y->release)
		return x->release < y->release ? -1 : 1;
	if ((c = strcmp(x->host, y->host)) != 0)
		return c;
	if (x->extra_port != y->extra_port)
		return x->extra_port ? 1 : -1;
	return x->container_port < y->container_port ? -1 : x->container_port > y->container_port;
}

/* The message for the endpoints of s with this release; the arrays it
 * points into are freed with list_release(). Returns how many instances it
 * holds (default ports), or -ENOMEM. */
struct list_buf {
	Nap__EndpointList list;
	Nap__Endpoint *eps;
	Nap__Endpoint **ptrs;
	char (*urls)[300];
};

static void list_release(struct list_buf *b)
{
	free(b->eps);
	free(b->ptrs);
	free(b->urls);
}

static int list_build(struct list_buf *b, const struct epset *s, const char *app, uint32_t release)
{
	size_t n = 0, instances = 0;

	*b = (struct list_buf){0};
	nap__endpoint_list__init(&b->list);
	b->list.app = (char *)app;
	if (s->n) {
		b->eps = calloc(s->n, sizeof *b->eps);
		b->ptrs = calloc(s->n, sizeof *b->ptrs);
		b->urls = calloc(s->n, sizeof *b->urls);
		if (!b->eps || !b->ptrs || !b->urls) {
			list_release(b);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct endpoint_record *ep = &s->v[i];
		if (!release_matches(release, ep->release))
			continue;
		Nap__Endpoint *e = &b->eps[n];
		nap__endpoint__init(e);
		e->app = (char *)ep->app;
		e->host = (char *)ep->host;
		e->port = ep->port;
		e->instance = ep->instance;
		e->release = ep->release;
		e->container_port = ep->container_port;
		e->extra_port = ep->extra;
		instances += !ep->extra;
		/* An IPv6 address needs brackets in a URL. */
		snprintf(b->urls[n], sizeof b->urls[n],
			 strchr(ep->host, ':') ? "http://[%s]:%u" : "http://%s:%u", ep->host,
			 ep->port);
		e->url = b->urls[n];
		b->ptrs[n++] = e;
	}
	if (n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(b->ptrs, n, sizeof *b->ptrs, cmp_endpoint);
	if (n > NAP_ENDPOINTS_MAX) /* a reply holds at most this many (nap/limits.h) */
		n = NAP_ENDPOINTS_MAX;
	b->list.n_endpoints = n;
	b->list.endpoints = b->ptrs;
	return (int)instances;
}

static bool check_app(nap_plugin_call *call, const char *app)
{
	if (nap_app_name_valid(app))
		return true;
	disc_host->end(call, NAP_INVALID_ARGUMENT,
		       "app name \"%.70s\" is not valid: use 1-63 characters of [a-z0-9-], "
		       "starting with a letter",
		       app ? app : "");
	return false;
}

/* ---- Announce, Withdraw, Resolve ---- */

void disc_announce(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__AnnounceRequest *in = (const Nap__AnnounceRequest *)request;
	char err[512];

	if (in->n_endpoints > NAP_ENDPOINTS_MAX) {
		disc_host->end(call, NAP_INVALID_ARGUMENT,
			       "%zu endpoints in one call: the limit is %u (NAP_ENDPOINTS_MAX)",
			       in->n_endpoints, NAP_ENDPOINTS_MAX);
		return;
	}
	for (size_t i = 0; i < in->n_endpoints; i++) {
		const Nap__Endpoint *e = in->endpoints[i];
		if (!check_app(call, e->app))
			return;
		if (!endpoint_host_valid(e->host) || e->port < 1 || e->port > 65535) {
			disc_host->end(call, NAP_INVALID_ARGUMENT,
				       "endpoint %zu of %s: give a host name or address and a port "
				       "from 1 to 65535 (got \"%.70s\" port %u)",
				       i + 1, e->app, e->host ? e->host : "", e->port);
			return;
		}
		if (e->container_port > 65535 || (e->extra_port && e->container_port == 0)) {
			disc_host->end(call, NAP_INVALID_ARGUMENT,
				       "endpoint %zu of %s: an extra port needs its container port "
				       "(1 to 65535; got %u)",
				       i + 1, e->app, e->container_port);
			return;
		}
	}
	for (size_t i = 0; i < in->n_endpoints; i++) {
		const Nap__Endpoint *e = in->endpoints[i];
		struct endpoint_record ep = {.port = e->port,
					     .instance = e->instance,
					     .release = e->release,
					     .container_port = e->container_port,
					     .extra = e->extra_port};
		snprintf(ep.app, sizeof ep.app, "%s", e->app);
		snprintf(ep.host, sizeof ep.host, "%s", e->host);
		int r = announcer_put(d->ann, &ep, ANN_FROM_CALL, NULL, err, sizeof err);
		if (r < 0) {
			disc_end_etcd_error(d, call, r, "announcing an endpoint", err);
			return;
		}
	}
	Nap__AnnounceReply out = NAP__ANNOUNCE_REPLY__INIT;
	disc_host->reply(call, &out.base);
}

void disc_withdraw(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__WithdrawRequest *in = (const Nap__WithdrawRequest *)request;
	struct epset s = {0};
	char prefix[128], err[512];
	uint32_t removed = 0;
	int r;

	if (!check_app(call, in->app))
		return;
	endpoint_app_prefix(prefix, sizeof prefix, in->app);
	r = epset_load(&s, NULL, d, prefix, in->app, err, sizeof err);
	for (size_t i = 0; r == 0 && i < s.n; i++) {
		bool want = release_matches(in->release, s.v[i].release);
		if (want && in->n_instances) {
			want = false;
			for (size_t j = 0; j < in->n_instances; j++)
				want = want || in->instances[j] == s.v[i].instance;
		}
		int64_t deleted = 0;
		if (want)
			r = announcer_delete(d->ann, s.keys[i], in->release, NULL, &deleted, err,
					     sizeof err);
		removed += (uint32_t)deleted;
	}
	epset_free(&s);
	if (r < 0) {
		disc_end_etcd_error(d, call, r, "withdrawing endpoints", err);
		return;
	}
	Nap__WithdrawReply out = NAP__WITHDRAW_REPLY__INIT;
	out.removed = removed;
	disc_host->reply(call, &out.base);
}

void disc_resolve(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__ResolveRequest *in = (const Nap__ResolveRequest *)request;
	struct epset s = {0};
	struct list_buf b;
	char prefix[128], err[512];
	int r;

	if (!check_app(call, in->app))
		return;
	endpoint_app_prefix(prefix, sizeof prefix, in->app);
	r = epset_load(&s, NULL, d, prefix, in->app, err, sizeof err);
	if (r < 0) {
		epset_free(&s);
		disc_end_etcd_error(d, call, r, "resolving endpoints", err);
		return;
	}
	if (list_build(&b, &s, in->app, in->release) < 0) {
		epset_free(&s);
		disc_host->end(call, NAP_RESOURCE_EXHAUSTED, "resolving endpoints: out of memory");
		return;
	}
	disc_host->reply(call, &b.list.base);
	list_release(&b);
	epset_free(&s);
}

/* ---- Watch ---- */

struct watch {
	struct discovery *d;
	nap_plugin_call *call;
	const Nap__ResolveRequest *in;
	struct epset set;
	atomic_int cancel; /* set by the canceller thread */
	atomic_int done;   /* tells the canceller thread to go */
	bool reached;      /* min_instances was met */
	int send_rc;
};

/* Turns the caller's cancel (or deadline) into the flag etcd_watch polls. */
static void *canceller_main(void *arg)
{
	struct watch *w = arg;
	while (!atomic_load(&w->done)) {
		if (disc_host->cancelled(w->call)) {
			atomic_store(&w->cancel, 1);
			break;
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Sends the current list; returns 1 when min_instances is met, 0 to go
 * on, or a negative errno. */
static int send_list(struct watch *w)
{
	struct list_buf b;
	int n = list_build(&b, &w->set, w->in->app, w->in->release);

	if (n < 0)
		return n;
	int r = disc_host->send(w->call, &b.list.base);
	list_release(&b);
	if (r < 0)
		return -ECANCELED;
	if (w->in->min_instances && (uint32_t)n >= w->in->min_instances) {
		w->reached = true;
		return 1;
	}
	return 0;
}

static int on_watch_event(void *user, const struct etcd_event *ev)
{
	struct watch *w = user;
	struct endpoint_record ep;
	bool concerns = false;

	if (disc_host->cancelled(w->call))
		return -ECANCELED;
	if (ev->type == ETCD_EVENT_PUT) {
		if (endpoint_record_parse(&ep, ev->kv->key, ev->kv->value, ev->kv->value_len) < 0 ||
		    strcmp(ep.app, w->in->app) != 0)
			return 0;
		ssize_t old = epset_find(&w->set, ev->kv->key);
		concerns = release_matches(w->in->release, ep.release) ||
			   (old >= 0 && release_matches(w->in->release, w->set.v[old].release));
		if (epset_put(&w->set, ev->kv->key, &ep) < 0)
			return -ENOMEM;
	} else if (ev->type == ETCD_EVENT_DELETE) {
		ssize_t old = epset_find(&w->set, ev->kv->key);
		if (old < 0)
			return 0;
		concerns = release_matches(w->in->release, w->set.v[old].release);
		epset_remove(&w->set, (size_t)old);
	}
	return concerns ? send_list(w) : 0;
}

void disc_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	struct watch w = {.d = d, .call = call, .in = (const Nap__ResolveRequest *)request};
	char prefix[128], err[512] = "";
	int64_t revision = 0, next = 0;
	pthread_t canceller;
	bool have_canceller;
	int backoff = 200, r;

	if (!check_app(call, w.in->app))
		return;
	endpoint_app_prefix(prefix, sizeof prefix, w.in->app);
	r = epset_load(&w.set, &revision, d, prefix, w.in->app, err, sizeof err);
	if (r < 0) {
		epset_free(&w.set);
		disc_end_etcd_error(d, call, r, "watching endpoints", err);
		return;
	}
	atomic_init(&w.cancel, 0);
	atomic_init(&w.done, 0);
	have_canceller = pthread_create(&canceller, NULL, canceller_main, &w) == 0;
	r = send_list(&w);
	next = revision + 1;
	while (r == 0) {
		struct etcd_watch_options opts = {.key = prefix,
						  .prefix = true,
						  .start_revision = next,
						  .cancel = &w.cancel};
		r = etcd_watch(&next, d->etcd, &opts, on_watch_event, &w, err, sizeof err);
		if (r == 0 || r == -ECANCELED || r == -ENOMEM || atomic_load(&w.cancel) ||
		    disc_host->cancelled(call))
			break;
		if (r == -ERANGE) {
			/* Compacted past where we were: read afresh. */
			epset_free(&w.set);
			r = epset_load(&w.set, &revision, d, prefix, w.in->app, err, sizeof err);
			if (r == 0) {
				next = revision + 1;
				r = send_list(&w);
			}
			continue;
		}
		/* etcd went away or closed the stream: resume where it stopped. */
		disc_host->log(NAP_LOG_INFO, "discovery-etcd: watch of %s: %s; resuming", prefix,
			       err);
		for (int slept = 0; slept < backoff && !disc_host->cancelled(call); slept += 50) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		r = 0;
		/* Read afresh rather than resume at `next`: an etcd that lost
		 * its data starts its revisions again from 1, and a watch from
		 * the old revision would miss every key put again until the
		 * count caught up. The list goes out again when etcd answers. */
		struct epset fresh = {0};
		if (!disc_host->cancelled(call) &&
		    epset_load(&fresh, &revision, d, prefix, w.in->app, err, sizeof err) == 0) {
			epset_free(&w.set);
			w.set = fresh;
			next = revision + 1;
			backoff = 200;
			r = send_list(&w);
		} else {
			epset_free(&fresh);
		}
	}
	atomic_store(&w.done, 1);

	if (have_canceller)
		pthread_join(canceller, NULL);
	epset_free(&w.set);
	if (w.reached || r == 0 || r > 0)
		disc_host->end(call, NAP_OK, "%s", "");
	else if (r == -ECANCELED || disc_host->cancelled(call))
		disc_host->end(call, NAP_CANCELLED, "watch of %s cancelled", w.in->app);
	else
		disc_end_etcd_error(d, call, r, "watching endpoints", err);
}
