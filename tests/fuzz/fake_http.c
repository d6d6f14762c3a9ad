/* Fuzz helper: plugins/common's HTTP client with the network taken out.
 *
 * http_client.c is compiled in here whole, its http_perform() renamed, so
 * that the real answer handling (stream framing into JSON objects, size
 * limits, http_response_reason()) runs on fuzzed bytes; the replacement
 * http_perform() below hands out answers.h's answers in place of a server.
 * Docker's and etcd's clients (docker_*.c, etcd_v3.c) link against it. */
#define http_perform http_perform_with_curl
#include "http_client.c"
#undef http_perform

#include "answers.h"

int http_perform(struct http_response *resp, const struct http_request *req, char *err,
		 size_t errlen);

/* Feeds the body to the real write callback in pieces, as curl would. */
int http_perform(struct http_response *resp, const struct http_request *req, char *err,
		 size_t errlen)
{
	struct transfer t = {.req = req, .err = err, .errlen = errlen};
	struct answer a;
	int r = 0;

	if (req->read) {
		char buf[16384];
		ssize_t n;
		size_t total = 0;

		while ((n = req->read(req->read_user, buf, sizeof(buf))) > 0 && total < (64u << 20))
			total += (size_t)n;
		if (n < 0)
			return (int)n;
	}
	answers_set_last_request(req->body, req->body_len);
	if (req->cancel && atomic_load(req->cancel))
		return errbuf_printf(err, errlen, -ECANCELED, "%s %s: cancelled", req->method,
				     req->url);
	if (!answers_next(&a))
		return errbuf_printf(err, errlen, -ECONNREFUSED, "cannot connect to %s: fuzz",
				     req->url);
	/* As on_write() decides it at the first bytes (none: never). */
	t.streaming = a.len == 0 ? -1 : req->on_json && a.status >= 200 && a.status < 300;
	for (size_t off = 0; off < a.len;) {
		size_t n = a.len - off < 4096 ? a.len - off : 4096;

		if (on_write((char *)a.body + off, 1, n, &t) != n) {
			if (t.rc == 0 && t.stop > 0)
				break;
			r = t.rc < 0 ? t.rc : -EIO;
			goto out;
		}
		off += n;
	}
	if (t.streaming == 1 && t.stop == 0) {
		r = stream_lines(&t, 1);
		if (r < 0)
			goto out;
		r = 0;
	}
	if (!t.body.data && !(req->on_json && a.status >= 200 && a.status < 300) &&
	    nap_buf_append(&t.body, "", 0) < 0) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	*resp = (struct http_response){.status = a.status, .body_len = t.body.len, .stop = t.stop};
	resp->body = nap_buf_steal(&t.body);
out:
	nap_buf_release(&t.body);
	nap_buf_release(&t.line);
	return r;
}
