/* plugins/common: JSON requests of any path (what the Swarm API needs:
 * services, tasks, nodes), an image's exposed ports, and collected log
 * streams (a service's logs). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_api.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_request.h"
#include "errbuf.h"

int docker_json(json_t **outp, docker_client *c, const char *method, const char *path, json_t *body,
		const char *what, char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX], *text = NULL;
	struct http_response resp;
	json_t *j = NULL;
	int n, r;

	n = snprintf(url, sizeof url, DOCKER_URL_BASE "%s", path);
	if (n < 0 || (size_t)n >= sizeof url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "%s: URL too long", what);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return errbuf_printf(err, errlen, -ENOMEM, "%s: out of memory", what);
	}
	r = docker_request(&resp, c, method, url, text, DOCKER_TIMEOUT_MS, what, err, errlen);
	free(text);
	if (r < 0)
		return r;
	if (resp.body_len > 0 && outp) {
		j = docker_decode_body(&resp, what, err, errlen);
		if (!j)
			r = -EPROTO;
	}
	http_response_release(&resp);
	if (r == 0 && outp)
		*outp = j;
	return r;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int docker_image_tcp_ports(unsigned **portsp, size_t *np, docker_client *c, const char *image,
			   char *err, size_t errlen)
{
	char path[DOCKER_URL_MAX];
	json_t *j = NULL, *exposed;
	unsigned *ports = NULL;
	const char *key;
	json_t *v;
	size_t n = 0;
	int r;

	if (!docker_valid_name(image, DOCKER_IMAGE_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "image name \"%.80s\" is not valid",
				     image);
	snprintf(path, sizeof path, "/images/%s/json", image);
	r = docker_json(&j, c, "GET", path, NULL, "image inspect", err, errlen);
	if (r < 0)
		return r;
	exposed = json_object_get(json_object_get(j, "Config"), "ExposedPorts");
	ports = calloc(json_object_size(exposed) + 1, sizeof *ports);
	if (!ports) {
		json_decref(j);
		return errbuf_printf(err, errlen, -ENOMEM, "image inspect: out of memory");
	}
	json_object_foreach(exposed, key, v)
	{
		char *end;
		unsigned long p = strtoul(key, &end, 10);

		if (p > 0 && p < 65536 && (strcmp(end, "/tcp") == 0 || *end == '\0'))
			ports[n++] = (unsigned)p;
	}
	json_decref(j);
	qsort(ports, n, sizeof *ports, cmp_unsigned);
	if (n == 0) {
		free(ports);
		ports = NULL;
	}
	*portsp = ports;
	*np = n;
	return 0;
}

/* Hands over the lines of one stream's text. */
static int split_lines(const char *p, size_t len, int stream, docker_log_line_fn line, void *user)
{
	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t l = nl ? (size_t)(nl - p) : len;
		size_t keep = l;
		char *copy;
		int r;

		if (keep > 0 && p[keep - 1] == '\r')
			keep--;
		copy = malloc(keep + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, keep);
		copy[keep] = '\0';
		r = line(user, stream, copy, keep);
		free(copy);
		if (r)
			return r;
		p += nl ? l + 1 : l;
		len -= nl ? l + 1 : l;
	}
	return 0;
}

int docker_logs_get(docker_client *c, const char *path, docker_log_line_fn line, void *user,
		    char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX];
	struct http_response resp;
	const unsigned char *p;
	size_t left;
	int n, r;

	n = snprintf(url, sizeof url, DOCKER_URL_BASE "%s", path);
	if (n < 0 || (size_t)n >= sizeof url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "logs: URL too long");
	r = docker_request(&resp, c, "GET", url, NULL, DOCKER_TIMEOUT_MS, "logs", err, errlen);
	if (r < 0)
		return r;
	p = (const unsigned char *)resp.body;
	left = resp.body_len;
	/* Frames of [stream, 0, 0, 0, length (32-bit big-endian)] and the
	 * output; anything else is a TTY's raw stream. */
	if (left >= 8 && p[0] <= 2 && !p[1] && !p[2] && !p[3]) {
		/* Lines may span frames of the same stream: join per frame is
		 * enough for a collected answer (Docker frames whole lines). */
		while (r == 0 && left >= 8) {
			int stream = p[0] == 2 ? 2 : 1;
			size_t flen = (size_t)p[4] << 24 | (size_t)p[5] << 16 | (size_t)p[6] << 8 |
				      (size_t)p[7];

			if (flen > left - 8)
				flen = left - 8;
			r = split_lines((const char *)p + 8, flen, stream, line, user);
			p += 8 + flen;
			left -= 8 + flen;
		}
	} else if (left > 0) {
		r = split_lines((const char *)p, left, 1, line, user);
	}
	http_response_release(&resp);
	return r;
}
