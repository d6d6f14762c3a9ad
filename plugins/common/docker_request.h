/* plugins/common: what the docker_*.c files share, not part of the API:
 * the client's layout, URL building, and one request with Docker's error
 * conventions applied (see docker_api.h). */
#ifndef NAP_PLUGIN_COMMON_DOCKER_REQUEST_H
#define NAP_PLUGIN_COMMON_DOCKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "docker_api.h"
#include "http_client.h"

/* The host part of our URLs: ignored on a Unix socket, but HTTP needs one. */
#define DOCKER_URL_BASE "http://docker/" DOCKER_API_VERSION
/* Longest URL we build (IDs, names, URL-encoded filters). */
#define DOCKER_URL_MAX 4096

/* Characters allowed, besides letters and digits, in what goes into a URL path. */
#define DOCKER_ID_CHARS "_.-"	    /* container IDs and names */
#define DOCKER_IMAGE_CHARS "_.-:/@" /* image references: [host[:port]/]path[:tag][@digest] */
#define DOCKER_TAG_CHARS "_.-"

struct docker_client {
	char *socket_path; /* the Unix socket; or, for TCP, the address as given */
	char *tcp_base;    /* "http://host:port" for an engine over TCP, else NULL */
};

/* The Unix socket to connect to, or NULL over TCP. */
const char *docker_client_unix(const docker_client *c);

/* url (built on DOCKER_URL_BASE) as it goes to c: the same on a Unix
 * socket, with the engine's host:port over TCP. Returns url or buf (a
 * DOCKER_URL_MAX buffer); NULL if it does not fit. */
const char *docker_client_url(const docker_client *c, const char *url, char *buf);

/* True if s is non-empty and every character is alphanumeric or in extra.
 * Everything pasted into a URL path goes through this. */
bool docker_valid_name(const char *s, const char *extra);

/* Appends "?name=value" or "&name=value" (value URL-encoded) to url, a
 * DOCKER_URL_MAX buffer. Returns 0, -ENOMEM or -ENAMETOOLONG. */
int docker_url_add_param(char *url, const char *name, const char *value);

/* {"label":[filters…]} as compact JSON, for a filters= parameter; the caller
 * frees it. NULL if out of memory or a filter is not UTF-8. */
char *docker_label_filters_json(const char *const *filters, size_t n);

/* 0 for HTTP 2xx and 304 (Docker's "already in that state"); otherwise the
 * errno docker_api.h promises, with "what: Docker's reason" in err. */
int docker_status(const struct http_response *resp, const char *what, char *err, size_t errlen);

/* Rewrites a transport failure r's message as "what: …", with a hint when
 * dockerd cannot be reached. Returns r. */
int docker_transport_error(const docker_client *c, int r, const char *what, char *err,
			   size_t errlen);

/* One bounded request with an optional JSON body. On a success status,
 * *resp holds the answer (the caller releases it); otherwise the errno. */
int docker_request(struct http_response *resp, docker_client *c, const char *method,
		   const char *url, const char *json_body, long timeout_ms, const char *what,
		   char *err, size_t errlen);

/* docker_request() for answers whose body does not matter. */
int docker_simple(docker_client *c, const char *method, const char *url, const char *json_body,
		  long timeout_ms, const char *what, char *err, size_t errlen);

/* Decodes a JSON body; NULL (with -EPROTO's message in err) if it is not JSON. */
json_t *docker_decode_body(const struct http_response *resp, const char *what, char *err,
			   size_t errlen);

/* *outp = a copy of s ("" for NULL). Returns 0 or -ENOMEM. */
int docker_strdup(char **outp, const char *s);

#endif
