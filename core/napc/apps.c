/* napc's app commands: deploy, ls, status, endpoints, scale, env, rollback,
 * logs, stop, start, destroy. Each makes one nap.Control call; with --json
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

#include "napc.h"

/* Checks the app argument before any work starts. */
static int check_app(const char *app)
{
	if (nap_app_name_valid(app))
		return 0;
	fprintf(stderr, "napc: '%s' is not a valid app name: %s\n", app ? app : "",
		NAP_APP_NAME_RULE);
	return NAPC_EXIT_USAGE;
}

static uint32_t method(const char *name)
{
	return (uint32_t)nap_method_index(&nap__control__descriptor, name);
}

/* A unary call returning AppStatus, printed. */
/* Scale, stop, start, env and rollback wait for instances to start and be
 * announced, which napd bounds by its deploy_timeout: napc waits as long
 * unless --timeout says otherwise. A lookup (GetApp) keeps the short
 * default. */
static int app_call(struct napc *n, const char *name, const ProtobufCMessage *req)
{
	bool changes = strcmp(name, "GetApp") != 0;
	uint32_t timeout_ms = changes && !n->timeout_given ? 0 : n->timeout_ms;
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__AppStatus *st = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&st, n->conn, "nap.Control", method(name), req,
			   &nap__app_status__descriptor, timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	napc_print_status(n, st);
	nap__app_status__free_unpacked(st, NULL);
	return NAPC_EXIT_OK;
}

/* --- streaming calls --- */

struct stream {
	struct napc *n;
	bool done;
	int status;
	char message[1024];
	void (*on_msg)(struct stream *s, const uint8_t *data, size_t len);
	bool tty;
	bool progress_line; /* a \r progress line is on the terminal */
	Nap__DeployEvent *last;
};

static void on_stream(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct stream *s = ud;
	if (!r->end) {
		s->on_msg(s, r->payload, r->payload_len);
		return;
	}
	s->done = true;
	s->status = r->status;
	snprintf(s->message, sizeof(s->message), "%s", r->message);
}

static int run_stream(struct stream *s, const char *name, const ProtobufCMessage *req,
		      uint32_t timeout_ms)
{
	int r = napc_connect(s->n);
	if (r)
		return r;
	r = nap_call_start(NULL, s->n->conn, "nap.Control", method(name), req, timeout_ms,
			   on_stream, s);
	while (r == 0 && !s->done)
		r = nap_conn_wait(s->n->conn, -1);
	if (s->progress_line)
		fputc('\n', stdout);
	if (!s->done) {
		nap_error err = {NAP_UNAVAILABLE, "napd went away"};
		return napc_fail(s->n, &err, r < 0 ? r : -ECONNRESET);
	}
	if (s->status != NAP_OK) {
		nap_error err = {.status = s->status};
		snprintf(err.message, sizeof(err.message), "%s", s->message);
		return napc_fail(s->n, &err, -EPROTO);
	}
	return NAPC_EXIT_OK;
}

static void deploy_event(struct stream *s, const uint8_t *data, size_t len)
{
	Nap__DeployEvent *ev = nap__deploy_event__unpack(NULL, len, data);
	if (!ev)
		return;
	if (s->n->json) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i}", "stage", ev->stage, "message",
				      ev->message, "step", (json_int_t)ev->step, "steps",
				      (json_int_t)ev->steps, "release", (json_int_t)ev->release);
		if (ev->n_endpoints)
			json_object_set_new(j, "endpoints",
					    napc_endpoints_json(ev->endpoints, ev->n_endpoints));
		napc_print_json(j);
	} else if (strcmp(ev->stage, "done") == 0) {
		if (s->progress_line)
			fputc('\n', stdout);
		s->progress_line = false;
		printf("%s:\n", ev->message);
		napc_print_endpoints(ev->endpoints, ev->n_endpoints);
	} else if (s->tty) {
		/* One live line: the stage and build step n of m. */
		char line[160];
		if (ev->steps)
			snprintf(line, sizeof(line), "%s (release %u) step %u/%u: %.100s",
				 ev->stage, ev->release, ev->step, ev->steps, ev->message);
		else
			snprintf(line, sizeof(line), "%s (release %u): %.110s", ev->stage,
				 ev->release, ev->message);
		for (char *p = line; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		printf("\r\033[K%s", line);
		s->progress_line = true;
	} else {
		const char *m = ev->message;
		size_t ml = strlen(m);
		while (ml && (m[ml - 1] == '\n' || m[ml - 1] == '\r'))
			ml--;
		if (ml)
			printf("%s: %.*s\n", ev->stage, (int)ml, m);
	}
	fflush(stdout);
	nap__deploy_event__free_unpacked(ev, NULL);
}

