/* plugins/common: Docker containers: run, inspect, stop, remove, list. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_request.h"
#include "errbuf.h"

/* Extra time a stop request gets on top of the container's grace period. */
#define DOCKER_STOP_SLACK_MS 15000L

static json_t *container_create_body(const struct docker_container_spec *spec)
{
	json_t *env = json_array(), *labels = json_object(), *host = json_object();
	json_t *root = json_object();
	int bad = !env || !labels || !host || !root;

	for (size_t i = 0; !bad && i < spec->n_env; i++)
		bad = json_array_append_new(env, json_string(spec->env[i])) < 0;
	for (size_t i = 0; !bad && i < spec->n_labels; i++)
		bad = json_object_set_new(labels, spec->labels[i].key,
					  json_string(spec->labels[i].value)) < 0;
	/* No RestartPolicy (Docker's default, "no"): a container that dies
	 * stays dead. nap's orchestrator restarts instances itself, with
	 * back-off, and withdraws them first; a Docker restart would bring one
	 * back behind its back, unchecked and unannounced. */
	if (!bad)
		bad = json_object_set_new(host, "PublishAllPorts", json_true()) < 0 ||
		      json_object_set_new(host, "Init", json_true()) < 0 ||
		      json_object_set_new(host, "Memory", json_integer(spec->memory)) < 0 ||
		      json_object_set_new(root, "Image", json_string(spec->image)) < 0 ||
		      json_object_set(root, "Env", env) < 0 ||
		      json_object_set(root, "Labels", labels) < 0 ||
		      json_object_set(root, "HostConfig", host) < 0;
	json_decref(env);
	json_decref(labels);
	json_decref(host);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int docker_container_create(char **idp, docker_client *c,
				   const struct docker_container_spec *spec, char *err,
				   size_t errlen)
{
	char url[DOCKER_URL_MAX] = DOCKER_URL_BASE "/containers/create";
	struct http_response resp;
	json_t *body, *answer;
	char *text;
	int r;

	if (!docker_valid_name(spec->image, DOCKER_IMAGE_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "create: invalid image \"%s\"",
				     spec->image ? spec->image : "");
	if (spec->name && (!docker_valid_name(spec->name, DOCKER_ID_CHARS) ||
			   spec->name[0] == '_' || spec->name[0] == '.' || spec->name[0] == '-'))
		return errbuf_printf(err, errlen, -EINVAL, "create: invalid container name \"%s\"",
				     spec->name);
	if (spec->memory < 0)
		return errbuf_printf(err, errlen, -EINVAL, "create: negative memory limit");
	if (spec->name && (r = docker_url_add_param(url, "name", spec->name)) < 0)
		return errbuf_printf(err, errlen, r, "create: %s", strerror(-r));
	body = container_create_body(spec);
	if (!body)
		return errbuf_printf(err, errlen, -EINVAL,
				     "create: environment and labels must be valid UTF-8");
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = docker_request(&resp, c, "POST", url, text, DOCKER_TIMEOUT_MS, "create container", err,
			   errlen);
	free(text);
	if (r < 0)
		return r;
	answer = docker_decode_body(&resp, "create container", err, errlen);
	http_response_release(&resp);
	if (!answer)
		return -EPROTO;
	if (!docker_valid_name(json_string_value(json_object_get(answer, "Id")), DOCKER_ID_CHARS))
		r = errbuf_printf(err, errlen, -EPROTO, "create container: no Id in the answer");
	else
		r = docker_strdup(idp, json_string_value(json_object_get(answer, "Id")));
	json_decref(answer);
	return r;
}

int docker_container_run(char **idp, docker_client *c, const struct docker_container_spec *spec,
			 char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX];
	char *id;
	int r;

	r = docker_container_create(&id, c, spec, err, errlen);
	if (r < 0)
		return r;
	snprintf(url, sizeof url, DOCKER_URL_BASE "/containers/%s/start", id);
	r = docker_simple(c, "POST", url, NULL, DOCKER_TIMEOUT_MS, "start container", err, errlen);
	if (r < 0) {
		docker_container_remove(c, id, NULL, 0); /* keep start's reason */
		free(id);
		return r;
	}
	*idp = id;
	return 0;
}

/* Reads NetworkSettings.Ports: {"8080/tcp":[{"HostIp":…,"HostPort":"32768"}],…}. */
static int parse_ports(struct docker_container_info *info, json_t *ports)
{
	const char *key;
	json_t *bindings;
	size_t cap = 0;

	json_object_foreach(ports, key, bindings)
	{
		unsigned cport;
		char proto[8] = "";
		size_t i;
		json_t *b;

		if (!json_is_array(bindings) || sscanf(key, "%u/%7s", &cport, proto) != 2)
			continue; /* an exposed port that is not published: null */
		json_array_foreach(bindings, i, b)
		{
			const char *ip = json_string_value(json_object_get(b, "HostIp"));
			const char *hp = json_string_value(json_object_get(b, "HostPort"));
			struct docker_port *p;
			unsigned long hport;
			char *end;

			if (!hp)
				continue;
			hport = strtoul(hp, &end, 10);
			if (*end || hport == 0 || hport > 65535)
				continue;
			if (info->n_ports == cap) {
				size_t ncap = cap ? 2 * cap : 4;

				p = realloc(info->ports, ncap * sizeof *p);
				if (!p)
					return -ENOMEM;
				info->ports = p;
				cap = ncap;
			}
			p = &info->ports[info->n_ports++];
			*p = (struct docker_port){.container_port = cport, .host_port = hport};
			snprintf(p->proto, sizeof p->proto, "%s", proto);
			snprintf(p->host_ip, sizeof p->host_ip, "%s", ip ? ip : "");
		}
	}
	return 0;
}

/* Docker's RFC 3339 time ("2026-11-30T19:48:00.123456789Z", always UTC) as
 * milliseconds since the epoch; 0 for "0001-01-01T00:00:00Z" (never) or
 * anything unreadable. */
static uint64_t parse_docker_time_ms(const char *s)
{
	struct tm tm = {0};
	unsigned frac_ms = 0, scale = 100;
	const char *p;
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6 ||
	    tm.tm_year < 1970)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	p = strchr(s, '.');
	for (p = p ? p + 1 : NULL; p && *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
		frac_ms += (unsigned)(*p - '0') * scale;
	t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000u + frac_ms;
}

int docker_container_inspect(struct docker_container_info **infop, docker_client *c, const char *id,
			     char *err, size_t errlen)
{
	struct docker_container_info *info;
	struct http_response resp;
	char url[DOCKER_URL_MAX];
	json_t *j, *state;
	const char *name;
	int r;

	if (!docker_valid_name(id, DOCKER_ID_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "inspect: invalid container \"%s\"",
				     id ? id : "");
	snprintf(url, sizeof url, DOCKER_URL_BASE "/containers/%s/json", id);
	r = docker_request(&resp, c, "GET", url, NULL, DOCKER_TIMEOUT_MS, "inspect container", err,
			   errlen);
	if (r < 0)
		return r;
	j = docker_decode_body(&resp, "inspect container", err, errlen);
	http_response_release(&resp);
	if (!j)
		return -EPROTO;
	info = calloc(1, sizeof *info);
	if (!info) {
		json_decref(j);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	state = json_object_get(j, "State");
	name = json_string_value(json_object_get(j, "Name"));
	if (name && *name == '/')
		name++;
	info->running = json_is_true(json_object_get(state, "Running"));
	info->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	info->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
	info->started_unix_ms =
		parse_docker_time_ms(json_string_value(json_object_get(state, "StartedAt")));
	r = docker_strdup(&info->id, json_string_value(json_object_get(j, "Id")));
	if (r == 0)
		r = docker_strdup(&info->name, name);
	if (r == 0)
		r = docker_strdup(&info->image, json_string_value(json_object_get(
							json_object_get(j, "Config"), "Image")));
	if (r == 0)
		r = docker_strdup(&info->state,
				  json_string_value(json_object_get(state, "Status")));
	if (r == 0)
		r = docker_strdup(&info->health, json_string_value(json_object_get(
							 json_object_get(state, "Health"), "Status")));
	if (r == 0) {
		json_t *labels = json_object_get(json_object_get(j, "Config"), "Labels");

		info->labels = json_is_object(labels) ? json_incref(labels) : json_object();
		r = info->labels ? 0 : -ENOMEM;
	}
	if (r == 0)
		r = parse_ports(info,
				json_object_get(json_object_get(j, "NetworkSettings"), "Ports"));
	json_decref(j);
	if (r < 0) {
		docker_container_info_free(info);
		return errbuf_printf(err, errlen, r, "out of memory");
	}
	*infop = info;
	return 0;
}

struct docker_container_info *docker_container_info_free(struct docker_container_info *info)
{
	if (info) {
		free(info->id);
		free(info->name);
		free(info->image);
		free(info->state);
		free(info->health);
		json_decref(info->labels);
		free(info->ports);
		free(info);
	}
	return NULL;
}

int docker_container_stop(docker_client *c, const char *id, int grace_s, char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX];

	if (!docker_valid_name(id, DOCKER_ID_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "stop: invalid container \"%s\"",
				     id ? id : "");
	if (grace_s < 0)
		grace_s = 0;
	snprintf(url, sizeof url, DOCKER_URL_BASE "/containers/%s/stop?t=%d", id, grace_s);
	/* 304: already stopped, which docker_status() counts as success. */
	return docker_simple(c, "POST", url, NULL, grace_s * 1000L + DOCKER_STOP_SLACK_MS,
			     "stop container", err, errlen);
}

int docker_container_remove(docker_client *c, const char *id, char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX];

	if (!docker_valid_name(id, DOCKER_ID_CHARS))
		return errbuf_printf(err, errlen, -EINVAL, "remove: invalid container \"%s\"",
				     id ? id : "");
	snprintf(url, sizeof url, DOCKER_URL_BASE "/containers/%s?force=1&v=1", id);
	return docker_simple(c, "DELETE", url, NULL, DOCKER_TIMEOUT_MS, "remove container", err,
			     errlen);
}

void docker_container_list_free(struct docker_container_summary *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].id);
		free(list[i].name);
		free(list[i].image);
		free(list[i].state);
		json_decref(list[i].labels);
	}
	free(list);
}

