/* scheduler-fleet: the plugin's descriptor, settings, start and stop.
 *
 * Provides nap.Scheduler (proto/nap/scheduler.proto) on a fleet cluster.
 * Settings ([plugin scheduler-fleet] in napd.conf):
 *   endpoint       fleet's API: unix:///var/run/fleet.sock (default, like
 *                  fleetctl) or http://host:port
 *   prefix         the API's path (default /fleet/v1)
 *   etcd           the etcd v3 endpoint, for the announcer and for reading
 *                  the announcements (default http://127.0.0.1:2379)
 *   host           the address written into etcd (default 127.0.0.1; %H for
 *                  each machine's hostname)
 *   docker         the docker CLI on the machines (default /usr/bin/docker)
 *   announce       nap-fleet-announce on the machines (default the installed one)
 *   start_timeout  seconds Run waits at most (default 120; the call's own
 *                  deadline may be shorter)
 *   stop_timeout   seconds Remove waits at most (default 60)
 *   spread         yes (default): instances of a release always go to
 *                  distinct machines; no: only when the request asks
 *   failed_grace   seconds a unit's failed state is doubted when it was
 *                  not seen otherwise since the submit (default 10)
 *   api_retry      seconds a fleetd answering 503 or refusing is retried
 *                  (default 10)
 *   watch_interval milliseconds between Watch's looks at fleet (default
 *                  1000, 100 to 60000)
 * man/napd.conf.5 documents them for users.
 * Every method blocks on fleet or etcd, so each runs on a thread of its own. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"
#include "settings_table.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SF_ANNOUNCE_PATH
#define SF_ANNOUNCE_PATH "/usr/libexec/nap/nap-fleet-announce"
#endif

uint64_t sf_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sf_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void sf_state_free(struct sf_state *st)
{
	if (!st)
		return;
	fleet_client_free(st->fleet);
	etcd_client_free(st->etcd);
	free(st->etcd_url);
	free(st->address);
	free(st->docker);
	free(st->announce);
	free(st);
}

/* A setting that must pass check, or its default. */
static int setting(char **out, const nap_host *host, const char *key, const char *def,
		   bool (*check)(const char *), const char *rule)
{
	const char *v = host->config(key);

	if (v && !check(v)) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: %s = %s: %s", key, v, rule);
		return -EINVAL;
	}
	*out = strdup(v ? v : def);
	return *out ? 0 : -ENOMEM;
}

static int sf_init(const nap_host *host, void **statep)
{
	struct sf_state *st;
	uint32_t retry_ms = 0;
	char err[512];
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: curl_global_init failed");
		return -ENOMEM;
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->host = host;
	/* napd checked it (napd.conf(5)); the shape is checked again, as the
	 * units pass it to a shell script on the machines */
	const char *prefix = host->config("napd.key_prefix");
	if (!prefix)
		prefix = NAP_KEY_PREFIX_DEFAULT;
	if (strlen(prefix) < 3 || strlen(prefix) > NAP_KEY_PREFIX_MAX || prefix[0] != '/' ||
	    prefix[strlen(prefix) - 1] != '/' ||
	    strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") !=
		    strlen(prefix)) {
		host->log(NAP_LOG_ERROR,
			  "scheduler-fleet: napd.key_prefix = %.80s: give /name/ (napd.conf(5), "
			  "key_prefix)",
			  prefix);
		r = -EINVAL;
		goto fail;
	}
	snprintf(st->key_prefix, sizeof(st->key_prefix), "%s", prefix);
	const struct setting numbers[] = {
		{"spread", SETTING_BOOL, &st->spread, 1, 0, 0, 0, NULL},
		{"start_timeout", SETTING_U32, &st->start_timeout_ms,
		 SF_DEFAULT_START_TIMEOUT_S * 1000u, 1, 3600, 1000, "seconds"},
		{"stop_timeout", SETTING_U32, &st->stop_timeout_ms,
		 SF_DEFAULT_STOP_TIMEOUT_S * 1000u, 1, 3600, 1000, "seconds"},
		{"failed_grace", SETTING_U32, &st->failed_grace_ms,
		 SF_DEFAULT_FAILED_GRACE_S * 1000u, 0, 600, 1000, "seconds"},
		{"api_retry", SETTING_U32, &retry_ms, FLEET_DEFAULT_RETRY_MS / 1000u * 1000u, 0,
		 600, 1000, "seconds"},
		{"watch_interval", SETTING_U32, &st->watch_interval_ms,
		 SF_DEFAULT_WATCH_INTERVAL_MS, 100, 60000, 0, "milliseconds"},
	};
	if ((r = settings_read(host, "scheduler-fleet", numbers,
			       sizeof numbers / sizeof numbers[0])) < 0 ||
	    (r = setting(&st->etcd_url, host, "etcd", ETCD_DEFAULT_ENDPOINT, sf_url_valid,
			 "give http://host:port")) < 0 ||
	    (r = setting(&st->address, host, "host", "127.0.0.1", sf_host_valid,
			 "give an address, a host name, %H or %m")) < 0 ||
	    (r = setting(&st->docker, host, "docker", SF_DEFAULT_DOCKER, sf_path_valid,
			 "give the absolute path of the docker CLI")) < 0 ||
	    (r = setting(&st->announce, host, "announce", SF_ANNOUNCE_PATH, sf_path_valid,
			 "give the absolute path of nap-fleet-announce")) < 0)
		goto fail;
	r = fleet_client_new(&st->fleet, host->config("endpoint"), host->config("prefix"), err,
			     sizeof err);
	if (r < 0) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: %s", err);
		goto fail;
	}
	fleet_client_set_retry(st->fleet, retry_ms);
	r = etcd_client_new(&st->etcd, st->etcd_url);
	if (r < 0) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: etcd = %s: give http://host:port",
			  st->etcd_url);
		goto fail;
	}
	host->log(NAP_LOG_INFO,
		  "scheduler-fleet: fleet at %s, etcd at %s, instances announced as %s",
		  fleet_client_endpoint(st->fleet), st->etcd_url, st->address);
	*statep = st;
	return 0;
fail:
	sf_state_free(st);
	return r;
}

static void sf_shutdown(void *state)
{
	sf_state_free(state);
}

static const struct nap_plugin_method sf_methods[] = {
	{"Run", sf_run, 0},     {"Remove", sf_remove, 0},
	{"List", sf_list, 0},   {"Logs", sf_logs, NAP_METHOD_INLINE},
	{"Watch", sf_watch, 0}, {NULL, NULL, 0},
};

static const struct nap_plugin_service sf_services[] = {
	{&nap__scheduler__descriptor, sf_methods},
	{NULL, NULL},
};

static const struct nap_plugin sf_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "scheduler-fleet",
	.version = PACKAGE_VERSION,
	.description = "runs app instances on a fleet cluster, announced in etcd by sidekick units",
	.services = sf_services,
	.init = sf_init,
	.shutdown = sf_shutdown,
};

NAP_PLUGIN_DEFINE(sf_plugin)
