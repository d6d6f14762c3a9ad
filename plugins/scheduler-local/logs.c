/* scheduler-local: nap.Scheduler.Logs, the output of an app's running
 * containers as LogLine messages, read until the end or, with follow,
 * until the caller cancels (or every container stopped). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docker_logs.h"

struct logs_call {
	const struct sl_state *st;
	nap_plugin_call *call;
	char *text; /* one line made valid UTF-8, SL_LOG_LINE_MAX * 3 + 1 bytes */
};

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned need, min;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		need = 1, min = 0x80, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		need = 2, min = 0x800, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		need = 3, min = 0x10000, cp = p[0] & 0x07;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need + 1;
}

/* LogLine.line is a protobuf string, so it must be UTF-8: other bytes (and
 * NULs) become U+FFFD. */
static const char *as_text(char *out, const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t k = p[i] ? utf8_seq(p + i, len - i) : 0;

		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

static int on_line(void *user, uint32_t instance, int stream, const char *line, size_t len)
{
	struct logs_call *lc = user;
	Nap__LogLine msg = NAP__LOG_LINE__INIT;

	(void)stream;
	msg.instance = instance;
	msg.line = (char *)as_text(lc->text, line, len);
	/* The caller is gone (or the stream broke): stop reading. */
	return lc->st->host->send(lc->call, &msg.base) < 0 ? -EPIPE : 0;
}

static bool is_cancelled(void *user)
{
	struct logs_call *lc = user;

	return lc->st->host->cancelled(lc->call);
}

static int by_instance(const void *a, const void *b)
{
	const struct sl_log_source *x = a, *y = b;

	return x->instance < y->instance ? -1 : x->instance > y->instance;
}

void sl_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__LogsRequest *req = (const Nap__LogsRequest *)request;
	struct logs_call lc = {.st = st, .call = call};
	struct docker_container_summary *list = NULL;
	struct sl_log_source *sources = NULL;
	char err[512];
	size_t n = 0, k = 0;
	int r;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-local: invalid app name \"%.80s\": use "
			      "^[a-z][a-z0-9-]{0,62}$",
			      req->app);
		return;
	}
	r = sl_list_containers(&list, &n, st, req->app, 0, false, err, sizeof err);
	if (r < 0) {
		sl_end_docker(st, call, r, err);
		return;
	}
	sources = calloc(n ? n : 1, sizeof *sources);
	lc.text = malloc(SL_LOG_LINE_MAX * 3 + 1);
	if (!sources || !lc.text) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!list[i].id || strspn(list[i].id, "0123456789abcdef") != strlen(list[i].id))
			continue; /* only IDs go into the URL */
		sources[k].id = list[i].id;
		sources[k].instance = sl_label_u32(&list[i], NAP_LABEL_INSTANCE);
		k++;
	}
	qsort(sources, k, sizeof *sources, by_instance);
	if (req->follow) {
		r = sl_docker_logs(st->socket, sources, k, true, req->tail, on_line, is_cancelled,
				   &lc, err, sizeof err);
	} else {
		/* One container after the other, so each one's lines stay together. */
		for (size_t i = 0; i < k && r == 0; i++)
			r = sl_docker_logs(st->socket, &sources[i], 1, false, req->tail, on_line,
					   is_cancelled, &lc, err, sizeof err);
	}
out:
	if (r == -ENOMEM)
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-local: out of memory");
	else if (r == -EPIPE || r == -ECANCELED)
		st->host->end(call, NAP_CANCELLED, "scheduler-local: logs of %s cancelled",
			      req->app);
	else if (r < 0)
		sl_end_docker(st, call, r, err);
	else
		st->host->end(call, NAP_OK, "%s", "");
	free(lc.text);
	free(sources);
	docker_container_list_free(list, n);
}
