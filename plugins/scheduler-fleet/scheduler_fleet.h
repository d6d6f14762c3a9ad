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

#include <nap/names.h>
#include <nap/limits.h>
#include <nap/plugin.h>
#include <nap/scheduler.pb-c.h>

#include "etcd_v3.h"
#include "fleet_api.h"
#include "units.h"

#define SF_DEFAULT_DOCKER "/usr/bin/docker"
#define SF_DEFAULT_START_TIMEOUT_S 120
#define SF_DEFAULT_STOP_TIMEOUT_S 60
/* fleet has no watch: /state is polled this often while waiting. */
#define SF_POLL_MS 100
/* A failed state seen before the unit was seen in any other since the
 * submit may be systemd's old one (fleet reports it first when a name is
 * submitted again): it counts only after this long (setting failed_grace). */
#define SF_DEFAULT_FAILED_GRACE_S 10
/* Watch polls fleet this often (setting watch_interval, milliseconds), and
 * ends UNAVAILABLE once fleet has not answered for SF_WATCH_GIVE_UP_MS. */
#define SF_DEFAULT_WATCH_INTERVAL_MS 1000
#define SF_WATCH_GIVE_UP_MS 30000u
/* Watch: a unit that fleet shows inactive before it was ever seen running
 * is taken for one that has not started yet (systemd has loaded it, fleet's
 * agent has not started it), until this many looks in a row say so. */
#define SF_WATCH_INACTIVE_LOOKS 5u
/* The sidekick's check when the request's Check leaves a field 0. */
#define SF_DEFAULT_CHECK_INTERVAL_MS 1000u
#define SF_DEFAULT_CHECK_TIMEOUT_MS 1000u
#define SF_DEFAULT_CHECK_FAILURES 3u
/* Instance.announcer of every instance: its sidekick announces it. */
#define SF_ANNOUNCER "sidekick"
/* Where the want and present keys live (presence.c): under napd.conf's
 * key_prefix (napd.key_prefix, /nap/ by default), in "fleet/". */
#define SF_KEYS_DIR "fleet/"
/* An unplaced unit with no machine left for it is reported after this long
 * (fleet may be moving a unit between machines for a moment). */
#define SF_PLACEMENT_GRACE_MS 1500

/* Made by init, read-only afterwards (handlers run on threads of their own). */
struct sf_state {
	const nap_host *host;
	fleet_client *fleet;
	etcd_client *etcd;
	char *etcd_url; /* config etcd: what the announcer writes to */
	char *address;  /* config host: the host written into etcd */
	char *docker;   /* config docker: the docker CLI on the machines */
	char *announce; /* config announce: nap-fleet-announce on the machines */
	char key_prefix[NAP_KEY_PREFIX_MAX + 1]; /* napd.key_prefix ("/nap/") */
	uint32_t start_timeout_ms;               /* config start_timeout */
	uint32_t stop_timeout_ms;                /* config stop_timeout */
	bool spread;                             /* config spread: always spread instances */
	uint32_t failed_grace_ms;                /* config failed_grace */
	uint32_t watch_interval_ms;              /* config watch_interval */
};

/* ---- errors.c ---- */

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

/* ---- presence.c: the want and present keys ---- */

struct sf_pair {
	uint32_t release;
	uint32_t instance;
};

int sf_want_put(const struct sf_state *st, const char *app, uint32_t release, uint32_t instance,
		char *err, size_t errlen);
int sf_want_delete(const struct sf_state *st, const char *app, uint32_t release, uint32_t instance,
		   char *err, size_t errlen);
/* The (release, instance) pairs of app's keys of kind "want" or "present". */
int sf_keys_read(struct sf_pair **listp, size_t *np, const struct sf_state *st, const char *kind,
		 const char *app, char *err, size_t errlen);
bool sf_pair_in(const struct sf_pair *v, size_t n, uint32_t release, uint32_t instance);

/* ---- list.c: instances as fleet and etcd show them ---- */

struct sf_row {
	char app[NAP_APP_NAME_MAX + 1];
	char id[SF_UNIT_NAME_MAX];
	char host[256];
	char machine[80];
	const char *state; /* "running", "pending", "failed", "exited" */
	uint32_t release;
	uint32_t instance;
	uint32_t port;
	/* Watch only: looks in a row that found it inactive without having
	 * seen it run (watch.c) */
	unsigned inactive_looks;
};

/* The run units of app (every app when only is NULL), sorted by name. */
int sf_rows_read(struct sf_row **rowsp, size_t *np, const struct sf_state *st, const char *only,
		 char *err, size_t errlen);
/* Fills in (pointing into row) with announcer "sidekick". */
void sf_row_instance(Nap__Instance *in, struct sf_row *row);

/* ---- the handlers ---- */
void sf_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void sf_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* ---- shared by run.c and remove.c ---- */

/* Removes the given (release, instance) pairs of app: deletes their want
 * keys (no unit of theirs starts again, a running one stops its
 * container), deletes their units from fleet, waits (until deadline_us,
 * monotonic microseconds) until no present key of theirs is left (each
 * container has stopped) and then removes entries their sidekicks left.
 * *removedp: run units that existed. With fleet unreachable the units stay
 * in fleet, inert (they cannot start without their want keys): once their
 * containers have stopped that counts as removed (logged), before then the
 * fleet error is returned. */
int sf_remove_units(uint32_t *removedp, const struct sf_state *st, nap_plugin_call *call,
		    const char *app, const uint32_t *releases, const uint32_t *instances, size_t n,
		    uint64_t deadline_us, char *err, size_t errlen);

/* Monotonic clock in microseconds. */
uint64_t sf_now_us(void);
/* Sleeps ms milliseconds (used only between polls of /state). */
void sf_sleep_ms(unsigned ms);

#endif
