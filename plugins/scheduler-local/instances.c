/* scheduler-local: how a nap instance looks in Docker: its container name,
 * its labels, its published port, and finding an app's containers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_container_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance)
{
	snprintf(buf, len, "nap-%s-%u-%u", app, (unsigned)release, (unsigned)instance);
}

/* Docker 20.10 publishes each port on 0.0.0.0 and on ::, possibly with
 * different host ports; the IPv4 one is what the host address reaches. */
static bool ipv4_binding(const struct docker_port *p)
{
	return p->host_ip[0] == '\0' || strchr(p->host_ip, ':') == NULL;
}

uint32_t sl_first_port(const struct docker_container_info *info)
{
	const struct docker_port *best = NULL;

	for (size_t i = 0; i < info->n_ports; i++) {
		const struct docker_port *p = &info->ports[i];

		if (strcmp(p->proto, "tcp") != 0 || !ipv4_binding(p))
			continue;
		/* The lowest container port; on a tie, the 0.0.0.0 binding. */
		if (!best || p->container_port < best->container_port ||
		    (p->container_port == best->container_port &&
		     strcmp(p->host_ip, "0.0.0.0") == 0 && strcmp(best->host_ip, "0.0.0.0") != 0))
			best = p;
	}
	return best ? best->host_port : 0;
}

uint32_t sl_label_u32(const struct docker_container_summary *s, const char *key)
{
	const char *v = json_string_value(json_object_get(s->labels, key));
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*end || errno || n > UINT32_MAX)
		return 0;
	return (uint32_t)n;
}

int sl_list_containers(struct docker_container_summary **listp, size_t *np,
		       const struct sl_state *st, const char *app, uint32_t release, bool all,
		       char *err, size_t errlen)
{
	char app_filter[128], release_filter[64];
	const char *filters[3];
	size_t n = 0;

	/* app is validated by the caller: it cannot widen the filter. */
	if (app && *app) {
		snprintf(app_filter, sizeof app_filter, SL_LABEL_APP "=%s", app);
		filters[n++] = app_filter;
	} else {
		filters[n++] = SL_LABEL_APP;
	}
	if (release) {
		snprintf(release_filter, sizeof release_filter, SL_LABEL_RELEASE "=%u",
			 (unsigned)release);
		filters[n++] = release_filter;
	}
	if (st->napd_label[0])
		filters[n++] = st->napd_label;
	return docker_container_list(listp, np, st->docker, filters, n, all, err, errlen);
}
