/* plugins/builder: a thread per long call that polls host->cancelled(). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cancel_watch.h"

#include <errno.h>
#include <time.h>

static void *cancel_watch_run(void *arg)
{
	struct cancel_watch *w = arg;
	struct timespec at;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		if (w->host->cancelled(w->call)) {
			atomic_store(&w->cancel, 1);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += CANCEL_WATCH_INTERVAL_MS * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		/* Waiting on the condition (not sleeping) lets stop() end us at once. */
		pthread_cond_timedwait(&w->wake, &w->lock, &at);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int cancel_watch_start(struct cancel_watch *w, const nap_host *host, nap_plugin_call *call)
{
	pthread_condattr_t attr;
	int r;

	atomic_init(&w->cancel, 0);
	w->host = host;
	w->call = call;
	w->stopping = false;
	r = pthread_mutex_init(&w->lock, NULL);
	if (r)
		return -r;
	r = pthread_condattr_init(&attr);
	if (r == 0) {
		r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(&w->wake, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (r) {
		pthread_mutex_destroy(&w->lock);
		return -r;
	}
	r = pthread_create(&w->thread, NULL, cancel_watch_run, w);
	if (r) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		return -r;
	}
	return 0;
}

void cancel_watch_stop(struct cancel_watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}
