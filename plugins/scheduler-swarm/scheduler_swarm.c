/* scheduler-swarm: the plugin's descriptor, settings, start and stop.
 *
 * Provides nap.Scheduler on a Docker Swarm. Settings ([plugin
 * scheduler-swarm] in napd.conf; man/napd.conf.5):
 *   manager           the manager's engine: /path/to/docker.sock,
 *                     unix:///path or tcp://host:2375 (default
 *                     /var/run/docker.sock)
 *   image_docker      the engine the builder builds on, asked for an
 *                     image's EXPOSEd ports (default /var/run/docker.sock)
 *   node_engines      ADDR=ENGINE, ...: the engine of the node whose swarm
 *                     address is ADDR, followed for its container events
 *   node_engine_port  else tcp://<node address>:PORT for every node (0: none)
 *   poll_ms           Watch re-reads the manager this often besides its
 *                     events (default 2000)
 *   stop_timeout      seconds a task gets to stop (default 10)
 * Every method blocks on the manager, so each runs on a thread of its own. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"
#include "settings_table.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sw_state_free(struct sw_state *st)
{
	if (!st)
		return;
	docker_client_free(st->manager);
	docker_client_free(st->images);
	free(st->manager_url);
	for (size_t i = 0; i < st->n_engines; i++) {
		docker_client_free(st->engines[i].docker);
		free(st->engines[i].url);
	}
	free(st);
}

/* node_engines = ADDR=ENGINE, ADDR=ENGINE ... */
static int parse_engines(struct sw_state *st, const char *v)
{
	char *copy = strdup(v), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok && r == 0;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char *eq = strchr(tok, '=');
		struct sw_engine *e;

		if (!eq || eq == tok || eq - tok >= (long)sizeof e->addr ||
		    st->n_engines >= SW_ENGINES_MAX) {
			st->host->log(NAP_LOG_ERROR,
				      "scheduler-swarm: node_engines: \"%s\" is not ADDR=ENGINE "
				      "(at most %d of them)",
				      tok, SW_ENGINES_MAX);
			r = -EINVAL;
			break;
		}
		e = &st->engines[st->n_engines];
		*eq = '\0';
		snprintf(e->addr, sizeof e->addr, "%s", tok);
		e->url = strdup(eq + 1);
		r = e->url ? docker_client_new(&e->docker, e->url) : -ENOMEM;
		if (r == -EINVAL)
			st->host->log(
				NAP_LOG_ERROR,
				"scheduler-swarm: node_engines: %s: give /path, unix:///path or "
				"tcp://host:port",
				eq + 1);
		if (e->url)
			st->n_engines++;
	}
	free(copy);
	return r;
}

static int sw_init(const nap_host *host, void **statep)
{
	const char *manager = host->config("manager");
	const char *images = host->config("image_docker");
	uint32_t port, poll, grace;
	struct sw_state *st;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(NAP_LOG_ERROR, "scheduler-swarm: curl_global_init failed");
		return -ENOMEM;
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->napd_id = host->config("napd.id") ? host->config("napd.id") : "";
	const struct setting numbers[] = {
		{"node_engine_port", SETTING_U32, &port, 0, 0, 65535, 0, NULL},
		{"poll_ms", SETTING_U32, &poll, SW_DEFAULT_POLL_MS, 0, 600000, 0, NULL},
		{"stop_timeout", SETTING_U32, &grace, SW_DEFAULT_STOP_GRACE_S, 0, 3600, 0,
		 "seconds"},
	};
	r = settings_read(host, "scheduler-swarm", numbers, sizeof numbers / sizeof numbers[0]);
	if (r < 0)
		goto fail;
	st->engine_port = (unsigned)port;
	st->poll_ms = poll ? (unsigned)poll : SW_DEFAULT_POLL_MS;
	st->stop_grace_s = (int)grace;
	st->manager_url = strdup(manager && *manager ? manager : DOCKER_DEFAULT_SOCKET);
	if (!st->manager_url) {
		r = -ENOMEM;
		goto fail;
	}
	r = docker_client_new(&st->manager, st->manager_url);
	if (r == 0)
		r = docker_client_new(&st->images,
				      images && *images ? images : DOCKER_DEFAULT_SOCKET);
	if (r == -EINVAL) {
		host->log(NAP_LOG_ERROR,
			  "scheduler-swarm: manager = %s, image_docker = %s: give /path, "
			  "unix:///path or tcp://host:port",
			  st->manager_url, images ? images : DOCKER_DEFAULT_SOCKET);
		goto fail;
	}
	if (r == 0 && host->config("node_engines"))
		r = parse_engines(st, host->config("node_engines"));
	if (r < 0)
		goto fail;
	host->log(NAP_LOG_INFO,
		  "scheduler-swarm: manager %s, %zu node engines followed%s, re-read every %u ms",
		  st->manager_url, st->n_engines,
		  st->engine_port ? " (others on node_engine_port)" : "", st->poll_ms);
	*statep = st;
	return 0;
fail:
	sw_state_free(st);
	return r;
}

static void sw_shutdown(void *state)
{
	struct sw_state *st = state;

	if (!st)
		return;
	atomic_store(&st->stopping, true);
	for (int i = 0; i < 50 && atomic_load(&st->watches) > 0; i++) {
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&st->watches) == 0)
		sw_state_free(st);
}

static const struct nap_plugin_method sw_methods[] = {
	{"Run", sw_run, 0},   {"Remove", sw_remove, 0}, {"List", sw_list, 0},
	{"Logs", sw_logs, 0}, {"Watch", sw_watch, 0},   {NULL, NULL, 0},
};

static const struct nap_plugin_service sw_services[] = {
	{&nap__scheduler__descriptor, sw_methods},
	{NULL, NULL},
};

static const struct nap_plugin sw_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "scheduler-swarm",
	.version = PACKAGE_VERSION,
	.description = "runs app instances as Docker Swarm services, one per instance",
	.services = sw_services,
	.init = sw_init,
	.shutdown = sw_shutdown,
};

NAP_PLUGIN_DEFINE(sw_plugin)
