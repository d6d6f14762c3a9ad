/* plugins/common: the etcd v3 JSON gateway client. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "etcd_v3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "errbuf.h"
#include "http_client.h"
#include "json_int64.h"

/* Longest endpoint URL accepted; the request URLs add a short path. */
#define ETCD_ENDPOINT_MAX 512

struct etcd_client {
	char endpoints[ETCD_MEMBERS_MAX][ETCD_ENDPOINT_MAX];
	size_t n;
	/* The member that answered last: requests go there first. */
	atomic_size_t current;
	/* What the error messages name: the member tried, or all of them. */
	char endpoint[ETCD_ENDPOINT_MAX];
};

int etcd_client_new(etcd_client **clientp, const char *endpoint)
{
	etcd_client *c;
	const char *p;

	if (!endpoint)
		endpoint = ETCD_DEFAULT_ENDPOINT;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	/* "http://a:2379, http://b:2379 http://c:2379" */
	for (p = endpoint; *p;) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		if (c->n == ETCD_MEMBERS_MAX)
			goto bad;
		while (len > 0 && p[len - 1] == '/')
			len--;
		if ((strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) ||
		    len >= ETCD_ENDPOINT_MAX || memchr(p, '?', len) || memchr(p, '#', len))
			goto bad;
		memcpy(c->endpoints[c->n++], p, len);
		p += strcspn(p, ", \t");
	}
	if (c->n == 0)
		goto bad;
	atomic_init(&c->current, 0);
	snprintf(c->endpoint, sizeof c->endpoint, "%s", c->endpoints[0]);
	for (size_t i = 1; i < c->n; i++) {
		size_t used = strlen(c->endpoint);

		snprintf(c->endpoint + used, sizeof c->endpoint - used, ", %s", c->endpoints[i]);
	}
	*clientp = c;
	return 0;
bad:
	free(c);
	return -EINVAL;
}

size_t etcd_client_members(const etcd_client *c)
{
	return c->n;
}

etcd_client *etcd_client_free(etcd_client *c)
{
	free(c);
	return NULL;
}

/* ---- requests ---- */

/* Sets member name of obj to the base64 of n bytes at p. */
static int set_b64(json_t *obj, const char *name, const void *p, size_t n)
{
	char *s;
	int r = base64_encode(&s, p, n);

	if (r < 0)
		return r;
	r = json_object_set_new(obj, name, json_string(s)) < 0 ? -ENOMEM : 0;
	free(s);
	return r;
}

/* Sets "key" (and with prefix "range_end") for key or every key under it,
 * as clientv3's WithPrefix does: range_end is the key with its last byte
 * that is not 0xff incremented and what follows dropped; "\0" (no end) if
 * there is none; key "" with prefix means every key: "\0" to "\0". */
static int set_key_range(json_t *obj, const char *key, bool prefix)
{
	size_t len = strlen(key);
	char *end;
	int r;

	if (!prefix)
		return set_b64(obj, "key", key, len);
	if (len == 0)
		return set_b64(obj, "key", "", 1) < 0 ? -ENOMEM : set_b64(obj, "range_end", "", 1);
	r = set_b64(obj, "key", key, len);
	if (r < 0)
		return r;
	end = strdup(key);
	if (!end)
		return -ENOMEM;
	while (len > 0 && (unsigned char)end[len - 1] == 0xff)
		len--;
	if (len == 0) {
		r = set_b64(obj, "range_end", "", 1);
	} else {
		end[len - 1] = (char)((unsigned char)end[len - 1] + 1);
		r = set_b64(obj, "range_end", end, len);
	}
	free(end);
	return r;
}

/* The errno for a gateway error answer, with its message in err. */
static int etcd_status(const struct http_response *resp, const char *what, char *err, size_t errlen)
{
	char reason[512];
	int r;

	if (resp->status >= 200 && resp->status < 300)
		return 0;
	switch (resp->status) {
	case 400:
		r = -EINVAL;
		break;
	case 404:
		r = -ENOENT;
		break;
	case 504:
		r = -ETIMEDOUT;
		break;
	default:
		r = -EIO;
		break;
	}
	http_response_reason(resp, reason, sizeof reason);
	return errbuf_printf(err, errlen, r, "etcd %s: %s (HTTP %ld)", what, reason, resp->status);
}

/* One attempt of etcd_call at member i: 0 with *answerp, or an errno.
 * *answered: the member answered HTTP at all (even with an error). */
