/* scheduler-local: nap.Scheduler.Run, starting the instances of a release as
 * containers named nap-<app>-<release>-<instance>.
 *
 * Run is idempotent: a running container of that name and image is kept.
 * It is all or nothing: if one instance fails, the containers this call
 * started are removed again and the call ends with the first reason. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "run_request.h"
#include "scheduler_local.h"

#include <errno.h>
#include <nap/env.h>
#include <nap/limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More instances than this in one call is a mistake, not a deployment. */

/* What Run builds up; everything is freed by run_free(), which must not
 * touch req (the host frees it once the call has ended). */
struct run {
	const struct sl_state *st;
	const Nap__RunRequest *req;
	char **env; /* "KEY=value", n_env of them */
	size_t n_env; /* req->n_env, kept: req is freed when the call ends */
	char release_label[16];
	char instance_label[16];
	char **started; /* IDs of the containers this call created */
	size_t n_started;
	Nap__Instance *instances; /* the reply, req->n_instances of them */
	Nap__Instance **instance_ptrs;
	char **ids; /* instances[i].id, owned */
	size_t n_done;
};

static void run_free(struct run *run)
{
	for (size_t i = 0; run->env && i < run->n_env; i++)
		free(run->env[i]);
	free(run->env);
	for (size_t i = 0; i < run->n_started; i++)
		free(run->started[i]);
	free(run->started);
	for (size_t i = 0; i < run->n_done; i++)
		free(run->ids[i]);
	free(run->ids);
	free(run->instances);
	free(run->instance_ptrs);
}

/* Checks the request; returns NULL or why it is refused (into buf). */
static const char *run_check(const Nap__RunRequest *req, char *buf, size_t len)
{
	const char *why = run_request_check(req, buf, len);

	if (why)
		return why;
	if (!req->image || !*req->image || !nap_utf8_valid(req->image))
		return "no image given";
	if (req->memory_bytes > INT64_MAX)
		return "memory_bytes is too large";
	return NULL;
}

static int run_prepare(struct run *run)
{
	const Nap__RunRequest *req = run->req;
	size_t n = req->n_instances;

	snprintf(run->release_label, sizeof run->release_label, "%u", (unsigned)req->release);
	run->env = calloc(req->n_env ? req->n_env : 1, sizeof *run->env);
	run->started = calloc(n, sizeof *run->started);
	run->instances = calloc(n, sizeof *run->instances);
	run->instance_ptrs = calloc(n, sizeof *run->instance_ptrs);
	run->ids = calloc(n, sizeof *run->ids);
	if (!run->env || !run->started || !run->instances || !run->instance_ptrs || !run->ids)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_env; i++) {
		const Nap__EnvVar *e = req->env[i];
		size_t kl = strlen(e->key), vl = strlen(e->value);

		run->env[i] = malloc(kl + vl + 2);
		if (!run->env[i])
			return -ENOMEM;
		run->n_env = i + 1;
		memcpy(run->env[i], e->key, kl);
		run->env[i][kl] = '=';
		memcpy(run->env[i] + kl + 1, e->value, vl + 1);
	}
	return 0;
}

/* Removes what this call started (after a failure). */
static void run_rollback(struct run *run)
{
	const nap_host *host = run->st->host;
	char err[512];

	for (size_t i = 0; i < run->n_started; i++) {
		int r = docker_container_remove(run->st->docker, run->started[i], err, sizeof err);

		if (r < 0 && r != -ENOENT)
			host->log(NAP_LOG_WARNING, "scheduler-local: cannot remove %.12s: %s",
				  run->started[i], err);
	}
}

/* A container that already runs as we would start it, or NULL: the one
 * named name, if it runs the same image. Others of that name (stopped, or
 * of another image) are removed to make room. */
static int run_existing(struct docker_container_info **infop, struct run *run, const char *name,
			char *err, size_t errlen)
{
	struct docker_container_info *info = NULL;
	int r = docker_container_inspect(&info, run->st->docker, name, err, errlen);

	*infop = NULL;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (info->running && info->image && strcmp(info->image, run->req->image) == 0) {
		*infop = info;
		return 0;
	}
	run->st->host->log(NAP_LOG_INFO, "scheduler-local: replacing %s (%s, image %s)", name,
			   info->state ? info->state : "?", info->image ? info->image : "?");
	docker_container_info_free(info);
	r = docker_container_remove(run->st->docker, name, err, errlen);
	return r == -ENOENT ? 0 : r;
}

/* Starts (or finds) one instance; on failure returns a nap status with the
 * reason in err. */