/* Parses "256M", "1G", "512k" or bytes; -1 if it is none of those. */
static int parse_size(uint64_t *out, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Parses K=V into an EnvVar; 0 or a usage error. */
static int parse_env(Nap__EnvVar *e, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq) {
		fprintf(stderr, "napc: '%.64s' is not KEY=VALUE\n", kv);
		return NAPC_EXIT_USAGE;
	}
	if (eq == kv) { /* what follows '=' may be a secret: not echoed */
		fprintf(stderr,
			"napc: an environment setting has no name before '=': give KEY=VALUE\n");
		return NAPC_EXIT_USAGE;
	}
	*eq = '\0';
	if (!nap_env_key_valid(kv)) {
		fprintf(stderr,
			"napc: '%.64s' is not an environment variable name: 1 to %u letters, digits "
			"and '_', not starting with a digit\n",
			kv, (unsigned)NAP_ENV_KEY_MAX);
		return NAPC_EXIT_USAGE;
	}
	/* Never echo the value: it may be a secret. */
	if (strlen(eq + 1) > NAP_ENV_VALUE_MAX) {
		fprintf(stderr, "napc: the value of %s is %zu bytes; the limit is %u\n", kv,
			strlen(eq + 1), NAP_ENV_VALUE_MAX);
		return NAPC_EXIT_USAGE;
	}
	nap__env_var__init(e);
	e->key = kv;
	e->value = eq + 1;
	return 0;
}

/* The count and total size of the variables of one request. */
static int check_env_list(Nap__EnvVar **vars, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(vars[i]->key) + 1 + strlen(vars[i]->value);
	if (n > NAP_ENV_COUNT_MAX) {
		fprintf(stderr, "napc: %zu environment variables; the limit is %u\n", n,
			NAP_ENV_COUNT_MAX);
		return NAPC_EXIT_USAGE;
	}
	if (total > NAP_ENV_TOTAL_MAX) {
		fprintf(stderr,
			"napc: the environment takes %zu bytes as KEY=VALUE strings; the limit is "
			"%u\n",
			total, NAP_ENV_TOTAL_MAX);
		return NAPC_EXIT_USAGE;
	}
	return 0;
}

/* --check-http PATH (c), --ready-timeout SECONDS (r), --interval MS (i),
 * --failures N (f) into check; 0 or a usage error. */
static int parse_check_option(Nap__Check *check, int c, const char *arg)
{
	if (c == 'c') {
		size_t len = strlen(arg);
		bool ok = len >= 1 && len <= NAP_CHECK_PATH_MAX && arg[0] == '/';
		for (size_t i = 0; ok && i < len; i++)
			ok = arg[i] > 0x20 && arg[i] < 0x7f;
		if (!ok) {
			fprintf(stderr,
				"napc: the check path must start with '/' and be 1 to %u "
				"printable characters without spaces\n",
				NAP_CHECK_PATH_MAX);
			return NAPC_EXIT_USAGE;
		}
		check->http_path = (char *)arg;
		return 0;
	}
	static const struct {
		int c;
		const char *name;
		unsigned long min, max;
	} nums[] = {{'r', "--ready-timeout (seconds)", 1, 86400},
		    {'i', "--interval (milliseconds)", 100, 3600000},
		    {'f', "--failures", 1, 100}};
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		if (nums[k].c != c)
			continue;
		char *end;
		errno = 0;
		unsigned long v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || v < nums[k].min || v > nums[k].max) {
			fprintf(stderr, "napc: %s is a whole number from %lu to %lu\n",
				nums[k].name, nums[k].min, nums[k].max);
			return NAPC_EXIT_USAGE;
		}
		if (c == 'r')
			check->ready_timeout_s = (uint32_t)v;
		else if (c == 'i')
			check->interval_ms = (uint32_t)v;
		else
			check->failures = (uint32_t)v;
	}
	return 0;
}

