/* plugins/common: the Docker client object, the request helpers the
 * docker_*.c files share, and ping. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "docker_request.h"
#include "errbuf.h"

int docker_client_new(docker_client **clientp, const char *socket_path)
{
	docker_client *c;
	const char *where = socket_path ? socket_path : DOCKER_DEFAULT_SOCKET;

	if (strncmp(where, "unix://", 7) == 0)
		where += 7;
	if (strncmp(where, "tcp://", 6) != 0 && strncmp(where, "http://", 7) != 0 &&
	    where[0] != '/')
		return -EINVAL;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->socket_path = strdup(where);
	if (c->socket_path && where[0] != '/') {
		const char *hostport = strstr(where, "://") + 3;
		size_t len = strcspn(hostport, "/");
		char hp[257];

		snprintf(hp, sizeof hp, "%.*s", (int)(len > 256 ? 0 : len), hostport);
		if (len == 0 || len > 256 || !docker_valid_name(hp, ".-:[]_") ||
		    !(c->tcp_base = malloc(len + sizeof "http://")))
			c->tcp_base = NULL;
		else
			snprintf(c->tcp_base, len + sizeof "http://", "http://%s", hp);
		if (!c->tcp_base) {
			docker_client_free(c);
			return len == 0 || len > 256 ? -EINVAL : -ENOMEM;
		}
	}
	if (!c->socket_path) {
		free(c);
		return -ENOMEM;
	}
	*clientp = c;
	return 0;
}

docker_client *docker_client_free(docker_client *c)
{
	if (c) {
		free(c->socket_path);
		free(c->tcp_base);
		free(c);
	}
	return NULL;
}

const char *docker_client_unix(const docker_client *c)
{
	return c->tcp_base ? NULL : c->socket_path;
}

const char *docker_client_url(const docker_client *c, const char *url, char *buf)
{
	static const char base[] = "http://docker";
	int n;

	if (!c->tcp_base || strncmp(url, base, sizeof base - 1) != 0)
		return url;
	n = snprintf(buf, DOCKER_URL_MAX, "%s%s", c->tcp_base, url + sizeof base - 1);
	return n < 0 || n >= DOCKER_URL_MAX ? NULL : buf;
}

bool docker_valid_name(const char *s, const char *extra)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(extra, ch)))
			return false;
	}
	return true;
}

int docker_url_add_param(char *url, const char *name, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	size_t len = strlen(url);
	int n;

	if (!esc)
		return -ENOMEM;
	n = snprintf(url + len, DOCKER_URL_MAX - len, "%s%s=%s", strchr(url, '?') ? "&" : "?", name,
		     esc);
	curl_free(esc);
	return n < 0 || (size_t)n >= DOCKER_URL_MAX - len ? -ENAMETOOLONG : 0;
}

char *docker_label_filters_json(const char *const *filters, size_t n)
{
	json_t *labels = json_array(), *root = json_object();
	char *s = NULL;

	if (!labels || !root)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(labels, json_string(filters[i])) < 0)
			goto out;
	if (json_object_set(root, "label", labels) < 0)
		goto out;
	s = json_dumps(root, JSON_COMPACT);
out:
	json_decref(labels);
	json_decref(root);
	return s;
}

int docker_status(const struct http_response *resp, const char *what, char *err, size_t errlen)
{
	char reason[512];
	int r;

	if ((resp->status >= 200 && resp->status < 300) || resp->status == 304)
		return 0;
	switch (resp->status) {
	case 400:
		r = -EINVAL;
		break;
	case 401:
	case 403:
		r = -EACCES;
		break;
	case 404:
		r = -ENOENT;
		break;
	case 409:
		r = -EEXIST;
		break;
	default:
		r = -EIO;
		break;
	}
	http_response_reason(resp, reason, sizeof reason);
	return errbuf_printf(err, errlen, r, "%s: %s (HTTP %ld)", what, reason, resp->status);
}

int docker_transport_error(const docker_client *c, int r, const char *what, char *err,
			   size_t errlen)
{
	char msg[512];

	if (r == -ECONNREFUSED)
		return errbuf_printf(err, errlen, r,
				     "%s: Docker is not answering on %s (is dockerd running%s?)",
				     what, c->socket_path,
				     c->tcp_base ? " and listening there"
						 : "; scripts/servers start");
	if (r == -ECANCELED)
		return errbuf_printf(err, errlen, r, "%s: cancelled", what);
	if (err && errlen > 0) {
		snprintf(msg, sizeof msg, "%s", err);
		errbuf_printf(err, errlen, r, "%s: %s", what, msg);
	}
	return r;
}

int docker_request(struct http_response *resp, docker_client *c, const char *method,
		   const char *url, const char *json_body, long timeout_ms, const char *what,
		   char *err, size_t errlen)
{
	char tcp_url[DOCKER_URL_MAX];
	struct http_request req = {
		.unix_socket = docker_client_unix(c),
		.method = method,
		.url = docker_client_url(c, url, tcp_url),
		.content_type = json_body ? "application/json" : NULL,
		.body = json_body,
		.body_len = json_body ? strlen(json_body) : 0,
		.timeout_ms = timeout_ms,
	};
	struct http_response res;
	int r;

	if (!req.url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "%s: URL too long", what);
	r = http_perform(&res, &req, err, errlen);
	if (r < 0)
		return docker_transport_error(c, r, what, err, errlen);
	r = docker_status(&res, what, err, errlen);
	if (r < 0) {
		http_response_release(&res);
		return r;
	}
	*resp = res;
	return 0;
}

int docker_simple(docker_client *c, const char *method, const char *url, const char *json_body,
		  long timeout_ms, const char *what, char *err, size_t errlen)
{
	struct http_response resp;
	int r = docker_request(&resp, c, method, url, json_body, timeout_ms, what, err, errlen);

	if (r == 0)
		http_response_release(&resp);
	return r;
}

json_t *docker_decode_body(const struct http_response *resp, const char *what, char *err,
			   size_t errlen)
{
	json_error_t jerr;
	json_t *j = json_loadb(resp->body, resp->body_len, 0, &jerr);

	if (!j)
		errbuf_printf(err, errlen, -EPROTO, "%s: Docker's answer is not JSON: %s", what,
			      jerr.text);
	return j;
}

int docker_strdup(char **outp, const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		return -ENOMEM;
	*outp = d;
	return 0;
}

int docker_ping(docker_client *c, char *err, size_t errlen)
{
	struct http_response resp;
	int r;

	r = docker_request(&resp, c, "GET", DOCKER_URL_BASE "/_ping", NULL, DOCKER_TIMEOUT_MS,
			   "ping", err, errlen);
	if (r < 0)
		return r;
	if (strcmp(resp.body, "OK") != 0)
		r = errbuf_printf(err, errlen, -EPROTO, "ping: unexpected answer \"%.64s\"",
				  resp.body);
	http_response_release(&resp);
	return r;
}
