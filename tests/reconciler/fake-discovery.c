/* Test fixture: fake-discovery, a nap.Discovery in memory (see
 * fake-discovery.h).
 *
 * Endpoints are keyed as discovery-etcd keys them (/services/<app>/
 * <host>:<instance>): announcing the same app, host and instance again
 * replaces the entry. Resolve and Watch list them by instance, release and
 * host, with url "http://host:port". Watch sends the app's list (of the
 * asked release, 0 = all) at once and again after every change to it, and
 * ends OK once a list it sent held min_instances endpoints (when given).
 * Endpoints live in memory only: after a crash they are gone, as leased
 * keys would be. Records: fake-records.c (setting state_file).
 *
 * Setting control_socket = PATH opens the control channel (fake-control.h):
 *   endpoints APP     "HOST:PORT INSTANCE RELEASE" lines
 *   records [PREFIX]  "KEY VALUE" lines (line breaks in values as blanks)
 *   crash             the plugin aborts */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nap/discovery.pb-c.h>
#include <nap/limits.h>
#include <nap/names.h>

#include "endpoint.h"
#include "fake-discovery.h"

static struct fdisc the_fd = {.lock = PTHREAD_MUTEX_INITIALIZER,
			      .changed = PTHREAD_COND_INITIALIZER};

static bool check_app(struct fdisc *d, nap_plugin_call *call, const char *app)
{
	if (nap_app_name_valid(app))
		return true;
	d->host->end(call, NAP_INVALID_ARGUMENT,
		     "app name \"%.70s\" is not valid: use 1-63 characters of [a-z0-9-], "
		     "starting with a letter",
		     app ? app : "");
	return false;
}

static void changed(struct fdisc *d)
{
	d->gen++;
	pthread_cond_broadcast(&d->changed);
}

static void fd_announce(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__AnnounceRequest *in = (const Nap__AnnounceRequest *)request;
	int r = 0;

	if (fake_fault_begin(d->host, call, "Announce"))
		return;
	if (in->n_endpoints > NAP_ENDPOINTS_MAX) {
		d->host->end(call, NAP_INVALID_ARGUMENT,
			     "%zu endpoints in one call: the limit is %u", in->n_endpoints,
			     NAP_ENDPOINTS_MAX);
		return;
	}
	for (size_t i = 0; i < in->n_endpoints; i++) {
		const Nap__Endpoint *e = in->endpoints[i];
		if (!check_app(d, call, e->app))
			return;
		if (!endpoint_host_valid(e->host) || e->port < 1 || e->port > 65535) {
			d->host->end(call, NAP_INVALID_ARGUMENT,
				     "endpoint %zu of %s: give a host name or address and a port "
				     "from 1 to 65535 (got \"%.70s\" port %u)",
				     i + 1, e->app, e->host ? e->host : "", e->port);
			return;
		}
	}
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < in->n_endpoints && r == 0; i++) {
		const Nap__Endpoint *e = in->endpoints[i];
		size_t j = 0;
		while (j < d->n_eps &&
		       !(d->eps[j].instance == e->instance && strcmp(d->eps[j].app, e->app) == 0 &&
			 strcmp(d->eps[j].host, e->host) == 0))
			j++;
		if (j == d->n_eps && d->n_eps == d->cap_eps) {
			size_t cap = d->cap_eps ? 2 * d->cap_eps : 16;
			struct fdep *v = realloc(d->eps, cap * sizeof *v);
			if (!v) {
				r = -ENOMEM;
				break;
			}
			d->eps = v;
			d->cap_eps = cap;
		}
		if (j == d->n_eps)
			d->n_eps++;
		struct fdep *ep = &d->eps[j];
		snprintf(ep->app, sizeof ep->app, "%s", e->app);
		snprintf(ep->host, sizeof ep->host, "%s", e->host);
		ep->port = e->port;
		ep->instance = e->instance;
		ep->release = e->release;
	}
	changed(d);
	pthread_mutex_unlock(&d->lock);
	if (r < 0) {
		d->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-discovery: out of memory");
		return;
	}
	Nap__AnnounceReply out = NAP__ANNOUNCE_REPLY__INIT;
	fake_fault_end(d->host, "Announce");
	d->host->reply(call, &out.base);
}

