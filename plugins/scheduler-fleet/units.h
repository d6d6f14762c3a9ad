/* scheduler-fleet: the fleet units of an instance, their names, and the
 * checks and quoting that keep user strings from reaching a command line.
 *
 * Names (app names are [a-z0-9-], so '@' can never be part of one):
 *   run unit        nap-<app>@<release>-<instance>.service
 *   discovery unit  nap-<app>@<release>-<instance>-discovery.service
 *   container       nap-<app>-<release>-<instance>
 * so the glob nap-<app>@<release>-*[0-9].service (Conflicts=) matches
 * exactly the run units of that app and release: not another app whose name
 * starts with the same letters ("web" vs "web-2": the '@' ends the app), not
 * another release, and not a discovery unit (it does not end in a digit).
 *
 * No shell is involved anywhere: fleet hands the lines to systemd, which
 * splits them into words itself. Every value that comes from a user is
 * either checked against a strict pattern here or quoted with
 * sf_systemd_quote(). */
#ifndef NAP_SCHEDULER_FLEET_UNITS_H
#define NAP_SCHEDULER_FLEET_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet_api.h"
#include "labels.h"

/* The run unit labels its container (labels.h) as one whose sidekick
 * announces it: discovery-etcd then leaves it alone (see units.c). */

/* "nap-" app(63) "@" u32 "-" u32 "-discovery.service" and a NUL. */
#define SF_UNIT_NAME_MAX 112

enum sf_unit_kind {
	SF_UNIT_RUN,
	SF_UNIT_DISCOVERY
};

void sf_unit_name(char *buf, size_t len, enum sf_unit_kind kind, const char *app, uint32_t release,
		  uint32_t instance);
void sf_container_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance);
/* The Conflicts= glob of the run units of app's release. */
void sf_conflicts_glob(char *buf, size_t len, const char *app, uint32_t release);
/* Reads a unit name of ours; app gets NAP_APP_NAME_MAX + 1 bytes. False for
 * any other unit. */
bool sf_unit_parse(const char *name, char *app, enum sf_unit_kind *kindp, uint32_t *releasep,
		   uint32_t *instancep);

/* ---- checks (true: may go into a unit) ---- */

/* A Docker image reference: [A-Za-z0-9] then [A-Za-z0-9._/:@-], at most
 * 255 characters (no '%', '$', quotes, spaces or backslashes). */
bool sf_image_valid(const char *image);
/* A MachineMetadata= entry "key=value", both [A-Za-z0-9_.:/-]+. */
bool sf_metadata_valid(const char *kv);
/* The host written into etcd: a name or address ([A-Za-z0-9.:-]+), or one
 * of the specifiers %H (hostname) and %m (machine ID) that systemd fills in. */
bool sf_host_valid(const char *host);
/* An absolute path of [A-Za-z0-9/._-] (docker, the announce script). */
bool sf_path_valid(const char *path);
/* An http(s) URL of [A-Za-z0-9.:/,_-] (etcd endpoints, comma-separated). */
bool sf_url_valid(const char *url);
/* An HTTP check path: "/" then [A-Za-z0-9._~/%?=&+,;:@!-], at most
 * SF_CHECK_PATH_MAX bytes (nap-fleet-announce accepts the same). */
#define SF_CHECK_PATH_MAX 512
bool sf_check_path_valid(const char *path);
/* Valid UTF-8 without NUL (fleet's JSON carries nothing else). */
bool sf_text_valid(const char *s);

/* Quotes word for a systemd command line (ExecStart= and friends) so that
 * exactly word reaches the program as one argument: in double quotes, with
 * backslash, quote and control characters C-escaped, '%' doubled (systemd
 * expands specifiers) and '$' doubled (systemd expands variables). Returns
 * a malloc'd string, or NULL when out of memory. */
char *sf_systemd_quote(const char *word);

/* ---- the units ---- */

struct sf_env {
	const char *key;
	const char *value;
};

/* What an instance's units are made from; every string checked already. */
struct sf_instance_spec {
	const char *app;
	uint32_t release;
	uint32_t instance;
	const char *image;
	const struct sf_env *env;
	size_t n_env;
	uint64_t memory_bytes;       /* 0: no limit */
	const char *const *metadata; /* "key=value", n_metadata of them */
	size_t n_metadata;
	bool spread;          /* Conflicts= with the app's other instances of the release */
	const char *docker;   /* absolute path of the docker CLI */
	const char *announce; /* absolute path of nap-fleet-announce */
	/* nap's etcd prefix (napd.key_prefix) for its want/present keys; NULL
	 * or "/nap/" (the helper's default) adds nothing to the units */
	const char *key_prefix;
	const char *etcd; /* etcd endpoint the announcer writes to */
	const char *host; /* address written into etcd */
	/* The sidekick's readiness check (all set: defaults already applied). */
	uint32_t check_interval_ms;
	uint32_t check_timeout_ms;
	uint32_t check_failures;
	const char *check_path; /* NULL or "": a TCP check */
};

/* The run unit's restart policy: a dead container is restarted after
 * SF_RESTART_SEC, at most SF_START_LIMIT_BURST starts in
 * SF_START_LIMIT_INTERVAL_SEC; then the unit stays failed. */
#define SF_RESTART_SEC "1"
#define SF_START_LIMIT_INTERVAL_SEC "60"
#define SF_START_LIMIT_BURST "5"

/* A unit's options; the strings are owned (freed by sf_unit_release()). */
struct sf_unit {
	char name[SF_UNIT_NAME_MAX];
	struct fleet_option *options;
	size_t n_options, cap;
	char **owned;
	size_t n_owned, owned_cap;
};

/* Build the run unit and the discovery unit of spec. 0 or -ENOMEM. */
int sf_run_unit(struct sf_unit *u, const struct sf_instance_spec *spec);
int sf_discovery_unit(struct sf_unit *u, const struct sf_instance_spec *spec);
void sf_unit_release(struct sf_unit *u);

#endif
