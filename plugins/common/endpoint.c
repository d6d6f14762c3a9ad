/* plugins/common: the endpoint contract (see endpoint.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nap/names.h>

/* Docker 20.10 publishes each port on 0.0.0.0 and on ::, possibly with
 * different host ports; the IPv4 one is what the host's address reaches. */
static bool ipv4_binding(const struct docker_port *p)
{
	return strchr(p->host_ip, ':') == NULL;
}

/* Whether binding p should replace the one chosen so far for its container
 * port: the 0.0.0.0 binding wins a tie, else the first one stays. */
static bool better_binding(const struct docker_port *p, const struct docker_port *chosen)
{
	return strcmp(p->host_ip, "0.0.0.0") == 0 && strcmp(chosen->host_ip, "0.0.0.0") != 0;
}

size_t endpoint_ports(struct endpoint_port *out, size_t max, const struct docker_port *ports,
		      size_t n_ports)
{
	const struct docker_port *chosen[ENDPOINT_PORTS_MAX];
	size_t n = 0;

	if (max > ENDPOINT_PORTS_MAX)
		max = ENDPOINT_PORTS_MAX;
	for (size_t i = 0; i < n_ports; i++) {
		const struct docker_port *p = &ports[i];
		size_t at = 0;

		if (strcmp(p->proto, "tcp") != 0 || !ipv4_binding(p) || p->host_port == 0 ||
		    p->host_port > 65535 || p->container_port == 0 || p->container_port > 65535)
			continue;
		/* Insertion into the list sorted by container port. */
		while (at < n && chosen[at]->container_port < p->container_port)
			at++;
		if (at < n && chosen[at]->container_port == p->container_port) {
			if (better_binding(p, chosen[at]))
				chosen[at] = p;
			continue;
		}
		if (at >= max)
			continue; /* above the max lowest ones */
		if (n == max)
			n--; /* the highest one drops off */
		memmove(&chosen[at + 1], &chosen[at], (n - at) * sizeof chosen[0]);
		chosen[at] = p;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (struct endpoint_port){chosen[i]->container_port, chosen[i]->host_port};
	return n;
}

bool endpoint_host_valid(const char *host)
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

int endpoint_key(char *buf, size_t len, const struct endpoint_record *ep)
{
	int n;

	if (!nap_app_name_valid(ep->app) || !endpoint_host_valid(ep->host) ||
	    (ep->extra && (ep->container_port == 0 || ep->container_port > 65535)))
		return -EINVAL;
	if (ep->extra)
		n = snprintf(buf, len, ENDPOINT_SERVICES_PREFIX "%s:%u/%s:%u", ep->app,
			     (unsigned)ep->container_port, ep->host, (unsigned)ep->instance);
	else
		n = snprintf(buf, len, ENDPOINT_SERVICES_PREFIX "%s/%s:%u", ep->app, ep->host,
			     (unsigned)ep->instance);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int endpoint_app_prefix(char *buf, size_t len, const char *app)
{
	int n;

	if (!nap_app_name_valid(app))
		return -EINVAL;
	n = snprintf(buf, len, ENDPOINT_SERVICES_PREFIX "%s", app);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool endpoint_key_is_of(const char *key, const char *app)
{
	const size_t plen = strlen(ENDPOINT_SERVICES_PREFIX), alen = app ? strlen(app) : 0;

	return alen && strncmp(key, ENDPOINT_SERVICES_PREFIX, plen) == 0 &&
	       strncmp(key + plen, app, alen) == 0 &&
	       (key[plen + alen] == '/' || key[plen + alen] == ':');
}

char *endpoint_record_json(const struct endpoint_record *ep)
{
	/* host and port first, in this order: the seed's sidekick wrote
	 * {"host","port"} and readers of that layout keep working. */
	json_t *o = json_pack("{s:s,s:I,s:I,s:I}", "host", ep->host, "port", (json_int_t)ep->port,
			      "instance", (json_int_t)ep->instance, "release",
			      (json_int_t)ep->release);
	char *text = NULL;

	if (o && ep->container_port &&
	    json_object_set_new(o, "container_port", json_integer(ep->container_port)) < 0) {
		json_decref(o);
		return NULL;
	}
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

/* A member that is a number in [lo, hi], as a JSON integer or (as shell
 * tools may write it) a decimal string. Absent: *outp stays. */
static int u32_member(uint32_t *outp, json_t *o, const char *name, unsigned long lo,
		      unsigned long hi)
{
	json_t *v = json_object_get(o, name);
	unsigned long long n;
	char *end;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		n = (unsigned long long)json_integer_value(v);
	} else if (json_is_string(v) && *json_string_value(v) >= '0' &&
		   *json_string_value(v) <= '9') {
		errno = 0;
		n = strtoull(json_string_value(v), &end, 10);
		if (errno || *end)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (n < lo || n > hi)
		return -EINVAL;
	*outp = (uint32_t)n;
	return 0;
}

/* app, extra and container_port from "/services/<app>[:<port>]/...". */
static int parse_key(struct endpoint_record *ep, const char *key)
{
	const size_t plen = strlen(ENDPOINT_SERVICES_PREFIX);
	const char *app = key + plen, *end;
	size_t alen;

	if (strncmp(key, ENDPOINT_SERVICES_PREFIX, plen) != 0)
		return -EINVAL;
	alen = strcspn(app, ":/");
	if (alen >= sizeof ep->app || !app[alen])
		return -EINVAL;
	memcpy(ep->app, app, alen);
	ep->app[alen] = '\0';
	if (!nap_app_name_valid(ep->app))
		return -EINVAL;
	if (app[alen] == ':') {
		unsigned long port = strtoul(app + alen + 1, (char **)&end, 10);

		if (*end != '/' || port == 0 || port > 65535 || app[alen + 1] < '1' ||
		    app[alen + 1] > '9')
			return -EINVAL;
		ep->extra = true;
		ep->container_port = (uint32_t)port;
	}
	return 0;
}

int endpoint_record_parse(struct endpoint_record *ep, const char *key, const char *value,
			  size_t value_len)
{
	struct endpoint_record out = {0};
	uint32_t cport = 0;
	const char *host;
	json_t *o;
	int r = -EINVAL;

	if (parse_key(&out, key) < 0)
		return -EINVAL;
	o = json_loadb(value, value_len, 0, NULL);
	host = json_string_value(json_object_get(o, "host"));
	/* instance and release may be missing in entries written by older
	 * tools (the seed's {"host","port"}): they read as 0. */
	if (host && strlen(host) < sizeof out.host && json_object_get(o, "port") &&
	    u32_member(&out.port, o, "port", 1, 65535) == 0 &&
	    u32_member(&out.instance, o, "instance", 0, UINT32_MAX) == 0 &&
	    u32_member(&out.release, o, "release", 0, UINT32_MAX) == 0 &&
	    u32_member(&cport, o, "container_port", 1, 65535) == 0 &&
	    (!out.extra || !cport || cport == out.container_port)) {
		strcpy(out.host, host);
		if (!out.extra)
			out.container_port = cport;
		*ep = out;
		r = 0;
	}
	json_decref(o);
	return r;
}
