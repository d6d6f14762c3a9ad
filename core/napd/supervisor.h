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
#include "router.h"

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
	struct provider provider; /* what the router passes its calls to */
};

/* Starts every configured plugin. */
int supervisor_start(const struct napd_config *cfg);
/* Reaps exited children and schedules restarts. */
void supervisor_reap(void);
/* Stops every plugin, waiting up to timeout_ms before SIGKILL. */
void supervisor_stop(unsigned timeout_ms);
/* Fills a ListPlugins reply (free with supervisor_list_free). */
void supervisor_list(Nap__ListPluginsReply *reply);
void supervisor_list_free(Nap__ListPluginsReply *reply);
const char *plugin_state_name(enum plugin_state s);

#endif
