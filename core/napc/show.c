/* How napc shows apps, instances and endpoints: as text for people and as
 * JSON (--json) for scripts. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <nap/control.pb-c.h>

#include "napc.h"

static json_t *endpoint_json(const Nap__Endpoint *e)
{
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:i, s:b}", "app", e->app ? e->app : "",
			 "host", e->host ? e->host : "", "port", (json_int_t)e->port, "instance",
			 (json_int_t)e->instance, "release", (json_int_t)e->release, "url",
			 e->url ? e->url : "", "container_port", (json_int_t)e->container_port,
			 "extra_port", (int)e->extra_port);
}

bool napc_endpoints_have_extra(Nap__Endpoint **eps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (eps[i]->extra_port)
			return true;
	return false;
}

json_t *napc_endpoints_json(Nap__Endpoint **eps, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, endpoint_json(eps[i]));
	return a;
}

void napc_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s)
		puts(s);
	else /* never silent: a script would read nothing as "nothing" */
		fprintf(stderr, "napc: the answer could not be written as JSON (a bug: please "
				"report it)\n");
	free(s);
	json_decref(j);
	fflush(stdout);
}

void napc_print_endpoints(Nap__Endpoint **eps, size_t n)
{
	/* An app with one port reads as before 1.2; with several, each line
	 * names its container port. */
	bool named = napc_endpoints_have_extra(eps, n);

	for (size_t i = 0; i < n; i++) {
		char url[300];
		if (eps[i]->url && *eps[i]->url)
			snprintf(url, sizeof(url), "%s", eps[i]->url);
		else
			snprintf(url, sizeof(url), "http://%s:%u", eps[i]->host, eps[i]->port);
		printf("  %-28s instance %u (release %u)", url, eps[i]->instance, eps[i]->release);
		if (named && eps[i]->container_port)
			printf(", port %u%s", eps[i]->container_port,
			       eps[i]->extra_port ? "" : " (default)");
		printf("\n");
	}
}

json_t *napc_status_json(const Nap__AppStatus *s)
{
	json_t *rels = json_array();
	for (size_t i = 0; i < s->n_releases; i++)
		json_array_append_new(rels, json_integer(s->releases[i]));
	json_t *env = json_array(); /* keys only, as in the text output */
	for (size_t i = 0; i < s->n_env; i++)
		json_array_append_new(env, json_string(s->env[i]->key));
	json_t *insts = json_array();
	for (size_t i = 0; i < s->n_instance_states; i++) {
		const Nap__InstanceStatus *is = s->instance_states[i];
		json_array_append_new(
			insts,
			json_pack("{s:i, s:i, s:s, s:i, s:i, s:b, s:s, s:I, s:s, s:i, s:s, s:I}",
				  "instance", (json_int_t)is->instance, "release",
				  (json_int_t)is->release, "state", is->state, "restarts",
				  (json_int_t)is->restarts, "last_exit_code",
				  (json_int_t)is->last_exit_code, "oom_killed", is->oom_killed,
				  "last_check", is->last_check, "since_unix_ms",
				  (json_int_t)is->since_unix_ms, "host", is->host, "port",
				  (json_int_t)is->port, "id", is->id, "next_start_unix_ms",
				  (json_int_t)is->next_start_unix_ms));
	}
	json_t *check = s->check ? json_pack("{s:s, s:i, s:i, s:i, s:i}", "http_path",
					     s->check->http_path, "interval_ms",
					     (json_int_t)s->check->interval_ms, "timeout_ms",
					     (json_int_t)s->check->timeout_ms, "failures",
					     (json_int_t)s->check->failures, "ready_timeout_s",
					     (json_int_t)s->check->ready_timeout_s)
				 : json_null();
	json_t *cons = json_array();
	for (size_t i = 0; i < s->n_constraints; i++)
		json_array_append_new(cons, json_string(s->constraints[i]));
	return json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:o, "
			 "s:s, s:o, s:I, s:I}",
			 "app", s->app, "release", (json_int_t)s->release, "image", s->image,
			 "instances", (json_int_t)s->instances, "memory_bytes",
			 (json_int_t)s->memory_bytes, "state", s->state, "updated",
			 (json_int_t)s->updated_unix, "releases", rels, "env", env, "endpoints",
			 napc_endpoints_json(s->endpoints, s->n_endpoints), "ready",
			 (json_int_t)s->ready, "restarts", (json_int_t)s->restarts,
			 "instance_states", insts, "check", check, "scheduler",
			 s->scheduler ? s->scheduler : "", "constraints", cons, "keep_releases",
			 (json_int_t)s->keep_releases, "image_bytes", (json_int_t)s->image_bytes);
}

