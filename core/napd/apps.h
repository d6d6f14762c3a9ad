/* App records: what napd knows of each app, kept through nap.Discovery's
 * records (etcd under /nap/ with discovery-etcd) as JSON at
 * "apps/<app>/app", so that a restarted napd loses nothing:
 *   {"app":"web","release":3,"state":"running","instances":2,"slots":[1,2],
 *    "memory":268435456,"updated":1764100000,"releases":[{"release":3,"image":"…","env":{…},
 *    "created":1764100000}, …]}
 * Only the last APP_RELEASES_KEPT releases are kept. A record may also hold
 * "interrupted":{"op","release","stage"} when a napd that stopped mid-deploy
 * left a release that was undone; the next release drops it. */

#ifndef NAPD_APPS_H
#define NAPD_APPS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <nap/control.pb-c.h>

#define APP_RELEASES_KEPT 10
#define APP_INSTANCES_MAX 100


/* The record key of an app ("apps/<app>/app"), in buf. */
const char *app_key(char *buf, size_t n, const char *app);
/* The key of the app's in-progress marker ("apps/<app>/pending"), in buf:
 * stored while a deploy, env or rollback runs (see orchestrator.c). */
const char *app_pending_key(char *buf, size_t n, const char *app);
json_t *app_record_new(const char *app);
json_t *app_record_parse(const uint8_t *data, size_t len);
/* The release object numbered n, or the current one for n = 0; NULL if none. */
json_t *app_release(json_t *rec, uint32_t n);
uint32_t app_u32(json_t *obj, const char *key);
uint32_t app_last_release(json_t *rec);
/* Fills an AppStatus from a record (strings point into rec; free with
 * app_status_clear). Secret values are not copied unless with_env. */
void app_status_fill(Nap__AppStatus *st, json_t *rec, bool with_env);
void app_status_clear(Nap__AppStatus *st);

#endif
