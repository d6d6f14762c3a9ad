/* scheduler-swarm: reading what the manager holds (services, tasks, nodes)
 * as instances, and the helpers the handlers share. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_swarm.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_request.h"
#include "errbuf.h"

void sw_service_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance)
{
	snprintf(buf, len, "nap-%s-%u-%u", app, (unsigned)release, (unsigned)instance);
}

docker_client *sw_engine_for(const struct sw_state *st, const char *addr)
{
	for (size_t i = 0; i < st->n_engines; i++)
		if (strcmp(st->engines[i].addr, addr) == 0)
			return st->engines[i].docker;
	return NULL;
}

int sw_filters_path(char *path, size_t len, const char *base, const struct sw_state *st,
		    const char *app, uint32_t release)
{
	char app_f[128], rel_f[64], napd_f[400];
	const char *v[3];
	size_t n = 0;
	char *filters;
	int r;

	if (len < DOCKER_URL_MAX)
		return -EINVAL;
	snprintf(path, len, "%s", base);
	if (app && *app) {
		snprintf(app_f, sizeof app_f, NAP_LABEL_APP "=%s", app);
		v[n++] = app_f;
	} else {
		v[n++] = NAP_LABEL_APP;
	}
	if (release) {
		snprintf(rel_f, sizeof rel_f, NAP_LABEL_RELEASE "=%u", (unsigned)release);
		v[n++] = rel_f;
	}
	if (*st->napd_id) {
		snprintf(napd_f, sizeof napd_f, NAP_LABEL_NAPD "=%s", st->napd_id);
		v[n++] = napd_f;
	}
	filters = docker_label_filters_json(v, n);
	if (!filters)
		return -ENOMEM;
	r = docker_url_add_param(path, "filters", filters);
	free(filters);
	return r;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static uint32_t label_u32(json_t *labels, const char *key)
{
	const char *s = json_string_value(json_object_get(labels, key));
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 0;
	v = strtoul(s, &end, 10);
	return *end || v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* A node's address: Status.Addr; a manager may report 0.0.0.0 there
 * (Docker does when it listens on every address), then the host part of
 * ManagerStatus.Addr ("10.0.0.1:2377"). Into buf. */
static const char *node_addr(json_t *n, char *buf, size_t len)
{
	const char *a = str(json_object_get(n, "Status"), "Addr");

	if (*a && strcmp(a, "0.0.0.0") != 0) {
		snprintf(buf, len, "%s", a);
		return buf;
	}
	a = str(json_object_get(n, "ManagerStatus"), "Addr");
	snprintf(buf, len, "%.*s", (int)(strrchr(a, ':') ? strrchr(a, ':') - a : (long)strlen(a)),
		 a);
	return buf;
}

const char *sw_node_addr(json_t *nodes, const char *id, char *buf, size_t len)
{
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n)
	{
		if (strcmp(str(n, "ID"), id) == 0)
			return node_addr(n, buf, len);
	}
	return NULL;
}

static json_t *node_find(json_t *nodes, const char *id)
{
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n)
	{
		if (strcmp(str(n, "ID"), id) == 0)
			return n;
	}
	return NULL;
}

/* "2026-11-30T20:31:05.123456789Z" as ms since the epoch; 0 if not one. */
static uint64_t parse_time_ms(const char *s)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	uint64_t ms;

	if (!p || tm.tm_year < 100)
		return 0;
	ms = (uint64_t)timegm(&tm) * 1000u;
	if (*p == '.')
		ms += (uint64_t)(strtod(p, NULL) * 1000.0);
	return ms;
}

/* The state of a task as Instance.state. */
static const char *task_state(const char *s)
{
	static const char *const pending[] = {"new",      "allocated", "pending",
					      "assigned", "accepted",  "preparing",
					      "ready",    "starting",  NULL};

	if (strcmp(s, "running") == 0)
		return "running";
	if (strcmp(s, "rejected") == 0)
		return "failed";
	for (size_t i = 0; pending[i]; i++)
		if (strcmp(s, pending[i]) == 0)
			return "pending";
	return "exited"; /* complete, failed, shutdown, orphaned, remove */
}

/* The task's endpoint ports (endpoint_ports()) from its published ports. */
static void task_ports(struct sw_inst *in, json_t *task)
{
	json_t *ports = json_object_get(json_object_get(json_object_get(task, "Status"),
							"PortStatus"),
					"Ports");
	struct docker_port published[ENDPOINT_PORTS_MAX * 2];
	size_t n = 0, i;
	json_t *p;

	json_array_foreach(ports, i, p)
	{
		json_int_t t = json_integer_value(json_object_get(p, "TargetPort"));
		json_int_t pub = json_integer_value(json_object_get(p, "PublishedPort"));
		const char *proto = str(p, "Protocol");

		if (n == sizeof published / sizeof published[0] || t <= 0 || t > 65535 ||
		    pub <= 0 || pub > 65535)
			continue;
		/* Host mode publishes on every address of the node: no HostIp. */
		published[n] = (struct docker_port){.container_port = (unsigned)t,
						    .host_port = (unsigned)pub};
		snprintf(published[n].proto, sizeof published[n].proto, "%s",
			 *proto ? proto : "tcp");
		n++;
	}
	in->n_ports = endpoint_ports(in->ports, ENDPOINT_PORTS_MAX, published, n);
	in->port = in->n_ports ? in->ports[0].host_port : 0;
}