static int run_instance(struct run *run, uint32_t instance, char *err, size_t errlen)
{
	const Nap__RunRequest *req = run->req;
	const struct sl_state *st = run->st;
	struct docker_container_info *info = NULL;
	char name[SL_NAME_MAX], msg[512];
	struct docker_kv labels[4];
	char *id = NULL;
	bool created = false;
	uint32_t port;
	int r;

	sl_container_name(name, sizeof name, req->app, req->release, instance);
	snprintf(run->instance_label, sizeof run->instance_label, "%u", (unsigned)instance);
	labels[0] = (struct docker_kv){SL_LABEL_APP, req->app};
	labels[1] = (struct docker_kv){SL_LABEL_RELEASE, run->release_label};
	labels[2] = (struct docker_kv){SL_LABEL_INSTANCE, run->instance_label};
	/* "nap.napd=<id>" split into the label's key and value. */
	labels[3] = (struct docker_kv){SL_LABEL_NAPD,
				       st->napd_label[0] ? st->napd_label + strlen(SL_LABEL_NAPD "=") : ""};

	r = run_existing(&info, run, name, msg, sizeof msg);
	if (r < 0)
		goto docker_failed;
	if (!info) {
		struct docker_container_spec spec = {
			.image = req->image,
			.name = name,
			.env = (const char *const *)run->env,
			.n_env = req->n_env,
			.labels = labels,
			.n_labels = st->napd_label[0] ? 4 : 3,
			.memory = (int64_t)req->memory_bytes,
		};

		r = docker_container_run(&id, st->docker, &spec, msg, sizeof msg);
		if (r == -ENOENT) {
			snprintf(err, errlen, "image %s not found: build and push it first (%s)",
				 req->image, msg);
			return NAP_NOT_FOUND;
		}
		if (r == -EEXIST) /* another Run of the same instance won the race */
			r = run_existing(&info, run, name, msg, sizeof msg);
		if (r < 0)
			goto docker_failed;
		if (id) {
			run->started[run->n_started++] = id;
			created = true;
			r = docker_container_inspect(&info, st->docker, id, msg, sizeof msg);
			if (r < 0)
				goto docker_failed;
		} else if (!info) {
			snprintf(err, errlen, "%s was started and removed by another call at once",
				 name);
			return NAP_ABORTED;
		}
	}

	if (!info->running) {
		snprintf(err, errlen,
			 "instance %u of %s stopped at once (%s, exit code %d): see its logs",
			 (unsigned)instance, req->app, info->state ? info->state : "?",
			 info->exit_code);
		docker_container_info_free(info);
		return NAP_FAILED_PRECONDITION;
	}
	port = sl_first_port(info);
	if (port == 0) {
		snprintf(err, errlen, "image %s exposes no port: add EXPOSE to the Dockerfile",
			 req->image);
		docker_container_info_free(info);
		return NAP_FAILED_PRECONDITION;
	}

	Nap__Instance *out = &run->instances[run->n_done];
	nap__instance__init(out);
	run->ids[run->n_done] = info->id;
	info->id = NULL; /* now owned by run->ids */
	out->app = (char *)req->app;
	out->release = req->release;
	out->instance = instance;
	out->id = run->ids[run->n_done];
	out->host = st->address;
	out->port = port;
	out->state = "running";
	run->instance_ptrs[run->n_done] = out;
	run->n_done++;
	st->host->log(NAP_LOG_INFO, "scheduler-local: %s %s (%.12s) on %s:%u",
		      created ? "started" : "kept", name, out->id, st->address, (unsigned)port);
	docker_container_info_free(info);
	return NAP_OK;

docker_failed:
	snprintf(err, errlen, "instance %u of %s: %s", (unsigned)instance, req->app, msg);
	return sl_status(r);
}

void sl_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__RunRequest *req = (const Nap__RunRequest *)request;
	struct run run = {.st = st, .req = req};
	const char *why;
	char buf[600];
	int status = NAP_OK;

	why = run_check(req, buf, sizeof buf);
	if (why) {
		st->host->end(call, NAP_INVALID_ARGUMENT, "scheduler-local: %s", why);
		return;
	}
	if (run_prepare(&run) < 0) {
		run_free(&run);
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-local: out of memory");
		return;
	}
	for (size_t i = 0; i < req->n_instances && status == NAP_OK; i++) {
		if (st->host->cancelled(call)) {
			status = NAP_CANCELLED;
			snprintf(buf, sizeof buf, "run of %s cancelled after %zu of %zu instances",
				 req->app, i, req->n_instances);
			break;
		}
		status = run_instance(&run, req->instances[i], buf, sizeof buf);
	}
	if (status != NAP_OK) {
		run_rollback(&run);
		st->host->log(NAP_LOG_WARNING, "scheduler-local: run of %s release %u failed: %s",
			      req->app, (unsigned)req->release, buf);
		st->host->end(call, status, "scheduler-local: %s", buf);
	} else {
		Nap__RunReply reply = NAP__RUN_REPLY__INIT;

		reply.n_instances = run.n_done;
		reply.instances = run.instance_ptrs;
		st->host->reply(call, &reply.base);
	}
	run_free(&run);
}
