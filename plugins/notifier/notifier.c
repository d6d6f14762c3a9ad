/* notifier: the nap.Notifier service (proto/nap/notifier.proto).
 *
 * Notify checks the notification, writes the log notifier's line, writes
 * the webhook body to the spool (spool.h), queues it and answers at once, on
 * the host's event loop: a notifier never slows a deploy. One background
 * thread (queue.h) posts the queued bodies to the configured webhooks
 * (webhook.h) and removes a body from the spool once every webhook has had
 * it or refused it for good; one not delivered is tried again later, and a
 * notifier that starts delivers what the spool holds: each notification
 * reaches each webhook at least once (twice, when the notifier stops between
 * a delivery and the spool's removal). Settings: see settings.h. Nothing
 * secret passes through: a Notification carries no environment, and bodies
 * are logged at debug level only. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/notifier.pb-c.h>
#include <nap/plugin.h>

#include "notification.h"
#include "queue.h"
#include "settings.h"
#include "spool.h"
#include "webhook.h"

struct notifier {
	const nap_host *host;
	struct notifier_config cfg;
	struct queue queue; /* started only when there are webhooks */
};

/* The queue thread: every webhook that has not had n yet, in turn; done
 * (and out of the spool) once none is left to try again. */
static bool deliver(struct queue *q, struct notice *n, void *user)
{
	struct notifier *nt = user;
	bool again = false;

	for (size_t i = 0; i < nt->cfg.nwebhooks && !atomic_load(&q->cancel); i++) {
		if (n->done & (UINT32_C(1) << i))
			continue;
		if (webhook_post(q, &nt->cfg, &nt->cfg.webhooks[i], n, nt->host) ==
		    WEBHOOK_UNDELIVERED)
			again = true;
		else
			n->done |= UINT32_C(1) << i;
	}
	if (again || atomic_load(&q->cancel))
		return false;
	spool_remove(nt->cfg.spool, n, nt->host);
	return true;
}

/* A notice the full queue dropped leaves the spool too. */
static void forget(const struct notice *n, void *user)
{
	struct notifier *nt = user;

	spool_remove(nt->cfg.spool, n, nt->host);
}

/* spool_load()'s push: into the queue. */
static void push_loaded(struct notice *n, void *user)
{
	struct notifier *nt = user;

	queue_push(&nt->queue, n);
}

/* Queues the webhook body of a checked notification. */
static int enqueue(struct notifier *nt, const Nap__Notification *in, char *err, size_t errlen)
{
	struct notice *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	n->body = notification_json(in, &n->body_len, err, errlen);
	if (!n->body) {
		free(n);
		return -EINVAL;
	}
	snprintf(n->event, sizeof(n->event), "%s", notification_event(in));
	if (in->release)
		snprintf(n->what, sizeof(n->what), "%s %s release %u", n->event, in->app,
			 (unsigned)in->release);
	else
		snprintf(n->what, sizeof(n->what), "%s %s", n->event, in->app);
	r = spool_write(nt->cfg.spool, n, err, errlen);
	if (r < 0) {
		nt->host->log(NAP_LOG_ERROR, "%s", err);
		notice_free(n);
		return r;
	}
	queue_push(&nt->queue, n);
	return 0;
}

static void notify(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const Nap__Notification *in = (const Nap__Notification *)request;
	struct notifier *nt = state;
	const nap_host *host = nt->host;
	Nap__NotifyReply out = NAP__NOTIFY_REPLY__INIT;
	char err[512], line[NOTIFICATION_LINE_MAX];
	int r;

	r = notification_check(in, err, sizeof(err));
	if (r == 0 && nt->cfg.nwebhooks)
		r = enqueue(nt, in, err, sizeof(err));
	if (r == -ENOMEM) {
		host->end(call, NAP_RESOURCE_EXHAUSTED, "notifier: out of memory: try again later");
		return;
	}
	if (r == -EINVAL) {
		host->end(call, NAP_INVALID_ARGUMENT, "%s", err);
		return;
	}
	if (r < 0) {
		/* Not kept, so not accepted: the caller knows it was not sent. */
		host->end(call, NAP_UNAVAILABLE, "%s", err);
		return;
	}
	if (nt->cfg.log) {
		notification_line(in, line);
		host->log(NAP_LOG_NOTICE, "%s", line);
	}
	host->reply(call, &out.base);
}

