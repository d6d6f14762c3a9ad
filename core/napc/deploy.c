/* napc deploy: its options and the arguments it shares with napc env (sizes,
 * KEY=VALUE, checks), the context upload that starts the Deploy, and the
 * progress it prints. */
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
int napc_parse_env(Nap__EnvVar *e, char *kv)
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
int napc_check_env_list(Nap__EnvVar **vars, size_t n)
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
int napc_parse_check_option(Nap__Check *check, int c, const char *arg)
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

/* The Deploy of napc deploy, started once its context has an id. */
struct deploy_start {
	struct stream *s;
	Nap__DeployRequest *req;
	bool started;
};

static int start_deploy(void *ud, const char *context_id)
{
	struct deploy_start *ds = ud;
	ds->req->context_id = (char *)context_id;
	int r = napc_stream_start(ds->s, "Deploy", &ds->req->base, 0);
	ds->started = r == NAPC_EXIT_OK;
	return r;
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
			if ((r = napc_parse_check_option(&check, c, optarg)))
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
			if ((r = napc_parse_env(&vars[req.n_env], optarg)))
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
	if ((r = napc_check_app(req.app)))
		return r;
	char dir[PATH_MAX];
	const char *arg = optind + 1 < argc ? argv[optind + 1] : ".";
	if (!realpath(arg, dir)) {
		fprintf(stderr, "napc: %s: %s\n", arg, strerror(errno));
		return NAPC_EXIT_USAGE;
	}
	req.env = ptrs;
	if ((r = napc_check_env_list(ptrs, req.n_env)))
		return r;
	/* The context is sent, not named: napd opens no path a client gives.
	 * The Deploy starts as soon as the context has an id (start_deploy). */
	struct stream s = {.n = n, .on_msg = deploy_event, .tty = isatty(1) && !n->json};
	struct deploy_start ds = {.s = &s, .req = &req};
	r = napc_upload_context(n, req.app, dir, start_deploy, &ds, &s.done);
	if (r) {
		if (ds.started && !s.done)
			nap_call_cancel(s.call); /* its build would fail: undo it now */
		return r;
	}
	if (!ds.started) { /* the Deploy ended the upload before it began */
		nap_error err = {NAP_INTERNAL, "the build context was not sent"};
		return napc_fail(n, &err, -EPROTO);
	}
	return napc_stream_finish(&s);
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
