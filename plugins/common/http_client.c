/* plugins/common: HTTP requests with libcurl, whole or as JSON streams. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http_client.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "errbuf.h"

/* Idle easy handles, kept with their open connections: without them each
 * call opened (and closed) its own TCP connection, and a busy discovery
 * plugin left thousands of sockets in TIME_WAIT on etcd's port, eating the
 * ephemeral ports Docker publishes containers on. A handle serves one thread
 * at a time (curl does not support sharing connections between concurrent
 * threads), so calls take one from here and give it back. Each keeps one
 * connection at most, plus the socket pair curl keeps per handle to wake
 * itself: a plugin idles with at most 3 * HANDLE_POOL_MAX such fds. */
#define HANDLE_POOL_MAX 8
static CURL *pool[HANDLE_POOL_MAX];
static size_t pool_len;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static CURL *handle_take(void)
{
	CURL *c = NULL;
	pthread_mutex_lock(&pool_lock);
	if (pool_len > 0)
		c = pool[--pool_len];
	pthread_mutex_unlock(&pool_lock);
	if (c) {
		curl_easy_reset(c); /* options go; connections and DNS stay */
		return c;
	}
	return curl_easy_init();
}

/* Gives c back, or closes it when the pool is full (or the transfer failed:
 * its connection may be in any state). */
