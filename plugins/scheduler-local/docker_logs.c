/* scheduler-local: containers' logs from Docker, demultiplexed into lines.
 * One curl easy handle per container, all driven by one multi handle on the
 * caller's thread, so following many containers needs no thread each. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_logs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "docker_api.h"
#include "errbuf.h"
#include "http_client.h"

/* How much of a refusal's body is kept for the message. */
#define SL_LOG_ERRBODY_MAX 1024u

/* One container's transfer. */
struct log_stream {
	CURL *easy;
	const struct sl_log_source *src;
	char url[256];
	long status; /* HTTP status, once known */
	int mode;    /* -1 not yet known, 0 multiplexed, 1 raw (TTY) */
	unsigned char hdr[8];
	size_t hdr_len;  /* header bytes read of the current frame */
	uint32_t left;   /* payload bytes left in the current frame */
	int stream;      /* the current frame's stream: 1 or 2 */
	nap_buf line[3]; /* partial line per stream (index 1, 2) */
	nap_buf errbody; /* a non-2xx answer's body */
	int rc;          /* a callback's failure, or 0 */
	bool done;
	CURLcode result;
	char curl_msg[CURL_ERROR_SIZE];
	/* Shared by all streams of one call. */
	sl_log_line_fn line_fn;
	void *user;
};

static int emit(struct log_stream *s, int stream)
{
	nap_buf *b = &s->line[stream];
	size_t len = b->len;
	int r;

	if (len > 0 && nap_buf_text(b)[len - 1] == '\r')
		len--;
	r = s->line_fn(s->user, s->src->instance, stream, nap_buf_text(b), len);
	nap_buf_consume(b, b->len);
	return r;
}

/* Adds output of one stream, handing over every completed line. */
static int feed(struct log_stream *s, int stream, const char *p, size_t n)
{
	nap_buf *b = &s->line[stream];

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		size_t room = SL_LOG_LINE_MAX - b->len;
		bool full = take >= room;
		int r;

		if (full)
			take = room;
		if (nap_buf_append(b, p, take) < 0)
			return -ENOMEM;
		p += take;
		n -= take;
		if (nl && !full) {
			p++, n--; /* the newline itself */
			full = true;
		}
		if (full && (r = emit(s, stream)) < 0)
			return r;
	}
	return 0;
}

/* Walks the multiplexed stream: header, payload, header, ... */
static int demux(struct log_stream *s, const char *p, size_t n)
{
	if (s->mode < 0) /* a TTY stream starts with output, never with 0-2,0,0,0 */
		s->mode = !(n >= 4 && (unsigned char)p[0] <= 2 && !p[1] && !p[2] && !p[3]);
	if (s->mode == 1)
		return feed(s, 1, p, n);
	while (n > 0) {
		int r;

		if (s->left == 0 && s->hdr_len < 8) {
			size_t take = 8 - s->hdr_len < n ? 8 - s->hdr_len : n;

			memcpy(s->hdr + s->hdr_len, p, take);
			s->hdr_len += take;
			p += take;
			n -= take;
			if (s->hdr_len < 8)
				break;
			s->stream = s->hdr[0] == 2 ? 2 : 1;
			s->left = (uint32_t)s->hdr[4] << 24 | (uint32_t)s->hdr[5] << 16 |
				  (uint32_t)s->hdr[6] << 8 | s->hdr[7];
			s->hdr_len = s->left ? 8 : 0;
			continue;
		}
		size_t take = s->left < n ? s->left : n;

		r = feed(s, s->stream, p, take);
		if (r < 0)
			return r;
		p += take;
		n -= take;
		s->left -= (uint32_t)take;
		if (s->left == 0)
			s->hdr_len = 0;
	}
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct log_stream *s = user;
	size_t n = size * nmemb;

	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status >= 300) {
		size_t room = SL_LOG_ERRBODY_MAX - s->errbody.len;

		if (nap_buf_append(&s->errbody, data, n < room ? n : room) < 0)
			return 0;
		return n;
	}
	s->rc = demux(s, data, n);
	return s->rc < 0 ? 0 : n;
}

