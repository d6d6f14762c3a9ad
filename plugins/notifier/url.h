/* notifier: checking webhook URLs and making them safe to log. */
#ifndef NAP_NOTIFIER_URL_H
#define NAP_NOTIFIER_URL_H

#include <stdbool.h>

/* True if url is http:// or https:// (any case) followed by a host, and has
 * no control characters or spaces. */
bool webhook_url_valid(const char *url);

/* A copy of url for the log: any "user:password@" part removed and a query
 * string or fragment replaced by "?...", since both often carry credentials.
 * Returns a malloc'd string, or NULL when out of memory. */
char *webhook_url_redact(const char *url);

#endif
