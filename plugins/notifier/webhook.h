/* notifier: posting one notification to one webhook, with retries.
 *
 * A 2xx answer is delivered. 5xx answers, 408, 429, timeouts and connection
 * errors are retried (up to cfg->retries more attempts, pausing
 * cfg->backoff_ms and doubling); other answers (4xx, and 3xx: redirects are
 * not followed) are final. A failure is logged once with the redacted URL
 * and the reason. Runs on the queue's thread. */
#ifndef NAP_NOTIFIER_WEBHOOK_H
#define NAP_NOTIFIER_WEBHOOK_H

#include <stdbool.h>

#include <nap/plugin.h>

#include "queue.h"
#include "settings.h"

enum webhook_result {
	WEBHOOK_DELIVERED,
	WEBHOOK_REFUSED,     /* a final answer: trying again would not help */
	WEBHOOK_UNDELIVERED, /* retries ran out, or the queue stopped */
};

/* Posts n to target with retries; says how it went. */
enum webhook_result webhook_post(struct queue *q, const struct notifier_config *cfg,
				 const struct webhook_target *target, const struct notice *n,
				 const nap_host *host);

#endif