static int etcd_call_one(json_t **answerp, etcd_client *c, size_t i, const char *path,
			 const char *text, const char *what, bool *answered, char *err,
			 size_t errlen)
{
	char url[ETCD_ENDPOINT_MAX + 64];
	struct http_request req = {.method = "POST",
				   .url = url,
				   .content_type = "application/json",
				   .body = text,
				   .body_len = strlen(text),
				   .timeout_ms = ETCD_TIMEOUT_MS};
	struct http_response resp;
	json_error_t jerr;
	json_t *answer;
	int r;

	*answered = false;
	snprintf(url, sizeof url, "%s%s", c->endpoints[i], path);
	r = http_perform(&resp, &req, err, errlen);
	if (r == -ECONNREFUSED)
		return errbuf_printf(err, errlen, r,
				     "etcd %s: etcd is not answering at %s (is it running? "
				     "scripts/servers start)",
				     what, c->endpoints[i]);
	if (r < 0)
		return r;
	*answered = true;
	r = etcd_status(&resp, what, err, errlen);
	if (r == 0) {
		answer = json_loadb(resp.body, resp.body_len, 0, &jerr);
		if (json_is_object(answer))
			*answerp = answer;
		else
			r = errbuf_printf(err, errlen, -EPROTO,
					  "etcd %s: the answer is not a JSON "
					  "object",
					  what);
		if (r < 0)
			json_decref(answer);
	}
	http_response_release(&resp);
	return r;
}

/* An answer that another member may not give: the member is down, cut off
 * from the others, or has no leader (etcd's "request timed out", "no
 * leader": HTTP 5xx). A 4xx (a bad request, no such lease) is the
 * cluster's answer. */
static bool try_another(int r)
{
	return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EIO || r == -EPROTO;
}

/* POSTs body (consumed) to path and returns the decoded answer in *answerp.
 * With several members: the one that answered last first, then each other
 * in turn, until one answers. Every request nap sends may be repeated
 * (puts, deletes, reads, a lease renewal; a lease granted twice expires
 * unused). If none answers, one line says how many answered at all: when
 * some did (but could not commit), the cluster has lost its quorum. */
static int etcd_call(json_t **answerp, etcd_client *c, const char *path, json_t *body,
		     const char *what, char *err, size_t errlen)
{
	size_t first = atomic_load(&c->current) % c->n, alive = 0;
	char *text;
	char last[512] = "";
	int r = -EIO;

	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	for (size_t k = 0; k < c->n; k++) {
		size_t i = (first + k) % c->n;
		bool answered;

		r = etcd_call_one(answerp, c, i, path, text, what, &answered, err, errlen);
		if (r == 0 || !try_another(r)) {
			if (i != first)
				atomic_store(&c->current, i);
			free(text);
			return r;
		}
		alive += answered;
		/* Keep what a member that answered said (etcd's own reason). */
		if (err && errlen && (answered || !*last))
			snprintf(last, sizeof last, "%s", err);
	}
	free(text);
	if (c->n > 1 && alive > 0)
		return errbuf_printf(
			err, errlen, -EAGAIN,
			"etcd %s: etcd has no quorum: %zu of %zu members answer and "
			"none could commit (%s); nothing was written, nap goes on once "
			"a majority is back",
			what, alive, c->n, last);
	if (c->n > 1)
		return errbuf_printf(err, errlen, r,
				     "etcd %s: none of the %zu etcd members answers (%s): is etcd "
				     "running?",
				     what, c->n, c->endpoint);
	if (err && errlen)
		snprintf(err, errlen, "%s", last);
	return r;
}

/* header.revision of an answer (0 if absent). */
static int64_t header_revision(const json_t *answer)
{
	return json_int64_member(json_object_get(answer, "header"), "revision", 0);
}

/* Decodes member name (base64) of obj into a new NUL-terminated buffer. */
static int get_b64(char **outp, size_t *lenp, const json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));
	unsigned char *d;
	size_t n;
	int r;

	r = base64_decode(&d, &n, s ? s : "", s ? strlen(s) : 0);
	if (r < 0)
		return r;
	*outp = (char *)d;
	if (lenp)
		*lenp = n;
	return 0;
}

static void kv_release(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
}

