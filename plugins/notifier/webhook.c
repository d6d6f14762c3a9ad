/* notifier: one webhook delivery with retries (see webhook.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_client.h"

/* The longest pause between two attempts. */
#define BACKOFF_MAX_MS 60000L

enum attempt_result {
	DELIVERED,
	RETRY,
	FINAL
};

/* Copies src into dst with every occurrence of the raw URL replaced by its
 * redacted form: http_client's messages name the URL, which may carry a
 * password. */
static void redact_message(char *dst, size_t len, const char *src, const struct webhook_target *t)
{
	size_t ulen = strlen(t->url), o = 0;

	while (*src && o + 1 < len) {
		if (strncmp(src, t->url, ulen) == 0) {
			o += (size_t)snprintf(dst + o, len - o, "%s", t->redacted);
			src += ulen;
			continue;
		}
		/* Control characters from a server's answer stay out of the log. */
		dst[o++] = (unsigned char)*src < 0x20 ? ' ' : *src;
		src++;
	}
	dst[o < len ? o : len - 1] = '\0';
}

static enum attempt_result attempt(struct queue *q, const struct notifier_config *cfg,
				   const struct webhook_target *t, const struct notice *n,
				   char *why, size_t whylen)
{
	char event_header[64], err[512] = "", reason[200];
	const char *headers[] = {event_header, NULL};
	struct http_response resp;
	struct http_request req = {
		.method = "POST",
		.url = t->url,
		.content_type = "application/json",
		.headers = headers,
		.body = n->body,
		.body_len = n->body_len,
		.timeout_ms = cfg->timeout_ms,
		.connect_timeout_ms = cfg->timeout_ms,
		.cancel = &q->cancel,
	};
	enum attempt_result res;
	int r;

	snprintf(event_header, sizeof(event_header), "X-Nap-Event: %s", n->event);
	r = http_perform(&resp, &req, err, sizeof(err));
	if (r == -ETIMEDOUT) {
		snprintf(why, whylen, "no answer within %ld ms (timeout_ms)", cfg->timeout_ms);
		return RETRY;
	}
	if (r < 0) {
		redact_message(why, whylen, err, t);
		return r == -ECANCELED ? FINAL : RETRY;
	}
	if (resp.status >= 200 && resp.status < 300) {
		http_response_release(&resp);
		return DELIVERED;
	}
	http_response_reason(&resp, reason, sizeof(reason));
	redact_message(err, sizeof(err), reason, t);
	snprintf(why, whylen, "HTTP %ld%s%s%s", resp.status, err[0] ? " (" : "", err,
		 err[0] ? ")" : "");
	if (resp.status >= 500 || resp.status == 408 || resp.status == 429)
		res = RETRY;
	else
		res = FINAL;
	if (resp.status >= 300 && resp.status < 400)
		snprintf(why + strlen(why), whylen - strlen(why), "; redirects are not followed");
	http_response_release(&resp);
	return res;
}

enum webhook_result webhook_post(struct queue *q, const struct notifier_config *cfg,
				 const struct webhook_target *target, const struct notice *n,
				 const nap_host *host)
{
	long pause = cfg->backoff_ms;
	char why[600];

	host->log(NAP_LOG_DEBUG, "notifier: POST %s: %.*s", target->redacted,
		  n->body_len > 4000 ? 4000 : (int)n->body_len, n->body);
	for (unsigned i = 0;; i++) {
		enum attempt_result res = attempt(q, cfg, target, n, why, sizeof(why));

		if (res == DELIVERED) {
			host->log(NAP_LOG_INFO, "notifier: %s delivered to %s (attempt %u)",
				  n->what, target->redacted, i + 1);
			return WEBHOOK_DELIVERED;
		}
		if (atomic_load(&q->cancel)) {
			host->log(NAP_LOG_WARNING,
				  "notifier: webhook %s: %s not delivered: napd is stopping the "
				  "notifier (the spool keeps it for the next start)",
				  target->redacted, n->what);
			return WEBHOOK_UNDELIVERED;
		}
		if (res == FINAL) {
			host->log(NAP_LOG_ERROR,
				  "notifier: webhook %s: %s not delivered after %u attempt%s: %s",
				  target->redacted, n->what, i + 1, i ? "s" : "", why);
			return WEBHOOK_REFUSED;
		}
		if (i == cfg->retries) {
			host->log(NAP_LOG_ERROR,
				  "notifier: webhook %s: %s not delivered after %u attempt%s: %s; "
				  "tried again in %ld s",
				  target->redacted, n->what, i + 1, i ? "s" : "", why,
				  QUEUE_RETRY_MS / 1000);
			return WEBHOOK_UNDELIVERED;
		}
		host->log(NAP_LOG_INFO,
			  "notifier: webhook %s: %s: attempt %u failed (%s); retrying "
			  "in %ld ms",
			  target->redacted, n->what, i + 1, why, pause);
		if (!queue_pause(q, pause)) {
			host->log(NAP_LOG_WARNING,
				  "notifier: webhook %s: %s not delivered: napd is stopping the "
				  "notifier (the spool keeps it for the next start)",
				  target->redacted, n->what);
			return WEBHOOK_UNDELIVERED;
		}
		pause = pause * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : pause * 2;
	}
}
