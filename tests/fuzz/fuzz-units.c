/* libFuzzer target: what goes into the units and containers nap makes
 * from a caller's strings, and build contexts.
 *
 * First byte 'i' (or an odd byte): a .dockerignore and paths. The rest,
 * split at NUL bytes: the .dockerignore text, the Dockerfile option, then
 * paths. Each path is matched (dockerignore.c) and, with the Dockerfile
 * option, a fixed context directory is tarred (tar_context.c) with the
 * fuzzed .dockerignore written into it.
 *
 * Any other first byte: an instance. The rest, split at NUL bytes: app
 * name, image, "release instance memory spread" (decimal), then
 * environment entries "KEY=value" and machine metadata entries "@key=value".
 * When scheduler-fleet's checks accept them (run.c's run_check(): the app
 * name rule, sf_image_valid, env keys by the name rule and values UTF-8,
 * sf_metadata_valid), the run and discovery units are built and must hold:
 * no newline inside any option value, names by fleet's rules that read
 * back, and every ExecStart/ExecStartPre/ExecStop line split by systemd's
 * rules into exactly the words meant (env entries as single words with the
 * caller's exact bytes). When scheduler-local's checks accept the env (the
 * name rule, UTF-8), docker_container_run()'s create request must carry
 * exactly those env entries, image and labels. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <nap/limits.h>
#include <nap/env.h>
#include <nap/names.h>

#include "answers.h"
#include "docker_api.h"
#include "docker_request.h"
#include "dockerignore.h"
#include "scheduler-fleet/units.h"
#include "scheduler-local/scheduler_local.h"
#include "tar_context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz-units: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_PARTS 64

/* Splits at NULs into at most MAX_PARTS strings (copies, in *bufp). */
static size_t split(char **parts, char **bufp, const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	size_t n = 0;

	*bufp = buf;
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; n < MAX_PARTS && p <= buf + size; p += strlen(p) + 1)
		parts[n++] = p;
	return n;
}

/* ---- systemd command lines ---- */

/* Splits line as systemd does an Exec line into words (malloc'd, in words):
 * "..." words with C escapes, %% and $$ for % and $. Anything whose meaning
 * would depend on systemd's expansion (a lone % or $, a quote inside a
 * word, a ';' word, '\' outside quotes) fails the check. */
static size_t exec_words(char **words, size_t max, const char *line)
{
	size_t n = 0;
	const char *p = line;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		CHECK(n < max);
		char *w = malloc(strlen(p) + 1), *o = w;
		CHECK(w);
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				CHECK(*p);
				if (*p == '%' || *p == '$') {
					CHECK(p[1] == *p);
					*o++ = *p++;
				} else if (*p == '\\') {
					p++;
					switch (*p) {
					case '\\':
						*o++ = '\\';
						break;
					case '"':
						*o++ = '"';
						break;
					case 'n':
						*o++ = '\n';
						break;
					case 't':
						*o++ = '\t';
						break;
					case 'r':
						*o++ = '\r';
						break;
					case 'x': {
						unsigned v;
						CHECK(sscanf(p + 1, "%2x", &v) == 1);
						*o++ = (char)v;
						p += 2;
						break;
					}
					default:
						CHECK(!"unknown escape");
					}
				} else {
					CHECK(*p != '\n' && *p != '\r');
					*o++ = *p;
				}
			}
			p++;
			CHECK(*p == ' ' || *p == '\0');
		} else {
			for (; *p && *p != ' '; p++) {
				CHECK(!strchr("\"'\\%$\n\r\t;", *p));
				*o++ = *p;
			}
		}
		*o = '\0';
		words[n++] = w;
	}
	return n;
}

static const char *option(const struct sf_unit *u, const char *section, const char *name,
			  size_t nth)
{
	for (size_t i = 0; i < u->n_options; i++)
		if (strcmp(u->options[i].section, section) == 0 &&
		    strcmp(u->options[i].name, name) == 0 && nth-- == 0)
			return u->options[i].value;
	return NULL;
}

static void check_unit(const struct sf_unit *u, const struct sf_instance_spec *s,
		       enum sf_unit_kind kind)
{
	char app[NAP_APP_NAME_MAX + 1];
	enum sf_unit_kind k;
	uint32_t release, instance;

