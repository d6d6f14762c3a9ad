/* scheduler-local: the plugin's descriptor, settings, start and stop.
 *
 * Provides nap.Scheduler (proto/nap/scheduler.proto) on this host through
 * the Docker Engine API. Settings ([plugin scheduler-local] in napd.conf):
 *   docker_socket  dockerd's socket (default /var/run/docker.sock)
 *   host           the address written into instances (default 127.0.0.1)
 *   stop_timeout   seconds a container gets to stop on Remove (default 10)
 * Every method blocks on Docker, so each runs on a thread of its own. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"
#include "settings_table.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long shutdown waits for Watch calls to notice it. */
#define SL_SHUTDOWN_WAIT_MS 3000

static void sl_state_free(struct sl_state *st)
{
	if (!st)
		return;
	docker_client_free(st->docker);
	free(st->socket);
	free(st->address);
	free(st);
}

static int sl_init(const nap_host *host, void **statep)
{
	const char *socket = host->config("docker_socket");
	const char *address = host->config("host");
	struct sl_state *st;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(NAP_LOG_ERROR, "scheduler-local: curl_global_init failed");
		return -ENOMEM;
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->host = host;
	if (host->config("napd.id"))
		snprintf(st->napd_label, sizeof st->napd_label, NAP_LABEL_NAPD "=%s",
			 host->config("napd.id"));
	uint32_t grace;
	const struct setting numbers[] = {
		{"stop_timeout", SETTING_U32, &grace, SL_DEFAULT_STOP_GRACE_S, 0, 3600, 0,
		 "seconds"},
	};
	r = settings_read(host, "scheduler-local", numbers, 1);
	if (r < 0)
		goto fail;
	st->stop_grace_s = (int)grace;
	if (socket && socket[0] != '/') {
		host->log(NAP_LOG_ERROR,
			  "scheduler-local: docker_socket = %s: give the absolute path of "
			  "dockerd's socket",
			  socket);
		r = -EINVAL;
		goto fail;
	}
	st->socket = strdup(socket ? socket : DOCKER_DEFAULT_SOCKET);
	st->address = strdup(address && *address ? address : "127.0.0.1");
	r = st->socket && st->address ? docker_client_new(&st->docker, st->socket) : -ENOMEM;
	if (r < 0)
		goto fail;
	/* Reconciling waits for Docker, which may be slow or down: it must not
	 * hold up the plugin's start, so it runs beside the handlers. */
	if (pthread_create(&st->reconcile_thread, NULL, sl_reconcile, st) == 0)
		st->reconcile_started = true;
	else
		host->log(NAP_LOG_WARNING, "scheduler-local: cannot start reconciling: no thread");
	host->log(NAP_LOG_INFO, "scheduler-local: Docker at %s, instances on host %s", st->socket,
		  st->address);
	*statep = st;
	return 0;
fail:
	sl_state_free(st);
	return r;
}

static void sl_shutdown(void *state)
{
	struct sl_state *st = state;

	if (!st)
		return;
	atomic_store(&st->stopping, true);
	if (st->reconcile_started)
		pthread_join(st->reconcile_thread, NULL);
	/* Watches see stopping within a second (Docker's stream looks at its
	 * cancel flag that often); they use the state until they end. One
	 * still running after SL_SHUTDOWN_WAIT_MS keeps it (the process ends
	 * next). */
	for (int ms = 0; ms < SL_SHUTDOWN_WAIT_MS && atomic_load(&st->watches) > 0; ms += 50) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&st->watches) == 0)
		sl_state_free(st);
}

static const struct nap_plugin_method sl_methods[] = {
	{"Run", sl_run, 0},   {"Remove", sl_remove, 0}, {"List", sl_list, 0},
	{"Logs", sl_logs, 0}, {"Watch", sl_watch, 0},   {NULL, NULL, 0},
};

static const struct nap_plugin_service sl_services[] = {
	{&nap__scheduler__descriptor, sl_methods},
	{NULL, NULL},
};

static const struct nap_plugin sl_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "scheduler-local",
	.version = PACKAGE_VERSION,
	.description = "runs app instances as containers on this host through Docker",
	.services = sl_services,
	.init = sl_init,
	.shutdown = sl_shutdown,
};

NAP_PLUGIN_DEFINE(sl_plugin)
