/* tests/plugins: etcd_v3 against a real etcd (scripts/servers start).
 *
 * Endpoint: $NAP_ETCD_ENDPOINT, else http://127.0.0.1:2379. Skipped (77) if
 * nothing answers there. Everything it writes is under a key prefix of its
 * own, deleted at the end. It also compacts the store's history once (to
 * check a watch from a compacted revision); current keys are untouched. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "etcd_v3.h"
#include "http_client.h"
#include "plugin_testing.h"

static etcd_client *etcd;
static char prefix[128];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *key(const char *name)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "%s%s", prefix, name);
	return buf[i];
}

static int put_str(int64_t *rev, const char *k, const char *v, int64_t lease)
{
	char err[512];
	int r = etcd_put(rev, etcd, k, v, strlen(v), lease, err, sizeof err);

	if (r < 0)
		diag("put %s: %s", k, err);
	return r;
}

static void test_kv(void)
{
	struct etcd_range range;
	char err[512];
	int64_t rev1 = 0, rev2 = 0, deleted = -1;
	const char bin[] = {'a', '\0', 'b', '\xff'};
	int r;

	r = put_str(&rev1, key("svc/b"), "2", 0);
	CHECK(r == 0 && rev1 > 0, "put returns the revision (%lld)", (long long)rev1);
	r = put_str(&rev2, key("svc/a"), "{\"host\":\"127.0.0.1\",\"port\":1}", 0);
	CHECK(r == 0 && rev2 == rev1 + 1, "a second put is the next revision");
	put_str(NULL, key("svc/c"), "3", 0);
	put_str(NULL, key("svc-other"), "x", 0);

	r = etcd_get(&range, etcd, key("svc/"), true, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 3 && strcmp(range.kvs[0].key, key("svc/a")) == 0 &&
		      strcmp(range.kvs[0].value, "{\"host\":\"127.0.0.1\",\"port\":1}") == 0 &&
		      strcmp(range.kvs[2].key, key("svc/c")) == 0 && !range.more &&
		      range.revision >= rev2 && range.kvs[0].mod_revision == rev2,
	      "prefix range: 3 keys in order, values and revisions (%s)", r ? err : "");
	if (r == 0)
		etcd_range_release(&range);

	r = etcd_get(&range, etcd, key("svc/"), true, 2, err, sizeof err);
	CHECK(r == 0 && range.n == 2 && range.more, "limit cuts the range and says so");
	if (r == 0)
		etcd_range_release(&range);

	r = etcd_get(&range, etcd, key("svc/b"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 1 && strcmp(range.kvs[0].value, "2") == 0 &&
		      range.kvs[0].value_len == 1,
	      "single key range");
	if (r == 0)
		etcd_range_release(&range);

	r = etcd_get(&range, etcd, key("nothing"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 0 && range.kvs == NULL, "a missing key is an empty range");
	if (r == 0)
		etcd_range_release(&range);

	r = etcd_put(NULL, etcd, key("bin"), bin, sizeof bin, 0, err, sizeof err);
	if (r == 0)
		r = etcd_get(&range, etcd, key("bin"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 1 && range.kvs[0].value_len == sizeof bin &&
		      memcmp(range.kvs[0].value, bin, sizeof bin) == 0,
	      "binary values round-trip (NUL and 0xff bytes)");
	if (r == 0)
		etcd_range_release(&range);

	r = etcd_delete(&deleted, etcd, key("svc/b"), false, err, sizeof err);
	CHECK(r == 0 && deleted == 1, "delete one key");
	r = etcd_delete(&deleted, etcd, key("svc/"), true, err, sizeof err);
	CHECK(r == 0 && deleted == 2, "delete a prefix (%lld keys)", (long long)deleted);
	r = etcd_get(&range, etcd, key("svc-other"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 1, "the prefix delete left a sibling key alone");
	if (r == 0)
		etcd_range_release(&range);
	r = etcd_put(NULL, etcd, "", "x", 1, 0, err, sizeof err);
	CHECK(r == -EINVAL, "an empty key is refused: %s", err);
}

static void test_leases(void)
{
	struct etcd_range range;
	int64_t lease = 0, ttl = 0, ttl2 = 0;
	char err[512];
	double t0;
	int r;

	r = etcd_lease_grant(&lease, &ttl, etcd, 30, err, sizeof err);
	CHECK(r == 0 && lease != 0 && ttl == 30, "lease grant (id %llx, ttl %lld) %s",
	      (long long)lease, (long long)ttl, r ? err : "");
	r = put_str(NULL, key("leased"), "v", lease);
	CHECK(r == 0, "put with a lease");
	r = etcd_get(&range, etcd, key("leased"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 1 && range.kvs[0].lease == lease, "the key carries the lease");
	if (r == 0)
		etcd_range_release(&range);
	t0 = now_ms();
	r = etcd_lease_keepalive(&ttl2, etcd, lease, err, sizeof err);
	CHECK(r == 0 && ttl2 == 30, "keepalive renews it (%.1f ms) %s", now_ms() - t0,
	      r ? err : "");
	r = etcd_lease_revoke(etcd, lease, err, sizeof err);
	CHECK(r == 0, "revoke");
	r = etcd_get(&range, etcd, key("leased"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 0, "revoking deleted the key");
	if (r == 0)
		etcd_range_release(&range);
	r = etcd_lease_keepalive(&ttl2, etcd, lease, err, sizeof err);
	CHECK(r == -ENOENT, "keepalive of a revoked lease: %s", err);
	r = etcd_lease_revoke(etcd, lease, err, sizeof err);
	CHECK(r == -ENOENT, "revoke of a revoked lease: %s", err);
	r = etcd_put(NULL, etcd, key("x"), "v", 1, lease, err, sizeof err);
	CHECK(r == -ENOENT, "put with a dead lease: %s", err);
	r = etcd_lease_grant(&lease, &ttl, etcd, 0, err, sizeof err);
	CHECK(r == -EINVAL, "TTL 0 is refused: %s", err);

	/* Expiry: the shortest lease etcd grants, and how soon its key goes. */
	r = etcd_lease_grant(&lease, &ttl, etcd, 1, err, sizeof err);
	if (r == 0)
		r = put_str(NULL, key("expiring"), "v", lease);
	t0 = now_ms();
	while (r == 0 && now_ms() - t0 < 10000) {
		r = etcd_get(&range, etcd, key("expiring"), false, 0, err, sizeof err);
		if (r == 0) {
			size_t n = range.n;

			etcd_range_release(&range);
			if (n == 0)
				break;
		}
		usleep(50000);
	}
	CHECK(r == 0 && now_ms() - t0 < 10000, "a key with a %llds lease is gone after %.0f ms",
	      (long long)ttl, now_ms() - t0);
}

