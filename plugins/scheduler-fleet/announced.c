/* scheduler-fleet: reading what the discovery units announced in etcd: the
 * default port's /services/<app>/<host>:<instance> of each instance
 * (plugins/common/endpoint.h; the seed's layout, which discovery-etcd
 * reads too). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "endpoint.h"
#include "errbuf.h"

/* One default-port entry (endpoint_record_parse(): the sidekick writes
 * the record plugins/common/endpoint.c reads), with its instance and
 * release, which the seed's {"host","port"} lacks. */
static bool parse_entry(struct sf_announced *a, const struct etcd_kv *kv)
{
	struct endpoint_record ep;

	if (endpoint_record_parse(&ep, kv->key, kv->value, kv->value_len) < 0 || ep.extra ||
	    !ep.instance || !ep.release || strlen(kv->key) >= sizeof a->key)
		return false;
	a->release = ep.release;
	a->instance = ep.instance;
	a->port = ep.port;
	strcpy(a->host, ep.host);
	strcpy(a->key, kv->key);
	return true;
}

int sf_announced_read(struct sf_announced **listp, size_t *np, const struct sf_state *st,
		      const char *app, char *err, size_t errlen)
{
	struct etcd_range range;
	struct sf_announced *v;
	char prefix[128];
	size_t n = 0;
	int r;

	snprintf(prefix, sizeof prefix, ENDPOINT_SERVICES_PREFIX "%s/", app); /* default ports */
	r = etcd_get(&range, st->etcd, prefix, true, 0, err, errlen);
	if (r < 0)
		return r;
	v = calloc(range.n ? range.n : 1, sizeof *v);
	if (!v) {
		etcd_range_release(&range);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < range.n; i++)
		if (parse_entry(&v[n], &range.kvs[i]))
			n++;
	etcd_range_release(&range);
	*listp = v;
	*np = n;
	return 0;
}

const struct sf_announced *sf_announced_find(const struct sf_state *st,
					     const struct sf_announced *v, size_t n,
					     uint32_t release, uint32_t instance)
{
	bool literal = st->address[0] != '%';

	for (size_t i = 0; i < n; i++)
		if (v[i].release == release && v[i].instance == instance && v[i].port &&
		    (!literal || strcmp(v[i].host, st->address) == 0))
			return &v[i];
	return NULL;
}
