/* notifier: its settings, read once in init from the [plugin notifier]
 * section of napd.conf:
 *
 *   webhooks   = URL [URL...]   http:// or https:// only (default: none)
 *   timeout_ms = 3000           whole request, per attempt
 *   retries    = 3              attempts after the first one
 *   backoff_ms = 200            pause before the first retry, doubling
 *   queue_size = 1000           notifications waiting for delivery
 *   log        = yes            one NOTICE line per notification
 *   spool      = DIR            where accepted notifications wait (spool.h);
 *                               default NAP_NOTIFIER_SPOOL_DIR for the napd on
 *                               the default socket, NAP_NOTIFIER_SPOOL_DIR/
 *                               <its socket path, '/' as '_'> for another, so
 *                               that two napds on a host keep theirs apart
 *
 * Ownership: notifier_config_load() fills a struct the caller releases with
 * notifier_config_release(). */
#ifndef NAP_NOTIFIER_SETTINGS_H
#define NAP_NOTIFIER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <nap/plugin.h>

#ifndef NAP_NOTIFIER_SPOOL_DIR
#define NAP_NOTIFIER_SPOOL_DIR "/var/lib/nap/notifier"
#endif

struct webhook_target {
	char *url;      /* as configured: what curl is given */
	char *redacted; /* for the log: no userinfo, no query */
};

struct notifier_config {
	struct webhook_target *webhooks;
	size_t nwebhooks;
	long timeout_ms;
	unsigned retries;
	long backoff_ms;
	size_t queue_size;
	bool log;
	char *spool;     /* the spool directory, malloc'd */
	bool spool_temp; /* a default per socket: removed at shutdown if empty */
};

/* Reads the settings through host->config. Returns 0; or -EINVAL after
 * logging one line naming the setting and what to write instead; or
 * -ENOMEM. On failure *cfg is left released. */
int notifier_config_load(struct notifier_config *cfg, const nap_host *host);

void notifier_config_release(struct notifier_config *cfg);

#endif
