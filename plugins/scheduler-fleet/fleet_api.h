/* scheduler-fleet: a client for fleet's API v1 (JSON over HTTP, on fleetd's
 * Unix socket or a URL), after Documentation/api-v1.md and schema/v1.json,
 * reading what a real fleetd v1.0.0 answers (an empty list is "{}", errors
 * are {"error":{"code","message"}}, lists come in pages with nextPageToken).
 *
 * Conventions (as plugins/common): functions return 0 or a negative errno
 * and then write one line for the user into (err, errlen); out-parameters
 * are written only on success and belong to the caller.
 *   -ECONNREFUSED fleet cannot be reached (the message names the endpoint
 *                 and asks whether fleetd runs); -ETIMEDOUT no answer in
 *                 FLEET_TIMEOUT_MS; -ENOENT 404; -EINVAL 400/405/415;
 *   -EEXIST 409; -EIO fleet's 5xx; -EPROTO an answer that is not fleet's.
 * Thread-safety: a fleet_client is read-only after fleet_client_new(); each
 * request uses its own curl handle (curl_global_init() is the caller's). */
#ifndef NAP_SCHEDULER_FLEET_API_H
#define NAP_SCHEDULER_FLEET_API_H

#include <stdbool.h>
#include <stddef.h>

#define FLEET_DEFAULT_ENDPOINT "unix:///var/run/fleet.sock"
#define FLEET_DEFAULT_PREFIX "/fleet/v1"
/* Limit on each request (fleet answers from etcd: milliseconds normally). */
#define FLEET_TIMEOUT_MS 10000L

typedef struct fleet_client fleet_client;

/* endpoint: "unix:///path/fleet.sock" or "http://host:port" (NULL: the
 * default, as fleetctl's); prefix: the API's path (NULL: /fleet/v1). */
int fleet_client_new(fleet_client **cp, const char *endpoint, const char *prefix, char *err,
		     size_t errlen);
void fleet_client_free(fleet_client *c);
/* How long fleet_http retries a fleetd that answers 502/503/504 (it says
 * "unable to communicate with etcd" while restarting) or refuses
 * connections: FLEET_DEFAULT_RETRY_MS unless set (0: never). Call before
 * sharing the client between threads. */
#define FLEET_DEFAULT_RETRY_MS 10000u
void fleet_client_set_retry(fleet_client *c, unsigned retry_ms);
/* The endpoint as configured, for messages. */
const char *fleet_client_endpoint(const fleet_client *c);

/* One line of a unit file. In requests the strings are borrowed. */
struct fleet_option {
	const char *section;
	const char *name;
	const char *value;
};

struct fleet_unit {
	char *name;
	char *desired_state;          /* "inactive", "loaded", "launched" */
	char *current_state;          /* may be NULL */
	char *machine_id;             /* NULL or "" while not scheduled */
	struct fleet_option *options; /* strings owned by the unit */
	size_t n_options;
};

struct fleet_unit_state {
	char *name;
	char *hash;
	char *machine_id;
	char *load_state;   /* systemdLoadState */
	char *active_state; /* systemdActiveState: active, failed, activating, ... */
	char *sub_state;    /* systemdSubState: running, dead, ... */
};

struct fleet_machine {
	char *id;
	char *primary_ip;
	char **meta_keys; /* n_meta pairs */
	char **meta_values;
	size_t n_meta;
};

/* Creates or replaces unit name (PUT with desiredState and options).
 * desired must be one of the three states fleet knows (anything else
 * breaks the unit in a real fleet, so it is refused here: -EINVAL).
 * *createdp (may be NULL): true if fleet made or replaced the unit (201),
 * false if it already had exactly these options (204). */
int fleet_unit_put(bool *createdp, const fleet_client *c, const char *name, const char *desired,
		   const struct fleet_option *options, size_t n_options, char *err, size_t errlen);
/* Changes only the desired state of an existing unit. */
int fleet_unit_set_state(const fleet_client *c, const char *name, const char *desired, char *err,
			 size_t errlen);
/* Reads one unit; -ENOENT if fleet does not know it. Free with
 * fleet_units_free(u, 1). */
int fleet_unit_get(struct fleet_unit **up, const fleet_client *c, const char *name, char *err,
		   size_t errlen);
/* Deletes a unit. *existedp (may be NULL) is false if it was gone already
 * (404: that counts as success). */
int fleet_unit_delete(bool *existedp, const fleet_client *c, const char *name, char *err,
		      size_t errlen);

/* Every unit / unit state / machine, following nextPageToken to the end. */
int fleet_units_list(struct fleet_unit **listp, size_t *np, const fleet_client *c, char *err,
		     size_t errlen);
int fleet_states_list(struct fleet_unit_state **listp, size_t *np, const fleet_client *c, char *err,
		      size_t errlen);
int fleet_machines_list(struct fleet_machine **listp, size_t *np, const fleet_client *c, char *err,
			size_t errlen);

void fleet_units_free(struct fleet_unit *v, size_t n);
void fleet_states_free(struct fleet_unit_state *v, size_t n);
void fleet_machines_free(struct fleet_machine *v, size_t n);

#endif
