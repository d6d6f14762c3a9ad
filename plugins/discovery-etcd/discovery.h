/* discovery-etcd: what the plugin's parts share.
 *
 * The plugin provides nap.Discovery over etcd's v3 JSON gateway:
 *  - announcer.c keeps one lease alive and every key nap announced under it;
 *  - docker_follow.c follows Docker's events and announces/withdraws local
 *    containers at once (and reconciles after start-up and reconnects);
 *  - endpoints.c answers Announce, Withdraw, Resolve and Watch;
 *  - records.c answers PutRecord, GetRecords and DeleteRecords (/nap/...);
 *  - names.c checks names and keys and encodes endpoint values;
 *  - discovery.c is the plugin descriptor, init and shutdown.
 *
 * Threads: handlers run on threads of their own; the announcer and the
 * Docker follower each own one thread. struct discovery is set up in init()
 * and read-only afterwards except where a member says otherwise. */
#ifndef NAP_DISCOVERY_ETCD_H
#define NAP_DISCOVERY_ETCD_H

#include <nap/names.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/limits.h>
#include <nap/plugin.h>

#include "docker_api.h"
#include "endpoint.h"
#include "labels.h"
#include "etcd_v3.h"

struct announcer; /* announcer.c */
struct follower;  /* docker_follow.c */

struct discovery {
	const nap_host *host;
	const char *etcd_url; /* for messages */
	const char *docker_socket;
	const char *self_host; /* the host written into our keys */
	/* "nap.napd=<id>": only the containers of the napd running us (its
	 * scheduler labels them so), or "" under a napd that gives no id. */
	char napd_filter[400];
	int64_t lease_ttl; /* seconds */
	/* where the records live: napd.conf's key_prefix as napd passes it
	 * ("napd.key_prefix"), NAP_KEY_PREFIX_DEFAULT from an older napd */
	char records_prefix[NAP_KEY_PREFIX_MAX + 1];
	etcd_client *etcd;
	docker_client *docker;
	struct announcer *ann;
	struct follower *fol;
};

/* The host's function table (set once in init). */
extern const nap_host *disc_host;

/* ---- names.c ---- */

/* True if key is a record key: 1-200 chars of [a-z0-9._/-], no "..", no
 * leading "/". With allow_empty, "" is accepted too (a prefix). */
bool disc_record_key_valid(const char *key, bool allow_empty);

/* ---- discovery.c ---- */

/* Maps an etcd client error to a nap status and ends the call with one
 * line ("cannot reach etcd at URL: ...; is etcd running?" when it is down). */
void disc_end_etcd_error(const struct discovery *d, nap_plugin_call *call, int r, const char *what,
			 const char *err);

/* ---- announcer.c ---- */

/* Where an announced key came from: a local container (the follower owns
 * it and may withdraw it when the container is gone) or an Announce call. */
enum ann_source {
	ANN_FROM_DOCKER,
	ANN_FROM_CALL
};

int announcer_start(struct announcer **annp, struct discovery *d);
void announcer_stop(struct announcer *a);
/* Puts the endpoint under the lease (granting one if needed, and granting a
 * new one and re-announcing everything if it was lost) and remembers it.
 * container_id: the local container it belongs to, or NULL. */
int announcer_put(struct announcer *a, const struct endpoint_record *ep, enum ann_source src,
		  const char *container_id, char *err, size_t errlen);
/* Forgets key and deletes it from etcd. If release is nonzero, only when the
 * stored endpoint has that release; if container_id is not NULL, only when
 * the key was not announced for another container since. *deletedp: 1 if a
 * key went. */
int announcer_delete(struct announcer *a, const char *key, uint32_t release,
		     const char *container_id, int64_t *deletedp, char *err, size_t errlen);
/* Keys remembered as announced for local containers, for reconcile: calls
 * fn for each (under the announcer's lock: fn must not call back). */
void announcer_each_docker_key(struct announcer *a, void (*fn)(void *user, const char *key),
			       void *user);
/* True if key is remembered as announced by an Announce call. */
bool announcer_has_call_key(struct announcer *a, const char *key);

/* ---- docker_follow.c ---- */

int follower_start(struct follower **folp, struct discovery *d);
void follower_stop(struct follower *f);

/* ---- endpoints.c and records.c: the method handlers ---- */

void disc_announce(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_withdraw(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_resolve(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_put_record(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_get_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void disc_delete_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
