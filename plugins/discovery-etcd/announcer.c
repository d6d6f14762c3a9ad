/* discovery-etcd: the lease and everything announced under it.
 *
 * All keys nap announces hang on one lease, granted on first need and kept
 * alive by a thread every ttl/3 seconds. The announcer remembers every key
 * it was asked to announce (the desired state), so that when the lease is
 * gone (etcd restarted, lost it, or was down longer than the TTL) it grants
 * a new one and puts everything again; a put or delete that failed while
 * etcd was away is retried on the next tick. If the plugin dies, the lease
 * runs out within its TTL and its keys go with it.
 *
 * Locking: one mutex guards the table and the lease; etcd requests that
 * change the table's keys run under it (each takes about a millisecond), a
 * keep-alive runs outside it so that it never delays an announcement. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery.h"
#include "errbuf.h"

struct ann_entry {
	char *key;
	char *value;
	uint32_t release;
	enum ann_source src;
	char *container_id; /* or NULL */
	bool gone;          /* withdrawn, but the delete has not reached etcd yet */
};

struct announcer {
	struct discovery *d;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stopping;
	int64_t lease;  /* 0: none granted yet */
	bool dirty;     /* a put or delete failed: redo them on the next tick */
	bool etcd_down; /* for logging transitions only */
	struct ann_entry *v;
	size_t n, cap;
};

static void entry_free(struct ann_entry *e)
{
	free(e->key);
	free(e->value);
	free(e->container_id);
}

static struct ann_entry *find_locked(struct announcer *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0)
			return &a->v[i];
	return NULL;
}

static void remove_locked(struct announcer *a, struct ann_entry *e)
{
	entry_free(e);
	*e = a->v[--a->n];
}

/* Puts every remembered key under the current lease and deletes the ones
 * withdrawn meanwhile. Returns 0 or the first error. */
static int sync_all_locked(struct announcer *a, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < a->n;) {
		struct ann_entry *e = &a->v[i];
		int r;
		if (e->gone) {
			r = etcd_delete(NULL, a->d->etcd, e->key, false, err, errlen);
			if (r == 0) {
				remove_locked(a, e);
				continue;
			}
		} else {
			r = etcd_put(NULL, a->d->etcd, e->key, e->value, strlen(e->value), a->lease,
				     err, errlen);
		}
		if (r < 0 && rc == 0)
			rc = r;
		if (r == -ENOENT || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EAGAIN)
			break; /* the lease went or etcd did (or its quorum): no point going on */
		i++;
	}
	a->dirty = rc < 0;
	return rc;
}

/* Grants a fresh lease and announces everything under it. */
static int regrant_locked(struct announcer *a, char *err, size_t errlen)
{
	int64_t lease;
	int r = etcd_lease_grant(&lease, NULL, a->d->etcd, a->d->lease_ttl, err, errlen);

	if (r < 0) {
		a->dirty = true;
		return r;
	}
	if (a->lease)
		disc_host->log(NAP_LOG_NOTICE,
			       "discovery-etcd: lease %llx is gone; announcing %zu keys again "
			       "under lease %llx",
			       (unsigned long long)a->lease, a->n, (unsigned long long)lease);
	a->lease = lease;
	return sync_all_locked(a, err, errlen);
}

int announcer_put(struct announcer *a, const struct endpoint_record *ep, enum ann_source src,
		  const char *container_id, char *err, size_t errlen)
{
	char key[512];
	char *value, *cid = NULL;
	struct ann_entry *e;
	int r;

	r = endpoint_key(key, sizeof key, ep);
	if (r < 0)
		return errbuf_printf(err, errlen, r, "no endpoint key for %s instance %u: %s",
				     ep->app, (unsigned)ep->instance, strerror(-r));
	value = endpoint_record_json(ep);
	if (container_id && !(cid = strdup(container_id))) {
		free(value);
		value = NULL;
	}
	if (!value)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");

	pthread_mutex_lock(&a->lock);
	e = find_locked(a, key);
	if (!e) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? 2 * a->cap : 16;
			struct ann_entry *v = realloc(a->v, cap * sizeof *v);
			if (!v) {
				pthread_mutex_unlock(&a->lock);
				free(value);
				free(cid);
				return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
			}
			a->v = v;
			a->cap = cap;
		}
		e = &a->v[a->n];
		*e = (struct ann_entry){.key = strdup(key)};
		if (!e->key) {
			pthread_mutex_unlock(&a->lock);
			free(value);
			free(cid);
			return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		}
		a->n++;
	}
	free(e->value);
	free(e->container_id);
	e->value = value;
	e->container_id = cid;
	e->release = ep->release;
	e->src = src;
	e->gone = false;

	if (a->lease == 0) {
		r = regrant_locked(a, err, errlen); /* puts this one too */
	} else {
		r = etcd_put(NULL, a->d->etcd, key, value, strlen(value), a->lease, err, errlen);
		if (r == -ENOENT)
			r = regrant_locked(a, err, errlen);
		else if (r < 0)
			a->dirty = true;
	}
	/* A container stays wanted (the next tick announces it once etcd is
	 * back); an Announce call that failed is the caller's to repeat. */
	if (r < 0 && src == ANN_FROM_CALL && (e = find_locked(a, key)))
		remove_locked(a, e);
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* Whether the key as stored in etcd has this release (a key we do not
 * remember: written by an earlier run of the plugin, or by hand). */
