/* discovery-etcd: following Docker, so that an entry appears the moment a
 * container starts and goes the moment it stops (the seed polled every 45 s
 * and left dead entries for 60 s).
 *
 * One thread: take a `since` timestamp, reconcile (announce every running
 * nap container that is ours to announce, see announced_by(); delete our
 * host's keys whose container is not running),
 * then follow GET /events from `since` so that nothing that happened during
 * the reconcile is missed. When the stream breaks (dockerd restarted), or
 * Docker or etcd cannot be reached, it waits (200 ms doubling to 5 s) and
 * starts over. Events replayed twice are harmless: every action is
 * idempotent. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

struct follower {
	struct discovery *d;
	pthread_t thread;
	atomic_int cancel;
	bool trouble; /* the last round failed (log transitions only) */
};

/* A list of keys (the running set during a reconcile). */
struct keyset {
	char **v;
	size_t n, cap;
};

static int keyset_add(struct keyset *s, const char *key)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(key)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static bool keyset_has(const struct keyset *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], key) == 0)
			return true;
	return false;
}

static void keyset_free(struct keyset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct keyset){0};
}

static int64_t now_nano(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps ms, or less if the follower is being stopped. */
static void nap_ms(struct follower *f, int ms)
{
	while (ms > 0 && !atomic_load(&f->cancel)) {
		int step = ms < 50 ? ms : 50;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static bool parse_u32(uint32_t *outp, const char *s)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*outp = (uint32_t)v;
	return true;
}

/* Fills ep's app, instance, release and host from a container's labels
 * (a JSON object). False if they are missing or not valid. */
static bool endpoint_from_labels(struct endpoint_record *ep, const struct discovery *d,
				 json_t *labels)
{
	const char *app = json_string_value(json_object_get(labels, NAP_LABEL_APP));

	*ep = (struct endpoint_record){0};
	if (!nap_app_name_valid(app) ||
	    !parse_u32(&ep->release,
		       json_string_value(json_object_get(labels, NAP_LABEL_RELEASE))) ||
	    !parse_u32(&ep->instance,
		       json_string_value(json_object_get(labels, NAP_LABEL_INSTANCE))))
		return false;
	strcpy(ep->app, app);
	strcpy(ep->host, d->self_host); /* checked in init to fit */
	return true;
}

/* Who announces a container (its label NAP_LABEL_ANNOUNCED_BY):
 *  - US: no label. We announce it when it starts and withdraw it when it
 *    stops.
 *  - ORCHESTRATOR: the orchestrator announces it (Announce) once its check
 *    passes; announcing it on start would publish an instance that is not
 *    ready. We withdraw it the moment it stops, which no readiness check
 *    can do as fast.
 *  - ELSEWHERE: another announcer (scheduler-fleet's sidekick unit) does
 *    both: a second one would add a second entry, or share the key under
 *    another lease so that the entry outlives the container.
 * The key of a running container of any kind counts as live when stale keys
 * are removed. */
enum announced_by {
	BY_US,
	BY_ORCHESTRATOR,
	BY_ELSEWHERE
};

static enum announced_by announced_by(json_t *labels)
{
	json_t *v = json_object_get(labels, NAP_LABEL_ANNOUNCED_BY);
	const char *s = json_string_value(v);

	if (!v)
		return BY_US;
	return s && strcmp(s, NAP_ANNOUNCED_BY_ORCHESTRATOR) == 0 ? BY_ORCHESTRATOR : BY_ELSEWHERE;
}

/* True if another container of ep's app, release and instance (of our
 * napd) runs: the orchestrator replaced the stopped one, and the key is the
 * replacement's (the Announce carries no container to check against). On
 * doubt (Docker does not answer) false: withdrawing a live instance only
 * costs it its entry until the orchestrator announces it again, keeping a
 * dead one sends clients to it. */
static bool replacement_runs(struct follower *f, const struct endpoint_record *ep, const char *id)
{
	struct discovery *d = f->d;
	char app[128], release[64], instance[64], err[512];
	const char *filters[4] = {app, release, instance, d->napd_filter};
	struct docker_container_summary *list;
	bool runs = false;
	size_t n;

	snprintf(app, sizeof app, NAP_LABEL_APP "=%s", ep->app);
	snprintf(release, sizeof release, NAP_LABEL_RELEASE "=%u", ep->release);
	snprintf(instance, sizeof instance, NAP_LABEL_INSTANCE "=%u", ep->instance);
	if (docker_container_list(&list, &n, d->docker, filters, d->napd_filter[0] ? 4 : 3, false,
				  err, sizeof err) < 0)
		return false;
	for (size_t i = 0; i < n && !runs; i++)
		runs = list[i].id && strcmp(list[i].id, id) != 0;
	docker_container_list_free(list, n);
	return runs;
}

/* Inspects a container and announces it: every endpoint port of it
 * (endpoint_ports(), the lowest under the instance's default key). Returns 0
 * also when there is nothing to announce (not running, no published TCP
 * port); *announcedp says. */
static int announce_container(struct follower *f, const char *id, struct endpoint_record *ep,
			      bool *announcedp)
{
	struct discovery *d = f->d;
	struct docker_container_info *info;
	struct endpoint_port ports[ENDPOINT_PORTS_MAX];
	size_t n = 0;
	char err[512];
	int r;

	*announcedp = false;
	r = docker_container_inspect(&info, d->docker, id, err, sizeof err);
	if (r == -ENOENT)
		return 0; /* already gone */
	if (r < 0) {
		d->host->log(NAP_LOG_WARNING, "discovery-etcd: inspecting %.12s: %s", id, err);
		return r;
	}
	if (info->running)
		n = endpoint_ports(ports, ENDPOINT_PORTS_MAX, info->ports, info->n_ports);
	if (info->running && n == 0)
		d->host->log(NAP_LOG_INFO,
			     "discovery-etcd: %s instance %u (%.12s) publishes no TCP port: not "
			     "announced",
			     ep->app, ep->instance, id);
	/* Not running: a start replayed after the container died, nothing to do. */
	for (size_t i = 0; i < n && r == 0; i++) {
		ep->port = ports[i].host_port;
		ep->container_port = ports[i].container_port;
		ep->extra = i > 0;
		r = announcer_put(d->ann, ep, ANN_FROM_DOCKER, info->id, err, sizeof err);
		if (r < 0)
			d->host->log(NAP_LOG_WARNING,
				     "discovery-etcd: announcing %s instance %u: %s (retried when "
				     "etcd answers)",
				     ep->app, ep->instance, err);
		else
			d->host->log(NAP_LOG_DEBUG,
				     "discovery-etcd: announced %s release %u instance %u at %s:%u "
				     "(port %u)",
				     ep->app, ep->release, ep->instance, ep->host, ep->port,
				     ep->container_port);
		*announcedp = true;
	}
	ep->extra = false; /* ep names the instance (its default key) again */
	docker_container_info_free(info);
	return r;
}

/* Collects the keys of ep's instance on our host into keys: its default
 * key, and its extra ports' as etcd holds them (one range of the app's
 * keys). An etcd that does not answer leaves the default key alone in it. */
static void instance_keys(struct keyset *keys, struct follower *f, const struct endpoint_record *ep)
{
	struct endpoint_record want = *ep, found;
	struct etcd_range range;
	char key[ENDPOINT_KEY_MAX], prefix[ENDPOINT_KEY_MAX], err[512];

	want.extra = false;
	if (endpoint_key(key, sizeof key, &want) < 0)
		return;
	keyset_add(keys, key);
	if (endpoint_app_prefix(prefix, sizeof prefix, ep->app) < 0 ||
	    etcd_get(&range, f->d->etcd, prefix, true, 0, err, sizeof err) < 0)
		return;
	want.extra = true;
	for (size_t i = 0; i < range.n; i++) {
		if (endpoint_record_parse(&found, range.kvs[i].key, range.kvs[i].value,
					  range.kvs[i].value_len) < 0 ||
		    !found.extra || strcmp(found.app, ep->app) != 0)
			continue;
		want.container_port = found.container_port;
		if (endpoint_key(key, sizeof key, &want) == 0 && strcmp(key, range.kvs[i].key) == 0)
			keyset_add(keys, key);
	}
	etcd_range_release(&range);
}

static int on_event(void *user, const struct docker_event *ev)
{
	struct follower *f = user;
	struct discovery *d = f->d;
	struct endpoint_record ep;
	struct keyset keys = {0};
	char err[512];
	bool announced;
	enum announced_by by;

	if (!ev->type || strcmp(ev->type, "container") != 0 || !ev->action || !ev->id)
		return 0;
	if (!endpoint_from_labels(&ep, d, ev->attributes))
		return 0;
	by = announced_by(ev->attributes);
	if (by == BY_ELSEWHERE)
		return 0;
	if (strcmp(ev->action, "start") == 0) {
		if (by == BY_US)
			announce_container(f, ev->id, &ep, &announced);
		return 0;
	}
	if (strcmp(ev->action, "kill") == 0) {
		/* Only the signals that end it (docker stop/kill); a SIGHUP to
		 * reload leaves it serving. */
		const char *sig = json_string_value(json_object_get(ev->attributes, "signal"));
		if (sig && strcmp(sig, "9") != 0 && strcmp(sig, "15") != 0 && strcmp(sig, "2") != 0)
			return 0;
	} else if (strcmp(ev->action, "die") != 0 && strcmp(ev->action, "stop") != 0 &&
		   strcmp(ev->action, "destroy") != 0) {
		return 0;
	}
	if (by == BY_ORCHESTRATOR && replacement_runs(f, &ep, ev->id))
		return 0;
	instance_keys(&keys, f, &ep);
	for (size_t i = 0; i < keys.n; i++) {
		int64_t deleted = 0;

		if (announcer_delete(d->ann, keys.v[i], ep.release, ev->id, &deleted, err,
				     sizeof err) < 0)
			d->host->log(NAP_LOG_WARNING,
				     "discovery-etcd: withdrawing %s: %s (retried)", keys.v[i],
				     err);
		else if (deleted)
			d->host->log(NAP_LOG_DEBUG, "discovery-etcd: withdrew %s (%s)", keys.v[i],
				     ev->action);
	}
	keyset_free(&keys);
	return 0;
}

static void collect_key(void *user, const char *key)
{
	keyset_add(user, key);
}

/* The label filters of the containers we follow: nap's, and only those of
 * our napd when it has an id (several napds may share a Docker host: each
 * announces and cleans up after its own apps only). Returns how many. */
static size_t follow_filters(const struct discovery *d, const char *filters[2])
{
	filters[0] = NAP_LABEL_APP;
	filters[1] = d->napd_filter;
	return d->napd_filter[0] ? 2 : 1;
}

/* The app of key "/services/<app>[:<port>]/<host>:<instance>" into app (64
 * bytes). */
static bool key_app(const char *key, char app[64])
{
	const char *a = key + strlen(ENDPOINT_SERVICES_PREFIX);
	size_t n = strcspn(a, ":/");

	if (strncmp(key, ENDPOINT_SERVICES_PREFIX, strlen(ENDPOINT_SERVICES_PREFIX)) != 0 ||
	    !a[n] || n >= 64)
		return false;
	snprintf(app, 64, "%.*s", (int)n, a);
	return true;
}

/* Whether key is in running, or is an extra port's key
 * ("/services/<app>:<port>/<rest>") whose instance's default key
 * ("/services/<app>/<rest>") is: the extra ports live and go with it. */
static bool key_running(const struct keyset *running, const char *key)
{
	const char *a = key + strlen(ENDPOINT_SERVICES_PREFIX);
	size_t n = strcspn(a, ":/");
	const char *rest = a[n] == ':' ? strchr(a + n, '/') : NULL;
	char def[ENDPOINT_KEY_MAX];

	if (keyset_has(running, key))
		return true;
	if (!rest || snprintf(def, sizeof def, ENDPOINT_SERVICES_PREFIX "%.*s%s", (int)n, a,
			      rest) >= (int)sizeof def)
		return false;
	return keyset_has(running, def);
}

/* Deletes the keys of our host under /services/ that no running container
 * (and no Announce call) accounts for: what a crash or a missed event left.
 * Under a napd with an id, a key held by a lease only if its app has a
 * container of that napd (our_apps): the others belong to another napd on
 * this host. */
static int remove_stale(struct follower *f, const struct keyset *running,
			const struct keyset *our_apps)
{
	struct discovery *d = f->d;
	struct keyset ours = {0};
	struct etcd_range range;
	char err[512];
	size_t hostlen = strlen(d->self_host);
	int r;

	announcer_each_docker_key(d->ann, collect_key, &ours);
	for (size_t i = 0; i < ours.n; i++)
		if (!key_running(running, ours.v[i]))
			announcer_delete(d->ann, ours.v[i], 0, NULL, NULL, err, sizeof err);
	keyset_free(&ours);

	r = etcd_get(&range, d->etcd, ENDPOINT_SERVICES_PREFIX, true, 0, err, sizeof err);
	if (r < 0) {
		d->host->log(NAP_LOG_WARNING, "discovery-etcd: reconcile: %s", err);
		return r;
	}
	for (size_t i = 0; i < range.n; i++) {
		const char *key = range.kvs[i].key;
		const char *last = strrchr(key, '/');
		const char *colon = strrchr(key, ':');
		/* /services/<app>[:<port>]/<host>:<instance> with host == ours */
		if (!last || !colon || colon < last || (size_t)(colon - last - 1) != hostlen ||
		    strncmp(last + 1, d->self_host, hostlen) != 0)
			continue;
		if (key_running(running, key) || announcer_has_call_key(d->ann, key))
			continue;
		/* A key under a lease whose app has no container of ours is
		 * another napd's, alive (or its lease ends it soon). */
		char app[64];
		if (d->napd_filter[0] && range.kvs[i].lease != 0 &&
		    (!key_app(key, app) || !keyset_has(our_apps, app)))
			continue;
		if (etcd_delete(NULL, d->etcd, key, false, err, sizeof err) == 0)
			d->host->log(NAP_LOG_INFO,
				     "discovery-etcd: removed stale %s (no such container running)",
				     key);
	}
	etcd_range_release(&range);
	return 0;
}

static int reconcile(struct follower *f, char *err, size_t errlen)
{
	struct discovery *d = f->d;
	const char *filters[2];
	size_t nfilters = follow_filters(d, filters);
	struct docker_container_summary *list;
	struct keyset running = {0}, our_apps = {0};
	size_t n;
	int r, rc = 0;

	/* All states: a stopped container still tells whose app it is. */
	r = docker_container_list(&list, &n, d->docker, filters, nfilters, true, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !atomic_load(&f->cancel); i++) {
		struct endpoint_record ep;
		char key[ENDPOINT_KEY_MAX];
		bool announced;
		if (!endpoint_from_labels(&ep, d, list[i].labels))
			continue;
		keyset_add(&our_apps, ep.app);
		if (!list[i].state || strcmp(list[i].state, "running") != 0)
			continue;
		if (announced_by(list[i].labels) != BY_US) {
			if (endpoint_key(key, sizeof key, &ep) == 0)
				keyset_add(&running, key);
			continue;
		}
		r = announce_container(f, list[i].id, &ep, &announced);
		if (r < 0 && rc == 0) {
			rc = r;
			snprintf(err, errlen, "announcing %s instance %u failed", ep.app,
				 ep.instance);
		}
		if (announced && endpoint_key(key, sizeof key, &ep) == 0)
			keyset_add(&running, key);
	}
	docker_container_list_free(list, n);
	/* Without a complete running set, deleting could remove live keys. */
	if (rc == 0) {
		rc = remove_stale(f, &running, &our_apps);
		if (rc < 0)
			snprintf(err, errlen, "cannot read %s from etcd at %s",
				 ENDPOINT_SERVICES_PREFIX, d->etcd_url);
	}
	keyset_free(&running);
	keyset_free(&our_apps);
	return rc;
}

static void *follow_main(void *arg)
{
	struct follower *f = arg;
	struct discovery *d = f->d;
	const char *filters[2];
	size_t nfilters = follow_filters(d, filters);
	int backoff = BACKOFF_MIN_MS;
	char err[512];

	while (!atomic_load(&f->cancel)) {
		/* Taken before the reconcile, so the stream replays whatever
		 * happened while it ran. */
		int64_t since = now_nano();
		int r = reconcile(f, err, sizeof err);
		if (r == 0) {
			if (f->trouble)
				d->host->log(NAP_LOG_NOTICE,
					     "discovery-etcd: following Docker's events again");
			f->trouble = false;
			int64_t began = now_nano();
			r = docker_events(d->docker, filters, nfilters, since, on_event, f,
					  &f->cancel, err, sizeof err);
			if (atomic_load(&f->cancel))
				break;
			if (now_nano() - began > 10 * 1000000000LL)
				backoff = BACKOFF_MIN_MS; /* it ran well for a while */
		}
		if (!f->trouble)
			d->host->log(
				NAP_LOG_WARNING,
				"discovery-etcd: %s: %s; trying again (Docker at %s, etcd at %s)",
				r == 0 ? "Docker's event stream ended" : "cannot follow Docker",
				r == 0 ? "dockerd closed it" : err, d->docker_socket, d->etcd_url);
		f->trouble = true;
		nap_ms(f, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int follower_start(struct follower **folp, struct discovery *d)
{
	struct follower *f = calloc(1, sizeof *f);
	int r;

	if (!f)
		return -ENOMEM;
	f->d = d;
	atomic_init(&f->cancel, 0);
	r = pthread_create(&f->thread, NULL, follow_main, f);
	if (r) {
		free(f);
		return -r;
	}
	*folp = f;
	return 0;
}

void follower_stop(struct follower *f)
{
	if (!f)
		return;
	atomic_store(&f->cancel, 1);
	pthread_join(f->thread, NULL);
	free(f);
}
