/* scheduler-fleet: one HTTP request to fleet's API with libcurl, over fleetd's
 * Unix socket or TCP; its error answers turned into errno values and one line
 * for the user. Used by fleet_api.c only. */
#ifndef NAP_SCHEDULER_FLEET_HTTP_H
#define NAP_SCHEDULER_FLEET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct fleet_client {
	char *endpoint;    /* as configured, for messages */
	char *unix_socket; /* fleetd's socket, or NULL for TCP */
	char *base;        /* "http://host:port/fleet/v1" (host "fleet" on a socket) */
	unsigned retry_ms; /* how long a 5xx-while-restarting or a refused
			      connection is retried (fleet_client_set_retry) */
};

/* Performs METHOD base+path (path starts with "/") with an optional JSON
 * body. On a 2xx answer returns 0, *statusp the HTTP status and, if jsonp is
 * not NULL, *jsonp the parsed body (NULL when the body is empty). Any other
 * answer is an error (see fleet_api.h) with fleet's own message. A 502,
 * 503 or 504, or a refused connection, is tried again until c->retry_ms
 * have passed. */
int fleet_http(long *statusp, json_t **jsonp, const struct fleet_client *c, const char *method,
	       const char *path, const char *body, char *err, size_t errlen);

#endif
