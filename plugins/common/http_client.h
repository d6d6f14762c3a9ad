/* plugins/common: one HTTP/1.1 request with libcurl, over TCP or a Unix
 * socket, whose answer is either collected whole or read as a stream of JSON
 * objects (one or more per line), as Docker's build/push/events and etcd's
 * watch send them.
 *
 * Thread-safety: http_perform() may run in any number of threads at once;
 * each call takes a curl easy handle of its own from a small pool that
 * keeps idle handles with their open connections. The caller must have called
 * curl_global_init(CURL_GLOBAL_DEFAULT) once, before any thread calls it. */
#ifndef NAP_PLUGIN_COMMON_HTTP_CLIENT_H
#define NAP_PLUGIN_COMMON_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* Limits on what a server may send us: a whole (non-streamed) body, and one
 * line of a stream. Larger answers fail with -EMSGSIZE. */
#define HTTP_MAX_BODY (16u << 20)
#define HTTP_MAX_LINE (4u << 20)
/* Connection set-up limit used when a request gives none. */
#define HTTP_CONNECT_TIMEOUT_MS 5000L

/* Called for each JSON object of a streamed 2xx answer. obj is borrowed:
 * valid during the call (json_incref() it to keep it). Return 0 to go on,
 * a positive value to stop the stream (http_perform then returns 0 and sets
 * resp->stop), or a negative errno to fail (http_perform returns it). */
typedef int (*http_json_fn)(void *user, json_t *obj);

/* Supplies a streamed request body: fills buf with up to len bytes and
 * returns how many, 0 at the end, or a negative errno to fail the request. */
typedef ssize_t (*http_read_fn)(void *user, void *buf, size_t len);

struct http_request {
	const char *unix_socket;    /* connect here instead of the URL's host; NULL for TCP */
	const char *method;         /* "GET", "POST" (the only one with a body), "DELETE", ... */
	const char *url;            /* full URL ("http://docker/v1.41/_ping") */
	const char *content_type;   /* of the body; NULL for none */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; or NULL */
	const void *body;           /* request body in memory, body_len bytes; or NULL */
	size_t body_len;
	http_read_fn read; /* or a streamed body (sent chunked); NULL for none */
	void *read_user;
	long timeout_ms;         /* whole request; 0 for none (streams) */
	long connect_timeout_ms; /* 0: HTTP_CONNECT_TIMEOUT_MS */
	http_json_fn on_json;    /* stream mode for 2xx answers; NULL to collect the body */
	void *json_user;
	/* Optional: when it becomes nonzero the request ends with -ECANCELED.
	 * It is polled about once a second while idle, more often while data
	 * flows. */
	const atomic_int *cancel;
	/* Optional: a response header ("Docker-Content-Digest") whose value
	 * goes into resp->header (the last one seen, trimmed; cut at its size). */
	const char *capture_header;
};

struct http_response {
	long status; /* the HTTP status */
	/* The whole body, NUL-terminated, unless stream mode consumed it (then
	 * NULL): so a non-2xx answer's body is always here. */
	char *body;
	size_t body_len;
	int stop;         /* the positive value on_json returned to stop, else 0 */
	char header[256]; /* req->capture_header's value, "" when absent */
};

/* Performs req. On success (any HTTP status: the caller judges it) fills
 * *resp, which the caller releases with http_response_release(). Returns 0;
 * or a negative errno, with a message in err and *resp untouched:
 * -ECONNREFUSED (cannot connect), -ETIMEDOUT, -ECANCELED (req->cancel),
 * -EMSGSIZE (limits above), -EPROTO (a streamed line is not JSON, or the
 * connection broke mid-answer), -ENOMEM, -EIO (other transport errors), or
 * the negative value a callback returned. */
int http_perform(struct http_response *resp, const struct http_request *req, char *err,
		 size_t errlen);

/* Frees resp's body; resp may be reused. */
void http_response_release(struct http_response *resp);

/* A server's reason for a non-2xx answer: the "message" (else "error")
 * string member of a JSON body, as Docker and the etcd gateway send it;
 * else the body itself, trimmed. Writes at most len bytes (NUL-terminated)
 * into buf and returns buf. */
char *http_response_reason(const struct http_response *resp, char *buf, size_t len);

#endif
