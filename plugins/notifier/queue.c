/* notifier: the delivery queue and its thread (see queue.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

void notice_free(struct notice *n)
{
	if (n) {
		free(n->body);
		free(n);
	}
}

/* Takes the oldest notice; the lock is held. */
static struct notice *pop_locked(struct queue *q)
{
	struct notice *n = q->ring[q->head];

	q->ring[q->head] = NULL;
	q->head = (q->head + 1) % q->cap;
	q->count--;
	return n;
}

static void *run(void *arg)
{
	struct queue *q = arg;

	for (;;) {
		struct notice *n;

		pthread_mutex_lock(&q->lock);
		while (!q->stopping && q->count == 0)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stopping) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		n = pop_locked(q);
		pthread_mutex_unlock(&q->lock);
		q->deliver(q, n, q->user);
		notice_free(n);
	}
}

int queue_start(struct queue *q, size_t cap, queue_deliver_fn deliver, void *user,
		const nap_host *host)
{
	pthread_condattr_t attr;
	int r;

	*q = (struct queue){.cap = cap, .deliver = deliver, .user = user, .host = host};
	atomic_init(&q->cancel, 0);
	q->ring = calloc(cap, sizeof(*q->ring));
	if (!q->ring)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	r = pthread_create(&q->thread, NULL, run, q);
	if (r != 0) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		free(q->ring);
		return -r;
	}
	q->running = true;
	return 0;
}

void queue_push(struct queue *q, struct notice *n)
{
	struct notice *dropped = NULL;
	size_t waiting;

	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap)
		dropped = pop_locked(q);
	q->ring[(q->head + q->count) % q->cap] = n;
	q->count++;
	waiting = q->count;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (dropped) {
		q->host->log(NAP_LOG_WARNING,
			     "notifier: %zu notifications are waiting for slow webhooks: dropped "
			     "the oldest (%s) undelivered",
			     waiting, dropped->what);
		notice_free(dropped);
	}
}

bool queue_pause(struct queue *q, long ms)
{
	struct timespec until;
	bool stopping;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&q->lock);
	while (!q->stopping && pthread_cond_timedwait(&q->cond, &q->lock, &until) != ETIMEDOUT)
		;
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return !stopping;
}

void queue_stop(struct queue *q)
{
	size_t left;

	if (!q->running)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	atomic_store(&q->cancel, 1);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);

	left = q->count;
	if (left)
		q->host->log(NAP_LOG_WARNING,
			     "notifier: stopping with %zu notifications not delivered (the oldest: "
			     "%s)",
			     left, q->ring[q->head]->what);
	while (q->count)
		notice_free(pop_locked(q));
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	q->ring = NULL;
	q->running = false;
}