/* "12s", "5m", "3h", "2d": how long ago a wall-clock time in ms was. */
static void ago(char *buf, size_t n, uint64_t unix_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	uint64_t s = unix_ms && now > unix_ms ? (now - unix_ms) / 1000u : 0;
	if (s < 120)
		snprintf(buf, n, "%llus", (unsigned long long)s);
	else if (s < 7200)
		snprintf(buf, n, "%llum", (unsigned long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, n, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(buf, n, "%llud", (unsigned long long)(s / 86400));
}

/* One line per instance: what the orchestrator sees of it. */
static void print_instances(const Nap__AppStatus *s)
{
	if (!s->n_instance_states)
		return;
	printf("  %-4s %-7s %-10s %-6s %-8s %-9s %s\n", "INST", "RELEASE", "STATE", "SINCE",
	       "RESTARTS", "LAST EXIT", "LAST CHECK");
	for (size_t i = 0; i < s->n_instance_states; i++) {
		const Nap__InstanceStatus *is = s->instance_states[i];
		char since[16], exit_code[16] = "-";
		ago(since, sizeof(since), is->since_unix_ms);
		if (is->oom_killed)
			snprintf(exit_code, sizeof(exit_code), "OOM");
		else if (is->restarts)
			snprintf(exit_code, sizeof(exit_code), "%d", is->last_exit_code);
		printf("  %-4u %-7u %-10s %-6s %-8u %-9s %s", is->instance, is->release, is->state,
		       since, is->restarts, exit_code, *is->last_check ? is->last_check : "-");
		if (is->next_start_unix_ms) {
			char in[16];
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t now = (uint64_t)ts.tv_sec * 1000u +
				       (uint64_t)ts.tv_nsec / 1000000u;
			snprintf(in, sizeof(in), "%.1fs",
				 is->next_start_unix_ms > now
					 ? (double)(is->next_start_unix_ms - now) / 1000.0
					 : 0.0);
			printf(" (back-off: starts again in %s)", in);
		}
		printf("\n");
	}
}

void napc_print_status(const struct napc *n, const Nap__AppStatus *s)
{
	if (n->json) {
		napc_print_json(napc_status_json(s));
		return;
	}
	printf("%s: %s, release %u, %u instance%s\n", s->app, s->state, s->release, s->instances,
	       s->instances == 1 ? "" : "s");
	if (s->image && *s->image)
		printf("  image %s\n", s->image);
	if (s->scheduler && *s->scheduler)
		printf("  scheduler %s\n", s->scheduler);
	for (size_t i = 0; i < s->n_constraints; i++)
		printf("  constraint %s\n", s->constraints[i]);
	if (s->check)
		printf("  check %s, every %u ms, unhealthy after %u failures, ready within %u s\n",
		       *s->check->http_path ? s->check->http_path : "TCP connect",
		       s->check->interval_ms, s->check->failures, s->check->ready_timeout_s);
	if (s->memory_bytes)
		printf("  memory %llu MiB per instance\n",
		       (unsigned long long)(s->memory_bytes >> 20));
	if (s->n_releases) {
		printf("  releases");
		for (size_t i = 0; i < s->n_releases; i++)
			printf(" %u", s->releases[i]);
		/* what the registry keeps of them (napd 0.2 and later say) */
		if (s->keep_releases)
			printf(" (%zu kept of keep_releases = %u", s->n_releases, s->keep_releases);
		if (s->keep_releases && s->image_bytes)
			printf("; images %.1f MB in the registry", (double)s->image_bytes / 1e6);
		printf("%s\n", s->keep_releases ? ")" : "");
	}
	/* Keys only: values may be secrets, and status output ends up in
	 * terminals, CI logs and bug reports ('napc env APP' shows values). */
	if (s->n_env) {
		printf("  env");
		for (size_t i = 0; i < s->n_env; i++)
			printf(" %s", s->env[i]->key);
		printf("\n");
	}
	print_instances(s);
	napc_print_endpoints(s->endpoints, s->n_endpoints);
}