static void fd_withdraw(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__WithdrawRequest *in = (const Nap__WithdrawRequest *)request;
	size_t kept = 0;

	if (fake_fault_begin(d->host, call, "Withdraw") || !check_app(d, call, in->app))
		return;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_eps; i++) {
		const struct fdep *ep = &d->eps[i];
		bool want = strcmp(ep->app, in->app) == 0 &&
			    (!in->release || in->release == ep->release);
		if (want && in->n_instances) {
			want = false;
			for (size_t j = 0; j < in->n_instances; j++)
				want = want || in->instances[j] == ep->instance;
		}
		if (!want)
			d->eps[kept++] = *ep;
	}
	Nap__WithdrawReply out = NAP__WITHDRAW_REPLY__INIT;
	out.removed = (uint32_t)(d->n_eps - kept);
	d->n_eps = kept;
	if (out.removed)
		changed(d);
	pthread_mutex_unlock(&d->lock);
	fake_fault_end(d->host, "Withdraw");
	d->host->reply(call, &out.base);
}

/* The endpoints of one app, as a message (lock held while building). */
struct list_buf {
	Nap__EndpointList list;
	Nap__Endpoint *eps;
	Nap__Endpoint **ptrs;
	struct fdep *copy;
	char (*urls)[300];
};

static void list_release(struct list_buf *b)
{
	free(b->eps);
	free(b->ptrs);
	free(b->copy);
	free(b->urls);
}

static int cmp_endpoint(const void *a, const void *b)
{
	const Nap__Endpoint *x = *(Nap__Endpoint *const *)a, *y = *(Nap__Endpoint *const *)b;
	if (x->instance != y->instance)
		return x->instance < y->instance ? -1 : 1;
	if (x->release != y->release)
		return x->release < y->release ? -1 : 1;
	return strcmp(x->host, y->host);
}

/* Copies what it needs: the list stays valid once the lock is released.
 * Returns the endpoint count, or -ENOMEM. */
static int list_build(struct list_buf *b, struct fdisc *d, const char *app, uint32_t release)
{
	size_t n = 0, cap = d->n_eps ? d->n_eps : 1;

	*b = (struct list_buf){0};
	nap__endpoint_list__init(&b->list);
	b->list.app = (char *)app;
	b->eps = calloc(cap, sizeof *b->eps);
	b->ptrs = calloc(cap, sizeof *b->ptrs);
	b->copy = calloc(cap, sizeof *b->copy);
	b->urls = calloc(cap, sizeof *b->urls);
	if (!b->eps || !b->ptrs || !b->copy || !b->urls) {
		list_release(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_eps; i++) {
		const struct fdep *ep = &d->eps[i];
		if (strcmp(ep->app, app) != 0 || (release && release != ep->release))
			continue;
		b->copy[n] = *ep;
		Nap__Endpoint *e = &b->eps[n];
		nap__endpoint__init(e);
		e->app = b->copy[n].app;
		e->host = b->copy[n].host;
		e->port = ep->port;
		e->instance = ep->instance;
		e->release = ep->release;
		snprintf(b->urls[n], sizeof b->urls[n],
			 strchr(ep->host, ':') ? "http://[%s]:%u" : "http://%s:%u", ep->host,
			 ep->port);
		e->url = b->urls[n];
		b->ptrs[n++] = e;
	}
	if (n > 1)
		qsort(b->ptrs, n, sizeof *b->ptrs, cmp_endpoint);
	b->list.n_endpoints = n;
	b->list.endpoints = b->ptrs;
	return (int)n;
}

static void fd_resolve(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__ResolveRequest *in = (const Nap__ResolveRequest *)request;
	struct list_buf b;

	if (fake_fault_begin(d->host, call, "Resolve") || !check_app(d, call, in->app))
		return;
	pthread_mutex_lock(&d->lock);
	int n = list_build(&b, d, in->app, in->release);
	pthread_mutex_unlock(&d->lock);
	if (n < 0) {
		d->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-discovery: out of memory");
		return;
	}
	fake_fault_end(d->host, "Resolve");
	d->host->reply(call, &b.list.base);
	list_release(&b);
}

static void fd_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__ResolveRequest *in = (const Nap__ResolveRequest *)request;
	uint8_t *last = NULL;
	size_t last_len = 0;
	bool first = true, cancelled = false;
	int status = NAP_CANCELLED;

	if (fake_fault_begin(d->host, call, "Watch") || !check_app(d, call, in->app))
		return;
	pthread_mutex_lock(&d->lock);
	uint64_t seen = d->gen;
	for (;;) {
		struct list_buf b;
		int n = list_build(&b, d, in->app, in->release);
		pthread_mutex_unlock(&d->lock);
		if (n < 0) {
			status = NAP_RESOURCE_EXHAUSTED;
			break;
		}
		size_t len = nap__endpoint_list__get_packed_size(&b.list);
		uint8_t *packed = malloc(len ? len : 1);
		if (packed)
			nap__endpoint_list__pack(&b.list, packed);
		/* Only a list that changed goes out (another app's change, or
		 * another release's, does not). */
		if (packed && (first || len != last_len || memcmp(packed, last, len) != 0)) {
			cancelled = d->host->send(call, &b.list.base) < 0;
			free(last);
			last = packed;
			last_len = len;
			first = false;
			if (in->min_instances && (uint32_t)n >= in->min_instances) {
				status = NAP_OK;
				list_release(&b);
				break;
			}
		} else {
			free(packed);
		}
		list_release(&b);
		if (!packed) {
			status = NAP_RESOURCE_EXHAUSTED;
			break;
		}
		pthread_mutex_lock(&d->lock);
		while (d->gen == seen && !d->stop &&
		       !(cancelled = cancelled || d->host->cancelled(call))) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->changed, &d->lock, &ts);
		}
		seen = d->gen;
		if (cancelled || d->stop) {
			status = cancelled ? NAP_CANCELLED : NAP_UNAVAILABLE;
			pthread_mutex_unlock(&d->lock);
			break;
		}
	}
	free(last);
	if (status == NAP_OK)
		d->host->end(call, NAP_OK, "%s", "");
	else if (status == NAP_CANCELLED)
		d->host->end(call, NAP_CANCELLED, "watch of %s cancelled", in->app);
	else
		d->host->end(call, status, "fake-discovery: watch of %s ended", in->app);
}

