/* scheduler-fleet: the two units of an instance, as fleet option lists.
 *
 * The run unit is the seed's, made safe: the container is removed if a
 * leftover holds its name, the image pulled, the instance claimed
 * (nap-fleet-announce claim: a present key in etcd while it may run, and no
 * start at all once scheduler-fleet no longer wants it), then run in the
 * foreground (--rm, every exposed port published, --init so a stop is
 * quick) with its labels and environment; ExecStop stops it. `docker run`
 * exits 143 after `docker stop`: SuccessExitStatus=143 keeps a stop from
 * leaving the unit failed (systemd keeps that state, and fleet reports it
 * when the name is submitted again). A container that dies is restarted
 * (Restart=on-failure) within a start limit, after which the unit stays
 * failed for the orchestrator to replace. The label nap.announced-by=
 * sidekick tells discovery-etcd (which follows Docker on its host and
 * announces nap containers) that this container's sidekick announces it:
 * without it an instance on napd's host would get a second entry, or two
 * announcers would share one key under different leases, so that a dead
 * container's entry could outlive it. The discovery unit is bound to
 * it (BindsTo, After, MachineOf; the run unit Wants= it, so a restart
 * brings it back) and runs nap-fleet-announce, which puts
 * /services/<app>/<host>:<instance> into etcd v3 under a lease once the
 * instance passes its check (a TCP connection, or an HTTP path), withdraws
 * it after failed checks or at once when the container stops, and revokes
 * it when the unit is stopped (SIGTERM). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/limits.h>

char *sf_systemd_quote(const char *word)
{
	/* Worst case: every byte becomes \xHH (4 bytes), plus the quotes. */
	size_t len = strlen(word);
	char *out = malloc(len * 4 + 3), *o = out;

	if (!out)
		return NULL;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)word; *p; p++) {
		switch (*p) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '"':
			*o++ = '\\';
			*o++ = '"';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		case '%':
			*o++ = '%';
			*o++ = '%';
			break;
		case '$':
			*o++ = '$';
			*o++ = '$';
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				o += sprintf(o, "\\x%02x", *p);
			else
				*o++ = (char)*p; /* UTF-8 passes as it is */
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

/* Keeps s (malloc'd) to be freed with the unit; NULL stays NULL. */
static char *own(struct sf_unit *u, char *s)
{
	if (!s)
		return NULL;
	if (u->n_owned == u->owned_cap) {
		size_t cap = u->owned_cap ? u->owned_cap * 2 : 16;
		char **v = realloc(u->owned, cap * sizeof *v);

		if (!v) {
			free(s);
			return NULL;
		}
		u->owned = v;
		u->owned_cap = cap;
	}
	u->owned[u->n_owned++] = s;
	return s;
}

static char *fmt(struct sf_unit *u, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(struct sf_unit *u, const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : own(u, s);
}

/* Appends an option; value NULL means an earlier allocation failed. */
static int add(struct sf_unit *u, const char *section, const char *name, const char *value)
{
	if (!value)
		return -ENOMEM;
	if (u->n_options == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		struct fleet_option *v = realloc(u->options, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		u->options = v;
		u->cap = cap;
	}
	u->options[u->n_options++] = (struct fleet_option){section, name, value};
	return 0;
}

void sf_unit_release(struct sf_unit *u)
{
	for (size_t i = 0; i < u->n_owned; i++)
		free(u->owned[i]);
	free(u->owned);
	free(u->options);
	memset(u, 0, sizeof *u);
}

/* The docker run command line: fixed words, checked names, quoted env. */
static char *docker_run_line(struct sf_unit *u, const struct sf_instance_spec *s,
			     const char *container)
{
	size_t cap = 512 + strlen(s->docker) + strlen(s->image) + 3 * strlen(s->app), len;
	char *line, memory[48] = "";

	if (s->memory_bytes)
		snprintf(memory, sizeof memory, " --memory %" PRIu64, s->memory_bytes);
	for (size_t i = 0; i < s->n_env; i++)
		cap += strlen(s->env[i].key) + strlen(s->env[i].value) * 4 + 16;
	line = malloc(cap);
	if (!line)
		return NULL;
	len = (size_t)snprintf(line, cap,
			       "%s run --rm -P --init --name %s --label " NAP_LABEL_APP "=%s "
			       "--label " NAP_LABEL_RELEASE "=%" PRIu32
			       " --label " NAP_LABEL_INSTANCE "=%" PRIu32
			       " --label " NAP_LABEL_ANNOUNCED_BY "=" NAP_ANNOUNCED_BY_SIDEKICK
			       "%s",
			       s->docker, container, s->app, s->release, s->instance, memory);
	for (size_t i = 0; i < s->n_env; i++) {
		char *kv = malloc(strlen(s->env[i].key) + strlen(s->env[i].value) + 2), *q;

		if (!kv) {
			free(line);
			return NULL;
		}
		sprintf(kv, "%s=%s", s->env[i].key, s->env[i].value);
		q = sf_systemd_quote(kv);
		free(kv);
		if (!q) {
			free(line);
			return NULL;
		}
		len += (size_t)snprintf(line + len, cap - len, " -e %s", q);
		free(q);
	}
	snprintf(line + len, cap - len, " %s", s->image);
	return own(u, line);
}

/* Environment=NAP_KEY_PREFIX=... for nap-fleet-announce, when nap's keys
 * are not under its default /nap/ (the prefix is [A-Za-z0-9._/-] only,
 * checked at init: nothing to quote). */
static int key_prefix_env(struct sf_unit *u, const struct sf_instance_spec *s)
{
	if (!s->key_prefix || strcmp(s->key_prefix, NAP_KEY_PREFIX_DEFAULT) == 0)
		return 0;
	return add(u, "Service", "Environment", fmt(u, "NAP_KEY_PREFIX=%s", s->key_prefix));
}

int sf_run_unit(struct sf_unit *u, const struct sf_instance_spec *s)
{
	char container[SF_UNIT_NAME_MAX], glob[SF_UNIT_NAME_MAX], disc[SF_UNIT_NAME_MAX];
	int r = 0;

	memset(u, 0, sizeof *u);
	sf_unit_name(u->name, sizeof u->name, SF_UNIT_RUN, s->app, s->release, s->instance);
	sf_container_name(container, sizeof container, s->app, s->release, s->instance);
	r |= add(u, "Unit", "Description",
		 fmt(u, "nap app %s release %" PRIu32 " instance %" PRIu32, s->app, s->release,
		     s->instance));
	sf_unit_name(disc, sizeof disc, SF_UNIT_DISCOVERY, s->app, s->release, s->instance);
	r |= add(u, "Unit", "Requires", "docker.service");
	r |= add(u, "Unit", "After", "docker.service");
	r |= add(u, "Unit", "Wants", fmt(u, "%s", disc));
	r |= add(u, "Unit", "StartLimitIntervalSec", SF_START_LIMIT_INTERVAL_SEC);
	r |= add(u, "Unit", "StartLimitBurst", SF_START_LIMIT_BURST);
	/* docker pull may take long; fleet's own examples disable the limit. */
	r |= add(u, "Service", "TimeoutStartSec", "0");
	r |= add(u, "Service", "Restart", "on-failure");
	r |= add(u, "Service", "RestartSec", SF_RESTART_SEC);
	r |= add(u, "Service", "SuccessExitStatus", "143");
	r |= key_prefix_env(u, s);
	r |= add(u, "Service", "ExecStartPre", fmt(u, "-%s rm -f %s", s->docker, container));
	r |= add(u, "Service", "ExecStartPre", fmt(u, "%s pull %s", s->docker, s->image));
	r |= add(u, "Service", "ExecStartPre",
		 fmt(u, "%s claim %s %s %" PRIu32 " %" PRIu32 " %s %s %s", s->announce, s->etcd,
		     s->app, s->release, s->instance, container, s->host, s->docker));
	r |= add(u, "Service", "ExecStart", docker_run_line(u, s, container));
	/* '-': the container may be gone already (--rm after it died). */
	r |= add(u, "Service", "ExecStop", fmt(u, "-%s stop %s", s->docker, container));
	if (s->spread) {
		sf_conflicts_glob(glob, sizeof glob, s->app, s->release);
		r |= add(u, "X-Fleet", "Conflicts", fmt(u, "%s", glob));
	}
	for (size_t i = 0; i < s->n_metadata; i++)
		r |= add(u, "X-Fleet", "MachineMetadata", fmt(u, "%s", s->metadata[i]));
	if (r) {
		sf_unit_release(u);
		return -ENOMEM;
	}
	return 0;
}

int sf_discovery_unit(struct sf_unit *u, const struct sf_instance_spec *s)
{
	char run[SF_UNIT_NAME_MAX], container[SF_UNIT_NAME_MAX], *args, *path = NULL;
	int r = 0;

	memset(u, 0, sizeof *u);
	sf_unit_name(u->name, sizeof u->name, SF_UNIT_DISCOVERY, s->app, s->release, s->instance);
	sf_unit_name(run, sizeof run, SF_UNIT_RUN, s->app, s->release, s->instance);
	sf_container_name(container, sizeof container, s->app, s->release, s->instance);
	if (s->check_path && *s->check_path) {
		path = own(u, sf_systemd_quote(s->check_path));
		if (!path) {
			sf_unit_release(u);
			return -ENOMEM;
		}
	}
	args = fmt(u,
		   "%s %s %" PRIu32 " %" PRIu32 " %s %s %s %" PRIu32 " %" PRIu32 " %" PRIu32 "%s%s",
		   s->etcd, s->app, s->release, s->instance, container, s->host, s->docker,
		   s->check_interval_ms, s->check_timeout_ms, s->check_failures, path ? " " : "",
		   path ? path : "");
	r |= add(u, "Unit", "Description", fmt(u, "nap: announces %s in etcd", run));
	r |= add(u, "Unit", "BindsTo", fmt(u, "%s", run));
	r |= add(u, "Unit", "After", fmt(u, "%s", run));
	r |= key_prefix_env(u, s);
	/* No ExecStop: the stop's SIGTERM makes it revoke its own lease (a
	 * withdraw by key could delete a newer announcer's entry). */
	r |= add(u, "Service", "ExecStart",
		 args ? fmt(u, "%s announce %s", s->announce, args) : NULL);
	r |= add(u, "X-Fleet", "MachineOf", fmt(u, "%s", run));
	if (r) {
		sf_unit_release(u);
		return -ENOMEM;
	}
	return 0;
}
