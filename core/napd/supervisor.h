/* The plugin supervisor: one plugin-host process per plugin, started,
 * watched and restarted with backoff; refused for good when it cannot work
 * (wrong ABI, missing file, a service another plugin owns). */
#ifndef NAPD_SUPERVISOR_H
#define NAPD_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include <nap/bus.pb-c.h>
#include <nap/control.pb-c.h>

#include "conffile.h"
#include "loop.h"

enum plugin_state {
	PLUGIN_STARTING,
	PLUGIN_RUNNING,
	PLUGIN_BACKOFF,
	PLUGIN_FAILED,
	PLUGIN_STOPPED,
};

struct peer;

struct plugin {
	const struct plugin_conf *conf;
	enum plugin_state state;
	pid_t pid;
	struct peer *peer;
	unsigned restarts;
	unsigned failures_in_a_row;
	uint64_t started_at;
	char last_error[512];
	bool permanent; /* do not restart: the failure will not go away */
	char *version;
	char *description;
	char **services;
	size_t nservices;
	uint32_t abi;
	struct loop_timer restart;
};

/* Starts every configured plugin. */
int supervisor_start(const struct napd_config *cfg);
/* A plugin host sent its HELLO (registers its services) or its connection
 * ended (fails its calls; the process is reaped on SIGCHLD). */
void supervisor_hello(struct plugin *pl, struct peer *p);
/* A plugin host said HELLO again (frame f): services come from the first
 * HELLO only, so the plugin is refused for good, with one log line naming the
 * service it tried to take and the plugin that owns it. */
void supervisor_second_hello(struct plugin *pl, struct peer *p, const Nap__Bus__Frame *f);
void supervisor_conn_closed(struct plugin *pl, int status, const char *message);
/* Reaps exited children and schedules restarts. */
void supervisor_reap(void);
/* Stops every plugin, waiting up to timeout_ms before SIGKILL. */
void supervisor_stop(unsigned timeout_ms);
/* Fills a ListPlugins reply (free with supervisor_list_free). */
void supervisor_list(Nap__ListPluginsReply *reply);
void supervisor_list_free(Nap__ListPluginsReply *reply);
const char *plugin_state_name(enum plugin_state s);

#endif
