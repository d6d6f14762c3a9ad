/* scheduler-fleet: nap.Scheduler.Remove, and the unit removal Run uses to
 * undo a failed start. An instance's want key goes first, then both its
 * units are deleted from fleet (a unit fleet no longer knows counts as
 * removed); then, bounded by a deadline, it waits until the instance's
 * present key has gone (its container has stopped; see presence.c) and
 * deletes its etcd entries if the sidekick did not. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

#include "errbuf.h"

/* True while a present key of one of the pairs is left; names one. */
static int still_present(bool *anyp, const struct sf_state *st, const char *app,
			 const uint32_t *releases, const uint32_t *instances, size_t n, char *which,
			 size_t wlen, char *err, size_t errlen)
{
	struct sf_pair *present;
	size_t np;
	int r = sf_keys_read(&present, &np, st, "present", app, err, errlen);

	if (r < 0)
		return r;
	*anyp = false;
	for (size_t k = 0; k < n && !*anyp; k++)
		if (sf_pair_in(present, np, releases[k], instances[k])) {
			*anyp = true;
			sf_unit_name(which, wlen, SF_UNIT_RUN, app, releases[k], instances[k]);
		}
	free(present);
	return 0;
}

/* Deletes both units of every pair from fleet; stops at the first error
 * (fleet unreachable: every further try would wait as long). */
static int delete_units(uint32_t *removedp, const struct sf_state *st, const char *app,
			const uint32_t *releases, const uint32_t *instances, size_t n, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char name[SF_UNIT_NAME_MAX];
		bool existed;
		int r;

		/* The sidekick first, so it withdraws before its container stops. */
		sf_unit_name(name, sizeof name, SF_UNIT_DISCOVERY, app, releases[i], instances[i]);
		r = fleet_unit_delete(NULL, st->fleet, name, err, errlen);
		if (r < 0)
			return r;
		sf_unit_name(name, sizeof name, SF_UNIT_RUN, app, releases[i], instances[i]);
		r = fleet_unit_delete(&existed, st->fleet, name, err, errlen);
		if (r < 0)
			return r;
		*removedp += existed;
	}
	return 0;
}

int sf_remove_units(uint32_t *removedp, const struct sf_state *st, nap_plugin_call *call,
		    const char *app, const uint32_t *releases, const uint32_t *instances, size_t n,
		    uint64_t deadline_us, char *err, size_t errlen)
{
	struct sf_announced *ann = NULL;
	uint32_t removed = 0;
	size_t na = 0;
	char which[SF_UNIT_NAME_MAX] = "", fleet_err[512] = "";
	bool any = false; /* nothing to remove is nothing still stopping */
	int r, fleet_r;

	/* First the want keys: from now on no unit of these starts, even one
	 * fleet starts late, and a running one stops its container itself. */
	for (size_t i = 0; i < n; i++) {
		r = sf_want_delete(st, app, releases[i], instances[i], err, errlen);
		if (r < 0)
			return r;
	}
	fleet_r = delete_units(&removed, st, app, releases, instances, n, fleet_err,
			       sizeof fleet_err);
	if (fleet_r < 0)
		st->host->log(NAP_LOG_WARNING,
			      "scheduler-fleet: remove %s: %s; waiting for the containers to stop "
			      "on their own (their want keys are gone)",
			      app, fleet_err);
	/* fleet's /state proves nothing here (a deleted unit's state goes at
	 * once, or stays a stale active/running): the present keys do. */
	while (n > 0) {
		r = still_present(&any, st, app, releases, instances, n, which, sizeof which, err,
				  errlen);
		if (r < 0)
			return r;
		if (!any)
			break;
		if (call && st->host->cancelled(call))
			return errbuf_printf(err, errlen, -ECANCELED,
					     "cancelled while %s was stopping", which);
		if (sf_now_us() >= deadline_us)
			break;
		sf_sleep_ms(SF_POLL_MS);
	}
	/* Entries a sidekick could not withdraw (its machine died, or it was
	 * killed) would otherwise live until their lease runs out. Only those
	 * whose container is known to be gone: a running announcer's entry
	 * stays theirs. */
	r = sf_announced_read(&ann, &na, st, app, err, errlen);
	if (r < 0)
		return r;
	if (!any)
		for (size_t i = 0; i < na; i++)
			for (size_t k = 0; k < n; k++)
				if (sf_announced_find(st, &ann[i], 1, releases[k], instances[k])) {
					st->host->log(NAP_LOG_INFO, "scheduler-fleet: removing %s",
						      ann[i].key);
					r = etcd_delete(NULL, st->etcd, ann[i].key, false, err,
							errlen);
					if (r < 0) {
						free(ann);
						return r;
					}
				}
	free(ann);
	if (removedp)
		*removedp = removed;
	if (fleet_r < 0 && any)
		return errbuf_printf(
			err, errlen, fleet_r,
			"%s; their want keys are withdrawn, so %s stops by itself, but "
			"it has not yet",
			fleet_err, which);
	if (fleet_r < 0) /* nothing runs: the units left in fleet cannot start */
		st->host->log(NAP_LOG_WARNING,
			      "scheduler-fleet: remove %s: the containers have stopped, but their "
			      "units stay in fleet (inert: they cannot start without their want "
			      "keys) until the app is removed again with fleet reachable",
			      app);
	if (any)
		return errbuf_printf(err, errlen, -ETIMEDOUT,
				     "the units are deleted from fleet but %s is still stopping",
				     which);
	return 0;
}