	/* fleet (and systemd) unit names: [A-Za-z0-9:_.@-], at most 255. */
	CHECK(strlen(u->name) < SF_UNIT_NAME_MAX - 1);
	CHECK(strspn(u->name,
		     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.@-") ==
	      strlen(u->name));
	CHECK(sf_unit_parse(u->name, app, &k, &release, &instance));
	CHECK(k == kind && strcmp(app, s->app) == 0 && release == s->release &&
	      instance == s->instance);
	for (size_t i = 0; i < u->n_options; i++) {
		const struct fleet_option *o = &u->options[i];

		CHECK(o->section && o->name && o->value);
		CHECK(!strchr(o->value, '\n') && !strchr(o->value, '\r'));
		CHECK(sf_text_valid(o->value));
		if (strncmp(o->name, "Exec", 4) == 0) {
			char *words[1024];
			const char *v = o->value[0] == '-' ? o->value + 1 : o->value;
			size_t n = exec_words(words, 1024, v);

			CHECK(n >= 2 && (strcmp(words[0], s->docker) == 0 ||
					 strcmp(words[0], s->announce) == 0));
			for (size_t w = 0; w < n; w++)
				free(words[w]);
		}
	}
}

/* The run unit's docker run line carries each env entry as one word. */
static void check_run_line(const struct sf_unit *u, const struct sf_instance_spec *s)
{
	const char *line = option(u, "Service", "ExecStart", 0);
	char *words[1024];
	size_t n, e = 0;

	CHECK(line);
	n = exec_words(words, 1024, line);
	CHECK(n >= 3 && strcmp(words[n - 1], s->image) == 0 && strcmp(words[1], "run") == 0);
	for (size_t w = 2; w + 1 < n; w++) {
		if (strcmp(words[w], "-e") != 0)
			continue;
		CHECK(e < s->n_env);
		const char *kv = words[++w];
		size_t kl = strlen(s->env[e].key);
		CHECK(strncmp(kv, s->env[e].key, kl) == 0 && kv[kl] == '=' &&
		      strcmp(kv + kl + 1, s->env[e].value) == 0);
		e++;
	}
	CHECK(e == s->n_env);
	for (size_t i = 0; i < s->n_metadata; i++) {
		const char *m = option(u, "X-Fleet", "MachineMetadata", i);
		CHECK(m && strcmp(m, s->metadata[i]) == 0);
	}
	for (size_t w = 0; w < n; w++)
		free(words[w]);
}

/* ---- the container's create request (scheduler-local) ---- */

static void check_create(const struct sf_instance_spec *s)
{
	const char *env[MAX_PARTS];
	char *owned[MAX_PARTS];
	const struct docker_kv labels[] = {{"nap.app", s->app}, {"nap.release", "3"}};
	char name[SF_UNIT_NAME_MAX], err[512], *id = NULL;
	size_t total = 0;
	docker_client *c;
	static const char answers[] = "201 {\"Id\":\"4f1e0c9a\",\"Warnings\":[]}\n===\n204 ";

	for (size_t i = 0; i < s->n_env; i++) {
		if (!nap_env_key_valid(s->env[i].key) || !nap_utf8_valid(s->env[i].value))
			return;
		total += strlen(s->env[i].key) + 1 + strlen(s->env[i].value);
	}
	if (total > NAP_ENV_TOTAL_MAX || docker_client_new(&c, NULL) < 0)
		return;
	for (size_t i = 0; i < s->n_env; i++) {
		owned[i] = malloc(strlen(s->env[i].key) + strlen(s->env[i].value) + 2);
		CHECK(owned[i]);
		sprintf(owned[i], "%s=%s", s->env[i].key, s->env[i].value);
		env[i] = owned[i];
	}
	sf_container_name(name, sizeof name, s->app, s->release, s->instance);
	struct docker_container_spec spec = {.image = s->image,
					     .name = name,
					     .env = env,
					     .n_env = s->n_env,
					     .labels = labels,
					     .n_labels = 2,
					     .memory = (int64_t)(s->memory_bytes & INT64_MAX)};
	answers_reset((const uint8_t *)answers, sizeof answers - 1);
	int r = docker_container_run(&id, c, &spec, err, sizeof err);
	if (!docker_valid_name(s->image, DOCKER_IMAGE_CHARS)) {
		/* Refused before anything is sent. */
		CHECK(r == -EINVAL && !answers_last_request());
		goto out;
	}
	if (r != 0)
		fprintf(stderr, "fuzz-units: create: %s\n", err);
	CHECK(r == 0 && id && strcmp(id, "4f1e0c9a") == 0);
	json_t *body = json_loads(answers_last_request(), 0, NULL);
	json_t *jenv = json_object_get(body, "Env");
	CHECK(json_array_size(jenv) == s->n_env);
	for (size_t i = 0; i < s->n_env; i++)
		CHECK(strcmp(json_string_value(json_array_get(jenv, i)), env[i]) == 0);
	CHECK(strcmp(json_string_value(json_object_get(body, "Image")), s->image) == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(body, "Labels"), "nap.app")),
		     s->app) == 0);
	json_decref(body);
