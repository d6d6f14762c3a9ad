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
		free(n->file);
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

static bool due(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Queues parked notices again once their time has come, as many as fit; the
 * lock is held. */
static void unpark_locked(struct queue *q)
{
	if (!q->parked || !due(&q->parked_due))
		return;
	while (q->parked && q->count < q->cap) {
		struct notice *n = q->parked;

		q->parked = n->next;
		n->next = NULL;
		q->nparked--;
		q->ring[(q->head + q->count) % q->cap] = n;
		q->count++;
	}
	if (!q->parked)
		q->parked_tail = NULL;
}

/* Parks n to be tried again in QUEUE_RETRY_MS (from the first parked). */
static void park(struct queue *q, struct notice *n)
{
	pthread_mutex_lock(&q->lock);
	if (!q->parked) {
		clock_gettime(CLOCK_MONOTONIC, &q->parked_due);
		q->parked_due.tv_sec += QUEUE_RETRY_MS / 1000;
		q->parked = n;
	} else {
		q->parked_tail->next = n;
	}
	q->parked_tail = n;
	q->nparked++;
	pthread_mutex_unlock(&q->lock);
}

static void *run(void *arg)
{
	struct queue *q = arg;

	for (;;) {
		struct notice *n;

		pthread_mutex_lock(&q->lock);
		for (;;) {
			if (q->stopping)
				break;
			unpark_locked(q);
			if (q->count)
				break;
			if (q->parked)
				pthread_cond_timedwait(&q->cond, &q->lock, &q->parked_due);
			else
				pthread_cond_wait(&q->cond, &q->lock);
		}
		if (q->stopping) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		n = pop_locked(q);
		pthread_mutex_unlock(&q->lock);
		/* Given up because the queue stops: the spool keeps it. */
		if (q->deliver(q, n, q->user) || atomic_load(&q->cancel))
			notice_free(n);
		else
			park(q, n);
	}
}

int queue_start(struct queue *q, size_t cap, queue_deliver_fn deliver, queue_forget_fn forget,
		void *user, const nap_host *host)
{
	pthread_condattr_t attr;
	int r;

	*q = (struct queue){
		.cap = cap, .deliver = deliver, .forget = forget, .user = user, .host = host};
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
	/* Parked notices count too, and are the oldest. */
	if (q->count == q->cap) {
		dropped = pop_locked(q);
	} else if (q->count + q->nparked >= q->cap && q->parked) {
		dropped = q->parked;
		q->parked = dropped->next;
		dropped->next = NULL;
		if (!q->parked)
			q->parked_tail = NULL;
		q->nparked--;
	}
	q->ring[(q->head + q->count) % q->cap] = n;
	q->count++;
	waiting = q->count + q->nparked;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (dropped) {
		q->host->log(NAP_LOG_WARNING,
			     "notifier: %zu notifications are waiting for slow webhooks: dropped "
			     "the oldest (%s) undelivered",
			     waiting, dropped->what);
		if (q->forget)
			q->forget(dropped, q->user);
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

	left = q->count + q->nparked;
	if (left)
		q->host->log(NAP_LOG_WARNING,
			     "notifier: stopping with %zu notifications not delivered (the oldest: "
			     "%s); the spool keeps them for the next start",
			     left, q->count ? q->ring[q->head]->what : q->parked->what);
	while (q->count)
		notice_free(pop_locked(q));
	while (q->parked) {
		struct notice *n = q->parked;
		q->parked = n->next;
		notice_free(n);
	}
	q->parked_tail = NULL;
	q->nparked = 0;
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	q->ring = NULL;
	q->running = false;
}
