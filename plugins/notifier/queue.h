/* notifier: the bounded queue of notifications waiting for delivery and the
 * one background thread that delivers them, so that Notify never waits for
 * a webhook.
 *
 * When the queue is full (queued and parked notices together), the oldest
 * notification is dropped with a warning (and forgotten: see queue_start):
 * fresh news matters more than old. A
 * notification the deliver function could not deliver yet is parked and
 * queued again QUEUE_RETRY_MS later. queue_stop() wakes the thread, cancels
 * the delivery in flight (curl notices within about a second), frees what is
 * still queued or parked with a warning (the spool still has it), and joins
 * the thread.
 *
 * Thread-safety: queue_push() and queue_pause() may be called from any
 * thread; queue_start() and queue_stop() from one thread, once each. */
#ifndef NAP_NOTIFIER_QUEUE_H
#define NAP_NOTIFIER_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nap/plugin.h>

/* How long a notification the webhooks did not take waits before it is
 * tried again (with all its retries). */
#define QUEUE_RETRY_MS 60000L

/* One queued notification; the queue owns it once pushed. */
struct notice {
	struct notice *next; /* in the queue's parked list */
	char *file;          /* its spool file's name (spool.h), malloc'd */
	char *body;          /* the JSON body, malloc'd */
	uint32_t done;       /* the webhooks (by index) that have had it */
	size_t body_len;
	char what[128]; /* "deploy myapp release 3", for the log */
	char event[33]; /* for the X-Nap-Event header */
};

struct queue;
/* Delivers one notice; runs on the queue's thread. Returns true when it is
 * done with it (the queue frees it), false to have it tried again later. */
typedef bool (*queue_deliver_fn)(struct queue *q, struct notice *n, void *user);
/* Forgets a notice the queue drops when full; runs on the pushing thread. */
typedef void (*queue_forget_fn)(const struct notice *n, void *user);

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	struct notice **ring;
	size_t cap, head, count;
	struct notice *parked, *parked_tail; /* to try again at parked_due */
	size_t nparked;
	struct timespec parked_due; /* CLOCK_MONOTONIC */
	bool stopping;
	/* Set when stopping: the delivery in flight gives up (http_request.cancel). */
	atomic_int cancel;
	pthread_t thread;
	bool running;
	queue_deliver_fn deliver;
	queue_forget_fn forget;
	void *user;
	const nap_host *host;
};

/* Sets q up for cap notices and starts its thread; forget (may be NULL)
 * hears of every notice dropped when the queue is full. Returns 0 or a
 * negative errno (nothing to release then). */
int queue_start(struct queue *q, size_t cap, queue_deliver_fn deliver, queue_forget_fn forget,
		void *user, const nap_host *host);

/* Queues n (the queue takes it), dropping the oldest when full. */
void queue_push(struct queue *q, struct notice *n);

/* Waits ms milliseconds unless the queue is stopping. Returns false when it
 * is (the caller should give up). */
bool queue_pause(struct queue *q, long ms);

/* Stops the thread (see above) and frees everything. */
void queue_stop(struct queue *q);

void notice_free(struct notice *n);

#endif