int docker_container_list(struct docker_container_summary **listp, size_t *np, docker_client *c,
			  const char *const *label_filters, size_t n_filters, bool all, char *err,
			  size_t errlen)
{
	char url[DOCKER_URL_MAX] = DOCKER_URL_BASE "/containers/json";
	struct docker_container_summary *list = NULL;
	struct http_response resp;
	char *filters;
	json_t *j, *e;
	size_t n = 0, i;
	int r;

	r = docker_url_add_param(url, "all", all ? "1" : "0");
	if (r == 0 && n_filters > 0) {
		filters = docker_label_filters_json(label_filters, n_filters);
		r = filters ? docker_url_add_param(url, "filters", filters) : -EINVAL;
		free(filters);
	}
	if (r < 0)
		return errbuf_printf(err, errlen, r, "list containers: bad label filters");
	r = docker_request(&resp, c, "GET", url, NULL, DOCKER_TIMEOUT_MS, "list containers", err,
			   errlen);
	if (r < 0)
		return r;
	j = docker_decode_body(&resp, "list containers", err, errlen);
	http_response_release(&resp);
	if (!json_is_array(j)) {
		json_decref(j);
		return errbuf_printf(err, errlen, -EPROTO, "list containers: not a JSON array");
	}
	if (json_array_size(j) > 0) {
		list = calloc(json_array_size(j), sizeof *list);
		if (!list) {
			json_decref(j);
			return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		}
	}
	json_array_foreach(j, i, e)
	{
		struct docker_container_summary *s = &list[n++];
		const char *name =
			json_string_value(json_array_get(json_object_get(e, "Names"), 0));
		json_t *labels = json_object_get(e, "Labels");

		if (name && *name == '/')
			name++;
		r = docker_strdup(&s->id, json_string_value(json_object_get(e, "Id")));
		if (r == 0)
			r = docker_strdup(&s->name, name);
		if (r == 0)
			r = docker_strdup(&s->image,
					  json_string_value(json_object_get(e, "Image")));
		if (r == 0)
			r = docker_strdup(&s->state,
					  json_string_value(json_object_get(e, "State")));
		s->labels = json_is_object(labels) ? json_incref(labels) : json_object();
		if (r == 0 && !s->labels)
			r = -ENOMEM;
		if (r < 0)
			break;
	}
	json_decref(j);
	if (r < 0) {
		docker_container_list_free(list, n);
		return errbuf_printf(err, errlen, r, "out of memory");
	}
	*listp = list;
	*np = n;
	return 0;
}
