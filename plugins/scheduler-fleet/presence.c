/* scheduler-fleet: the want and present keys that make removal certain.
 *
 *   /nap/fleet/want/<app>/<release>-<instance>     put by Run before it
 *       submits the units, deleted by Remove before it deletes them;
 *   /nap/fleet/present/<app>/<release>-<instance>  put under a lease by the
 *       run unit (nap-fleet-announce claim) before its container starts,
 *       revoked when the unit has stopped it.
 * A unit whose want key is gone does not start (fleet may start a unit it
 * was told to delete), and a running one stops its container, even when
 * fleet's API cannot be reached. Remove is over when no present key is
 * left: fleet's /state is no proof (it drops a deleted unit's state at once
 * and may show a stale active/running for seconds). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

static void key_of(char *buf, size_t len, const struct sf_state *st, const char *kind,
		   const char *app, uint32_t release, uint32_t instance)
{
	snprintf(buf, len, "%s" SF_KEYS_DIR "%s/%s/%" PRIu32 "-%" PRIu32, st->key_prefix, kind, app,
		 release, instance);
}

int sf_want_put(const struct sf_state *st, const char *app, uint32_t release, uint32_t instance,
		char *err, size_t errlen)
{
	char key[256], value[64];

	key_of(key, sizeof key, st, "want", app, release, instance);
	snprintf(value, sizeof value, "{\"since_ms\":%" PRIu64 "}", sf_now_us() / 1000u);
	return etcd_put(NULL, st->etcd, key, value, strlen(value), 0, err, errlen);
}

int sf_want_delete(const struct sf_state *st, const char *app, uint32_t release, uint32_t instance,
		   char *err, size_t errlen)
{
	char key[256];

	key_of(key, sizeof key, st, "want", app, release, instance);
	return etcd_delete(NULL, st->etcd, key, false, err, errlen);
}

/* Reads "<release>-<instance>" after prefix. */
static bool parse_pair(const char *rest, uint32_t *rel, uint32_t *ins)
{
	char *end;
	unsigned long r, i;

	errno = 0;
	r = strtoul(rest, &end, 10);
	if (errno || end == rest || *end != '-' || r == 0 || r > UINT32_MAX)
		return false;
	rest = end + 1;
	i = strtoul(rest, &end, 10);
	if (errno || end == rest || *end || i == 0 || i > UINT32_MAX)
		return false;
	*rel = (uint32_t)r;
	*ins = (uint32_t)i;
	return true;
}

int sf_keys_read(struct sf_pair **listp, size_t *np, const struct sf_state *st, const char *kind,
		 const char *app, char *err, size_t errlen)
{
	struct etcd_range range;
	struct sf_pair *v;
	char prefix[256];
	size_t n = 0, plen;
	int r;

	snprintf(prefix, sizeof prefix, "%s" SF_KEYS_DIR "%s/%s/", st->key_prefix, kind, app);
	plen = strlen(prefix);
	r = etcd_get(&range, st->etcd, prefix, true, 0, err, errlen);
	if (r < 0)
		return r;
	v = calloc(range.n ? range.n : 1, sizeof *v);
	if (!v) {
		etcd_range_release(&range);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < range.n; i++)
		if (parse_pair(range.kvs[i].key + plen, &v[n].release, &v[n].instance))
			n++;
	etcd_range_release(&range);
	*listp = v;
	*np = n;
	return 0;
}

bool sf_pair_in(const struct sf_pair *v, size_t n, uint32_t release, uint32_t instance)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].release == release && v[i].instance == instance)
			return true;
	return false;
}
