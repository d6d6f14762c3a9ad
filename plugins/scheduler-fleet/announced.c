/* scheduler-fleet: reading what the discovery units announced in etcd,
 * /services/<app>/<host>:<instance> = {"host","port","instance","release"}
 * (the seed's layout, which discovery-etcd reads too). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errbuf.h"

/* A number member, given as a JSON integer or a decimal string. */
static bool member_u32(json_t *o, const char *key, uint32_t *v)
{
	json_t *m = json_object_get(o, key);
	json_int_t n;

	if (json_is_integer(m))
		n = json_integer_value(m);
	else if (json_is_string(m) && *json_string_value(m))
		n = strtoll(json_string_value(m), NULL, 10);
	else
		return false;
	if (n < 0 || n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

static bool parse_entry(struct sf_announced *a, const struct etcd_kv *kv)
{
	json_t *j = json_loadb(kv->value, kv->value_len, 0, NULL);
	const char *host = json_string_value(json_object_get(j, "host"));
	bool ok = host && strlen(host) < sizeof a->host && strlen(kv->key) < sizeof a->key &&
		  member_u32(j, "port", &a->port) && member_u32(j, "instance", &a->instance) &&
		  member_u32(j, "release", &a->release);

	if (ok) {
		strcpy(a->host, host);
		strcpy(a->key, kv->key);
	}
	json_decref(j);
	return ok;
}

int sf_announced_read(struct sf_announced **listp, size_t *np, const struct sf_state *st,
		      const char *app, char *err, size_t errlen)
{
	struct etcd_range range;
	struct sf_announced *v;
	char prefix[128];
	size_t n = 0;
	int r;

	snprintf(prefix, sizeof prefix, "/services/%s/", app);
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
