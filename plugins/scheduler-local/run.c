/* scheduler-local: nap.Scheduler.Run, starting the instances of a release as
 * containers named nap-<app>-<release>-<instance>.
 *
 * Run is idempotent: a running container of that name and image is kept.
 * The instances start in parallel, SL_RUN_PARALLEL at a time. It is all or
 * nothing: if one instance fails, no further one is started, the containers
 * this call started are removed again and the call ends with the reason of
 * the first instance (in the request's order) that failed. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "run_request.h"
#include "scheduler_local.h"

#include "instance_ports.h"

#include <errno.h>
#include <nap/env.h>
#include <nap/limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One instance of the request, worked on by one thread at a time. */
struct run_slot {
	uint32_t instance;
	bool tried;
	int status;                         /* a nap status, once tried */
	char err[600];                      /* why it failed */
	char *started;                      /* ID of the container this call created, or NULL */
	struct docker_container_info *info; /* what runs, on success */
	bool created;
	Nap__Instance out;
};

/* What Run builds up; everything is freed by run_free(), which must not
 * touch req (the host frees it once the call has ended). */
struct run {
	const struct sl_state *st;
	const Nap__RunRequest *req;
	nap_plugin_call *call;
	char **env;   /* "KEY=value", n_env of them */
	size_t n_env; /* req->n_env, kept: req is freed when the call ends */
	char release_label[16];
	struct run_slot *slots; /* req->n_instances of them */
	size_t n_slots;
	Nap__Instance **instance_ptrs; /* the reply */
};

static void run_free(struct run *run)
{
	for (size_t i = 0; run->env && i < run->n_env; i++)
		free(run->env[i]);
	free(run->env);
	for (size_t i = 0; run->slots && i < run->n_slots; i++) {
		free(run->slots[i].started);
		instance_ports_free(&run->slots[i].out);
		docker_container_info_free(run->slots[i].info);
	}
	free(run->slots);
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
	/* One host: a constraint cannot be met here, and is not ignored. */
	if (req->placement && req->placement->n_machine_metadata) {
		snprintf(buf, len,
			 "placement constraints (%.100s...) need a scheduler of several machines "
			 "(scheduler-swarm, scheduler-fleet): this one runs on this host only",
			 req->placement->machine_metadata[0]);
		return buf;
	}
	return NULL;
}

