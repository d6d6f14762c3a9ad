/* plugins/common: an etcd v3 client over its JSON gateway (etcd 3.4:
 * POST /v3/kv/put, /v3/kv/range, /v3/kv/deleterange, /v3/lease/grant,
 * /v3/lease/keepalive, /v3/lease/revoke, /v3/watch), for discovery-etcd and
 * napd's state. Keys and values travel base64-encoded; that is done here.
 *
 * Conventions:
 *  - Functions return 0 on success or a negative errno; on failure they write
 *    one line for the user into (err, errlen) (see errbuf.h).
 *  - Out-parameters come first and are written only on success; what they
 *    return is owned by the caller, who frees it as each function says.
 *  - Errors: -ECONNREFUSED etcd cannot be reached; -ETIMEDOUT a request took
 *    longer than ETCD_TIMEOUT_MS; -ECANCELED a cancel flag was set; -ENOENT
 *    no such lease; -EINVAL a bad argument or a request etcd refused;
 *    -ERANGE a watch revision that was compacted away; -EPROTO an answer we
 *    cannot read; -EIO other etcd errors; -EAGAIN members answer but none
 *    can commit (the cluster lost its quorum); -ENOMEM.
 *  - Keys are C strings (nap's keys are text); values are bytes with a length.
 *  - Thread-safety: an etcd_client is immutable after etcd_client_new(), so
 *    every function may run in several threads at once on one client; each
 *    request uses its own curl handle. The caller must have called
 *    curl_global_init(CURL_GLOBAL_DEFAULT) once, before any thread uses this.
 *  - Timeouts: every request but a watch is bounded by ETCD_TIMEOUT_MS; a
 *    watch runs until stopped or cancelled. */
#ifndef NAP_PLUGIN_COMMON_ETCD_V3_H
#define NAP_PLUGIN_COMMON_ETCD_V3_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_DEFAULT_ENDPOINT "http://127.0.0.1:2379"
/* Limit on every request that is not a watch. */
#define ETCD_TIMEOUT_MS 10000L

typedef struct etcd_client etcd_client;

/* Members of one cluster a client fails over between. */
#define ETCD_MEMBERS_MAX 9

/* Makes a client for the etcd at endpoint ("http://host:port", no trailing
 * path; NULL: ETCD_DEFAULT_ENDPOINT), or for the members of one cluster:
 * "http://a:2379, http://b:2379, http://c:2379" (commas and/or blanks). A
 * request goes to the member that answered last and, if that one is down
 * or cannot commit, to each other member in turn; when none can, the error
 * says how many answered ("no quorum: 1 of 3 members answer"). Nothing is
 * connected yet. Returns 0, -EINVAL for an endpoint that is not an http(s)
 * URL (or more than ETCD_MEMBERS_MAX), or -ENOMEM. */
int etcd_client_new(etcd_client **clientp, const char *endpoint);

/* How many members the client knows. */
size_t etcd_client_members(const etcd_client *c);

/* Frees c (NULL is fine); returns NULL. */
etcd_client *etcd_client_free(etcd_client *c);

/* One key-value pair. key and value are NUL-terminated (the NUL is not
 * counted in value_len), so text can be used as is. */
struct etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease; /* 0: none */
};

/* Puts key = value (value_len bytes), attached to lease (0: none). On
 * success, if revisionp is not NULL, *revisionp is the store's revision
 * after the put. -ENOENT if the lease does not exist (any more). */
int etcd_put(int64_t *revisionp, etcd_client *c, const char *key, const void *value,
	     size_t value_len, int64_t lease, char *err, size_t errlen);

struct etcd_range {
	struct etcd_kv *kvs; /* n of them, sorted by key */
	size_t n;
	int64_t revision; /* the store's revision the answer reflects */
	bool more;        /* limit cut the answer short */
};

/* Reads key, or with prefix every key that starts with key (key "" and
 * prefix: every key). limit: at most that many (0: all). On success fills
 * *rangep, freed with etcd_range_release(). */
int etcd_get(struct etcd_range *rangep, etcd_client *c, const char *key, bool prefix, int64_t limit,
	     char *err, size_t errlen);

void etcd_range_release(struct etcd_range *range);

/* Deletes key, or with prefix every key under it. On success, if deletedp
 * is not NULL, *deletedp is how many keys went. */
int etcd_delete(int64_t *deletedp, etcd_client *c, const char *key, bool prefix, char *err,
		size_t errlen);

/* Grants a lease of ttl_s seconds. On success *leasep is its ID, and if
 * ttlp is not NULL, *ttlp the TTL etcd granted (it may raise a small one). */
int etcd_lease_grant(int64_t *leasep, int64_t *ttlp, etcd_client *c, int64_t ttl_s, char *err,
		     size_t errlen);

/* Renews a lease once (call it every TTL/3 or so). On success, if ttlp is
 * not NULL, *ttlp is the TTL it has again. -ENOENT if it expired or was
 * revoked. */
int etcd_lease_keepalive(int64_t *ttlp, etcd_client *c, int64_t lease, char *err, size_t errlen);

/* Revokes a lease, deleting every key attached to it. -ENOENT if there is
 * no such lease. */
int etcd_lease_revoke(etcd_client *c, int64_t lease, char *err, size_t errlen);

/* ---- watch ---- */

enum etcd_event_type {
	ETCD_WATCH_CREATED, /* the watch is in place: nothing after this is missed */
	ETCD_EVENT_PUT,
	ETCD_EVENT_DELETE,
};

/* What a watch callback gets; borrowed, valid during the call only. */
struct etcd_event {
	enum etcd_event_type type;
	const struct etcd_kv *kv; /* NULL for ETCD_WATCH_CREATED; for a DELETE, only
				     key and mod_revision are set */
	int64_t revision;         /* the revision of this change (kv->mod_revision);
				     for CREATED, the store's revision then */
};

/* Called per event: return 0 to go on, a positive value to end etcd_watch()
 * with 0, or a negative errno to end it with that value. */
typedef int (*etcd_watch_fn)(void *user, const struct etcd_event *ev);

struct etcd_watch_options {
	const char *key; /* the key, or with prefix every key under it */
	bool prefix;
	int64_t start_revision;   /* replay changes from this revision on; 0: from now */
	const atomic_int *cancel; /* optional: set it to end the watch (within about 1 s) */
};

/* Watches keys and calls event() for each change, in revision order, until
 * it says stop, the cancel flag is set (-ECANCELED), or the stream breaks
 * (-EPROTO). Whatever the outcome, if next_revisionp is not NULL,
 * *next_revisionp is set to the revision to resume from (pass it as
 * start_revision: nothing is missed and nothing seen twice) — the one
 * exception to "written only on success". -ERANGE: start_revision was
 * compacted away; *next_revisionp is then the oldest revision still there,
 * and the caller should re-read with etcd_get() and watch from its
 * revision + 1. */
int etcd_watch(int64_t *next_revisionp, etcd_client *c, const struct etcd_watch_options *opts,
	       etcd_watch_fn event, void *user, char *err, size_t errlen);

#endif