static const char *control(int argc, char **argv, FILE *out, char *err, size_t len, void *ud)
{
	struct fdisc *d = ud;
	(void)err;
	(void)len;

	if (strcmp(argv[0], "endpoints") == 0 && argc == 2) {
		struct list_buf b;
		pthread_mutex_lock(&d->lock);
		int n = list_build(&b, d, argv[1], 0);
		pthread_mutex_unlock(&d->lock);
		if (n < 0)
			return "out of memory";
		for (int i = 0; i < n; i++) {
			const Nap__Endpoint *e = b.list.endpoints[i];
			fprintf(out, "%s:%u %u %u\n", e->host, e->port, e->instance, e->release);
		}
		list_release(&b);
		return NULL;
	}
	if (strcmp(argv[0], "records") == 0 && argc <= 2) {
		pthread_mutex_lock(&d->lock);
		fd_records_print(d, argc == 2 ? argv[1] : "", out);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	return "commands: endpoints APP, records [PREFIX], crash, and the fault commands";
}

static int fd_init(const nap_host *h, void **statep)
{
	struct fdisc *d = &the_fd;
	const char *path = h->config("control_socket");
	int r;

	d->host = h;
	d->state_file = h->config("state_file");
	if (d->state_file && (d->state_file[0] != '/' || strlen(d->state_file) > 4000)) {
		h->log(NAP_LOG_ERROR, "fake-discovery: state_file = %s: give an absolute path",
		       d->state_file);
		return -EINVAL;
	}
	if ((r = fd_records_load(d)) < 0)
		return r;
	if (path && (r = fake_control_start(&d->control, "fake-discovery", path, control, d))) {
		h->log(NAP_LOG_ERROR, "fake-discovery: control_socket = %s: %s", path,
		       strerror(-r));
		return r == -ENAMETOOLONG ? -EINVAL : r;
	}
	*statep = d;
	return 0;
}

/* Handler threads may still run (the host exits right after): the state
 * stays allocated; watches are told to end. */
static void fd_shutdown(void *state)
{
	struct fdisc *d = state;
	fake_control_stop(d->control);
	d->control = NULL;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

static const struct nap_plugin_method fd_methods[] = {
	{"Announce", fd_announce, 0},
	{"Withdraw", fd_withdraw, 0},
	{"Resolve", fd_resolve, 0},
	{"Watch", fd_watch, 0},
	{"PutRecord", fd_put_record, 0},
	{"GetRecords", fd_get_records, 0},
	{"DeleteRecords", fd_delete_records, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service fd_services[] = {
	{&nap__discovery__descriptor, fd_methods},
	{NULL, NULL},
};

static const struct nap_plugin fd_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "fake-discovery",
	.version = "0.0",
	.description = "test fixture: a nap.Discovery in memory (records in a file)",
	.services = fd_services,
	.init = fd_init,
	.shutdown = fd_shutdown,
};

NAP_PLUGIN_DEFINE(fd_plugin)