static void handle_give(CURL *c, bool reusable)
{
	pthread_mutex_lock(&pool_lock);
	if (reusable && pool_len < HANDLE_POOL_MAX) {
		pool[pool_len++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

/* State of one transfer, shared by the curl callbacks. */
struct transfer {
	CURL *curl;
	const struct http_request *req;
	nap_buf body;  /* non-streamed body */
	nap_buf line;  /* streamed: the incomplete last line */
	int streaming; /* -1 not yet known, 0 collecting, 1 streaming */
	int rc;        /* why a callback stopped the transfer (negative), or 0 */
	int stop;      /* on_json's positive stop value */
	char *err;
	size_t errlen;
	char header[256]; /* req->capture_header's value */
};

/* Decodes one line of a stream: one or more concatenated JSON objects. */
static int stream_line(struct transfer *t, const char *p, size_t n)
{
	while (n > 0) {
		json_error_t jerr;
		json_t *obj;
		size_t used;
		int r;

		while (n > 0 && isspace((unsigned char)*p))
			p++, n--;
		if (n == 0)
			break;
		obj = json_loadb(p, n, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
		if (!obj)
			return errbuf_printf(t->err, t->errlen, -EPROTO,
					     "%s %s: the answer is not a JSON stream: %s",
					     t->req->method, t->req->url, jerr.text);
		used = (size_t)jerr.position;
		r = t->req->on_json(t->req->json_user, obj);
		json_decref(obj);
		if (r < 0)
			return r;
		if (r > 0) {
			t->stop = r;
			return 1;
		}
		if (used == 0 || used > n)
			break;
		p += used;
		n -= used;
	}
	return 0;
}

/* Feeds every complete line in t->line to the stream callback; with final,
 * the rest too. Returns 0 to go on, 1 to stop, or a negative errno. */
static int stream_lines(struct transfer *t, int final)
{
	size_t start = 0;
	int r = 0;

	while (r == 0) {
		const char *text = nap_buf_text(&t->line);
		const char *nl = memchr(text + start, '\n', t->line.len - start);
		size_t end = nl ? (size_t)(nl - text) : t->line.len;

		if (!nl && !final)
			break;
		r = stream_line(t, text + start, end - start);
		start = nl ? end + 1 : end;
		if (!nl)
			break;
	}
	nap_buf_consume(&t->line, start);
	return r;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t n = size * nmemb;
	int r;

	if (t->streaming < 0) {
		long status = 0;

		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
		t->streaming = t->req->on_json && status >= 200 && status < 300;
	}
	if (!t->streaming) {
		if (t->body.len + n > HTTP_MAX_BODY) {
			t->rc = errbuf_printf(t->err, t->errlen, -EMSGSIZE,
					      "%s %s: the answer is larger than %u bytes",
					      t->req->method, t->req->url, HTTP_MAX_BODY);
			return 0;
		}
		if (nap_buf_append(&t->body, data, n) < 0) {
			t->rc = errbuf_printf(t->err, t->errlen, -ENOMEM, "out of memory");
			return 0;
		}
		return n;
	}
	if (nap_buf_append(&t->line, data, n) < 0) {
		t->rc = errbuf_printf(t->err, t->errlen, -ENOMEM, "out of memory");
		return 0;
	}
	r = stream_lines(t, 0);
	if (r == 0 && t->line.len > HTTP_MAX_LINE)
		r = errbuf_printf(t->err, t->errlen, -EMSGSIZE,
				  "%s %s: a line of the answer is longer than %u bytes",
				  t->req->method, t->req->url, HTTP_MAX_LINE);
	if (r != 0) {
		t->rc = r < 0 ? r : 0;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return n;
}

/* Keeps the value of req->capture_header ("Name: value\r\n" lines; names
 * compare without case, as HTTP says). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t n = size * nmemb, nl = strlen(t->req->capture_header);

	if (n > nl + 1 && strncasecmp(data, t->req->capture_header, nl) == 0 && data[nl] == ':') {
		const char *v = data + nl + 1;
		size_t vl = n - nl - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl >= sizeof(t->header))
			vl = sizeof(t->header) - 1;
		memcpy(t->header, v, vl);
		t->header[vl] = '\0';
	}
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	ssize_t n = t->req->read(t->req->read_user, buf, size * nmemb);

	if (n < 0) {
		t->rc = (int)n;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = user;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return t->req->cancel && atomic_load(t->req->cancel) ? 1 : 0;
}

/* Our errno for a failed curl_easy_perform(), with a message in t->err. */
static int transfer_error(struct transfer *t, CURLcode code, const char *curl_msg)
{
	const struct http_request *req = t->req;
	const char *where = req->unix_socket ? req->unix_socket : req->url;
	const char *why = curl_msg[0] ? curl_msg : curl_easy_strerror(code);
	int r;

	if (t->rc < 0)
		return t->rc; /* a callback's reason; the message is written */
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		r = -ECONNREFUSED;
		return errbuf_printf(t->err, t->errlen, r, "cannot connect to %s: %s", where, why);
	case CURLE_OPERATION_TIMEDOUT:
		r = -ETIMEDOUT;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		return errbuf_printf(t->err, t->errlen, -ECANCELED, "%s %s: cancelled", req->method,
				     req->url);
	case CURLE_OUT_OF_MEMORY:
		return errbuf_printf(t->err, t->errlen, -ENOMEM, "out of memory");
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
		r = -EPROTO;
		break;
	default:
		r = -EIO;
		break;
	}
	return errbuf_printf(t->err, t->errlen, r, "%s %s (%s): %s", req->method, req->url, where,
			     why);
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

int http_perform(struct http_response *resp, const struct http_request *req, char *err,
		 size_t errlen)
{
	struct transfer t = {.req = req, .streaming = -1, .err = err, .errlen = errlen};
	char curl_msg[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	char ctype[256];
	CURLcode code;
	long status = 0;
	int r = 0;

	t.curl = handle_take();
	if (!t.curl)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory (curl_easy_init)");

	/* Headers: the body's type, no "Expect: 100-continue" round trip, extras. */
	r = add_header(&headers, "Expect:");
	if (r == 0 && req->content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type);
		r = add_header(&headers, ctype);
	}
	for (const char *const *x = req->headers; r == 0 && x && *x; x++)
		r = add_header(&headers, *x);
	if (r < 0) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}

	curl_easy_setopt(t.curl, CURLOPT_NOSIGNAL, 1L); /* required with threads */
	curl_easy_setopt(t.curl, CURLOPT_MAXCONNECTS, 1L);
	/* A streamed body cannot be rewound, so it cannot be sent again on a
	 * fresh connection if a kept-alive one turns out to be closed. */
	if (req->read)
		curl_easy_setopt(t.curl, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, curl_msg);
	curl_easy_setopt(t.curl, CURLOPT_URL, req->url);
	if (req->unix_socket)
		curl_easy_setopt(t.curl, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	curl_easy_setopt(t.curl, CURLOPT_HTTPHEADER, headers);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms > 0 ? req->connect_timeout_ms
						     : HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(t.curl, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
	curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
	if (req->capture_header) {
		curl_easy_setopt(t.curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(t.curl, CURLOPT_HEADERDATA, &t);
	}
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(t.curl, CURLOPT_POST, 1L);
		if (req->read) {
			/* No size given: curl sends the body chunked. */
			curl_easy_setopt(t.curl, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(t.curl, CURLOPT_READDATA, &t);
		} else {
			curl_easy_setopt(t.curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(t.curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(req->body ? req->body_len : 0));
		}
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(t.curl, CURLOPT_CUSTOMREQUEST, req->method);
	}

	code = curl_easy_perform(t.curl);
	if (code == CURLE_WRITE_ERROR && t.rc == 0 && t.stop > 0)
		code = CURLE_OK; /* on_json asked to stop */
	if (code == CURLE_OK && t.streaming == 1 && t.stop == 0) {
		r = stream_lines(&t, 1); /* a last line without its newline */
		if (r < 0)
			goto out;
		r = 0;
	}
	if (code != CURLE_OK) {
		r = transfer_error(&t, code, curl_msg);
		goto out;
	}
	curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
	/* A non-streamed answer always has a body string, if only "". */
	if (!t.body.data && !(req->on_json && status >= 200 && status < 300) &&
	    nap_buf_append(&t.body, "", 0) < 0) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	*resp = (struct http_response){.status = status, .body_len = t.body.len, .stop = t.stop};
	memcpy(resp->header, t.header, sizeof(resp->header));
	resp->body = nap_buf_steal(&t.body); /* after reading its length */
out:
	nap_buf_release(&t.body);
	nap_buf_release(&t.line);
	curl_slist_free_all(headers);
	handle_give(t.curl, r == 0);
	return r;
}

void http_response_release(struct http_response *resp)
{
	free(resp->body);
	*resp = (struct http_response){0};
}

char *http_response_reason(const struct http_response *resp, char *buf, size_t len)
{
	const char *s = NULL;
	size_t n;
	json_t *j;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (!resp->body)
		return buf;
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (json_is_object(j)) {
		s = json_string_value(json_object_get(j, "message"));
		if (!s || !*s)
			s = json_string_value(json_object_get(j, "error"));
	}
	if (s && *s) {
		snprintf(buf, len, "%s", s);
	} else {
		s = resp->body;
		n = resp->body_len;
		while (n > 0 && isspace((unsigned char)*s))
			s++, n--;
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		snprintf(buf, len, "%.*s", n > (size_t)INT_MAX ? INT_MAX : (int)n, s);
	}
	json_decref(j);
	return buf;
}
