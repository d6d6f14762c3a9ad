/* scheduler-local: a bounded set of threads working through 0..n-1, for
 * the calls that make many Docker requests that do not depend on each
 * other (dockerd handles them in parallel; one after another, starting 40
 * containers takes 40 round trips of create and start). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <stdlib.h>

struct pool {
	bool (*work)(void *ctx, size_t i);
	void *ctx;
	size_t n;
	atomic_size_t next;
	atomic_bool stop;
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	while (!atomic_load(&p->stop)) {
		size_t i = atomic_fetch_add(&p->next, 1);

		if (i >= p->n)
			break;
		if (!p->work(p->ctx, i))
			atomic_store(&p->stop, true);
	}
	return NULL;
}

void sl_parallel(size_t n, unsigned max, bool (*work)(void *ctx, size_t i), void *ctx)
{
	struct pool p = {.work = work, .ctx = ctx, .n = n};
	size_t want = n < max ? n : max, started = 0;
	pthread_t *threads = NULL;

	atomic_init(&p.next, 0);
	atomic_init(&p.stop, false);
	/* The caller is one of the workers; without memory or threads it is
	 * the only one, and all still gets done. */
	if (want > 1)
		threads = calloc(want - 1, sizeof *threads);
	for (size_t t = 0; threads && t < want - 1; t++) {
		if (pthread_create(&threads[t], NULL, worker, &p) != 0)
			break;
		started++;
	}
	worker(&p);
	for (size_t t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	free(threads);
}
