/* notifier: reading its settings (see settings.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings_table.h"
#include "url.h"

#include <nap/protocol.h>

#define WEBHOOKS_MAX 32
#define URL_MAX 2048

/* Adds one URL of the webhooks setting (word of len bytes). */
static int add_webhook(struct notifier_config *cfg, const nap_host *host, const char *word,
		       size_t len)
{
	struct webhook_target *t;
	char *url = NULL, *redacted = NULL;

	if (cfg->nwebhooks == WEBHOOKS_MAX) {
		host->log(NAP_LOG_ERROR, "notifier: more than %d webhooks: list fewer URLs",
			  WEBHOOKS_MAX);
		return -EINVAL;
	}
	char *word_url = strndup(word, len);
	if (!word_url)
		return -ENOMEM;
	int r = len > URL_MAX ? -EINVAL : webhook_url_parse(word_url, &url, &redacted);
	if (r == -EINVAL && !redacted)
		r = asprintf(&redacted, "(a URL of %zu bytes)", len) < 0 ? -ENOMEM : -EINVAL;
	free(word_url);
	if (r == -EINVAL) {
		/* Only the redacted form is logged: the URL may hold a password. */
		host->log(NAP_LOG_ERROR,
			  "notifier: webhook \"%s\" is refused: only http:// and https:// URLs "
			  "with a host (at most %d bytes) can be used; fix 'webhooks' in the "
			  "[plugin notifier] section of napd.conf",
			  redacted, URL_MAX);
	}
	if (r < 0) {
		free(url);
		free(redacted);
		return r;
	}
	t = &cfg->webhooks[cfg->nwebhooks++];
	t->url = url;
	t->redacted = redacted;
	return 0;
}

static int webhooks_setting(struct notifier_config *cfg, const nap_host *host)
{
	const char *s = host->config("webhooks");
	int r;

	if (!s)
		return 0;
	cfg->webhooks = calloc(WEBHOOKS_MAX, sizeof(*cfg->webhooks));
	if (!cfg->webhooks)
		return -ENOMEM;
	while (*s) {
		size_t n;

		s += strspn(s, " \t,");
		n = strcspn(s, " \t,");
		if (n == 0)
			break;
		r = add_webhook(cfg, host, s, n);
		if (r < 0)
			return r;
		s += n;
	}
	return 0;
}

/* The spool setting, or its default (see settings.h). */
static int spool_setting(struct notifier_config *cfg, const nap_host *host)
{
	const char *s = host->config("spool"), *id = host->config("napd.id"), *sock;
	char *p;

	if (s && s[0] != '/') {
		host->log(NAP_LOG_ERROR,
			  "notifier: spool = \"%s\" is not an absolute path: fix it in the [plugin "
			  "notifier] section of napd.conf",
			  s);
		return -EINVAL;
	}
	if (s) {
		cfg->spool = strdup(s);
		return cfg->spool ? 0 : -ENOMEM;
	}
	/* napd.id is "<hostname>:<socket path>"; the host name may change. */
	sock = id ? strchr(id, ':') : NULL;
	if (!sock || strcmp(sock + 1, NAP_DEFAULT_SOCKET) == 0) {
		cfg->spool = strdup(NAP_NOTIFIER_SPOOL_DIR);
		return cfg->spool ? 0 : -ENOMEM;
	}
	sock++;
	sock += strspn(sock, "/");
	if (asprintf(&cfg->spool, "%s/%s", NAP_NOTIFIER_SPOOL_DIR, sock) < 0) {
		cfg->spool = NULL;
		return -ENOMEM;
	}
	for (p = cfg->spool + strlen(NAP_NOTIFIER_SPOOL_DIR) + 1; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	cfg->spool_temp = true;
	return 0;
}

int notifier_config_load(struct notifier_config *cfg, const nap_host *host)
{
	uint32_t timeout_ms, retries, backoff_ms, queue_size;
	const struct setting numbers[] = {
		{"timeout_ms", SETTING_U32, &timeout_ms, 3000, 1, 600000, 0, NULL},
		{"retries", SETTING_U32, &retries, 3, 0, 20, 0, NULL},
		{"backoff_ms", SETTING_U32, &backoff_ms, 200, 0, 600000, 0, NULL},
		{"queue_size", SETTING_U32, &queue_size, 1000, 1, 1000000, 0, NULL},
		{"log", SETTING_BOOL, &cfg->log, 1, 0, 0, 0, NULL},
	};
	int r;

	*cfg = (struct notifier_config){0};
	r = webhooks_setting(cfg, host);
	if (r == 0)
		r = settings_read(host, "notifier", numbers, sizeof numbers / sizeof numbers[0]);
	if (r == 0)
		r = spool_setting(cfg, host);
	if (r < 0) {
		if (r == -ENOMEM)
			host->log(NAP_LOG_ERROR, "notifier: out of memory reading the settings");
		notifier_config_release(cfg);
		return r;
	}
	cfg->timeout_ms = timeout_ms;
	cfg->retries = retries;
	cfg->backoff_ms = backoff_ms;
	cfg->queue_size = queue_size;
	return 0;
}

void notifier_config_release(struct notifier_config *cfg)
{
	for (size_t i = 0; i < cfg->nwebhooks; i++) {
		free(cfg->webhooks[i].url);
		free(cfg->webhooks[i].redacted);
	}
	free(cfg->webhooks);
	free(cfg->spool);
	*cfg = (struct notifier_config){0};
}