/* ---- watch ---- */

#define MAX_SEEN 256

struct watcher {
	struct etcd_watch_options opts;
	atomic_int cancel;
	atomic_int created;
	int stop_after; /* events; 0: never */
	int n;
	enum etcd_event_type types[MAX_SEEN];
	int64_t revs[MAX_SEEN];
	char keys[MAX_SEEN][128];
	char values[MAX_SEEN][64];
	double at[MAX_SEEN];
	int64_t next;
	int rc;
	char err[512];
	pthread_t thread;
};

static int on_event(void *user, const struct etcd_event *ev)
{
	struct watcher *w = user;

	if (ev->type == ETCD_WATCH_CREATED) {
		atomic_store(&w->created, 1);
		return 0;
	}
	if (w->n < MAX_SEEN) {
		w->types[w->n] = ev->type;
		w->revs[w->n] = ev->revision;
		w->at[w->n] = now_ms();
		snprintf(w->keys[w->n], sizeof w->keys[0], "%s", ev->kv->key);
		snprintf(w->values[w->n], sizeof w->values[0], "%s", ev->kv->value);
	}
	w->n++;
	return w->stop_after && w->n >= w->stop_after ? 1 : 0;
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;

	w->opts.cancel = &w->cancel;
	w->rc = etcd_watch(&w->next, etcd, &w->opts, on_event, w, w->err, sizeof w->err);
	atomic_store(&w->created, 1); /* unblock a waiter if it failed early */
	return NULL;
}

