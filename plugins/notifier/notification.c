/* notifier: checks, JSON body and log line of a notification (see
 * notification.h). The body is built with jansson, never by pasting
 * strings, so no field can break out of its JSON string. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "notification.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "errbuf.h"

#include <nap/limits.h>
#include <nap/names.h>

/* 9999-12-31T23:59:59.999Z: RFC 3339 has four-digit years. */
#define UNIX_MS_MAX UINT64_C(253402300799999)
#define OUTCOME_MAX 64

/* A word safe in an HTTP header and a log line: [a-z][a-z0-9_-]{0,31}. */
static bool event_word_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

const char *notification_event(const Nap__Notification *n)
{
	return n->event && n->event[0] ? n->event : "deploy";
}

int notification_check(const Nap__Notification *n, char *err, size_t errlen)
{
	const char *app = n->app ? n->app : "";

	if (!nap_app_name_valid(app))
		return errbuf_printf(err, errlen, -EINVAL,
				     "notifier: \"%.64s\" is not a valid app name: use 1 to 63 "
				     "lowercase letters, digits and '-', starting with a letter",
				     app);
	if (!n->outcome || !n->outcome[0])
		return errbuf_printf(err, errlen, -EINVAL,
				     "notifier: the notification for %s has no outcome: set it to "
				     "\"succeeded\" or \"failed\"",
				     app);
	if (strlen(n->outcome) > OUTCOME_MAX)
		return errbuf_printf(err, errlen, -EINVAL,
				     "notifier: the outcome for %s is longer than %d bytes: use "
				     "\"succeeded\" or \"failed\"",
				     app, OUTCOME_MAX);
	if (!event_word_valid(notification_event(n)))
		return errbuf_printf(
			err, errlen, -EINVAL,
			"notifier: the event for %s is not a word of 1 to 32 lowercase "
			"letters, digits, '-' and '_': use e.g. \"deploy\"",
			app);
	if ((n->error && strlen(n->error) > NAP_MESSAGE_MAX) || n->n_endpoints > NAP_ENDPOINTS_MAX)
		return errbuf_printf(
			err, errlen, -EINVAL,
			"notifier: the notification for %s has an error past %u bytes "
			"(NAP_MESSAGE_MAX) or more than %u endpoints (NAP_ENDPOINTS_MAX)",
			app, NAP_MESSAGE_MAX, NAP_ENDPOINTS_MAX);
	if (n->started_unix_ms > UNIX_MS_MAX || n->finished_unix_ms > UNIX_MS_MAX)
		return errbuf_printf(
			err, errlen, -EINVAL,
			"notifier: a timestamp of the notification for %s is after the "
			"year 9999: send Unix milliseconds",
			app);
	return 0;
}

/* "2026-11-25T10:00:00.123Z", or JSON null for 0 (not known). */
static json_t *json_time(uint64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	char buf[40];
	struct tm tm;

	if (unix_ms == 0 || !gmtime_r(&secs, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(unix_ms % 1000));
	return json_string(buf);
}

/* How long the event took, if both ends are known; -1 otherwise. */
static int64_t duration_ms(const Nap__Notification *n)
{
	if (!n->started_unix_ms || !n->finished_unix_ms || n->finished_unix_ms < n->started_unix_ms)
		return -1;
	return (int64_t)(n->finished_unix_ms - n->started_unix_ms);
}

/* A string member, or null when empty; *bad is set when s is not UTF-8. */
static json_t *json_text(const char *s, bool *bad)
{
	json_t *j;

	if (!s || !s[0])
		return json_null();
	j = json_string(s);
	if (!j)
		*bad = true;
	return j;
}

/* Sets key to value, tracking failures in *bad (value is always consumed). */
static void put(json_t *obj, const char *key, json_t *value, bool *bad)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		*bad = true;
}

static json_t *json_endpoint(const Nap__Endpoint *e, bool *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = true;
		return NULL;
	}
	put(o, "host", json_text(e->host, bad), bad);
	put(o, "port", json_integer(e->port), bad);
	put(o, "instance", json_integer(e->instance), bad);
	put(o, "url", json_text(e->url, bad), bad);
	/* 1.2: which port of the instance, for an app with several (the
	 * default one first); a payload without them reads as before. */
	if (e->container_port)
		put(o, "container_port", json_integer(e->container_port), bad);
	if (e->extra_port)
		put(o, "extra_port", json_true(), bad);
	return o;
}