/* vars and ptrs have room for argc entries; the caller frees them. */
static int deploy_with(struct napc *n, int argc, char **argv, Nap__EnvVar *vars, Nap__EnvVar **ptrs)
{
	static const struct option lo[] = {{"instances", 1, 0, 'i'},     {"env", 1, 0, 'e'},
					   {"memory", 1, 0, 'm'},        {"check-http", 1, 0, 'c'},
					   {"ready-timeout", 1, 0, 'r'}, {"scheduler", 1, 0, 's'},
					   {"constraint", 1, 0, 'p'},    {0, 0, 0, 0}};
	Nap__DeployRequest req = NAP__DEPLOY_REQUEST__INIT;
	Nap__Check check = NAP__CHECK__INIT;
	char *constraints[NAP_CONSTRAINTS_MAX];
	req.constraints = constraints;
	int c, r = 0;
	optind = 0; /* a full restart of getopt: main() parsed with "+" */
	while ((c = getopt_long(argc, argv, "i:e:m:", lo, NULL)) != -1) {
		if (c == 's') {
			req.scheduler = optarg;
		} else if (c == 'p') {
			if (req.n_constraints >= NAP_CONSTRAINTS_MAX) {
				fprintf(stderr, "napc: at most %u --constraint\n",
					NAP_CONSTRAINTS_MAX);
				return NAPC_EXIT_USAGE;
			}
			constraints[req.n_constraints++] = optarg;
		} else if (c == 'c' || c == 'r') {
			if ((r = parse_check_option(&check, c, optarg)))
				return r;
			req.check = &check;
		} else if (c == 'm') {
			if (parse_size(&req.memory_bytes, optarg) < 0) {
				fprintf(stderr, "napc: --memory is a size like 256M or 1G\n");
				return NAPC_EXIT_USAGE;
			}
		} else if (c == 'i') {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > NAP_INSTANCES_MAX) {
				fprintf(stderr, "napc: --instances is 1 to %u\n",
					NAP_INSTANCES_MAX);
				return NAPC_EXIT_USAGE;
			}
			req.instances = (uint32_t)v;
		} else if (c == 'e') {
			if ((r = parse_env(&vars[req.n_env], optarg)))
				return r;
			ptrs[req.n_env] = &vars[req.n_env];
			req.n_env++;
		} else {
			return NAPC_EXIT_USAGE;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: napc deploy APP [DIR] [--instances N] [--memory SIZE] "
				"[--env K=V]... [--check-http PATH] [--ready-timeout SECONDS] "
				"[--scheduler PLUGIN] [--constraint EXPR]...\n");
		return NAPC_EXIT_USAGE;
	}
	req.app = argv[optind];
	if ((r = check_app(req.app)))
		return r;
	char dir[PATH_MAX];
	const char *arg = optind + 1 < argc ? argv[optind + 1] : ".";
	if (!realpath(arg, dir)) {
		fprintf(stderr, "napc: %s: %s\n", arg, strerror(errno));
		return NAPC_EXIT_USAGE;
	}
	if (strlen(dir) > NAP_PATH_MAX) {
		fprintf(stderr, "napc: the directory path is %zu bytes; the limit is %u\n",
			strlen(dir), NAP_PATH_MAX);
		return NAPC_EXIT_USAGE;
	}
	req.dir = dir;
	req.env = ptrs;
	if ((r = check_env_list(ptrs, req.n_env)))
		return r;
	struct stream s = {.n = n, .on_msg = deploy_event, .tty = isatty(1) && !n->json};
	return run_stream(&s, "Deploy", &req.base, 0);
}