static void watch_start(struct watcher *w)
{
	double t0 = now_ms();

	if (pthread_create(&w->thread, NULL, watch_thread, w) != 0)
		exit(99);
	while (!atomic_load(&w->created) && now_ms() - t0 < 5000)
		usleep(1000);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_watch(void)
{
	enum {
		N = 50
	};
	static struct watcher w, w2, w3;
	int64_t put_rev = 0, del_rev = 0;
	double sent[N], lat[N];
	char err[512];

	w.opts = (struct etcd_watch_options){.key = key("w/"), .prefix = true};
	w.stop_after = 2 + N;
	watch_start(&w);
	CHECK(atomic_load(&w.created) && w.rc == 0, "watch created %s", w.err);
	put_str(&put_rev, key("w/one"), "1", 0);
	put_str(NULL, key("outside"), "not seen", 0);
	etcd_delete(NULL, etcd, key("w/one"), false, err, sizeof err);
	for (int i = 0; i < N; i++) {
		char v[16];

		snprintf(v, sizeof v, "%d", i);
		sent[i] = now_ms();
		put_str(i == N - 1 ? &del_rev : NULL, key("w/lat"), v, 0);
		usleep(2000);
	}
	pthread_join(w.thread, NULL);
	CHECK(w.rc == 0 && w.n == 2 + N,
	      "watch stops when the callback says so (rc %d, %d events) %s", w.rc, w.n,
	      w.rc ? w.err : "");
	CHECK(w.types[0] == ETCD_EVENT_PUT && strcmp(w.keys[0], key("w/one")) == 0 &&
		      strcmp(w.values[0], "1") == 0 && w.revs[0] == put_rev,
	      "first event: PUT of w/one at its revision");
	CHECK(w.types[1] == ETCD_EVENT_DELETE && strcmp(w.keys[1], key("w/one")) == 0 &&
		      w.revs[1] > put_rev,
	      "second event: DELETE (the key outside the prefix was not seen)");
	CHECK(w.next == del_rev + 1, "next revision is the last event's + 1 (%lld)",
	      (long long)w.next);
	for (int i = 0; i < N; i++)
		lat[i] = w.at[2 + i] - sent[i];
	qsort(lat, N, sizeof lat[0], cmp_double);
	diag("put -> watch event latency over %d puts (ms, includes the put's round trip): "
	     "median %.2f, max %.2f",
	     N, lat[N / 2], lat[N - 1]);

	/* Resume from a revision: the history is replayed. */
	w2.opts = (struct etcd_watch_options){.key = key("w/"),
					      .prefix = true,
					      .start_revision = put_rev};
	w2.stop_after = 2;
	watch_start(&w2);
	pthread_join(w2.thread, NULL);
	CHECK(w2.rc == 0 && w2.n == 2 && w2.types[0] == ETCD_EVENT_PUT && w2.revs[0] == put_rev &&
		      w2.types[1] == ETCD_EVENT_DELETE && w2.next == w2.revs[1] + 1,
	      "a watch from a past revision replays PUT then DELETE");

	/* Cancel: the flag ends an idle watch within about a second. */
	w3.opts = (struct etcd_watch_options){.key = key("idle/"), .prefix = true};
	watch_start(&w3);
	{
		double t0 = now_ms();

		atomic_store(&w3.cancel, 1);
		pthread_join(w3.thread, NULL);
		CHECK(w3.rc == -ECANCELED && w3.next > 0,
		      "the cancel flag ends a watch in %.0f ms (next revision %lld): %s",
		      now_ms() - t0, (long long)w3.next, w3.err);
	}
}

/* POST /v3/kv/compaction: not part of the client (nap never compacts). */
static int compact(int64_t rev)
{
	char url[256], body[64], err[256];
	const char *ep = getenv("NAP_ETCD_ENDPOINT");
	struct http_request req = {.method = "POST",
				   .url = url,
				   .body = body,
				   .content_type = "application/json",
				   .timeout_ms = 10000};
	struct http_response resp;
	int r;

	snprintf(url, sizeof url, "%s/v3/kv/compaction", ep ? ep : ETCD_DEFAULT_ENDPOINT);
	snprintf(body, sizeof body, "{\"revision\":%lld}", (long long)rev);
	req.body_len = strlen(body);
	r = http_perform(&resp, &req, err, sizeof err);
	if (r < 0)
		return r;
	r = resp.status == 200 ? 0 : -EIO;
	if (r < 0)
		diag("compaction: HTTP %ld %s", resp.status, resp.body);
	http_response_release(&resp);
	return r;
}

static void test_compacted(void)
{
	static struct watcher w;
	int64_t old = 0, cur = 0;

	put_str(&old, key("c"), "1", 0);
	put_str(NULL, key("c"), "2", 0);
	put_str(&cur, key("c"), "3", 0);
	int r = compact(cur);

	CHECK(r == 0, "compact the history up to %lld", (long long)cur);
	w.opts = (struct etcd_watch_options){.key = key("c"), .start_revision = old};
	watch_start(&w);
	pthread_join(w.thread, NULL);
	CHECK(w.rc == -ERANGE && w.next == cur,
	      "a watch from a compacted revision: -ERANGE, resume "
	      "at %lld: %s",
	      (long long)w.next, w.err);
}

/* ---- several threads at once ---- */

#define THREADS 8
#define PUTS 25

static void *put_thread(void *arg)
{
	long t = (long)arg, failed = 0;
	char k[256], err[256];

	for (int i = 0; i < PUTS; i++) {
		snprintf(k, sizeof k, "%spar/%ld/%d", prefix, t, i); /* key() is not thread-safe */
		if (etcd_put(NULL, etcd, k, "v", 1, 0, err, sizeof err) < 0)
			failed++;
	}
	return (void *)failed;
}

static void test_threads(void)
{
	pthread_t th[THREADS];
	struct etcd_range range;
	long failed = 0;
	char err[256];
	double t0 = now_ms();
	void *ret;
	int r;

	for (long t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, put_thread, (void *)t) != 0)
			exit(99);
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], &ret);
		failed += (long)ret;
	}
	r = etcd_get(&range, etcd, key("par/"), true, 0, err, sizeof err);
	CHECK(failed == 0 && r == 0 && range.n == THREADS * PUTS,
	      "%d threads x %d puts at once: all there (%.0f ms)", THREADS, PUTS, now_ms() - t0);
	if (r == 0)
		etcd_range_release(&range);
}

