/* plugins/builder: turns a call's cancellation (host->cancelled, which must
 * be polled) into the atomic flag the Docker client's streams watch, so that
 * a build step that prints nothing for minutes still stops within a fraction
 * of a second of the caller's cancel or deadline.
 *
 * A watch is owned by the handler that starts it; cancel_watch_stop() must
 * be called once for every successful cancel_watch_start(), before the call
 * is ended. */
#ifndef NAP_PLUGIN_BUILDER_CANCEL_WATCH_H
#define NAP_PLUGIN_BUILDER_CANCEL_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <nap/plugin.h>

/* How often the watch asks host->cancelled(). */
#define CANCEL_WATCH_INTERVAL_MS 50

struct cancel_watch {
	atomic_int cancel; /* becomes 1 once the call is cancelled: give it to docker_*() */
	/* private */
	const nap_host *host;
	nap_plugin_call *call;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	pthread_t thread;
};

/* Starts watching call. Returns 0 or a negative errno (no thread then). */
int cancel_watch_start(struct cancel_watch *w, const nap_host *host, nap_plugin_call *call);

/* Stops the watch at once and waits for its thread. */
void cancel_watch_stop(struct cancel_watch *w);

#endif
