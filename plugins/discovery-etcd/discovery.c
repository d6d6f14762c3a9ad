/* discovery-etcd: the plugin descriptor, its settings, init and shutdown.
 *
 * Settings ([plugin discovery-etcd] in napd.conf):
 *   etcd          = http://127.0.0.1:2379   the etcd v3 JSON gateway, or the
 *                   members of a cluster: http://a:2379, http://b:2379, ...
 *   docker_socket = /var/run/docker.sock    whose events to follow
 *   host          = 127.0.0.1               the address written into our keys
 *   lease_ttl     = 10                      seconds; keys of a dead plugin
 *                                           vanish after this long */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <nap/discovery.pb-c.h>

#include "discovery.h"

const nap_host *disc_host;

void disc_end_etcd_error(const struct discovery *d, nap_plugin_call *call, int r, const char *what,
			 const char *err)
{
	int status = nap_status_from_errno(r);

	/* The status is the one every plugin gives an errno; the words say
	 * what to do about etcd. */
	if (r == -ECONNREFUSED)
		disc_host->end(call, status,
			       "cannot reach etcd at %s: connection refused; is etcd running?",
			       d->etcd_url);
	else if (r == -ETIMEDOUT)
		disc_host->end(call, status,
			       "cannot reach etcd at %s: no answer within %ld s; is etcd running?",
			       d->etcd_url, ETCD_TIMEOUT_MS / 1000);
	else if (r == -ECANCELED)
		disc_host->end(call, status, "%s: cancelled", what);
	else if (r == -ENOMEM)
		disc_host->end(call, status, "%s: out of memory", what);
	else if (r == -EIO)
		disc_host->end(call, status, "%s: etcd at %s failed: %s", what, d->etcd_url, err);
	else /* -EAGAIN: err says how many members answer */
		disc_host->end(call, status, "%s: %s", what, err);
}

static int disc_init(const nap_host *h, void **statep)
{
	struct discovery *d;
	const char *ttl;
	char *end;
	int r;

	disc_host = h;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->host = h;
	d->etcd_url = h->config("etcd") ? h->config("etcd") : ETCD_DEFAULT_ENDPOINT;
	d->docker_socket = h->config("docker_socket") ? h->config("docker_socket")
						      : DOCKER_DEFAULT_SOCKET;
	d->self_host = h->config("host") ? h->config("host") : "127.0.0.1";
	if (h->config("napd.id"))
		snprintf(d->napd_filter, sizeof(d->napd_filter), NAP_LABEL_NAPD "=%s",
			 h->config("napd.id"));
	/* napd checked it (napd.conf(5)); one from elsewhere gets the shape
	 * test only: a slash at both ends, so no key can run into another's */
	const char *prefix = h->config("napd.key_prefix");
	if (!prefix)
		prefix = NAP_KEY_PREFIX_DEFAULT;
	size_t plen = strlen(prefix);
	if (plen < 3 || plen > NAP_KEY_PREFIX_MAX || prefix[0] != '/' || prefix[plen - 1] != '/') {
		h->log(NAP_LOG_ERROR,
		       "discovery-etcd: napd.key_prefix = %.80s: give /name/ (napd.conf(5), key_prefix)",
		       prefix);
		free(d);
		return -EINVAL;
	}
	memcpy(d->records_prefix, prefix, plen + 1);
	d->lease_ttl = 10;
	ttl = h->config("lease_ttl");
	if (ttl) {
		errno = 0;
		long v = strtol(ttl, &end, 10);
		if (errno || *end || end == ttl || v < 2 || v > 3600) {
			h->log(NAP_LOG_ERROR,
			       "discovery-etcd: lease_ttl = %s: give whole seconds from 2 to 3600",
			       ttl);
			free(d);
			return -EINVAL;
		}
		d->lease_ttl = v;
	}
	if (!endpoint_host_valid(d->self_host) ||
	    strlen(d->self_host) >= sizeof(((struct endpoint_record *)0)->host)) {
		h->log(NAP_LOG_ERROR,
		       "discovery-etcd: host = %s: give a host name or an IP address",
		       d->self_host);
		free(d);
		return -EINVAL;
	}
	r = etcd_client_new(&d->etcd, d->etcd_url);
	if (r < 0) {
		h->log(NAP_LOG_ERROR, "discovery-etcd: etcd = %s: give an http:// URL such as %s",
		       d->etcd_url, ETCD_DEFAULT_ENDPOINT);
		free(d);
		return r;
	}
	r = docker_client_new(&d->docker, d->docker_socket);
	if (r == 0)
		r = announcer_start(&d->ann, d);
	if (r == 0)
		r = follower_start(&d->fol, d);
	if (r < 0) {
		h->log(NAP_LOG_ERROR, "discovery-etcd: cannot start: %s", strerror(-r));
		announcer_stop(d->ann);
		docker_client_free(d->docker);
		etcd_client_free(d->etcd);
		free(d);
		return r;
	}
	h->log(NAP_LOG_INFO,
	       "discovery-etcd: etcd at %s (records under %s), following Docker at %s, host %s, "
	       "lease TTL %lld s",
	       d->etcd_url, d->records_prefix, d->docker_socket, d->self_host,
	       (long long)d->lease_ttl);
	*statep = d;
	return 0;
}

static void disc_shutdown(void *state)
{
	struct discovery *d = state;

	if (!d)
		return;
	follower_stop(d->fol);
	announcer_stop(d->ann);
	docker_client_free(d->docker);
	etcd_client_free(d->etcd);
	free(d);
}

static const struct nap_plugin_method disc_methods[] = {
	{"Announce", disc_announce, 0},
	{"Withdraw", disc_withdraw, 0},
	{"Resolve", disc_resolve, 0},
	{"Watch", disc_watch, 0},
	{"PutRecord", disc_put_record, 0},
	{"GetRecords", disc_get_records, 0},
	{"DeleteRecords", disc_delete_records, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service disc_services[] = {
	{&nap__discovery__descriptor, disc_methods},
	{NULL, NULL},
};

static const struct nap_plugin disc_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "discovery-etcd",
	.version = "1.0",
	.description = "announces, resolves and watches endpoints in etcd, following Docker",
	.services = disc_services,
	.init = disc_init,
	.shutdown = disc_shutdown,
};

NAP_PLUGIN_DEFINE(disc_plugin)