static int notifier_init(const nap_host *host, void **statep)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	CURLcode code;
	int r;

	if (!nt) {
		host->log(NAP_LOG_ERROR, "notifier: out of memory");
		return -ENOMEM;
	}
	nt->host = host;
	r = notifier_config_load(&nt->cfg, host);
	if (r < 0) {
		free(nt);
		return r;
	}
	code = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (code != CURLE_OK) {
		host->log(NAP_LOG_ERROR, "notifier: cannot set up libcurl: %s",
			  curl_easy_strerror(code));
		notifier_config_release(&nt->cfg);
		free(nt);
		return -EIO;
	}
	if (nt->cfg.nwebhooks) {
		r = spool_open(nt->cfg.spool, host);
		if (r < 0) {
			curl_global_cleanup();
			notifier_config_release(&nt->cfg);
			free(nt);
			return r;
		}
		r = queue_start(&nt->queue, nt->cfg.queue_size, deliver, forget, nt, host);
		if (r < 0) {
			host->log(NAP_LOG_ERROR, "notifier: cannot start the delivery thread: %s",
				  strerror(-r));
			curl_global_cleanup();
			notifier_config_release(&nt->cfg);
			free(nt);
			return r;
		}
	}
	host->log(NAP_LOG_INFO,
		  "notifier: %zu webhook%s (timeout %ld ms, %u retries from %ld ms), log %s, "
		  "spool %s",
		  nt->cfg.nwebhooks, nt->cfg.nwebhooks == 1 ? "" : "s", nt->cfg.timeout_ms,
		  nt->cfg.retries, nt->cfg.backoff_ms, nt->cfg.log ? "on" : "off",
		  nt->cfg.nwebhooks ? nt->cfg.spool : "unused (no webhooks)");
	if (nt->cfg.nwebhooks) {
		size_t loaded = spool_load(nt->cfg.spool, push_loaded, nt, host);
		if (loaded)
			host->log(NAP_LOG_NOTICE,
				  "notifier: %zu notification%s from the spool %s to deliver",
				  loaded, loaded == 1 ? "" : "s", nt->cfg.spool);
	}
	if (!nt->cfg.nwebhooks && !nt->cfg.log)
		host->log(NAP_LOG_WARNING, "notifier: no webhooks and log = no: notifications go "
					   "nowhere");
	*statep = nt;
	return 0;
}

static void notifier_shutdown(void *state)
{
	struct notifier *nt = state;

	if (!nt)
		return;
	queue_stop(&nt->queue);
	/* A napd on a socket of its own (a test's) leaves no empty spool behind. */
	if (nt->cfg.nwebhooks && nt->cfg.spool_temp)
		rmdir(nt->cfg.spool);
	notifier_config_release(&nt->cfg);
	curl_global_cleanup();
	free(nt);
}

static const struct nap_plugin_method notifier_methods[] = {
	/* Inline: it only checks, formats and queues; it never blocks. */
	{"Notify", notify, NAP_METHOD_INLINE},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service notifier_services[] = {
	{&nap__notifier__descriptor, notifier_methods},
	{NULL, NULL},
};

static const struct nap_plugin notifier_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "notifier",
	.version = PACKAGE_VERSION,
	.description = "tells webhooks and the log how deploys went",
	.services = notifier_services,
	.init = notifier_init,
	.shutdown = notifier_shutdown,
};

NAP_PLUGIN_DEFINE(notifier_plugin)