static int stream_setup(struct log_stream *s, const char *socket, bool follow, uint32_t tail)
{
	char tailbuf[16] = "all";

	if (tail)
		snprintf(tailbuf, sizeof tailbuf, "%u", (unsigned)tail);
	snprintf(s->url, sizeof s->url,
		 "http://docker/" DOCKER_API_VERSION
		 "/containers/%s/logs?stdout=1&stderr=1&tail=%s%s",
		 s->src->id, tailbuf, follow ? "&follow=1" : "");
	s->easy = curl_easy_init();
	if (!s->easy)
		return -ENOMEM;
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	curl_easy_setopt(s->easy, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_msg);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	return 0;
}

/* The outcome of one finished transfer: 0, or an errno with err written. */
static int stream_result(struct log_stream *s, const char *socket, char *err, size_t errlen)
{
	if (s->rc < 0)
		return s->rc;
	if (s->result == CURLE_COULDNT_CONNECT)
		return errbuf_printf(err, errlen, -ECONNREFUSED,
				     "logs: Docker is not answering on %s (is dockerd running? "
				     "scripts/servers start)",
				     socket);
	if (s->result != CURLE_OK)
		return errbuf_printf(err, errlen, -EPROTO, "logs of %.12s: %s", s->src->id,
				     s->curl_msg[0] ? s->curl_msg : curl_easy_strerror(s->result));
	/* on_write() learns the status with the first byte of the body; a
	 * container that has written nothing yet sends none, so ask curl. */
	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status == 404)
		return 0; /* the container went away meanwhile */
	if (s->status < 200 || s->status >= 300) {
		struct http_response resp = {.status = s->status,
					     .body = (char *)nap_buf_text(&s->errbody),
					     .body_len = s->errbody.len};
		char reason[512];

		return errbuf_printf(err, errlen, -EIO, "logs of %.12s: Docker answered %ld: %s",
				     s->src->id, s->status,
				     http_response_reason(&resp, reason, sizeof reason));
	}
	/* Output that did not end with a newline is a line too. */
	for (int i = 1; i <= 2; i++)
		if (s->line[i].len > 0) {
			int r = emit(s, i);

			if (r < 0)
				return r;
		}
	return 0;
}

int sl_docker_logs(const char *socket, const struct sl_log_source *sources, size_t n, bool follow,
		   uint32_t tail, sl_log_line_fn line, sl_log_cancel_fn cancelled, void *user,
		   char *err, size_t errlen)
{
	struct log_stream *streams = NULL;
	CURLM *multi = NULL;
	int r = 0, first = 0, running = 0;
	char why[512];

	if (n == 0)
		return 0;
	streams = calloc(n, sizeof *streams);
	multi = curl_multi_init();
	if (!streams || !multi) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct log_stream *s = &streams[i];

		s->src = &sources[i];
		s->mode = -1;
		s->line_fn = line;
		s->user = user;
		if (stream_setup(s, socket, follow, tail) < 0 ||
		    curl_multi_add_handle(multi, s->easy) != CURLM_OK) {
			r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
	}
	do {
		CURLMsg *msg;
		int left;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			r = errbuf_printf(err, errlen, -EIO, "logs: curl_multi_perform failed");
			break;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct log_stream *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			s->done = true;
			s->result = msg->data.result;
			r = stream_result(s, socket, why, sizeof why);
			/* A line() failure stops everything; other failures only
			 * their container, the first one reported at the end. */
			if (r < 0 && s->rc < 0)
				goto out;
			if (r < 0 && first == 0) {
				first = r;
				errbuf_printf(err, errlen, r, "%s", why);
			}
			r = 0;
		}
		if (running == 0)
			break;
		if (cancelled && cancelled(user)) {
			r = errbuf_printf(err, errlen, -ECANCELED, "logs: cancelled");
			break;
		}
		curl_multi_poll(multi, NULL, 0, 200, NULL);
	} while (1);
	if (r == 0 && first < 0)
		r = first; /* err holds the first failure's message */
out:
	for (size_t i = 0; streams && i < n; i++) {
		struct log_stream *s = &streams[i];

		if (s->easy) {
			curl_multi_remove_handle(multi, s->easy);
			curl_easy_cleanup(s->easy);
		}
		for (int k = 0; k < 3; k++)
			nap_buf_release(&s->line[k]);
		nap_buf_release(&s->errbody);
	}
	free(streams);
	if (multi)
		curl_multi_cleanup(multi);
	return r;
}
