/* plugins/common: Docker images: build, push, remove. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "docker_request.h"
#include "errbuf.h"

/* ---- JSON-line streams: build and push ---- */

struct line_stream {
	docker_line_fn line;
	void *user;
	const char *what;
	int step, steps;
	char *step_text;     /* "COPY index.html /www/" of the current step */
	const char *aux_key; /* which aux member to keep: "ID" (build) or "Digest" (push) */
	char *aux_value;     /* its last value */
	char *error;	     /* the first error Docker reported */
	int cb_rc;	     /* nonzero: why the stream was stopped (line() or -ENOMEM) */
};

/* The body of line_stream_json(); returns what it should return. */
static int line_stream_decode(struct line_stream *s, json_t *obj)
{
	struct docker_line l = {.object = obj};
	json_t *detail;

	if (!json_is_object(obj))
		return 0;
	l.stream = json_string_value(json_object_get(obj, "stream"));
	l.status = json_string_value(json_object_get(obj, "status"));
	detail = json_object_get(obj, "errorDetail");
	l.error = json_string_value(json_object_get(detail, "message"));
	if (!l.error)
		l.error = json_string_value(json_object_get(obj, "error"));
	l.aux = json_object_get(obj, "aux");
	if (!json_is_object(l.aux))
		l.aux = NULL;

	if (l.stream) {
		int step, steps, at = 0;

		if (sscanf(l.stream, "Step %d/%d :%n", &step, &steps, &at) == 2 && at > 0) {
			const char *text = l.stream + at;

			while (*text == ' ')
				text++;
			free(s->step_text);
			s->step_text = strndup(text, strcspn(text, "\r\n"));
			if (!s->step_text)
				return -ENOMEM;
			s->step = step;
			s->steps = steps;
		}
	}
	l.step = s->step;
	l.steps = s->steps;
	if (l.aux && s->aux_key) {
		const char *v = json_string_value(json_object_get(l.aux, s->aux_key));

		if (v) {
			free(s->aux_value);
			s->aux_value = strdup(v);
			if (!s->aux_value)
				return -ENOMEM;
		}
	}
	if (l.error && !s->error) {
		s->error = strdup(l.error);
		if (!s->error)
			return -ENOMEM;
	}
	return s->line ? s->line(s->user, &l) : 0;
}

static int line_stream_json(void *user, json_t *obj)
{
	struct line_stream *s = user;
	int r = line_stream_decode(s, obj);

	if (r != 0)
		s->cb_rc = r;
	return r;
}

static void line_stream_release(struct line_stream *s)
{
	free(s->step_text);
	free(s->aux_value);
	free(s->error);
}

/* Runs a POST whose answer is a JSON-line stream; on success returns 0 with
 * s->aux_value holding what the stream's aux said last. */
static int docker_stream(docker_client *c, struct line_stream *s, const char *url,
			 const char *content_type, const char *const *headers, docker_read_fn read,
			 void *read_user, const atomic_int *cancel, char *err, size_t errlen)
{
	char tcp_url[DOCKER_URL_MAX];
	struct http_request req = {
		.unix_socket = docker_client_unix(c),
		.method = "POST",
		.url = docker_client_url(c, url, tcp_url),
		.content_type = content_type,
		.headers = headers,
		.read = read,
		.read_user = read_user,
		.on_json = line_stream_json,
		.json_user = s,
		.cancel = cancel,
	};
	struct http_response resp;
	int r;

	if (!req.url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "%s: URL too long", s->what);
	r = http_perform(&resp, &req, err, errlen);
	if (r < 0) {
		if (s->cb_rc < 0)
			return errbuf_printf(err, errlen, s->cb_rc, "%s: stopped: %s", s->what,
					     strerror(-s->cb_rc));
		return docker_transport_error(c, r, s->what, err, errlen);
	}
	if (s->cb_rc > 0)
		r = errbuf_printf(err, errlen, -ECANCELED, "%s: stopped", s->what);
	else
		r = docker_status(&resp, s->what, err, errlen);
	http_response_release(&resp);
	if (r < 0)
		return r;
	if (s->error)
		return errbuf_printf(err, errlen, -EIO, "%s: %s", s->what, s->error);
	return 0;
}

/* A docker_read_fn over a buffer in memory. */
struct mem_reader {
	const char *p;
	size_t left;
};

