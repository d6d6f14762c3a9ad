/* napc's app commands but deploy (deploy.c): ls, status, endpoints, scale,
 * env, rollback, logs, stop, start, destroy, check. Each makes one nap.Control call; with --json
 * the result is printed as one JSON document (deploy and the watches: one
 * JSON object per line). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>
#include <nap/limits.h>
#include <nap/names.h>

#include "call.h"
#include "napc.h"

static int one_app(int argc, char **argv, const char *usage, Nap__AppRequest *req)
{
	if (argc != 2) {
		fprintf(stderr, "usage: napc %s\n", usage);
		return NAPC_EXIT_USAGE;
	}
	nap__app_request__init(req);
	req->app = argv[1];
	return napc_check_app(req->app);
}

int napc_cmd_status(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "status APP", &req);
	return r ? r : napc_app_call(n, "GetApp", &req.base);
}

int napc_cmd_stop(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "stop APP", &req);
	return r ? r : napc_app_call(n, "Stop", &req.base);
}

int napc_cmd_start(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "start APP", &req);
	return r ? r : napc_app_call(n, "Start", &req.base);
}

int napc_cmd_destroy(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "destroy APP", &req);
	if (r || (r = napc_connect(n)))
		return r;
	Nap__DestroyReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control",
			   napc_method("Destroy"), &req.base, &nap__destroy_reply__descriptor,
			   n->timeout_given ? n->timeout_ms : 0, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json)
		napc_print_json(json_pack("{s:s, s:b}", "app", req.app, "destroyed", 1));
	else
		printf("%s destroyed\n", req.app);
	nap__destroy_reply__free_unpacked(rep, NULL);
	return NAPC_EXIT_OK;
}

int napc_cmd_scale(struct napc *n, int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: napc scale APP N\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_check_app(argv[1]);
	if (r)
		return r;
	char *end;
	unsigned long v = strtoul(argv[2], &end, 10);
	if (*end || v < 1 || v > NAP_INSTANCES_MAX) {
		fprintf(stderr, "napc: N is 1 to %u instances ('napc stop' for none)\n",
			NAP_INSTANCES_MAX);
		return NAPC_EXIT_USAGE;
	}
	Nap__ScaleRequest req = NAP__SCALE_REQUEST__INIT;
	req.app = argv[1];
	req.instances = (uint32_t)v;
	return napc_app_call(n, "Scale", &req.base);
}

/* vars, ptrs and unset have room for argc entries; the caller frees them. */
static int env_with(struct napc *n, int argc, char **argv, Nap__EnvVar *vars, Nap__EnvVar **ptrs,
		    char **unset)
{
	static const struct option lo[] = {{"unset", 1, 0, 'u'}, {0, 0, 0, 0}};
	Nap__SetEnvRequest req = NAP__SET_ENV_REQUEST__INIT;
	int c, r;
	optind = 0; /* a full restart of getopt: main() parsed with "+" */
	while ((c = getopt_long(argc, argv, "u:", lo, NULL)) != -1) {
		if (c != 'u')
			return NAPC_EXIT_USAGE;
		unset[req.n_unset++] = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: napc env APP [K=V]... [--unset K]...\n");
		return NAPC_EXIT_USAGE;
	}
	req.app = argv[optind];
	if ((r = napc_check_app(req.app)))
		return r;
	for (int i = optind + 1; i < argc; i++) {
		if ((r = napc_parse_env(&vars[req.n_set], argv[i])))
			return r;
		ptrs[req.n_set] = &vars[req.n_set];
		req.n_set++;
	}
	req.set = ptrs;
	req.unset = unset;
	for (size_t i = 0; i < req.n_unset; i++) {
		if (!nap_env_key_valid(unset[i])) {
			fprintf(stderr,
				"napc: --unset '%.64s' is not an environment variable name\n",
				unset[i]);
			return NAPC_EXIT_USAGE;
		}
	}
	if (req.n_unset > NAP_ENV_COUNT_MAX) {
		fprintf(stderr, "napc: %zu --unset keys; the limit is %u\n", req.n_unset,
			NAP_ENV_COUNT_MAX);
		return NAPC_EXIT_USAGE;
	}
	if ((r = napc_check_env_list(ptrs, req.n_set)))
		return r;
	if (req.n_set == 0 && req.n_unset == 0) {
		/* Nothing to change: show the environment. */
		Nap__AppRequest ar = NAP__APP_REQUEST__INIT;
		ar.app = req.app;
		r = napc_connect(n);
		if (r)
			return r;
		Nap__AppStatus *st = NULL;
		nap_error err = {0};
		r = nap_call_unary((ProtobufCMessage **)&st, n->conn, "nap.Control",
				   napc_method("GetApp"), &ar.base, &nap__app_status__descriptor,
				   n->timeout_ms, &err);
		if (r < 0)
			return napc_fail(n, &err, r);
		if (n->json) {
			json_t *env = json_object();
			for (size_t i = 0; i < st->n_env; i++)
				json_object_set_new(env, st->env[i]->key,
						    json_string(st->env[i]->value));
			napc_print_json(env);
		} else {
			for (size_t i = 0; i < st->n_env; i++)
				printf("%s=%s\n", st->env[i]->key, st->env[i]->value);
		}
		nap__app_status__free_unpacked(st, NULL);
		r = NAPC_EXIT_OK;
	} else {
		r = napc_app_call(n, "SetEnv", &req.base);
	}
	return r;
}

