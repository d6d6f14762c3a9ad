/* The orchestrator plugin: its descriptor, settings, and the threads of the
 * reconciler (see orchestrator.h for how the parts fit). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/control.pb-c.h>

#include "orchestrator.h"

/* name, where it goes, default, lowest, highest */
static const struct setting {
	const char *key;
	uint32_t *into;
	uint32_t def, min, max;
} settings[] = {
	{"check_interval_ms", &O.check.interval_ms, 2000, 100, 3600000},
	{"check_timeout_ms", &O.check.timeout_ms, 1000, 10, 60000},
	{"check_failures", &O.check.failures, 3, 1, 100},
	{"ready_timeout", &O.check.ready_timeout_s, 60, 1, 86400},
	{"starting_check_ms", &O.check.starting_interval_ms, 100, 10, 60000},
	{"backoff_ms", &O.backoff_ms, 1000, 10, 3600000},
	{"backoff_max_ms", &O.backoff_max_ms, 30000, 10, 86400000},
	{"resync_ms", &O.resync_ms, 10000, 100, 3600000},
	{"keep_releases", &O.keep_releases, APP_RELEASES_MAX, 2, APP_RELEASES_MAX},
	{"napd.deploy_timeout", &O.deploy_timeout_s, 300, 1, 86400},
};

static int read_settings(const nap_host *host)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];
		const char *v = host->config(s->key);
		*s->into = s->def;
		if (!v)
			continue;
		char *end;
		errno = 0;
		unsigned long n = strtoul(v, &end, 10);
		if (errno || end == v || *end || n < s->min || n > s->max) {
			host->log(NAP_LOG_ERROR,
				  "orchestrator: %s = %.40s: give a whole number from %u to %u",
				  s->key, v, s->min, s->max);
			return -EINVAL;
		}
		*s->into = (uint32_t)n;
	}
	return 0;
}

static int init(const nap_host *host, void **statep)
{
	if (!NAP_HOST_HAS(host, call_stream)) {
		host->log(NAP_LOG_ERROR, "orchestrator: napd is too old to host it (no "
					 "call_stream): install napd and its plugins together");
		return -EINVAL;
	}
	O.host = host;
	O.started_ms = mono_ms();
	const char *id = host->config("napd.id");
	snprintf(O.napd_id, sizeof(O.napd_id), "%s", id ? id : "");
	const char *prefix = host->config("napd.key_prefix");
	snprintf(O.key_prefix, sizeof(O.key_prefix), "%s", prefix ? prefix : "/nap/");
	int r = read_settings(host);
	if (r < 0)
		return r;
	pthread_mutex_init(&O.lock, NULL);
	pthread_mutex_init(&O.save_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&O.changed, &ca);
	pthread_condattr_destroy(&ca);
	/* The threads start calling once the host has said HELLO; until then
	 * their calls fail and are tried again. */
	if (pthread_create(&O.reconciler, NULL, reconcile_main, NULL) != 0 ||
	    pthread_create(&O.watcher, NULL, watch_main, NULL) != 0 ||
	    pthread_create(&O.checker, NULL, check_main, NULL) != 0) {
		host->log(NAP_LOG_ERROR, "orchestrator: cannot start its threads");
		return -EAGAIN;
	}
	O.threads = true;
	*statep = &O;
	return 0;
}

static void shutdown_plugin(void *state)
{
	(void)state;
	atomic_store(&O.stopping, true);
	pthread_mutex_lock(&O.lock);
	orch_changed(NULL);
	pthread_mutex_unlock(&O.lock);
	/* The watcher may sit in a stream for up to 250 ms more; the others
	 * wake at once. Handler threads end with the process. */
	if (O.threads) {
		pthread_join(O.checker, NULL);
		pthread_join(O.reconciler, NULL);
		pthread_join(O.watcher, NULL);
	}
	pthread_mutex_lock(&O.lock);
	while (O.apps)
		app_drop(O.apps);
	pthread_mutex_unlock(&O.lock);
}

static const struct nap_plugin_method apps_methods[] = {
	{"Deploy", ops_deploy, 0},
	{"ListApps", ops_list_apps, 0},
	{"GetApp", ops_get_app, 0},
	{"Scale", ops_scale, 0},
	{"SetEnv", ops_set_env, 0},
	{"Rollback", ops_rollback, 0},
	{"Stop", ops_stop, 0},
	{"Start", ops_start, 0},
	{"Destroy", ops_destroy, 0},
	{"SetCheck", ops_set_check, 0},
	{"Export", ops_export, 0},
	{"Import", ops_import, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service services[] = {
	{&nap__apps__descriptor, apps_methods},
	{NULL, NULL},
};

static const struct nap_plugin orchestrator_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "orchestrator",
	.version = PACKAGE_VERSION,
	.description = "keeps apps at their desired state: rollouts, readiness, healing",
	.services = services,
	.init = init,
	.shutdown = shutdown_plugin,
};

NAP_PLUGIN_DEFINE(orchestrator_plugin)
