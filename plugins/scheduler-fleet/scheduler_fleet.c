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
 * Every method blocks on fleet or etcd, so each runs on a thread of its own. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

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

static int parse_seconds(const nap_host *host, const char *key, uint32_t def_s, uint32_t *msp)
{
	const char *v = host->config(key);
	char *end;
	long n;

	*msp = def_s * 1000u;
	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 3600) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: %s = %s: give whole seconds, 1 to 3600",
			  key, v);
		return -EINVAL;
	}
	*msp = (uint32_t)n * 1000u;
	return 0;
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
	const char *spread = host->config("spread");
	struct sf_state *st;
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
	st->spread = true;
	if (spread && (!strcmp(spread, "no") || !strcmp(spread, "false")))
		st->spread = false;
	else if (spread && strcmp(spread, "yes") && strcmp(spread, "true")) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: spread = %s: give yes or no", spread);
		r = -EINVAL;
		goto fail;
	}
	if ((r = parse_seconds(host, "start_timeout", SF_DEFAULT_START_TIMEOUT_S,
			       &st->start_timeout_ms)) < 0 ||
	    (r = parse_seconds(host, "stop_timeout", SF_DEFAULT_STOP_TIMEOUT_S,
			       &st->stop_timeout_ms)) < 0 ||
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
	r = etcd_client_new(&st->etcd, st->etcd_url);
	if (r < 0) {
		host->log(NAP_LOG_ERROR, "scheduler-fleet: etcd = %s: give http://host:port",
			  st->etcd_url);
		goto fail;
	}
	host->log(NAP_LOG_INFO, "scheduler-fleet: fleet at %s, etcd at %s, instances announced as %s",
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
	{"Run", sf_run, 0},
	{"Remove", sf_remove, 0},
	{"List", sf_list, 0},
	{"Logs", sf_logs, NAP_METHOD_INLINE},
	{NULL, NULL, 0},
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
