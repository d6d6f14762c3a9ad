/* scheduler-local: at start-up, make Docker's state ours again. Containers
 * labelled nap.app that are not running are what a crash (of the host, of
 * dockerd, of napd during a Run) left behind: they are removed. What runs
 * is kept and logged, one line per app.
 *
 * A container is only judged after two looks, SL_RECONCILE_SETTLE_MS
 * apart: another napd on the same dockerd (tests, a second socket) may be
 * between create and start of a Run, and its container is "created" for a
 * moment. Only one that stays not running, with the same ID, is removed. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SL_RECONCILE_SETTLE_MS 3000

/* One app's count of running containers, for the log. */
struct app_count {
	const char *app;
	unsigned running;
	uint32_t release_lo, release_hi;
};

static void count_app(struct app_count *apps, size_t *napps, const char *app, uint32_t release)
{
	size_t i;

	for (i = 0; i < *napps; i++)
		if (strcmp(apps[i].app, app) == 0)
			break;
	if (i == *napps) {
		apps[i] = (struct app_count){.app = app, .release_lo = release};
		(*napps)++;
	}
	apps[i].running++;
	if (release < apps[i].release_lo)
		apps[i].release_lo = release;
	if (release > apps[i].release_hi)
		apps[i].release_hi = release;
}

/* A container of ours that is not running and nobody is acting on. */
static bool leftover(const struct docker_container_summary *c)
{
	const char *app = json_string_value(json_object_get(c->labels, NAP_LABEL_APP));

	return nap_app_name_valid(app) && c->state &&
	       (strcmp(c->state, "created") == 0 || strcmp(c->state, "exited") == 0 ||
		strcmp(c->state, "dead") == 0);
}

static bool in_list(const struct docker_container_summary *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].id && id && strcmp(list[i].id, id) == 0 && leftover(&list[i]))
			return true;
	return false;
}

/* Sleeps ms, waking every 100 ms to see whether the plugin stops. */
static bool settle(const struct sl_state *st, int ms)
{
	struct timespec step = {0, 100 * 1000000L};

	for (int waited = 0; waited < ms; waited += 100) {
		if (atomic_load(&st->stopping))
			return false;
		nanosleep(&step, NULL);
	}
	return !atomic_load(&st->stopping);
}

static void log_running(const struct sl_state *st, const struct docker_container_summary *list,
			size_t n, unsigned removed)
{
	struct app_count *apps = calloc(n ? n : 1, sizeof *apps);
	size_t napps = 0;

	if (!apps)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *app = json_string_value(json_object_get(list[i].labels, NAP_LABEL_APP));

		if (nap_app_name_valid(app) && list[i].state &&
		    strcmp(list[i].state, "running") == 0)
			count_app(apps, &napps, app, sl_label_u32(&list[i], NAP_LABEL_RELEASE));
	}
	for (size_t i = 0; i < napps; i++) {
		if (apps[i].release_lo == apps[i].release_hi)
			st->host->log(NAP_LOG_INFO, "scheduler-local: %s: %u running (release %u)",
				      apps[i].app, apps[i].running, (unsigned)apps[i].release_lo);
		else
			st->host->log(NAP_LOG_INFO,
				      "scheduler-local: %s: %u running (releases %u to %u)",
				      apps[i].app, apps[i].running, (unsigned)apps[i].release_lo,
				      (unsigned)apps[i].release_hi);
	}
	st->host->log(NAP_LOG_INFO,
		      "scheduler-local: reconciled with Docker: %zu apps running, %u leftovers "
		      "removed",
		      napps, removed);
	free(apps);
}

void *sl_reconcile(void *arg)
{
	const struct sl_state *st = arg;
	const nap_host *host = st->host;
	struct docker_container_summary *first = NULL, *second = NULL;
	size_t n1 = 0, n2 = 0;
	unsigned removed = 0, candidates = 0;
	char err[512];
	int r;

	r = sl_list_containers(&first, &n1, st, NULL, 0, true, err, sizeof err);
	if (r < 0) {
		host->log(NAP_LOG_WARNING, "scheduler-local: cannot reconcile with Docker: %s",
			  err);
		return NULL;
	}
	for (size_t i = 0; i < n1; i++)
		candidates += leftover(&first[i]);
	if (candidates > 0) {
		if (!settle(st, SL_RECONCILE_SETTLE_MS))
			goto out;
		r = sl_list_containers(&second, &n2, st, NULL, 0, true, err, sizeof err);
		if (r < 0) {
			host->log(NAP_LOG_WARNING,
				  "scheduler-local: cannot reconcile with Docker: %s", err);
			goto out;
		}
		for (size_t i = 0; i < n2 && !atomic_load(&st->stopping); i++) {
			const struct docker_container_summary *c = &second[i];

			if (!leftover(c) || !in_list(first, n1, c->id))
				continue;
			r = docker_container_remove(st->docker, c->id, err, sizeof err);
			if (r == 0 || r == -ENOENT) {
				removed++;
				host->log(NAP_LOG_NOTICE,
					  "scheduler-local: removed leftover %s (%s)",
					  c->name ? c->name : c->id, c->state);
			} else {
				host->log(NAP_LOG_WARNING,
					  "scheduler-local: cannot remove leftover %s: %s",
					  c->name ? c->name : c->id, err);
			}
		}
	}
	log_running(st, second ? second : first, second ? n2 : n1, removed);
out:
	docker_container_list_free(first, n1);
	docker_container_list_free(second, n2);
	return NULL;
}
