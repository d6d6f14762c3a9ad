/* scheduler-fleet: the transport under fleet_api.c (see fleet_http.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fleet_http.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "errbuf.h"
#include "fleet_api.h"

/* A refused connection is retried at most this long (fleetd restarting
 * under systemd's socket activation does not refuse at all). */
#define FLEET_REFUSED_RETRY_MS 2000u

/* fleet's answers are small; anything larger is not fleet. */
#define FLEET_MAX_BODY (32u << 20)

struct body {
	char *p;
	size_t len, cap;
	int overflow;
};

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
	struct body *b = user;
	size_t len = size * n;

	if (b->len + len + 1 > FLEET_MAX_BODY) {
		b->overflow = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* An error answer: fleet's {"error":{"code","message"}}, else the body. */
static int http_error(const struct fleet_client *c, long status, const struct body *b,
		      const char *method, const char *path, char *err, size_t errlen)
{
	const char *msg = NULL;
	json_t *j = b->p ? json_loadb(b->p, b->len, 0, NULL) : NULL;
	int r;

	if (j) {
		json_t *e = json_object_get(j, "error");

		msg = json_string_value(json_object_get(e, "message"));
	}
	if (!msg || !*msg)
		msg = b->p && b->len < 200 && b->len ? b->p : "no message";
	if (status == 404)
		r = -ENOENT;
	else if (status == 409)
		r = -EEXIST;
	else if (status >= 500)
		r = -EIO;
	else if (status >= 400)
		r = -EINVAL;
	else
		r = -EPROTO;
	errbuf_printf(err, errlen, r, "fleet at %s answered %s %s with %ld: %s", c->endpoint,
		      method, path, status, msg);
	json_decref(j);
	return r;
}

/* One attempt; *answeredp gets the HTTP status of any answer (0: none). */
static int http_once(long *statusp, long *answeredp, json_t **jsonp, const struct fleet_client *c,
		     const char *method, const char *path, const char *body, char *err,
		     size_t errlen)
{
	struct body b = {0};
	struct curl_slist *headers = NULL, *h;
	char *url;
	long status = 0;
	CURL *curl;
	CURLcode code;
	int r = 0;

	url = malloc(strlen(c->base) + strlen(path) + 1);
	curl = curl_easy_init();
	if (!url || !curl) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	strcpy(url, c->base);
	strcat(url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (c->unix_socket)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, FLEET_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	h = curl_slist_append(NULL, "Accept: application/json");
	if (h)
		headers = h;
	if (body) {
		/* fleet answers 415 to a body of any other type. */
		h = curl_slist_append(headers, "Content-Type: application/json");
		if (h)
			headers = h;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);

	code = curl_easy_perform(curl);
	if (code != CURLE_OK) {
		if (b.overflow)
			r = errbuf_printf(
				err, errlen, -EPROTO,
				"fleet at %s sent more than %u bytes for %s %s: is it fleet?",
				c->endpoint, FLEET_MAX_BODY, method, path);
		else if (code == CURLE_OPERATION_TIMEDOUT)
			r = errbuf_printf(err, errlen, -ETIMEDOUT,
					  "cannot reach fleet at %s: no answer within %ld ms; is "
					  "fleetd running?",
					  c->endpoint, FLEET_TIMEOUT_MS);
		else if (code == CURLE_OUT_OF_MEMORY || code == CURLE_WRITE_ERROR)
			r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		else
			r = errbuf_printf(err, errlen, -ECONNREFUSED,
					  "cannot reach fleet at %s: %s; is fleetd running?",
					  c->endpoint, curl_easy_strerror(code));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	*answeredp = status;
	if (status < 200 || status > 299) {
		r = http_error(c, status, &b, method, path, err, errlen);
		goto out;
	}
	if (jsonp) {
		json_error_t je;

		*jsonp = NULL;
		if (b.len) {
			*jsonp = json_loadb(b.p, b.len, 0, &je);
			if (!*jsonp) {
				r = errbuf_printf(err, errlen, -EPROTO,
						  "fleet at %s sent no JSON for %s %s (%s): is it "
						  "fleet's API?",
						  c->endpoint, method, path, je.text);
				goto out;
			}
		}
	}
	*statusp = status;
out:
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	free(url);
	free(b.p);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* fleetd answers 503 "unable to communicate with etcd" while it (or its
 * etcd) restarts, and its socket refuses while it is being started again:
 * 503s are retried for c->retry_ms, refusals for at most
 * FLEET_REFUSED_RETRY_MS. Every request fleet_api.c makes can be
 * repeated safely (a DELETE that went through answers 404 the second time,
 * which counts as success). */
int fleet_http(long *statusp, json_t **jsonp, const struct fleet_client *c, const char *method,
	       const char *path, const char *body, char *err, size_t errlen)
{
	uint64_t start = now_ms();
	unsigned pause_ms = 100;

	for (;;) {
		long answered = 0;
		int r = http_once(statusp, &answered, jsonp, c, method, path, body, err, errlen);
		bool again = r == -ECONNREFUSED ||
			     (r == -EIO && (answered == 502 || answered == 503 || answered == 504));
		struct timespec ts;

		/* A fleetd that refuses is restarting or not there at all: only
		 * a short wait for the first. */
		unsigned limit = r == -ECONNREFUSED && c->retry_ms > FLEET_REFUSED_RETRY_MS
					 ? FLEET_REFUSED_RETRY_MS
					 : c->retry_ms;

		if (!again || now_ms() - start + pause_ms > limit)
			return r;
		ts = (struct timespec){(time_t)(pause_ms / 1000),
				       (long)(pause_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (pause_ms < 1000)
			pause_ms *= 2;
	}
}