char *notification_json(const Nap__Notification *n, size_t *lenp, char *err, size_t errlen)
{
	json_t *body = json_object(), *eps = json_array();
	int64_t took = duration_ms(n);
	bool bad = !body || !eps;
	char *out = NULL;

	if (!bad) {
		put(body, "event", json_string(notification_event(n)), &bad);
		put(body, "app", json_text(n->app, &bad), &bad);
		put(body, "release", json_integer(n->release), &bad);
		put(body, "outcome", json_text(n->outcome, &bad), &bad);
		put(body, "stage", json_text(n->stage, &bad), &bad);
		put(body, "error", json_text(n->error, &bad), &bad);
		for (size_t i = 0; i < n->n_endpoints; i++) {
			json_t *e = json_endpoint(n->endpoints[i], &bad);
			if (!e || json_array_append_new(eps, e) < 0)
				bad = true;
		}
		put(body, "endpoints", json_incref(eps), &bad);
		put(body, "started_at", json_time(n->started_unix_ms), &bad);
		put(body, "finished_at", json_time(n->finished_unix_ms), &bad);
		put(body, "duration_ms", took < 0 ? json_null() : json_integer(took), &bad);
	}
	if (!bad)
		out = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(eps);
	json_decref(body);
	if (!out) {
		errbuf_printf(err, errlen, -EINVAL,
			      "notifier: the notification for %s has a string that is not UTF-8 "
			      "(or memory ran out): send UTF-8 text",
			      n->app);
		return NULL;
	}
	*lenp = strlen(out);
	return out;
}

/* A bounded line: appends stop at the limit and the line then ends "...". */
struct line {
	char *buf;
	size_t len;
	bool cut;
};

static void line_add(struct line *l, const char *s, size_t n)
{
	const size_t room = NOTIFICATION_LINE_MAX - 4; /* for "..." and the NUL */

	for (size_t i = 0; i < n && !l->cut; i++) {
		unsigned char c = (unsigned char)s[i];
		if (l->len == room) {
			l->cut = true;
			break;
		}
		/* Control characters would split the log line or fake another. */
		l->buf[l->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	l->buf[l->len] = '\0';
}

static void line_str(struct line *l, const char *s)
{
	line_add(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void line_printf(struct line *l, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		line_add(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void line_endpoint(struct line *l, const Nap__Endpoint *e)
{
	line_str(l, " ");
	if (e->url && e->url[0])
		line_str(l, e->url);
	else if (e->host && strchr(e->host, ':'))
		line_str(l, "["), line_str(l, e->host), line_printf(l, "]:%" PRIu32, e->port);
	else
		line_str(l, e->host ? e->host : ""), line_printf(l, ":%" PRIu32, e->port);
}

void notification_line(const Nap__Notification *n, char *buf)
{
	struct line l = {.buf = buf};
	bool succeeded = strcmp(n->outcome, "succeeded") == 0;
	bool has_stage = n->stage && n->stage[0], has_error = n->error && n->error[0];
	int64_t took = duration_ms(n);

	buf[0] = '\0';
	line_str(&l, notification_event(n));
	line_str(&l, " ");
	line_str(&l, n->app);
	if (n->release)
		line_printf(&l, " release %" PRIu32, n->release);
	line_str(&l, " ");
	line_str(&l, n->outcome);
	if (has_stage && !succeeded)
		line_str(&l, " at "), line_str(&l, n->stage);
	if (took >= 0 && (succeeded || !has_error))
		line_printf(&l, " in %" PRId64 ".%" PRId64 " s", took / 1000, took % 1000 / 100);
	if (has_error && !succeeded) {
		line_str(&l, ": ");
		line_str(&l, n->error);
	} else if (n->n_endpoints) {
		line_str(&l, ":");
		for (size_t i = 0; i < n->n_endpoints; i++)
			line_endpoint(&l, n->endpoints[i]);
	}
	if (l.cut)
		memcpy(buf + l.len, "...", 4);
}