int napc_cmd_env(struct napc *n, int argc, char **argv)
{
	Nap__EnvVar *vars = calloc((size_t)argc, sizeof(*vars));
	Nap__EnvVar **ptrs = calloc((size_t)argc, sizeof(*ptrs));
	char **unset = calloc((size_t)argc, sizeof(*unset));
	int r = vars && ptrs && unset ? env_with(n, argc, argv, vars, ptrs, unset)
				      : NAPC_EXIT_FAILED;
	free(vars);
	free(ptrs);
	free(unset);
	return r;
}

int napc_cmd_rollback(struct napc *n, int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: napc rollback APP [RELEASE]\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_check_app(argv[1]);
	if (r)
		return r;
	Nap__RollbackRequest req = NAP__ROLLBACK_REQUEST__INIT;
	req.app = argv[1];
	if (argc == 3) {
		char *end;
		unsigned long v = strtoul(argv[2], &end, 10);
		if (*end || v < 1 || v > UINT32_MAX) {
			fprintf(stderr, "napc: RELEASE is a release number\n");
			return NAPC_EXIT_USAGE;
		}
		req.release = (uint32_t)v;
	}
	return napc_app_call(n, "Rollback", &req.base);
}

int napc_cmd_ls(struct napc *n, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: napc ls\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__ListAppsRequest req = NAP__LIST_APPS_REQUEST__INIT;
	Nap__ListAppsReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control",
			   napc_method("ListApps"), &req.base, &nap__list_apps_reply__descriptor,
			   n->timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < rep->n_apps; i++)
			json_array_append_new(a, napc_status_json(rep->apps[i]));
		napc_print_json(a);
	} else if (rep->n_apps == 0) {
		printf("no apps yet: 'napc deploy APP DIR' deploys one\n");
	} else {
		printf("%-24s %-14s %-8s %-9s %s\n", "APP", "STATE", "RELEASE", "INSTANCES",
		       "RESTARTS");
		for (size_t i = 0; i < rep->n_apps; i++) {
			/* the first words of the state: "deploying (...)" is long */
			char state[64];
			snprintf(state, sizeof(state), "%s", rep->apps[i]->state);
			char *paren = strstr(state, " (");
			if (paren)
				*paren = '\0';
			printf("%-24s %-14s %-8u %-9u %u\n", rep->apps[i]->app, state,
			       rep->apps[i]->release, rep->apps[i]->instances,
			       rep->apps[i]->restarts);
		}
	}
	nap__list_apps_reply__free_unpacked(rep, NULL);
	return NAPC_EXIT_OK;
}

static void endpoints_event(struct stream *s, const uint8_t *data, size_t len)
{
	Nap__EndpointList *l = nap__endpoint_list__unpack(NULL, len, data);
	if (!l)
		return;
	if (s->n->json) {
		napc_print_json(json_pack("{s:s, s:o}", "app", l->app ? l->app : "", "endpoints",
					  napc_endpoints_json(l->endpoints, l->n_endpoints)));
	} else {
		printf("%s: %zu endpoint%s\n", l->app, l->n_endpoints,
		       l->n_endpoints == 1 ? "" : "s");
		napc_print_endpoints(l->endpoints, l->n_endpoints);
	}
	fflush(stdout);
	nap__endpoint_list__free_unpacked(l, NULL);
}