static void inst_from(struct sw_inst *in, json_t *svc, json_t *task, json_t *nodes)
{
	json_t *labels = json_object_get(json_object_get(svc, "Spec"), "Labels");
	json_t *status = json_object_get(task, "Status");

	memset(in, 0, sizeof *in);
	snprintf(in->app, sizeof in->app, "%s", str(labels, NAP_LABEL_APP));
	in->release = label_u32(labels, NAP_LABEL_RELEASE);
	in->instance = label_u32(labels, NAP_LABEL_INSTANCE);
	snprintf(in->service_id, sizeof in->service_id, "%s", str(svc, "ID"));
	in->no_ports = strcmp(str(labels, NAP_LABEL_PORTS), "0") == 0;
	if (!task) {
		snprintf(in->state, sizeof in->state, "pending");
		snprintf(in->task_id, sizeof in->task_id, "%s", in->service_id);
		return;
	}
	snprintf(in->task_id, sizeof in->task_id, "%s", str(task, "ID"));
	snprintf(in->state, sizeof in->state, "%s", task_state(str(status, "State")));
	snprintf(in->task_err, sizeof in->task_err, "%s", str(status, "Err"));
	snprintf(in->node_id, sizeof in->node_id, "%s", str(task, "NodeID"));
	in->exit_code = (int)json_integer_value(
		json_object_get(json_object_get(status, "ContainerStatus"), "ExitCode"));
	if (*in->node_id) {
		json_t *node = node_find(nodes, in->node_id);
		json_t *nst = json_object_get(node, "Status");

		if (node)
			node_addr(node, in->host, sizeof in->host);
		snprintf(in->machine, sizeof in->machine, "%s",
			 str(json_object_get(node, "Description"), "Hostname"));
		/* A task on a node Swarm marked down is lost with it. */
		if (node && strcmp(str(nst, "State"), "ready") != 0) {
			in->node_down = true;
			if (strcmp(in->state, "running") == 0 ||
			    strcmp(in->state, "pending") == 0) {
				snprintf(in->state, sizeof in->state, "exited");
				in->exit_code = -1;
			}
		}
	}
	if (strcmp(in->state, "running") == 0) {
		task_ports(in, task);
		in->started_unix_ms = parse_time_ms(str(status, "Timestamp"));
	}
}

/* The task of svc to report: the newest by creation time. */
static json_t *newest_task(json_t *tasks, const char *service_id)
{
	json_t *best = NULL, *t;
	size_t i;

	json_array_foreach(tasks, i, t)
	{
		if (strcmp(str(t, "ServiceID"), service_id) != 0)
			continue;
		if (!best || strcmp(str(t, "CreatedAt"), str(best, "CreatedAt")) > 0)
			best = t;
	}
	return best;
}

int sw_snapshot_read(struct sw_snapshot *snap, const struct sw_state *st, const char *app,
		     char *err, size_t errlen)
{
	char path[DOCKER_URL_MAX];
	json_t *services = NULL, *tasks = NULL, *nodes = NULL, *svc;
	size_t i;
	int r;

	memset(snap, 0, sizeof *snap);
	r = sw_filters_path(path, sizeof path, "/services", st, app, 0);
	if (r < 0)
		return errbuf_printf(err, errlen, r, "services: bad filter");
	r = docker_json(&services, st->manager, "GET", path, NULL, "swarm services", err, errlen);
	/* Every task: joined to our services by ServiceID below. */
	if (r == 0)
		r = docker_json(&tasks, st->manager, "GET", "/tasks", NULL, "swarm tasks", err,
				errlen);
	if (r == 0)
		r = docker_json(&nodes, st->manager, "GET", "/nodes", NULL, "swarm nodes", err,
				errlen);
	if (r < 0)
		goto out;
	snap->v = calloc(json_array_size(services) + 1, sizeof *snap->v);
	if (!snap->v) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(services, i, svc)
	{
		struct sw_inst *in = &snap->v[snap->n];

		inst_from(in, svc, newest_task(tasks, str(svc, "ID")), nodes);
		if (nap_app_name_valid(in->app) && in->release && in->instance)
			snap->n++;
	}
	snap->nodes = json_incref(nodes);
out:
	json_decref(services);
	json_decref(tasks);
	json_decref(nodes);
	return r;
}

void sw_snapshot_free(struct sw_snapshot *snap)
{
	free(snap->v);
	json_decref(snap->nodes);
	memset(snap, 0, sizeof *snap);
}

void sw_instance_fill(Nap__Instance *out, const struct sw_inst *in)
{
	out->app = (char *)in->app;
	out->release = in->release;
	out->instance = in->instance;
	out->id = (char *)in->task_id;
	out->host = (char *)in->host;
	(void)instance_ports_set(out, in->ports, in->n_ports); /* ENOMEM: the default alone */
	out->state = (char *)in->state;
	out->machine = (char *)(*in->machine ? in->machine : in->node_id);
	out->exit_code = in->exit_code;
	out->started_unix_ms = in->started_unix_ms;
	out->health = "";
	out->announcer = "";
}