static void test_errors(void)
{
	etcd_client *bad;
	struct etcd_range range;
	char err[512];
	int r;

	r = etcd_client_new(&bad, "127.0.0.1:2379");
	CHECK(r == -EINVAL, "an endpoint without http:// is "
			    "refused");
	r = etcd_client_new(&bad, "http://127.0.0.1:1");
	if (r == 0)
		r = etcd_get(&range, bad, "x", false, 0, err, sizeof err);
	CHECK(r == -ECONNREFUSED && strstr(err, "http://127.0.0.1:1"),
	      "an unreachable etcd: one clear line: %s", err);
	etcd_client_free(bad);
	bad = NULL;
	r = etcd_client_new(&bad, "http://127.0.0.1:1, http://127.0.0.1:2");
	if (r == 0)
		r = etcd_get(&range, bad, "x", false, 0, err, sizeof err);
	CHECK(r == -ECONNREFUSED && strstr(err, "none of the 2 etcd members answers"),
	      "no member of a list answers: one line naming them: %s", err);
	etcd_client_free(bad);
}

/* A member list whose first member is down: requests go to the next one,
 * and a watch too. */
static void test_members(const char *ep)
{
	char list[600], err[512];
	etcd_client *c = NULL;
	struct etcd_range range;
	int r;

	snprintf(list, sizeof list, "http://127.0.0.1:1,  %s", ep ? ep : ETCD_DEFAULT_ENDPOINT);
	r = etcd_client_new(&c, list);
	CHECK(r == 0 && etcd_client_members(c) == 2, "a list of 2 members is taken");
	if (r < 0)
		return;
	r = etcd_put(NULL, c, key("member"), "v", 1, 0, err, sizeof err);
	CHECK(r == 0, "a put goes to the member that answers (%s)", r ? err : "ok");
	r = etcd_get(&range, c, key("member"), false, 0, err, sizeof err);
	CHECK(r == 0 && range.n == 1, "... and a read");
	if (r == 0)
		etcd_range_release(&range);
	etcd_client_free(c);
	r = etcd_client_new(&c, "http://127.0.0.1:1, 127.0.0.1:2379");
	CHECK(r == -EINVAL, "a list with a member that is not a URL is refused");
}

int main(void)
{
	const char *ep = getenv("NAP_ETCD_ENDPOINT");
	struct etcd_range range;
	char err[512];
	int r, rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (etcd_client_new(&etcd, ep) < 0)
		skip_all("test-etcd-v3: SKIP: bad NAP_ETCD_ENDPOINT \"%s\"", ep);
	r = etcd_get(&range, etcd, "/nap-test", false, 1, err, sizeof err);
	if (r < 0)
		skip_all("test-etcd-v3: SKIP: etcd not reachable (%s)", err);
	etcd_range_release(&range);
	snprintf(prefix, sizeof prefix, "/nap-test/etcd-v3/%ld-%ld/", (long)getpid(),
		 (long)time(NULL));

	test_kv();
	test_leases();
	test_watch();
	test_compacted();
	test_threads();
	test_errors();
	test_members(ep);

	etcd_delete(NULL, etcd, prefix, true, err, sizeof err);
	etcd_client_free(etcd);
	rc = DONE();
	curl_global_cleanup();
	return rc;
}
