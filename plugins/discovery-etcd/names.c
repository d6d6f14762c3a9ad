/* discovery-etcd: checking names and keys, and the endpoint value format.
 *
 * Every string that ends up in an etcd key passes one of these checks first,
 * so a caller can never reach outside /services/<app>/ or /nap/. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "discovery.h"

bool disc_host_valid(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	if (n < 1 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

bool disc_record_key_valid(const char *key, bool allow_empty)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0)
		return allow_empty;
	if (n > 200 || key[0] == '/' || strstr(key, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '/' || c == '-'))
			return false;
	}
	return true;
}

int disc_endpoint_key(char *buf, size_t len, const char *app, const char *host, uint32_t instance)
{
	int n = snprintf(buf, len, DISCOVERY_SERVICES_PREFIX "%s/%s:%u", app, host, instance);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

char *disc_endpoint_value(const struct disc_endpoint *ep)
{
	/* Exactly these four fields, in this order: the seed's sidekick wrote
	 * {"host","port"} and readers of that layout keep working. */
	json_t *o = json_pack("{s:s,s:I,s:I,s:I}", "host", ep->host, "port", (json_int_t)ep->port,
			      "instance", (json_int_t)ep->instance, "release",
			      (json_int_t)ep->release);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

/* A JSON integer member in [lo, 2^32). */
static int u32_member(uint32_t *outp, json_t *o, const char *name, json_int_t lo)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return -EINVAL;
	*outp = (uint32_t)json_integer_value(v);
	return 0;
}

int disc_endpoint_parse(struct disc_endpoint *ep, const char *key, const char *value,
			size_t value_len)
{
	const size_t plen = strlen(DISCOVERY_SERVICES_PREFIX);
	struct disc_endpoint out = {0};
	const char *app, *slash, *host;
	json_t *o, *h;
	int r = -EINVAL;

	if (strncmp(key, DISCOVERY_SERVICES_PREFIX, plen) != 0)
		return -EINVAL;
	app = key + plen;
	slash = strchr(app, '/');
	if (!slash || (size_t)(slash - app) >= sizeof out.app)
		return -EINVAL;
	memcpy(out.app, app, (size_t)(slash - app));
	if (!nap_app_name_valid(out.app))
		return -EINVAL;
	o = json_loadb(value, value_len, 0, NULL);
	h = json_object_get(o, "host");
	host = json_string_value(h);
	if (host && strlen(host) < sizeof out.host && u32_member(&out.port, o, "port", 1) == 0 &&
	    out.port <= 65535) {
		strcpy(out.host, host);
		/* instance and release may be missing in entries written by
		 * older tools (the seed's {"host","port"}): they read as 0. */
		if (json_object_get(o, "instance") && u32_member(&out.instance, o, "instance", 0) < 0)
			goto out;
		if (json_object_get(o, "release") && u32_member(&out.release, o, "release", 0) < 0)
			goto out;
		*ep = out;
		r = 0;
	}
out:
	json_decref(o);
	return r;
}
