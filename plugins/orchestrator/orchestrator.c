/* The orchestrator plugin: its descriptor, settings, and the threads of the
 * reconciler (see orchestrator.h for how the parts fit). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/control.pb-c.h>

#include "orchestrator.h"
#include "settings_table.h"

/* name, where it goes, default, lowest, highest */
/* Filled in at init (the table points into O). */
static int read_settings(const nap_host *host)
{
	const struct setting settings[] = {
		{"check_interval_ms", SETTING_U32, &O.check.interval_ms, 2000, 100, 3600000, 0,
		 "ms"},
		{"check_timeout_ms", SETTING_U32, &O.check.timeout_ms, 1000, 10, 60000, 0, "ms"},
		{"check_failures", SETTING_U32, &O.check.failures, 3, 1, 100, 0, NULL},
		{"ready_timeout", SETTING_U32, &O.check.ready_timeout_s, 60, 1, 86400, 0,
		 "seconds"},
		{"starting_check_ms", SETTING_U32, &O.check.starting_interval_ms, 100, 10, 60000, 0,
		 "ms"},
		{"backoff_ms", SETTING_U32, &O.backoff_ms, 1000, 10, 3600000, 0, "ms"},
		{"backoff_max_ms", SETTING_U32, &O.backoff_max_ms, 30000, 10, 86400000, 0, "ms"},
		{"resync_ms", SETTING_U32, &O.resync_ms, 10000, 100, 3600000, 0, "ms"},
		{"keep_releases", SETTING_U32, &O.keep_releases, APP_RELEASES_MAX, 2,
		 APP_RELEASES_MAX, 0, NULL},
		{"napd.deploy_timeout", SETTING_U32, &O.deploy_timeout_s, 300, 1, 86400, 0,
		 "seconds"},
	};

	return settings_read(host, "orchestrator", settings, sizeof settings / sizeof settings[0]);
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
