/* notifier: posting one notification to one webhook, with retries.
 *
 * A 2xx answer is delivered. 5xx answers, 408, 429, timeouts and connection
 * errors are retried (up to cfg->retries more attempts, pausing
 * cfg->backoff_ms and doubling); other answers (4xx, and 3xx: redirects are
 * not followed) are final. A final failure is logged once with the redacted
 * URL and the reason. Runs on the queue's thread. */
#ifndef NAP_NOTIFIER_WEBHOOK_H
#define NAP_NOTIFIER_WEBHOOK_H

#include <stdbool.h>

#include <nap/plugin.h>

#include "queue.h"
#include "settings.h"

/* Returns true when delivered; false when it failed or the queue stopped. */
bool webhook_post(struct queue *q, const struct notifier_config *cfg,
		  const struct webhook_target *target, const struct notice *n,
		  const nap_host *host);

#endif
