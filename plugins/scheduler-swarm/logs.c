/* scheduler-swarm: nap.Scheduler.Logs, each instance's service logs as the
 * manager gathers them from the nodes (GET /services/<id>/logs): the last
 * tail lines of each instance and, with follow, what they write next. The
 * manager's log stream is read whole per request, so following asks again
 * every SW_LOGS_FOLLOW_MS from the last line's timestamp on (lines at that
 * very timestamp are skipped), with instances that appear meanwhile. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nap/control.pb-c.h>

#define SW_LOGS_FOLLOW_MS 500
#define SW_LOGS_SOURCES_MAX 256

struct source {
	char service_id[64];
	uint32_t instance;
	int64_t last_ns; /* the newest line's time sent, 0: none yet */
};

struct logs {
	const struct sw_state *st;
	nap_plugin_call *call;
	struct source *src;
};

/* "2026-11-30T20:18:12.123456789Z" as ns since the epoch; 0 if not one. */
static int64_t parse_ts(const char *s, size_t len, size_t *used)
{
	struct tm tm = {0};
	char buf[64];
	const char *p;
	int64_t ns, frac = 0, scale = 100000000;

	*used = 0;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	ns = (int64_t)timegm(&tm) * 1000000000;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (*p == 'Z')
		p++;
	if (*p == ' ')
		p++;
	*used = (size_t)(p - buf);
	return ns + frac;
}

static int on_line(void *user, int stream, const char *line, size_t len)
{
	struct logs *l = user;
	Nap__LogLine out = NAP__LOG_LINE__INIT;
	size_t used;
	int64_t ts = parse_ts(line, len, &used);

	(void)stream;
	if (ts && ts <= l->src->last_ns)
		return 0; /* sent by the previous round */
	if (ts)
		l->src->last_ns = ts;
	out.instance = l->src->instance;
	out.line = (char *)line + used;
	return l->st->host->send(l->call, &out.base) < 0 ? -EPIPE : 0;
}

/* Adds the services of snap not in src yet. */
static void sources_update(struct source *src, size_t *n, const struct sw_snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++) {
		bool known = false;

		for (size_t j = 0; j < *n && !known; j++)
			known = strcmp(src[j].service_id, snap->v[i].service_id) == 0;
		if (known || *n >= SW_LOGS_SOURCES_MAX)
			continue;
		snprintf(src[*n].service_id, sizeof src[*n].service_id, "%s",
			 snap->v[i].service_id);
		src[*n].instance = snap->v[i].instance;
		src[*n].last_ns = 0;
		(*n)++;
	}
}

/* One round over every source: the tail (first round) or what is new. */
static int logs_round(struct logs *l, struct source *src, size_t n, uint32_t tail, bool first,
		      char *err, size_t errlen)
{
	char path[256], tailp[16] = "all", since[48] = "";
	int r = 0;

	if (tail)
		snprintf(tailp, sizeof tailp, "%u", (unsigned)tail);
	for (size_t i = 0; i < n && r == 0; i++) {
		l->src = &src[i];
		if (src[i].last_ns)
			snprintf(since, sizeof since, "&since=%lld.%09lld",
				 (long long)(src[i].last_ns / 1000000000),
				 (long long)(src[i].last_ns % 1000000000));
		else
			since[0] = '\0';
		snprintf(path, sizeof path,
			 "/services/%s/logs?stdout=1&stderr=1&timestamps=1&tail=%s%s",
			 src[i].service_id, first || !src[i].last_ns ? tailp : "all", since);
		r = docker_logs_get(l->st->manager, path, on_line, l, err, errlen);
		if (r == -ENOENT) /* removed meanwhile */
			r = 0;
	}
	return r;
}

void sw_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sw_state *st = state;
	const Nap__LogsRequest *req = (const Nap__LogsRequest *)request;
	struct logs l = {.st = st, .call = call};
	struct source *src = NULL;
	struct sw_snapshot snap;
	size_t n = 0;
	char err[512];
	int r;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-swarm: invalid app name: use ^[a-z][a-z0-9-]{0,62}$");
		return;
	}
	src = calloc(SW_LOGS_SOURCES_MAX, sizeof *src);
	if (!src) {
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-swarm: out of memory");
		return;
	}
	r = sw_snapshot_read(&snap, st, req->app, err, sizeof err);
	if (r == 0 && snap.n == 0 && !req->follow) {
		sw_snapshot_free(&snap);
		free(src);
		st->host->end(call, NAP_NOT_FOUND, "scheduler-swarm: %s has no instances",
			      req->app);
		return;
	}
	if (r == 0) {
		sources_update(src, &n, &snap);
		sw_snapshot_free(&snap);
		r = logs_round(&l, src, n, req->tail, true, err, sizeof err);
	}
	while (r == 0 && req->follow && !st->host->cancelled(call) && !atomic_load(&st->stopping)) {
		nanosleep(&(struct timespec){0, SW_LOGS_FOLLOW_MS * 1000000L}, NULL);
		r = sw_snapshot_read(&snap, st, req->app, err, sizeof err);
		if (r < 0)
			break;
		sources_update(src, &n, &snap);
		sw_snapshot_free(&snap);
		/* new instances: from their start; the others: what is new */
		r = logs_round(&l, src, n, 0, false, err, sizeof err);
	}
	free(src);
	if (r == -EPIPE || (req->follow && st->host->cancelled(call)))
		st->host->end(call, NAP_CANCELLED, "scheduler-swarm: logs cancelled");
	else if (r < 0)
		st->host->end(call, nap_status_from_errno(r), "scheduler-swarm: %s", err);
	else
		st->host->end(call, NAP_OK, "%s", "");
}