int napc_cmd_endpoints(struct napc *n, int argc, char **argv)
{
	bool watch = false;
	int app_i = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0)
			watch = true;
		else if (app_i < 0)
			app_i = i;
		else
			app_i = 0;
	}
	if (app_i <= 0) {
		fprintf(stderr, "usage: napc endpoints APP [--watch]\n");
		return NAPC_EXIT_USAGE;
	}
	Nap__AppRequest req = NAP__APP_REQUEST__INIT;
	req.app = argv[app_i];
	int r = napc_check_app(req.app);
	if (r)
		return r;
	if (watch) {
		struct stream s = {.n = n, .on_msg = endpoints_event};
		return napc_run_stream(&s, "WatchEndpoints", &req.base, 0);
	}
	if ((r = napc_connect(n)))
		return r;
	Nap__EndpointList *l = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&l, n->conn, "nap.Control",
			   napc_method("Endpoints"), &req.base, &nap__endpoint_list__descriptor,
			   n->timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json) {
		napc_print_json(napc_endpoints_json(l->endpoints, l->n_endpoints));
	} else {
		/* One URL a line, as scripts read it; an app with several ports
		 * adds each one's container port as a second column. */
		bool named = napc_endpoints_have_extra(l->endpoints, l->n_endpoints);

		for (size_t i = 0; i < l->n_endpoints; i++)
			if (named)
				printf("%s %u\n", l->endpoints[i]->url,
				       l->endpoints[i]->container_port);
			else
				printf("%s\n", l->endpoints[i]->url);
	}
	nap__endpoint_list__free_unpacked(l, NULL);
	return NAPC_EXIT_OK;
}

static void log_line(struct stream *s, const uint8_t *data, size_t len)
{
	Nap__LogLine *l = nap__log_line__unpack(NULL, len, data);
	if (!l)
		return;
	size_t ll = strlen(l->line);
	while (ll && l->line[ll - 1] == '\n')
		ll--;
	if (s->n->json)
		napc_print_json(json_pack("{s:i, s:s#}", "instance", (json_int_t)l->instance,
					  "line", l->line, ll));
	else
		printf("[%u] %.*s\n", l->instance, (int)ll, l->line);
	fflush(stdout);
	nap__log_line__free_unpacked(l, NULL);
}

int napc_cmd_logs(struct napc *n, int argc, char **argv)
{
	Nap__LogsRequest req = NAP__LOGS_REQUEST__INIT;
	int app_i = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
			req.follow = true;
		else if (app_i < 0)
			app_i = i;
		else
			app_i = 0;
	}
	if (app_i <= 0) {
		fprintf(stderr, "usage: napc logs APP [--follow]\n");
		return NAPC_EXIT_USAGE;
	}
	req.app = argv[app_i];
	req.tail = 100;
	int r = napc_check_app(req.app);
	if (r)
		return r;
	struct stream s = {.n = n, .on_msg = log_line};
	return napc_run_stream(&s, "Logs", &req.base, req.follow ? 0 : n->timeout_ms);
}

/* napc check APP [--http PATH | --tcp] [--interval MS] [--failures N]
 * [--ready-timeout SECONDS]: the readiness and liveness check kept with the
 * app; without options it shows it. */
int napc_cmd_check(struct napc *n, int argc, char **argv)
{
	static const struct option lo[] = {{"http", 1, 0, 'c'},          {"tcp", 0, 0, 't'},
					   {"interval", 1, 0, 'i'},      {"failures", 1, 0, 'f'},
					   {"ready-timeout", 1, 0, 'r'}, {0, 0, 0, 0}};
	Nap__Check check = NAP__CHECK__INIT;
	bool change = false;
	int c, r;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == '?')
			return NAPC_EXIT_USAGE;
		change = true;
		if (c != 't' && (r = napc_parse_check_option(&check, c, optarg)))
			return r;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: napc check APP [--http PATH | --tcp] [--interval MS] "
				"[--failures N] [--ready-timeout SECONDS]\n");
		return NAPC_EXIT_USAGE;
	}
	const char *app = argv[optind];
	if ((r = napc_check_app(app)))
		return r;
	if (!change) {
		Nap__AppRequest req = NAP__APP_REQUEST__INIT;
		req.app = (char *)app;
		return napc_app_call(n, "GetApp", &req.base);
	}
	Nap__SetCheckRequest req = NAP__SET_CHECK_REQUEST__INIT;
	req.app = (char *)app;
	req.check = &check;
	return napc_app_call(n, "SetCheck", &req.base);
}
