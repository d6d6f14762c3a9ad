/* Fuzz helper: scheduler-fleet's transport with the network taken out.
 *
 * fleet_http.c is compiled in here whole, its fleet_http() renamed; the
 * replacement takes answers.h's answers as fleet's, through the real
 * body collector and error-answer reader, so fleet_api.c's readers run on
 * fuzzed bytes. */
#define fleet_http fleet_http_with_curl
#include "fleet_http.c"
#undef fleet_http

#include "answers.h"

int fleet_http(long *statusp, json_t **jsonp, const struct fleet_client *c, const char *method,
	       const char *path, const char *body, char *err, size_t errlen);

int fleet_http(long *statusp, json_t **jsonp, const struct fleet_client *c, const char *method,
	       const char *path, const char *body, char *err, size_t errlen)
{
	struct body b = {0};
	struct answer a;
	int r = 0;

	answers_set_last_request(body, body ? strlen(body) : 0);
	if (!answers_next(&a))
		return errbuf_printf(err, errlen, -ECONNREFUSED,
				     "cannot reach fleet at %s: fuzz; is fleetd running?",
				     c->endpoint);
	for (size_t off = 0; off < a.len;) {
		size_t n = a.len - off < 4096 ? a.len - off : 4096;

		if (on_write((char *)a.body + off, 1, n, &b) != n) {
			r = errbuf_printf(err, errlen, -EPROTO, "fleet sent too much");
			goto out;
		}
		off += n;
	}
	if (a.status < 200 || a.status > 299) {
		r = http_error(c, a.status, &b, method, path, err, errlen);
		goto out;
	}
	if (jsonp) {
		json_error_t je;

		*jsonp = NULL;
		if (b.len) {
			*jsonp = json_loadb(b.p, b.len, 0, &je);
			if (!*jsonp) {
				r = errbuf_printf(err, errlen, -EPROTO, "fleet sent no JSON (%s)",
						  je.text);
				goto out;
			}
		}
	}
	*statusp = a.status;
out:
	free(b.p);
	return r;
}