int napc_cmd_deploy(struct napc *n, int argc, char **argv)
{
	Nap__EnvVar *vars = calloc((size_t)argc, sizeof(*vars));
	Nap__EnvVar **ptrs = calloc((size_t)argc, sizeof(*ptrs));
	int r = vars && ptrs ? deploy_with(n, argc, argv, vars, ptrs) : NAPC_EXIT_FAILED;
	free(vars);
	free(ptrs);
	return r;
}

static int one_app(int argc, char **argv, const char *usage, Nap__AppRequest *req)
{
	if (argc != 2) {
		fprintf(stderr, "usage: napc %s\n", usage);
		return NAPC_EXIT_USAGE;
	}
	nap__app_request__init(req);
	req->app = argv[1];
	return check_app(req->app);
}

int napc_cmd_status(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "status APP", &req);
	return r ? r : app_call(n, "GetApp", &req.base);
}

int napc_cmd_stop(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "stop APP", &req);
	return r ? r : app_call(n, "Stop", &req.base);
}

int napc_cmd_start(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "start APP", &req);
	return r ? r : app_call(n, "Start", &req.base);
}

int napc_cmd_destroy(struct napc *n, int argc, char **argv)
{
	Nap__AppRequest req;
	int r = one_app(argc, argv, "destroy APP", &req);
	if (r || (r = napc_connect(n)))
		return r;
	Nap__DestroyReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control", method("Destroy"),
			   &req.base, &nap__destroy_reply__descriptor,
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
	int r = check_app(argv[1]);
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
	return app_call(n, "Scale", &req.base);
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
	if ((r = check_app(req.app)))
		return r;
	for (int i = optind + 1; i < argc; i++) {
		if ((r = parse_env(&vars[req.n_set], argv[i])))
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
	if ((r = check_env_list(ptrs, req.n_set)))
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
				   method("GetApp"), &ar.base, &nap__app_status__descriptor,
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
		r = app_call(n, "SetEnv", &req.base);
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
	int r = check_app(argv[1]);
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
	return app_call(n, "Rollback", &req.base);
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
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control", method("ListApps"),
			   &req.base, &nap__list_apps_reply__descriptor, n->timeout_ms, &err);
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
	int r = check_app(req.app);
	if (r)
		return r;
	if (watch) {
		struct stream s = {.n = n, .on_msg = endpoints_event};
		return run_stream(&s, "WatchEndpoints", &req.base, 0);
	}
	if ((r = napc_connect(n)))
		return r;
	Nap__EndpointList *l = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&l, n->conn, "nap.Control", method("Endpoints"),
			   &req.base, &nap__endpoint_list__descriptor, n->timeout_ms, &err);
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
	int r = check_app(req.app);
	if (r)
		return r;
	struct stream s = {.n = n, .on_msg = log_line};
	return run_stream(&s, "Logs", &req.base, req.follow ? 0 : n->timeout_ms);
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
		if (c != 't' && (r = parse_check_option(&check, c, optarg)))
			return r;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: napc check APP [--http PATH | --tcp] [--interval MS] "
				"[--failures N] [--ready-timeout SECONDS]\n");
		return NAPC_EXIT_USAGE;
	}
	const char *app = argv[optind];
	if ((r = check_app(app)))
		return r;
	if (!change) {
		Nap__AppRequest req = NAP__APP_REQUEST__INIT;
		req.app = (char *)app;
		return app_call(n, "GetApp", &req.base);
	}
	Nap__SetCheckRequest req = NAP__SET_CHECK_REQUEST__INIT;
	req.app = (char *)app;
	req.check = &check;
	return app_call(n, "SetCheck", &req.base);
}