static ssize_t mem_read(void *user, void *buf, size_t len)
{
	struct mem_reader *m = user;
	size_t n = len < m->left ? len : m->left;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int docker_build(char **image_idp, docker_client *c, const struct docker_build_options *opts,
		 docker_read_fn read, void *read_user, docker_line_fn line, void *line_user,
		 char *err, size_t errlen)
{
	struct line_stream s = {.line = line, .user = line_user, .what = "build", .aux_key = "ID"};
	char url[DOCKER_URL_MAX] = DOCKER_URL_BASE "/build";
	char *labels = NULL;
	int r;

	if (!docker_valid_name(opts->tag, DOCKER_IMAGE_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "build: invalid image tag \"%s\"",
				     opts->tag ? opts->tag : "");
	if (opts->n_labels > 0) {
		json_t *o = json_object();

		for (size_t i = 0; o && i < opts->n_labels; i++)
			if (json_object_set_new(o, opts->labels[i].key,
						json_string(opts->labels[i].value)) < 0) {
				json_decref(o);
				o = NULL;
			}
		labels = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!labels)
			return errbuf_printf(err, errlen, -EINVAL,
					     "build: labels must be valid UTF-8 strings");
	}
	r = docker_url_add_param(url, "t", opts->tag);
	if (r == 0)
		r = docker_url_add_param(url, "rm", "1");
	if (r == 0)
		r = docker_url_add_param(url, "forcerm", "1");
	if (r == 0 && opts->dockerfile)
		r = docker_url_add_param(url, "dockerfile", opts->dockerfile);
	if (r == 0 && opts->no_cache)
		r = docker_url_add_param(url, "nocache", "1");
	if (r == 0 && labels)
		r = docker_url_add_param(url, "labels", labels);
	free(labels);
	if (r < 0)
		return errbuf_printf(err, errlen, r, "build: %s", strerror(-r));

	r = docker_stream(c, &s, url, "application/x-tar", NULL, read, read_user, opts->cancel, err,
			  errlen);
	if (r == -EIO && s.error && s.step > 0)
		errbuf_printf(err, errlen, r, "step %d/%d (%s) failed: %s", s.step, s.steps,
			      s.step_text ? s.step_text : "", s.error);
	if (r == 0 && !s.aux_value)
		r = errbuf_printf(err, errlen, -EPROTO,
				  "build: Docker did not say which image it built");
	if (r == 0 && image_idp) {
		*image_idp = s.aux_value;
		s.aux_value = NULL;
	}
	line_stream_release(&s);
	return r;
}

int docker_build_buffer(char **image_idp, docker_client *c, const struct docker_build_options *opts,
			const void *tar, size_t tar_len, docker_line_fn line, void *line_user,
			char *err, size_t errlen)
{
	struct mem_reader m = {.p = tar, .left = tar_len};

	return docker_build(image_idp, c, opts, mem_read, &m, line, line_user, err, errlen);
}

int docker_push(char **digestp, docker_client *c, const char *repo, const char *tag,
		docker_line_fn line, void *line_user, const atomic_int *cancel, char *err,
		size_t errlen)
{
	struct line_stream s = {
		.line = line, .user = line_user, .what = "push", .aux_key = "Digest"};
	char url[DOCKER_URL_MAX], auth_header[64];
	const char *headers[] = {auth_header, NULL};
	char *auth;
	int r, n;

	if (!docker_valid_name(repo, DOCKER_IMAGE_CHARS) || strchr(repo, '@'))
		return errbuf_printf(err, errlen, -EINVAL, "push: invalid repository \"%s\"",
				     repo ? repo : "");
	if (!docker_valid_name(tag, DOCKER_TAG_CHARS) || strlen(tag) > 128)
		return errbuf_printf(err, errlen, -EINVAL, "push: invalid tag \"%s\"",
				     tag ? tag : "");
	n = snprintf(url, sizeof url, DOCKER_URL_BASE "/images/%s/push", repo);
	if (n < 0 || (size_t)n >= sizeof url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "push: repository name too long");
	r = docker_url_add_param(url, "tag", tag);
	if (r < 0)
		return errbuf_printf(err, errlen, r, "push: %s", strerror(-r));
	/* No credentials, but Docker insists on the header: base64 of "{}". */
	r = base64_encode(&auth, "{}", 2);
	if (r < 0)
		return errbuf_printf(err, errlen, r, "out of memory");
	snprintf(auth_header, sizeof auth_header, "X-Registry-Auth: %s", auth);
	free(auth);

	r = docker_stream(c, &s, url, NULL, headers, NULL, NULL, cancel, err, errlen);
	if (r == 0 && !s.aux_value)
		r = errbuf_printf(err, errlen, -EPROTO,
				  "push: the registry did not return a digest for %s:%s", repo,
				  tag);
	if (r == 0 && digestp) {
		*digestp = s.aux_value;
		s.aux_value = NULL;
	}
	line_stream_release(&s);
	return r;
}

int docker_image_remove(docker_client *c, const char *image, bool force, char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX];
	int n;

	if (!docker_valid_name(image, DOCKER_IMAGE_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "remove image: invalid name \"%s\"",
				     image ? image : "");
	n = snprintf(url, sizeof url, DOCKER_URL_BASE "/images/%s?force=%d", image, force);
	if (n < 0 || (size_t)n >= sizeof url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "remove image: name too long");
	return docker_simple(c, "DELETE", url, NULL, DOCKER_TIMEOUT_MS, "remove image", err,
			     errlen);
}
