/* notifier: the bounded queue of notifications waiting for delivery and the
 * one background thread that delivers them, so that Notify never waits for
 * a webhook.
 *
 * When the queue is full, the oldest notification is dropped with a warning:
 * fresh news matters more than old. queue_stop() wakes the thread, cancels
 * the delivery in flight (curl notices within about a second), drops what is
 * still queued with a warning, and joins the thread.
 *
 * Thread-safety: queue_push() and queue_pause() may be called from any
 * thread; queue_start() and queue_stop() from one thread, once each. */
#ifndef NAP_NOTIFIER_QUEUE_H
#define NAP_NOTIFIER_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <nap/plugin.h>

/* One queued notification; the queue owns it once pushed. */
struct notice {
	char *body; /* the JSON body, malloc'd */
	size_t body_len;
	char what[128]; /* "deploy myapp release 3", for the log */
	char event[33]; /* for the X-Nap-Event header */
};

struct queue;
/* Delivers one notice; runs on the queue's thread. */
typedef void (*queue_deliver_fn)(struct queue *q, const struct notice *n, void *user);

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	struct notice **ring;
	size_t cap, head, count;
	bool stopping;
	/* Set when stopping: the delivery in flight gives up (http_request.cancel). */
	atomic_int cancel;
	pthread_t thread;
	bool running;
	queue_deliver_fn deliver;
	void *user;
	const nap_host *host;
};

/* Sets q up for cap notices and starts its thread. Returns 0 or a negative
 * errno (nothing to release then). */
int queue_start(struct queue *q, size_t cap, queue_deliver_fn deliver, void *user,
		const nap_host *host);

/* Queues n (the queue takes it), dropping the oldest when full. */
void queue_push(struct queue *q, struct notice *n);

/* Waits ms milliseconds unless the queue is stopping. Returns false when it
 * is (the caller should give up). */
bool queue_pause(struct queue *q, long ms);

/* Stops the thread (see above) and frees everything. */
void queue_stop(struct queue *q);

void notice_free(struct notice *n);

#endif