static int stored_release_matches(struct announcer *a, const char *key, uint32_t release,
				  bool *matchp, char *err, size_t errlen)
{
	struct etcd_range range;
	struct endpoint_record ep;
	int r = etcd_get(&range, a->d->etcd, key, false, 1, err, errlen);

	if (r < 0)
		return r;
	*matchp = range.n == 1 &&
		  endpoint_record_parse(&ep, range.kvs[0].key, range.kvs[0].value,
					range.kvs[0].value_len) == 0 &&
		  ep.release == release;
	etcd_range_release(&range);
	return 0;
}

int announcer_delete(struct announcer *a, const char *key, uint32_t release,
		     const char *container_id, int64_t *deletedp, char *err, size_t errlen)
{
	struct ann_entry *e;
	int64_t deleted = 0;
	int r = 0;

	pthread_mutex_lock(&a->lock);
	e = find_locked(a, key);
	if (e && release && e->release != release)
		goto out; /* a newer release took the key over */
	if (e && container_id && e->container_id && strcmp(e->container_id, container_id) != 0)
		goto out; /* another container of the same release owns it now */
	if (!e && release) {
		bool match;
		r = stored_release_matches(a, key, release, &match, err, errlen);
		if (r < 0 || !match)
			goto out;
	}
	if (e)
		e->gone = true;
	r = etcd_delete(&deleted, a->d->etcd, key, false, err, errlen);
	if (r < 0)
		a->dirty = true; /* the gone entry is deleted on a later tick */
	else if (e)
		remove_locked(a, e);
out:
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && deletedp)
		*deletedp = deleted;
	return r;
}

void announcer_each_docker_key(struct announcer *a, void (*fn)(void *user, const char *key),
			       void *user)
{
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].src == ANN_FROM_DOCKER && !a->v[i].gone)
			fn(user, a->v[i].key);
	pthread_mutex_unlock(&a->lock);
}

bool announcer_has_call_key(struct announcer *a, const char *key)
{
	pthread_mutex_lock(&a->lock);
	struct ann_entry *e = find_locked(a, key);
	bool has = e && e->src == ANN_FROM_CALL && !e->gone;
	pthread_mutex_unlock(&a->lock);
	return has;
}

/* One keep-alive round: renew, or re-grant and re-announce. */
static void tick(struct announcer *a)
{
	char err[512] = "";
	int64_t lease;
	int r = 0;

	pthread_mutex_lock(&a->lock);
	lease = a->lease;
	pthread_mutex_unlock(&a->lock);
	if (lease)
		r = etcd_lease_keepalive(NULL, a->d->etcd, lease, err, sizeof err);

	pthread_mutex_lock(&a->lock);
	if (a->lease == lease) { /* nobody re-granted meanwhile */
		if ((lease == 0 && a->n > 0) || r == -ENOENT)
			r = regrant_locked(a, err, sizeof err);
		else if (r == 0 && a->dirty)
			r = sync_all_locked(a, err, sizeof err);
	}
	if (r < 0 && !a->etcd_down)
		disc_host->log(NAP_LOG_WARNING, "discovery-etcd: keeping announcements alive: %s",
			       err);
	else if (r == 0 && a->etcd_down)
		disc_host->log(NAP_LOG_NOTICE, "discovery-etcd: etcd at %s answers again",
			       a->d->etcd_url);
	a->etcd_down = r < 0;
	pthread_mutex_unlock(&a->lock);
}

static void *keepalive_main(void *arg)
{
	struct announcer *a = arg;
	/* ttl/3 leaves two more chances before the lease runs out. */
	int64_t period_ms = a->d->lease_ttl * 1000 / 3;

	if (period_ms < 300)
		period_ms = 300;
	pthread_mutex_lock(&a->lock);
	while (!a->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += period_ms / 1000;
		until.tv_nsec += (period_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!a->stopping &&
		       pthread_cond_timedwait(&a->wake, &a->lock, &until) != ETIMEDOUT)
			;
		if (a->stopping)
			break;
		pthread_mutex_unlock(&a->lock);
		tick(a);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int announcer_start(struct announcer **annp, struct discovery *d)
{
	struct announcer *a = calloc(1, sizeof *a);
	pthread_condattr_t ca;
	int r;

	if (!a)
		return -ENOMEM;
	a->d = d;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&a->thread, NULL, keepalive_main, a);
	if (r) {
		pthread_cond_destroy(&a->wake);
		pthread_mutex_destroy(&a->lock);
		free(a);
		return -r;
	}
	*annp = a;
	return 0;
}

/* The lease is not revoked: the containers keep running while napd is
 * stopped or restarted, so their keys should stay until the TTL says
 * nobody looks after them any more (a new run re-announces them). */
void announcer_stop(struct announcer *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	for (size_t i = 0; i < a->n; i++)
		entry_free(&a->v[i]);
	free(a->v);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