out:
	answers_reset(NULL, 0);
	free(id);
	for (size_t i = 0; i < s->n_env; i++)
		free(owned[i]);
	docker_client_free(c);
}

static void units(char **parts, size_t n)
{
	struct sf_env env[MAX_PARTS];
	const char *meta[MAX_PARTS];
	struct sf_instance_spec s = {
		.docker = "/usr/bin/docker",
		.announce = "/usr/libexec/nap/nap-fleet-announce",
		.etcd = "http://10.0.0.1:2379,http://10.0.0.2:2379",
		.host = "10.0.0.5",
	};
	unsigned long long release = 0, instance = 0, memory = 0;
	int spread = 0;
	struct sf_unit u;

	if (n < 3)
		return;
	s.app = parts[0];
	s.image = parts[1];
	if (sscanf(parts[2], "%llu %llu %llu %d", &release, &instance, &memory, &spread) < 2)
		return;
	s.release = (uint32_t)release;
	s.instance = (uint32_t)instance;
	s.memory_bytes = memory;
	s.spread = spread != 0;
	for (size_t i = 3; i < n; i++) {
		char *p = parts[i], *eq;

		if (*p == '@') {
			meta[s.n_metadata++] = p + 1;
			continue;
		}
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		env[s.n_env++] = (struct sf_env){p, eq + 1};
	}
	s.env = env;
	s.metadata = meta;
	/* scheduler-local's checks are its own: the create request first. */
	if (nap_app_name_valid(s.app) && nap_utf8_valid(s.image) && *s.image)
		check_create(&s);
	/* run_check() */
	if (!nap_app_name_valid(s.app) || s.release == 0 || s.instance == 0 ||
	    !sf_image_valid(s.image) || s.memory_bytes > INT64_MAX)
		return;
	for (size_t i = 0; i < s.n_env; i++)
		if (!nap_env_key_valid(s.env[i].key) || !sf_text_valid(s.env[i].value))
			return;
	for (size_t i = 0; i < s.n_metadata; i++)
		if (!sf_metadata_valid(s.metadata[i]))
			return;
	CHECK(sf_run_unit(&u, &s) == 0);
	check_unit(&u, &s, SF_UNIT_RUN);
	check_run_line(&u, &s);
	sf_unit_release(&u);
	CHECK(sf_discovery_unit(&u, &s) == 0);
	check_unit(&u, &s, SF_UNIT_DISCOVERY);
	sf_unit_release(&u);
}

/* ---- .dockerignore and the build context ---- */

static char context[64];

/* A context directory: a Dockerfile, files at a few depths, odd names. */
static void make_context(void)
{
	static const char *const files[] = {"Dockerfile",         "app.py",    "sub/Dockerfile.dev",
					    "sub/deep/x.txt",     "a b/é.txt", ".git/HEAD",
					    "node_modules/m/i.js"};
	char p[256];

	snprintf(context, sizeof context, "%s/nap-fuzz-ctx-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(context));
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", context, files[i]);
		for (char *s = strchr(p + strlen(context) + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
		FILE *f = fopen(p, "w");
		CHECK(f);
		fputs("FROM scratch\n", f);
		fclose(f);
	}
}

static void cleanup_context(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", context);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-units: could not remove %s\n", context);
}

static int count_bytes(void *user, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)user += len;
	return 0;
}

static void ignore(char **parts, size_t n, const char *text, size_t text_len)
{
	dockerignore *di = NULL;
	char err[512], path[512];
	struct tar_context_options o = {.dockerfile = n > 1 && *parts[1] ? parts[1] : NULL};
	size_t total = 0;
	int fd;

	if (dockerignore_parse(&di, text, text_len, err, sizeof err) == 0) {
		for (size_t i = 2; i < n; i++) {
			sink += dockerignore_excludes(di, parts[i]);
			sink += dockerignore_may_include_below(di, parts[i]);
		}
		dockerignore_free(di);
	}
	if (!*context) {
		make_context();
		atexit(cleanup_context);
	}
	snprintf(path, sizeof path, "%s/.dockerignore", context);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, text_len) == (ssize_t)text_len);
	close(fd);
	if (tar_context_write(context, &o, count_bytes, &total, err, sizeof err) == 0)
		CHECK(total % 512 == 0 && total >= 1024);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *parts[MAX_PARTS], *buf;
	size_t n;

	if (size == 0)
		return 0;
	bool ign = data[0] == 'i' || (data[0] != 'u' && (data[0] & 1));
	data++, size--;
	n = split(parts, &buf, data, size);
	if (ign)
		ignore(parts, n, n ? parts[0] : "", n ? strlen(parts[0]) : 0);
	else
		units(parts, n);
	free(buf);
	return 0;
}