static int run_prepare(struct run *run)
{
	const Nap__RunRequest *req = run->req;
	size_t n = req->n_instances;

	snprintf(run->release_label, sizeof run->release_label, "%u", (unsigned)req->release);
	run->env = calloc(req->n_env ? req->n_env : 1, sizeof *run->env);
	run->slots = calloc(n, sizeof *run->slots);
	run->instance_ptrs = calloc(n, sizeof *run->instance_ptrs);
	if (!run->env || !run->slots || !run->instance_ptrs)
		return -ENOMEM;
	run->n_slots = n;
	for (size_t i = 0; i < n; i++)
		run->slots[i].instance = req->instances[i];
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

/* Removes one container this call started (after a failure). */
static bool rollback_one(void *ctx, size_t i)
{
	struct run *run = ctx;
	const char *id = run->slots[i].started;
	char err[512];
	int r;

	if (!id)
		return true;
	r = docker_container_remove(run->st->docker, id, err, sizeof err);
	if (r < 0 && r != -ENOENT)
		run->st->host->log(NAP_LOG_WARNING, "scheduler-local: cannot remove %.12s: %s", id,
				   err);
	return true;
}

/* Removes what this call started (after a failure), in parallel too. */
static void run_rollback(struct run *run)
{
	sl_parallel(run->n_slots, SL_RUN_PARALLEL, rollback_one, run);
}

/* The napd that a container of ours would carry in NAP_LABEL_NAPD, if the
 * one of info is another ("" when it has none: older than napd ids). */
static const char *foreign_napd(const struct sl_state *st, const struct docker_container_info *info)
{
	const char *ours = st->napd_label + strlen(NAP_LABEL_NAPD "=");
	const char *its = json_string_value(json_object_get(info->labels, NAP_LABEL_NAPD));

	if (!st->napd_label[0] || !its || strcmp(its, ours) == 0)
		return NULL;
	return its;
}

/* A container that already runs as we would start it, or NULL: the one
 * named name, if it runs the same image. Others of that name (stopped, or
 * of another image) are removed to make room, unless they belong to another
 * napd sharing this Docker host (-EEXIST): its instance is not ours to keep
 * or remove. */
static int run_existing(struct docker_container_info **infop, struct run *run, const char *name,
			char *err, size_t errlen)
{
	struct docker_container_info *info = NULL;
	int r = docker_container_inspect(&info, run->st->docker, name, err, errlen);
	const char *other;

	*infop = NULL;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	other = foreign_napd(run->st, info);
	if (other) {
		snprintf(err, errlen,
			 "container %s belongs to another napd (%.200s) on this Docker host: "
			 "give the app another name, or remove that napd's app",
			 name, other);
		docker_container_info_free(info);
		return -EEXIST;
	}
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

/* Starts (or finds) one instance into slot; on failure returns a nap
 * status with the reason in slot->err. Runs beside other instances' calls:
 * it touches its slot only. */
static int run_instance(struct run *run, struct run_slot *slot)
{
	const Nap__RunRequest *req = run->req;
	const struct sl_state *st = run->st;
	uint32_t instance = slot->instance;
	struct docker_container_info *info = NULL;
	char name[SL_NAME_MAX], msg[512], instance_label[16];
	struct docker_kv labels[5];
	size_t n_labels = 0;
	char *id = NULL;
	int r;

	sl_container_name(name, sizeof name, req->app, req->release, instance);
	snprintf(instance_label, sizeof instance_label, "%u", (unsigned)instance);
	labels[n_labels++] = (struct docker_kv){NAP_LABEL_APP, req->app};
	labels[n_labels++] = (struct docker_kv){NAP_LABEL_RELEASE, run->release_label};
	labels[n_labels++] = (struct docker_kv){NAP_LABEL_INSTANCE, instance_label};
	/* Discovery leaves announcing it to the orchestrator (readiness first). */
	labels[n_labels++] = (struct docker_kv){NAP_LABEL_ANNOUNCED_BY,
						NAP_ANNOUNCED_BY_ORCHESTRATOR};
	/* "nap.napd=<id>" split into the label's key and value. */
	if (st->napd_label[0])
		labels[n_labels++] = (struct docker_kv){NAP_LABEL_NAPD,
							st->napd_label +
								strlen(NAP_LABEL_NAPD "=")};

	struct docker_container_spec spec = {
		.image = req->image,
		.name = name,
		.env = (const char *const *)run->env,
		.n_env = run->n_env,
		.labels = labels,
		.n_labels = n_labels,
		.memory = (int64_t)req->memory_bytes,
	};

	/* Create first, look only when the name is taken: a new instance (the
	 * usual case) costs no extra round trip. No restart policy (see
	 * docker_container_run()): the orchestrator restarts a dead instance,
	 * with back-off. */
	r = docker_container_run(&id, st->docker, &spec, msg, sizeof msg);
	if (r == -EEXIST) {
		/* Ours already (kept), or stale (removed: create it again). */
		r = run_existing(&info, run, name, msg, sizeof msg);
		if (r == 0 && !info) {
			r = docker_container_run(&id, st->docker, &spec, msg, sizeof msg);
			if (r == -EEXIST) /* another Run of the same instance won the race */
				r = run_existing(&info, run, name, msg, sizeof msg);
		}
	}
	if (r == -ENOENT) {
		snprintf(slot->err, sizeof slot->err,
			 "image %s not found: build and push it first (%s)", req->image, msg);
		return NAP_NOT_FOUND;
	}
	if (r < 0)
		goto docker_failed;
	if (id) {
		slot->started = id;
		slot->created = true;
		r = docker_container_inspect(&info, st->docker, id, msg, sizeof msg);
		if (r < 0)
			goto docker_failed;
	} else if (!info) {
		snprintf(slot->err, sizeof slot->err,
			 "%s was started and removed by another call at once", name);
		return NAP_ABORTED;
	}

	/* A container that already stopped is reported as it is ("exited"):
	 * whether an instance is ready is the orchestrator's to judge (its
	 * deploy then fails at "ready" naming the exit code). */
	/* An image without EXPOSE is a worker (a queue consumer, a loop): it
	 * runs with port 0 and has no endpoint. */
	slot->info = info;
	nap__instance__init(&slot->out);
	sl_instance_fill(&slot->out, st, req->app, req->release, instance, info);
	st->host->log(NAP_LOG_INFO, "scheduler-local: %s %s (%.12s) on %s:%u",
		      slot->created ? "started" : "kept", name, info->id, st->address,
		      (unsigned)slot->out.port);
	return NAP_OK;

docker_failed:
	snprintf(slot->err, sizeof slot->err, "instance %u of %s: %s", (unsigned)instance, req->app,
		 msg);
	return nap_status_from_errno(r);
}

/* One worker's turn: the next instance, unless the caller has gone. */
static bool run_one(void *ctx, size_t i)
{
	struct run *run = ctx;
	struct run_slot *slot = &run->slots[i];

	slot->tried = true;
	if (run->st->host->cancelled(run->call)) {
		slot->status = NAP_CANCELLED;
		return false;
	}
	slot->status = run_instance(run, slot);
	return slot->status == NAP_OK;
}

void sl_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sl_state *st = state;
	const Nap__RunRequest *req = (const Nap__RunRequest *)request;
	struct run run = {.st = st, .req = req, .call = call};
	const struct run_slot *failed = NULL;
	const char *why;
	char buf[600];
	size_t n_ok = 0;

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
	sl_parallel(run.n_slots, SL_RUN_PARALLEL, run_one, &run);
	for (size_t i = 0; i < run.n_slots; i++) {
		const struct run_slot *slot = &run.slots[i];

		if (slot->tried && slot->status == NAP_OK)
			run.instance_ptrs[n_ok++] = (Nap__Instance *)&slot->out;
		else if (slot->tried && !failed)
			failed = slot;
	}
	if (failed || n_ok < run.n_slots) {
		int status = failed ? failed->status : NAP_INTERNAL;

		if (status == NAP_CANCELLED)
			snprintf(buf, sizeof buf, "run of %s cancelled after %zu of %zu instances",
				 req->app, n_ok, run.n_slots);
		else
			snprintf(buf, sizeof buf, "%s",
				 failed ? failed->err : "an instance was not started");
		run_rollback(&run);
		st->host->log(NAP_LOG_WARNING, "scheduler-local: run of %s release %u failed: %s",
			      req->app, (unsigned)req->release, buf);
		st->host->end(call, status, "scheduler-local: %s", buf);
	} else {
		Nap__RunReply reply = NAP__RUN_REPLY__INIT;

		reply.n_instances = n_ok;
		reply.instances = run.instance_ptrs;
		st->host->reply(call, &reply.base);
	}
	run_free(&run);
}