/* Reads a mvccpb.KeyValue; absent members are zero (protobuf JSON). */
static int kv_from_json(struct etcd_kv *kv, const json_t *j)
{
	struct etcd_kv k = {
		.create_revision = json_int64_member(j, "create_revision", 0),
		.mod_revision = json_int64_member(j, "mod_revision", 0),
		.version = json_int64_member(j, "version", 0),
		.lease = json_int64_member(j, "lease", 0),
	};
	int r;

	r = get_b64(&k.key, NULL, j, "key");
	if (r == 0)
		r = get_b64(&k.value, &k.value_len, j, "value");
	if (r < 0) {
		kv_release(&k);
		return r;
	}
	*kv = k;
	return 0;
}

/* ---- kv ---- */

int etcd_put(int64_t *revisionp, etcd_client *c, const char *key, const void *value,
	     size_t value_len, int64_t lease, char *err, size_t errlen)
{
	json_t *body = json_object(), *answer;
	int r;

	if (!key || !*key) {
		json_decref(body);
		return errbuf_printf(err, errlen, -EINVAL, "etcd put: empty key");
	}
	r = body ? set_b64(body, "key", key, strlen(key)) : -ENOMEM;
	if (r == 0)
		r = set_b64(body, "value", value, value_len);
	if (r == 0 && lease != 0 && json_object_set_new(body, "lease", json_integer(lease)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(body);
		return errbuf_printf(err, errlen, r, "out of memory");
	}
	r = etcd_call(&answer, c, "/v3/kv/put", body, "put", err, errlen);
	if (r < 0)
		return r;
	if (revisionp)
		*revisionp = header_revision(answer);
	json_decref(answer);
	return 0;
}

int etcd_get(struct etcd_range *rangep, etcd_client *c, const char *key, bool prefix, int64_t limit,
	     char *err, size_t errlen)
{
	struct etcd_range range = {0};
	json_t *body = json_object(), *answer, *kvs, *kv;
	size_t i;
	int r;

	r = body ? set_key_range(body, key, prefix) : -ENOMEM;
	if (r == 0 && limit > 0 && json_object_set_new(body, "limit", json_integer(limit)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(body);
		return errbuf_printf(err, errlen, r, "out of memory");
	}
	r = etcd_call(&answer, c, "/v3/kv/range", body, "range", err, errlen);
	if (r < 0)
		return r;
	range.revision = header_revision(answer);
	range.more = json_is_true(json_object_get(answer, "more"));
	kvs = json_object_get(answer, "kvs");
	if (json_array_size(kvs) > 0) {
		range.kvs = calloc(json_array_size(kvs), sizeof *range.kvs);
		if (!range.kvs)
			r = -ENOMEM;
	}
	json_array_foreach(kvs, i, kv)
	{
		if (r < 0)
			break;
		r = kv_from_json(&range.kvs[range.n], kv);
		if (r == 0)
			range.n++;
	}
	json_decref(answer);
	if (r < 0) {
		etcd_range_release(&range);
		return errbuf_printf(err, errlen, r == -ENOMEM ? r : -EPROTO, "etcd range: %s",
				     r == -ENOMEM ? "out of memory"
						  : "a key or value is not base64");
	}
	*rangep = range;
	return 0;
}

void etcd_range_release(struct etcd_range *range)
{
	for (size_t i = 0; i < range->n; i++)
		kv_release(&range->kvs[i]);
	free(range->kvs);
	*range = (struct etcd_range){0};
}

int etcd_delete(int64_t *deletedp, etcd_client *c, const char *key, bool prefix, char *err,
		size_t errlen)
{
	json_t *body = json_object(), *answer;
	int r;

	if (!prefix && (!key || !*key)) {
		json_decref(body);
		return errbuf_printf(err, errlen, -EINVAL, "etcd delete: empty key");
	}
	r = body ? set_key_range(body, key, prefix) : -ENOMEM;
	if (r < 0) {
		json_decref(body);
		return errbuf_printf(err, errlen, r, "out of memory");
	}
	r = etcd_call(&answer, c, "/v3/kv/deleterange", body, "delete", err, errlen);
	if (r < 0)
		return r;
	if (deletedp)
		*deletedp = json_int64_member(answer, "deleted", 0);
	json_decref(answer);
	return 0;
}

/* ---- leases ---- */

/* {"<name>": v} for the lease calls. */
static json_t *lease_body(const char *name, int64_t v)
{
	json_t *body = json_object();

	if (body && json_object_set_new(body, name, json_integer(v)) < 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

int etcd_lease_grant(int64_t *leasep, int64_t *ttlp, etcd_client *c, int64_t ttl_s, char *err,
		     size_t errlen)
{
	json_t *body, *answer;
	int64_t id;
	int r;

	if (ttl_s <= 0)
		return errbuf_printf(err, errlen, -EINVAL,
				     "etcd lease grant: TTL must be positive");
	body = lease_body("TTL", ttl_s);
	if (!body)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = etcd_call(&answer, c, "/v3/lease/grant", body, "lease grant", err, errlen);
	if (r < 0)
		return r;
	id = json_int64_member(answer, "ID", 0);
	if (id == 0) {
		const char *e = json_string_value(json_object_get(answer, "error"));

		r = errbuf_printf(err, errlen, -EIO, "etcd lease grant: %s",
				  e ? e : "no lease ID in the answer");
	} else {
		*leasep = id;
		if (ttlp)
			*ttlp = json_int64_member(answer, "TTL", ttl_s);
	}
	json_decref(answer);
	return r;
}

int etcd_lease_keepalive(int64_t *ttlp, etcd_client *c, int64_t lease, char *err, size_t errlen)
{
	json_t *body = lease_body("ID", lease), *answer;
	int64_t ttl;
	int r;

	if (!body)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = etcd_call(&answer, c, "/v3/lease/keepalive", body, "lease keepalive", err, errlen);
	if (r < 0)
		return r;
	/* A stream of one answer: {"result":{…,"TTL":"10"}}. No TTL: expired. */
	ttl = json_int64_member(json_object_get(answer, "result"), "TTL", 0);
	json_decref(answer);
	if (ttl <= 0)
		return errbuf_printf(
			err, errlen, -ENOENT,
			"etcd lease keepalive: lease %lld is gone (expired or revoked)",
			(long long)lease);
	if (ttlp)
		*ttlp = ttl;
	return 0;
}

int etcd_lease_revoke(etcd_client *c, int64_t lease, char *err, size_t errlen)
{
	json_t *body = lease_body("ID", lease), *answer;
	int r;

	if (!body)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = etcd_call(&answer, c, "/v3/lease/revoke", body, "lease revoke", err, errlen);
	if (r == 0)
		json_decref(answer);
	return r;
}

/* ---- watch ---- */

struct watch_state {
	etcd_watch_fn event;
	void *user;
	int64_t next;    /* revision to resume from; 0: "now" */
	int64_t compact; /* set when etcd cancelled the watch for compaction */
	int rc;          /* why the stream was stopped, when it was */
	bool by_caller;  /* ... and it was event() that stopped it */
	char *err;
	size_t errlen;
};

/* Handles one watch response; returns 0 to go on, 1 to stop, or -errno. */
static int watch_response(struct watch_state *w, const json_t *result)
{
	const json_t *events = json_object_get(result, "events");
	int64_t header_rev = header_revision(result);
	size_t n = json_array_size(events);

	if (json_is_true(json_object_get(result, "canceled"))) {
		const char *why = json_string_value(json_object_get(result, "cancel_reason"));

		w->compact = json_int64_member(result, "compact_revision", 0);
		if (w->compact > 0) {
			w->next = w->compact;
			return errbuf_printf(w->err, w->errlen, -ERANGE,
					     "etcd watch: revision compacted; the oldest left is "
					     "%lld",
					     (long long)w->compact);
		}
		return errbuf_printf(w->err, w->errlen, -EIO, "etcd watch cancelled: %s",
				     why ? why : "no reason given");
	}
	if (json_is_true(json_object_get(result, "created"))) {
		struct etcd_event ev = {.type = ETCD_WATCH_CREATED, .revision = header_rev};

		if (w->next == 0)
			w->next = header_rev + 1;
		w->by_caller = true;
		return w->event(w->user, &ev);
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(events, i);
		const char *type = json_string_value(json_object_get(e, "type"));
		struct etcd_event ev = {.type = type && strcmp(type, "DELETE") == 0
							? ETCD_EVENT_DELETE
							: ETCD_EVENT_PUT};
		struct etcd_kv kv;
		int64_t later;
		int r;

		r = kv_from_json(&kv, json_object_get(e, "kv"));
		if (r < 0)
			return errbuf_printf(w->err, w->errlen, r == -ENOMEM ? r : -EPROTO,
					     "etcd watch: %s",
					     r == -ENOMEM ? "out of memory" : "bad key or value");
		ev.kv = &kv;
		ev.revision = kv.mod_revision;
		w->by_caller = true;
		r = w->event(w->user, &ev);
		w->by_caller = r != 0;
		kv_release(&kv);
		/* Resume after this revision, unless more events of the same
		 * revision (one transaction) follow in this response. */
		later = i + 1 < n ? json_int64_member(json_object_get(json_array_get(events, i + 1),
								      "kv"),
						      "mod_revision", 0)
				  : 0;
		w->next = later == ev.revision ? ev.revision : ev.revision + 1;
		if (r != 0)
			return r;
	}
	if (n == 0 && header_rev >= w->next && w->next > 0)
		w->next = header_rev + 1; /* a progress notification */
	return 0;
}

static int watch_json(void *user, json_t *obj)
{
	struct watch_state *w = user;
	json_t *result = json_object_get(obj, "result");
	int r;

	if (!json_is_object(result)) {
		const json_t *e = json_object_get(obj, "error");
		const char *msg = json_string_value(json_object_get(e, "message"));

		r = errbuf_printf(w->err, w->errlen, -EIO, "etcd watch: %s",
				  msg ? msg : "unexpected answer");
	} else {
		w->by_caller = false;
		r = watch_response(w, result);
	}
	if (r != 0)
		w->rc = r;
	return r;
}

int etcd_watch(int64_t *next_revisionp, etcd_client *c, const struct etcd_watch_options *opts,
	       etcd_watch_fn event, void *user, char *err, size_t errlen)
{
	char url[ETCD_ENDPOINT_MAX + 64];
	struct watch_state w = {.event = event, .user = user, .err = err, .errlen = errlen};
	struct http_request req = {.method = "POST",
				   .url = url,
				   .content_type = "application/json",
				   .on_json = watch_json,
				   .json_user = &w,
				   .cancel = opts->cancel};
	json_t *create = json_object(), *body = json_object();
	struct http_response resp;
	char *text = NULL;
	int r;

	w.next = opts->start_revision > 0 ? opts->start_revision : 0;
	r = create && body ? set_key_range(create, opts->key ? opts->key : "", opts->prefix)
			   : -ENOMEM;
	if (r == 0 && opts->start_revision > 0 &&
	    json_object_set_new(create, "start_revision", json_integer(opts->start_revision)) < 0)
		r = -ENOMEM;
	if (r == 0 && (json_object_set_new(create, "progress_notify", json_true()) < 0 ||
		       json_object_set(body, "create_request", create) < 0))
		r = -ENOMEM;
	if (r == 0)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(create);
	json_decref(body);
	if (!text) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	req.body = text;
	req.body_len = strlen(text);
	/* A watch stays with one member: the one that answered last, else the
	 * next one that accepts the connection. */
	{
		size_t first = atomic_load(&c->current) % c->n;

		for (size_t k = 0; k < c->n; k++) {
			size_t i = (first + k) % c->n;

			snprintf(url, sizeof url, "%s/v3/watch", c->endpoints[i]);
			r = http_perform(&resp, &req, err, errlen);
			if (r != -ECONNREFUSED) {
				if (i != first)
					atomic_store(&c->current, i);
				break;
			}
		}
		/* The stream broke: the member may be gone; the next watch
		 * tries the following one first. */
		if (r == -EPROTO && c->n > 1 && w.rc == 0)
			atomic_store(&c->current, (first + 1) % c->n);
	}
	if (r < 0) {
		if (w.rc < 0 && w.by_caller)
			r = errbuf_printf(err, errlen, w.rc, "etcd watch: stopped: %s",
					  strerror(-w.rc));
		else if (w.rc < 0)
			r = w.rc; /* the message is written */
		else if (r == -ECANCELED)
			errbuf_printf(err, errlen, r, "etcd watch: cancelled");
		else if (r == -ECONNREFUSED)
			errbuf_printf(err, errlen, r,
				      "etcd watch: etcd is not answering at %s (is it running? "
				      "scripts/servers start)",
				      c->endpoint);
		goto out;
	}
	r = etcd_status(&resp, "watch", err, errlen);
	if (r == 0 && resp.stop == 0)
		r = errbuf_printf(err, errlen, -EPROTO, "etcd watch: etcd closed the stream");
	http_response_release(&resp);
out:
	free(text);
	if (next_revisionp)
		*next_revisionp = w.next;
	return r;
}
