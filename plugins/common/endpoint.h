/* plugins/common: the endpoint contract (docs/protocol.md, "Endpoints"),
 * shared by the schedulers, discovery-etcd and scheduler-fleet, so that they
 * agree on it by construction:
 *
 *  - which published ports of an instance are its endpoints: every published
 *    TCP port with an IPv4 binding, one per container port, ordered by
 *    container port; the lowest is the instance's default port (the one its
 *    readiness check connects to, and the one clients of protocol 1.1 see).
 *    The fleet sidekick (plugins/scheduler-fleet/nap-fleet-announce) follows
 *    the same rule in shell; tests/plugins/endpoint-ports.table holds the
 *    cases both are tested against.
 *  - the etcd key of an endpoint: "/services/<app>/<host>:<instance>" for
 *    the default port (the seed's layout), "/services/<app>:<port>/<host>:
 *    <instance>" for each other port, named by its container port, so that a
 *    reader of /services/<app>/ sees exactly one endpoint per instance, as
 *    before.
 *  - its value, the JSON record {"host","port","instance","release",
 *    "container_port"}: the one writer and the one parser. */
#ifndef NAP_PLUGIN_COMMON_ENDPOINT_H
#define NAP_PLUGIN_COMMON_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docker_api.h"

#define ENDPOINT_SERVICES_PREFIX "/services/"
/* Ports announced per instance; an instance that publishes more has the
 * lowest ENDPOINT_PORTS_MAX announced. */
#define ENDPOINT_PORTS_MAX 16
/* Longest endpoint key: prefix, app (63), ":" port, "/", host (255),
 * ":" u32, NUL. */
#define ENDPOINT_KEY_MAX 360

/* One endpoint port of an instance: container_port is reached at the host
 * port host_port. */
struct endpoint_port {
	unsigned container_port;
	unsigned host_port;
};

/* Chooses the endpoints among the published ports (as docker_container_inspect
 * reads them; an empty host_ip counts as IPv4, as older Docker wrote it):
 * every TCP port with a binding whose host_ip is IPv4, the 0.0.0.0 one if a
 * container port has several, ordered by container port. Writes at most max
 * into out and returns how many; out[0] is the default port. */
size_t endpoint_ports(struct endpoint_port *out, size_t max, const struct docker_port *ports,
		      size_t n_ports);

/* One endpoint as stored in etcd. */
struct endpoint_record {
	char app[64];
	char host[256];
	uint32_t port;           /* host port */
	uint32_t instance;       /* 0 in records of older tools */
	uint32_t release;        /* 0 in records of older tools */
	uint32_t container_port; /* its name; 0 in records of older tools */
	bool extra;              /* not the instance's default port */
};

/* True if host is 1-255 characters of [A-Za-z0-9.:-] (a name or an
 * address): what may stand in a key. */
bool endpoint_host_valid(const char *host);

/* Writes the record's key into buf ("/services/<app>/<host>:<instance>", or
 * "/services/<app>:<container_port>/<host>:<instance>" for an extra port).
 * -EINVAL for an invalid app or host, or an extra port without its
 * container port; -ENAMETOOLONG if it does not fit. */
int endpoint_key(char *buf, size_t len, const struct endpoint_record *ep);

/* Writes "/services/<app>" into buf: the prefix of every key of app's
 * endpoints, and of other apps' whose names start with app's (filter with
 * endpoint_key_is_of()). */
int endpoint_app_prefix(char *buf, size_t len, const char *app);

/* True if key is one of app's endpoint keys (default or extra port). */
bool endpoint_key_is_of(const char *key, const char *app);

/* The record's JSON value; container_port only when known. The caller frees
 * it with free(); NULL on out of memory. */
char *endpoint_record_json(const struct endpoint_record *ep);

/* Reads a key and its value back into *ep: app, extra and (for an extra
 * port) container_port from the key, the rest from the value. -EINVAL if
 * either is not an endpoint's. */
int endpoint_record_parse(struct endpoint_record *ep, const char *key, const char *value,
			  size_t value_len);

#endif
