/* scheduler-fleet: nap.Scheduler.Watch. fleet has no event API, so this
 * looks at /units, /state and the announcements every watch_interval
 * (default 1 s) and streams what changed: first "present" for every
 * instance, then "synced", then
 *   "started"  an instance runs (or its announced port changed),
 *   "died"     a run unit failed, or is inactive while still submitted
 *              (exit_code unknown: 0) after it was seen running, or for
 *              SF_WATCH_INACTIVE_LOOKS looks in a row,
 *   "removed"  its unit is no longer in fleet.
 * Every Instance carries announcer "sidekick": its sidekick announces it.
 * The stream lasts until the caller cancels, or ends UNAVAILABLE once fleet
 * has not answered for SF_WATCH_GIVE_UP_MS (the caller subscribes again). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sf_row *find(const struct sf_row *v, size_t n, const struct sf_row *like)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, like->id) == 0)
			return &v[i];
	return NULL;
}

static bool is(const struct sf_row *r, const char *state)
{
	return strcmp(r->state, state) == 0;
}

static int send(const struct sf_state *st, nap_plugin_call *call, const char *kind,
		struct sf_row *row)
{
	Nap__InstanceEvent ev = NAP__INSTANCE_EVENT__INIT;
	Nap__Instance in;

	ev.kind = (char *)kind;
	if (row) {
		sf_row_instance(&in, row);
		ev.instance = &in;
	}
	return st->host->send(call, &ev.base);
}

/* What changed from prev to cur, as events. */
static int diff(const struct sf_state *st, nap_plugin_call *call, struct sf_row *prev, size_t np,
		struct sf_row *cur, size_t nc)
{
	int r = 0;

	for (size_t i = 0; i < nc && r >= 0; i++) {
		const struct sf_row *p = find(prev, np, &cur[i]);
		bool died = is(&cur[i], "failed") || is(&cur[i], "exited");

		if (is(&cur[i], "running") && (!p || !is(p, "running") || p->port != cur[i].port))
			r = send(st, call, "started", &cur[i]);
		else if (died && (!p || !(is(p, "failed") || is(p, "exited"))))
			r = send(st, call, "died", &cur[i]);
	}
	for (size_t i = 0; i < np && r >= 0; i++)
		if (!find(cur, nc, &prev[i]))
			r = send(st, call, "removed", &prev[i]);
	return r;
}

/* A unit fleet shows inactive is "exited" once it was seen running before,
 * or after SF_WATCH_INACTIVE_LOOKS looks in a row: until then it is taken
 * for one not started yet ("pending"). A just launched unit is listed
 * inactive (loaded) for a moment before it starts, and reporting it
 * "exited" made the orchestrator fail a deploy whose instances were
 * starting. */
static void settle_inactive(struct sf_row *cur, size_t nc, const struct sf_row *prev, size_t np)
{
	for (size_t i = 0; i < nc; i++) {
		const struct sf_row *p = find(prev, np, &cur[i]);

		if (!is(&cur[i], "exited")) {
			cur[i].inactive_looks = 0;
			continue;
		}
		if (p && (is(p, "running") || is(p, "exited")))
			cur[i].inactive_looks = SF_WATCH_INACTIVE_LOOKS;
		else
			cur[i].inactive_looks = (p ? p->inactive_looks : 0) + 1;
		if (cur[i].inactive_looks < SF_WATCH_INACTIVE_LOOKS)
			cur[i].state = "pending";
	}
}

/* Sleeps ms in short steps; false once the call is cancelled. */
static bool pause_unless_cancelled(const struct sf_state *st, nap_plugin_call *call, uint32_t ms)
{
	for (uint32_t slept = 0; slept < ms; slept += 100) {
		if (st->host->cancelled(call))
			return false;
		sf_sleep_ms(ms - slept < 100 ? ms - slept : 100);
	}
	return !st->host->cancelled(call);
}

void sf_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__ListInstancesRequest *req = (const Nap__ListInstancesRequest *)request;
	const char *only = req->app && *req->app ? req->app : NULL;
	struct sf_row *prev = NULL;
	size_t np = 0;
	uint64_t failing_since = 0;
	bool synced = false;
	char err[768];

	if (only && !nap_app_name_valid(only)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-fleet: invalid app name \"%.80s\": %s", only,
			      NAP_APP_NAME_RULE);
		return;
	}
	for (;;) {
		struct sf_row *cur = NULL;
		size_t nc = 0;
		int r = sf_rows_read(&cur, &nc, st, only, err, sizeof err);

		if (r < 0) {
			uint64_t now = sf_now_us();

			if (!failing_since)
				failing_since = now;
			if (nap_status_from_errno(r) != NAP_UNAVAILABLE ||
			    now - failing_since >= SF_WATCH_GIVE_UP_MS * 1000ull) {
				free(prev);
				st->host->end(call, nap_status_from_errno(r),
					      "scheduler-fleet: watch: %s", err);
				return;
			}
		} else {
			failing_since = 0;
			settle_inactive(cur, nc, prev, np);
			if (!synced) {
				for (size_t i = 0; i < nc && r >= 0; i++)
					r = send(st, call, "present", &cur[i]);
				if (r >= 0)
					r = send(st, call, "synced", NULL);
				synced = true;
			} else {
				r = diff(st, call, prev, np, cur, nc);
			}
			free(prev);
			prev = cur;
			np = nc;
			if (r < 0) /* the caller has gone */
				break;
		}
		if (!pause_unless_cancelled(st, call, st->watch_interval_ms))
			break;
	}
	free(prev);
	st->host->end(call, NAP_CANCELLED, "scheduler-fleet: watch cancelled");
}
