/* scheduler-local: how a nap instance looks in Docker: its container name,
 * its labels, its endpoint ports, and finding an app's containers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_container_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance)
{
	snprintf(buf, len, "nap-%s-%u-%u", app, (unsigned)release, (unsigned)instance);
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

void sl_filters_init(struct sl_filters *f, const struct sl_state *st, const char *app,
		     uint32_t release)
{
	f->n = 0;
	/* app is validated by the caller: it cannot widen the filter. */
	if (app && *app) {
		snprintf(f->app, sizeof f->app, NAP_LABEL_APP "=%s", app);
		f->v[f->n++] = f->app;
	} else {
		f->v[f->n++] = NAP_LABEL_APP;
	}
	if (release) {
		snprintf(f->release, sizeof f->release, NAP_LABEL_RELEASE "=%u", (unsigned)release);
		f->v[f->n++] = f->release;
	}
	if (st->napd_label[0])
		f->v[f->n++] = st->napd_label;
}

int sl_list_containers(struct docker_container_summary **listp, size_t *np,
		       const struct sl_state *st, const char *app, uint32_t release, bool all,
		       char *err, size_t errlen)
{
	struct sl_filters f;

	sl_filters_init(&f, st, app, release);
	return docker_container_list(listp, np, st->docker, f.v, f.n, all, err, errlen);
}

void sl_instance_fill(Nap__Instance *out, const struct sl_state *st, const char *app,
		      uint32_t release, uint32_t instance, const struct docker_container_info *info)
{
	out->app = (char *)app;
	out->release = release;
	out->instance = instance;
	out->id = info->id;
	out->host = st->address;
	out->state = info->state && *info->state ? info->state : "unknown";
	if (info->running) {
		struct endpoint_port ports[ENDPOINT_PORTS_MAX];
		size_t n = endpoint_ports(ports, ENDPOINT_PORTS_MAX, info->ports, info->n_ports);

		/* Out of memory leaves only the default port: still served. */
		(void)instance_ports_set(out, ports, n);
	} else {
		/* Docker keeps the last exit code of a container that never
		 * started at 0 too: only "how it ended" once it has run. */
		out->exit_code = info->exit_code;
		out->oom_killed = info->oom_killed;
	}
	out->health = info->health ? info->health : "";
	out->started_unix_ms = info->started_unix_ms;
	out->announcer = ""; /* the orchestrator, once its check passes */
}
