/* scheduler-fleet: what the plugin's files share (not installed).
 *
 * The plugin runs nap.Scheduler on a fleet cluster: per instance a run unit
 * and a discovery unit (units.h). fleet (its /units and /state) and etcd
 * (/services/<app>/<host>:<instance>) are the only records of what runs; the
 * plugin keeps no cache. */
#ifndef NAP_SCHEDULER_FLEET_H
#define NAP_SCHEDULER_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/plugin.h>
#include <nap/scheduler.pb-c.h>

#include "etcd_v3.h"
#include "fleet_api.h"
#include "units.h"

#define SF_DEFAULT_DOCKER "/usr/bin/docker"
#define SF_DEFAULT_START_TIMEOUT_S 120
#define SF_DEFAULT_STOP_TIMEOUT_S 60
/* fleet has no watch: /state is polled this often while waiting. */
#define SF_POLL_MS 75
/* An unplaced unit with no machine left for it is reported after this long
 * (fleet may be moving a unit between machines for a moment). */
#define SF_PLACEMENT_GRACE_MS 1500

/* Made by init, read-only afterwards (handlers run on threads of their own). */
struct sf_state {
	const nap_host *host;
	fleet_client *fleet;
	etcd_client *etcd;
	char *etcd_url;	     /* config etcd: what the announcer writes to */
	char *address;	     /* config host: the host written into etcd */
	char *docker;	     /* config docker: the docker CLI on the machines */
	char *announce;	     /* config announce: nap-fleet-announce on the machines */
	uint32_t start_timeout_ms; /* config start_timeout */
	uint32_t stop_timeout_ms;  /* config stop_timeout */
	bool spread;	     /* config spread: always spread instances */
};

/* ---- errors.c ---- */

/* The nap status for a negative errno from fleet_api.h or etcd_v3.h. */
int sf_status(int err);

/* ---- announced.c: the etcd entries the discovery units write ---- */

struct sf_announced {
	uint32_t release;
	uint32_t instance;
	uint32_t port;
	char host[256];
	char key[512];
};

/* Reads /services/<app>/ and keeps the entries that parse (any release). */
int sf_announced_read(struct sf_announced **listp, size_t *np, const struct sf_state *st,
		      const char *app, char *err, size_t errlen);
/* The entry of (release, instance) written by our sidekicks, or NULL: with
 * a literal config host only the entry under that host counts (another
 * announcer, e.g. discovery-etcd following Docker, may write its own). */
const struct sf_announced *sf_announced_find(const struct sf_state *st,
					     const struct sf_announced *v, size_t n,
					     uint32_t release, uint32_t instance);

/* ---- the handlers ---- */
void sf_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* ---- shared by run.c and remove.c ---- */

/* Deletes the units of the given (release, instance) pairs of app, waits
 * (until deadline_us, nap_now-style monotonic microseconds) until fleet's
 * /state no longer shows them and removes their etcd entries if the
 * sidekicks did not. *removedp: run units that existed. */
int sf_remove_units(uint32_t *removedp, const struct sf_state *st, nap_plugin_call *call,
		    const char *app, const uint32_t *releases, const uint32_t *instances, size_t n,
		    uint64_t deadline_us, char *err, size_t errlen);

/* Monotonic clock in microseconds. */
uint64_t sf_now_us(void);
/* Sleeps ms milliseconds (used only between polls of /state). */
void sf_sleep_ms(unsigned ms);

#endif