/* Adds (release, instance) to the lists unless it is there already. */
static void add_pair(uint32_t *rel, uint32_t *ins, size_t *n, uint32_t r, uint32_t i)
{
	for (size_t k = 0; k < *n; k++)
		if (rel[k] == r && ins[k] == i)
			return;
	rel[*n] = r;
	ins[*n] = i;
	(*n)++;
}

static bool wanted(const Nap__RemoveRequest *req, uint32_t release, uint32_t instance)
{
	if (req->release && release != req->release)
		return false;
	if (req->n_instances == 0)
		return true;
	for (size_t i = 0; i < req->n_instances; i++)
		if (req->instances[i] == instance)
			return true;
	return false;
}

void sf_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__RemoveRequest *req = (const Nap__RemoveRequest *)request;
	struct fleet_unit *units = NULL;
	struct sf_announced *ann = NULL;
	struct sf_pair *want = NULL, *present = NULL;
	uint32_t *rel = NULL, *ins = NULL, removed = 0, wait_ms;
	size_t nu = 0, na = 0, nw = 0, np = 0, n = 0;
	char err[768], list_err[512];
	int r, list_r = 0;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT,
			      "scheduler-fleet: invalid app name \"%.80s\": %s",
			      req->app ? req->app : "", NAP_APP_NAME_RULE);
		return;
	}
	/* etcd first: with fleet unreachable, the want keys still stop the
	 * instances. */
	r = sf_announced_read(&ann, &na, st, req->app, err, sizeof err);
	if (r == 0)
		r = sf_keys_read(&want, &nw, st, "want", req->app, err, sizeof err);
	if (r == 0)
		r = sf_keys_read(&present, &np, st, "present", req->app, err, sizeof err);
	if (r == 0)
		list_r = fleet_units_list(&units, &nu, st->fleet, list_err, sizeof list_err);
	if (list_r < 0) {
		st->host->log(NAP_LOG_WARNING, "scheduler-fleet: remove %s: %s", req->app,
			      list_err);
		nu = 0; /* what etcd knows is still removed */
	}
	if (r < 0)
		goto fail;
	rel = calloc(nu + na + nw + np + 1, sizeof *rel);
	ins = calloc(nu + na + nw + np + 1, sizeof *ins);
	if (!rel || !ins) {
		r = errbuf_printf(err, sizeof err, -ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nu; i++) {
		char app[NAP_APP_NAME_MAX + 1];
		enum sf_unit_kind kind;
		uint32_t re, in;

		if (sf_unit_parse(units[i].name, app, &kind, &re, &in) &&
		    strcmp(app, req->app) == 0 && wanted(req, re, in))
			add_pair(rel, ins, &n, re, in);
	}
	for (size_t i = 0; i < na; i++)
		if (wanted(req, ann[i].release, ann[i].instance) &&
		    sf_announced_find(st, &ann[i], 1, ann[i].release, ann[i].instance))
			add_pair(rel, ins, &n, ann[i].release, ann[i].instance);
	for (size_t i = 0; i < nw; i++)
		if (wanted(req, want[i].release, want[i].instance))
			add_pair(rel, ins, &n, want[i].release, want[i].instance);
	for (size_t i = 0; i < np; i++)
		if (wanted(req, present[i].release, present[i].instance))
			add_pair(rel, ins, &n, present[i].release, present[i].instance);
	wait_ms = st->stop_timeout_ms;
	if (st->host->remaining_ms(call) < wait_ms + 1000u)
		wait_ms = st->host->remaining_ms(call) > 2000u
				  ? st->host->remaining_ms(call) - 1000u
				  : st->host->remaining_ms(call) / 2;
	r = sf_remove_units(&removed, st, call, req->app, rel, ins, n,
			    sf_now_us() + (uint64_t)wait_ms * 1000u, err, sizeof err);
	/* fleet unreachable: what it runs of ours has want and present keys,
	 * which sf_remove_units() saw to. */
	if (r < 0)
		goto fail;
	{
		Nap__RemoveReply rep = NAP__REMOVE_REPLY__INIT;

		rep.removed = removed;
		st->host->log(NAP_LOG_INFO, "scheduler-fleet: removed %" PRIu32 " instance%s of %s",
			      removed, removed == 1 ? "" : "s", req->app);
		st->host->reply(call, &rep.base);
	}
	goto out;
fail:
	st->host->end(call,
		      r == -ETIMEDOUT && strstr(err, "still stopping") ? NAP_DEADLINE_EXCEEDED
								       : nap_status_from_errno(r),
		      "scheduler-fleet: remove %s: %s", req->app, err);
out:
	fleet_units_free(units, nu);
	free(ann);
	free(want);
	free(present);
	free(rel);
	free(ins);
}
