/* scheduler-swarm: nap.Scheduler.Run, one service per instance
 * (nap-<app>-<release>-<instance>, one replica), then waiting until Swarm
 * has placed and started each task.
 *
 * Run is idempotent: a service of that name running the same image is kept.
 * It is all or nothing: if one instance cannot be placed or started, the
 * services this call created are removed again and the call ends with the
 * reason (a constraint no node satisfies is named). A task that started
 * and exited at once is reported as it is ("exited"): whether an instance
 * is ready is the orchestrator's to judge. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "run_request.h"
#include "scheduler_swarm.h"

#include "instance_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nap/env.h>

#define SW_RUN_POLL_MS 100

struct run {
	const struct sw_state *st;
	const Nap__RunRequest *req;
	nap_plugin_call *call;
	const char *constraints[SW_CONSTRAINTS_MAX];
	char constraint_buf[SW_CONSTRAINTS_MAX][300];
	size_t n_constraints;
	unsigned *ports;
	size_t n_ports;
	bool *created;      /* per instance: this call made its service */
	unsigned *replaced; /* per instance: made again after its node was lost */
	/* Spread (no constraints given): the node each instance is placed on,
	 * "" to leave it to Swarm. */
	char (*node)[64];
	struct sw_snapshot snap; /* the app before this call, for spreading */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Placement.machine_metadata: Swarm constraints as they are
 * ("node.labels.zone==a", "node.role!=manager"); a fleet-style "key=value"
 * becomes "node.labels.key==value". */
static const char *run_constraints(struct run *run, char *buf, size_t len)
{
	const Nap__Placement *pl = run->req->placement;

	for (size_t i = 0; pl && i < pl->n_machine_metadata; i++) {
		const char *c = pl->machine_metadata[i];
		char *out = run->constraint_buf[run->n_constraints];

		if (run->n_constraints >= SW_CONSTRAINTS_MAX) {
			snprintf(buf, len, "at most %d placement constraints", SW_CONSTRAINTS_MAX);
			return buf;
		}
		for (const char *p = c; *p; p++)
			if (*p < 0x21 || *p > 0x7e) {
				snprintf(buf, len,
					 "placement \"%.80s\": no spaces or control bytes", c);
				return buf;
			}
		if (!*c || strlen(c) > 250) {
			snprintf(buf, len, "placement \"%.80s\": 1 to 250 bytes", c);
			return buf;
		}
		if (strstr(c, "==") || strstr(c, "!="))
			snprintf(out, 300, "%s", c);
		else if (strchr(c, '=') && strchr(c, '=') != c)
			snprintf(out, 300, "node.labels.%.*s==%s", (int)(strchr(c, '=') - c), c,
				 strchr(c, '=') + 1);
		else {
			snprintf(buf, len,
				 "placement \"%.80s\": give a Swarm constraint "
				 "(node.labels.zone==a) or key=value",
				 c);
			return buf;
		}
		run->constraints[run->n_constraints++] = out;
	}
	return NULL;
}

static json_t *labels_json(const struct run *run, uint32_t instance)
{
	json_t *l = json_object();
	char v[16];

	json_object_set_new(l, NAP_LABEL_APP, json_string(run->req->app));
	snprintf(v, sizeof v, "%u", (unsigned)run->req->release);
	json_object_set_new(l, NAP_LABEL_RELEASE, json_string(v));
	snprintf(v, sizeof v, "%u", (unsigned)instance);
	json_object_set_new(l, NAP_LABEL_INSTANCE, json_string(v));
	json_object_set_new(l, NAP_LABEL_ANNOUNCED_BY, json_string(NAP_ANNOUNCED_BY_ORCHESTRATOR));
	if (*run->st->napd_id)
		json_object_set_new(l, NAP_LABEL_NAPD, json_string(run->st->napd_id));
	snprintf(v, sizeof v, "%zu", run->n_ports);
	json_object_set_new(l, NAP_LABEL_PORTS, json_string(v));
	return l;
}

/* Spreading: Swarm spreads the tasks of one service over the nodes, but
 * each instance is a service of its own, and Swarm placed several of them
 * on one node. So when the app gives no constraints, each instance gets the
 * ready, active node with the fewest instances of this release of the app
 * (then of the app), as a constraint
 * node.id==ID. That node lost, the orchestrator's replacement is placed
 * afresh on the nodes still up. With constraints, Swarm chooses among the
 * nodes that satisfy them. */
static void run_spread(struct run *run)
{
	json_t *nodes = run->snap.nodes, *n;
	size_t nn = json_array_size(nodes), i;
	unsigned(*count)[2] = calloc(nn + 1, sizeof *count);

	if (!count)
		return;
	for (size_t k = 0; k < run->snap.n; k++) {
		const struct sw_inst *in = &run->snap.v[k];

		if (strcmp(in->state, "running") && strcmp(in->state, "pending"))
			continue;
		json_array_foreach(nodes, i, n)
		{
			const char *id = json_string_value(json_object_get(n, "ID"));

			if (!id || strcmp(id, in->node_id) != 0)
				continue;
			count[i][0] += in->release == run->req->release;
			count[i][1]++;
		}
	}
	for (size_t k = 0; k < run->req->n_instances; k++) {
		size_t best = nn;

		json_array_foreach(nodes, i, n)
		{
			const char *avail = json_string_value(
				json_object_get(json_object_get(n, "Spec"), "Availability"));
			const char *state = json_string_value(
				json_object_get(json_object_get(n, "Status"), "State"));

			if (!avail || strcmp(avail, "active") || !state || strcmp(state, "ready"))
				continue;
			/* fewest of this release, then fewest of the app */
			if (best == nn || count[i][0] < count[best][0] ||
			    (count[i][0] == count[best][0] && count[i][1] < count[best][1]))
				best = i;
		}
		if (best == nn)
			break;
		snprintf(run->node[k], sizeof run->node[k], "%s",
			 json_string_value(json_object_get(json_array_get(nodes, best), "ID")));
		count[best][0]++;
		count[best][1]++;
	}
	free(count);
}

static json_t *service_spec(const struct run *run, const char *name, size_t k)
{
	uint32_t instance = run->req->instances[k];
	const Nap__RunRequest *req = run->req;
	json_t *env = json_array(), *ports = json_array(), *cons = json_array();
	json_t *labels = labels_json(run, instance);

	for (size_t i = 0; i < req->n_env; i++) {
		char *kv = malloc(strlen(req->env[i]->key) + strlen(req->env[i]->value) + 2);

		if (kv) {
			sprintf(kv, "%s=%s", req->env[i]->key, req->env[i]->value);
			json_array_append_new(env, json_string(kv));
			free(kv);
		}
	}
	/* Host mode: each task is reached at its node's address (the routing
	 * mesh is not used), on a port Docker picks. */
	for (size_t i = 0; i < run->n_ports; i++)
		json_array_append_new(ports,
				      json_pack("{s:s, s:I, s:s}", "Protocol", "tcp", "TargetPort",
						(json_int_t)run->ports[i], "PublishMode", "host"));
	for (size_t i = 0; i < run->n_constraints; i++)
		json_array_append_new(cons, json_string(run->constraints[i]));
	if (run->node[k][0]) {
		char c[96];

		snprintf(c, sizeof c, "node.id==%s", run->node[k]);
		json_array_append_new(cons, json_string(c));
	}
	return json_pack(
		"{s:s, s:O, s:{s:{s:s, s:o, s:O, s:b, s:I}, s:{s:{s:I}}, s:{s:s}, s:{s:o}}, "
		"s:{s:{s:i}}, s:{s:o}}",
		"Name", name, "Labels", labels, "TaskTemplate", "ContainerSpec", "Image",
		req->image, "Env", env, "Labels", labels, "Init", 1, "StopGracePeriod",
		(json_int_t)run->st->stop_grace_s * 1000000000, "Resources", "Limits",
		"MemoryBytes", (json_int_t)req->memory_bytes, "RestartPolicy", "Condition", "none",
		"Placement", "Constraints", cons, "Mode", "Replicated", "Replicas", 1,
		"EndpointSpec", "Ports", ports);
}

/* Creates the service of one instance, or keeps the one that runs the same
 * image; another of that name is removed first. */
static int run_service(struct run *run, size_t i, bool force, char *err, size_t errlen)
{
	const struct sw_state *st = run->st;
	uint32_t instance = run->req->instances[i];
	char name[SW_NAME_MAX], path[SW_NAME_MAX + 32];
	json_t *old = NULL, *spec, *reply = NULL;
	int r;

	sw_service_name(name, sizeof name, run->req->app, run->req->release, instance);
	snprintf(path, sizeof path, "/services/%s", name);
	r = docker_json(&old, st->manager, "GET", path, NULL, "service inspect", err, errlen);
	if (r == 0) {
		const char *image = json_string_value(json_object_get(
			json_object_get(json_object_get(json_object_get(old, "Spec"),
							"TaskTemplate"),
					"ContainerSpec"),
			"Image"));
		bool same = !force && image && strcmp(image, run->req->image) == 0;

		json_decref(old);
		if (same)
			return 0;
		st->host->log(NAP_LOG_INFO, "scheduler-swarm: replacing service %s (image %s)",
			      name, image ? image : "?");
		r = docker_json(NULL, st->manager, "DELETE", path, NULL, "service remove", err,
				errlen);
		if (r < 0 && r != -ENOENT)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	spec = service_spec(run, name, i);
	if (!spec)
		return -ENOMEM;
	r = docker_json(&reply, st->manager, "POST", "/services/create", spec, "service create",
			err, errlen);
	json_decref(spec);
	json_decref(reply);
	if (r == 0)
		run->created[i] = true;
	return r;
}

static void run_rollback(struct run *run)
{
	char name[SW_NAME_MAX], path[SW_NAME_MAX + 32], err[256];

	for (size_t i = 0; i < run->req->n_instances; i++) {
		if (!run->created[i])
			continue;
		sw_service_name(name, sizeof name, run->req->app, run->req->release,
				run->req->instances[i]);
		snprintf(path, sizeof path, "/services/%s", name);
		docker_json(NULL, run->st->manager, "DELETE", path, NULL, "service remove", err,
			    sizeof err);
	}
}

static const struct sw_inst *find_inst(const struct sw_snapshot *s, uint32_t release,
				       uint32_t instance)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].release == release && s->v[i].instance == instance)
			return &s->v[i];
	return NULL;
}

static void constraint_list(const struct run *run, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < run->n_constraints && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					run->constraints[i]);
}

/* A task placed on a node that was lost before it started never runs, and
 * Swarm does not move it (no restart policy): its service is made again,
 * placed afresh among the nodes up, at most SW_REPLACE_MAX times. */
#define SW_REPLACE_MAX 3
static int run_replace_lost(struct run *run, const struct sw_snapshot *snap, char *err,
			    size_t errlen)
{
	const Nap__RunRequest *req = run->req;

	for (size_t i = 0; i < req->n_instances; i++) {
		const struct sw_inst *in = find_inst(snap, req->release, req->instances[i]);
		int r;

		if (!in || !in->node_down || !run->created[i] || in->started_unix_ms ||
		    strcmp(in->state, "exited") != 0)
			continue;
		if (++run->replaced[i] > SW_REPLACE_MAX)
			continue; /* reported as it is: exited */
		run->st->host->log(
			NAP_LOG_NOTICE,
			"scheduler-swarm: %s instance %u was placed on node %s, which was "
			"lost before it started: placing it again",
			req->app, (unsigned)in->instance, in->host);
		sw_snapshot_free(&run->snap);
		if (run->n_constraints == 0 &&
		    sw_snapshot_read(&run->snap, run->st, req->app, err, errlen) == 0) {
			memset(run->node, 0, req->n_instances * sizeof *run->node);
			run_spread(run);
		}
		run->created[i] = false;
		r = run_service(run, i, true, err, errlen);
		if (r < 0)
			return r;
		return 1; /* read again */
	}
	return 0;
}

/* Waits until every task runs (or ran); ends the call either way. Returns
 * the nap status it ended with. */
static int run_wait(struct run *run)
{
	const struct sw_state *st = run->st;
	const Nap__RunRequest *req = run->req;
	uint32_t timeout_s = req->timeout_s ? req->timeout_s : SW_DEFAULT_RUN_TIMEOUT_S;
	uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000u;
	char err[600], cons[600];

	for (;;) {
		struct sw_snapshot snap;
		const struct sw_inst *waiting = NULL, *failed = NULL;
		int r = sw_snapshot_read(&snap, st, req->app, err, sizeof err);

		if (r < 0) {
			st->host->end(run->call, nap_status_from_errno(r), "scheduler-swarm: %s",
				      err);
			return nap_status_from_errno(r);
		}
		r = run_replace_lost(run, &snap, err, sizeof err);
		if (r != 0) {
			sw_snapshot_free(&snap);
			if (r < 0) {
				run_rollback(run);
				st->host->end(run->call, nap_status_from_errno(r),
					      "scheduler-swarm: %s", err);
				return nap_status_from_errno(r);
			}
			continue;
		}
		for (size_t i = 0; i < req->n_instances && !failed; i++) {
			const struct sw_inst *in = find_inst(&snap, req->release,
							     req->instances[i]);

			if (!in && run->created[i]) {
				/* removed by another call meanwhile */
				snprintf(
					err, sizeof err,
					"instance %u of %s release %u was removed while it started",
					(unsigned)req->instances[i], req->app,
					(unsigned)req->release);
				sw_snapshot_free(&snap);
				run_rollback(run);
				st->host->end(run->call, NAP_ABORTED, "scheduler-swarm: %s", err);
				return NAP_ABORTED;
			}
			if (!in || strcmp(in->state, "pending") == 0 ||
			    (strcmp(in->state, "running") == 0 && !in->port && run->n_ports)) {
				/* (running, its port not reported yet: wait) */
				if (in && strstr(in->task_err, "no suitable node"))
					failed = in;
				else if (!waiting)
					waiting = in;
			} else if (strcmp(in->state, "failed") == 0) {
				failed = in;
			}
		}
		if (failed) {
			int status = NAP_FAILED_PRECONDITION;

			constraint_list(run, cons, sizeof cons);
			if (strstr(failed->task_err, "no suitable node") && run->n_constraints)
				snprintf(err, sizeof err,
					 "no node satisfies the placement %s (Swarm: %s)", cons,
					 failed->task_err);
			else
				snprintf(err, sizeof err, "instance %u of %s: %s",
					 (unsigned)failed->instance, req->app,
					 *failed->task_err ? failed->task_err : "the task failed");
			sw_snapshot_free(&snap);
			run_rollback(run);
			st->host->log(NAP_LOG_WARNING, "scheduler-swarm: run of %s release %u: %s",
				      req->app, (unsigned)req->release, err);
			st->host->end(run->call, status, "scheduler-swarm: %s", err);
			return status;
		}
		if (!waiting && req->n_instances) {
			bool all = true;

			for (size_t i = 0; i < req->n_instances; i++)
				all = all && find_inst(&snap, req->release, req->instances[i]);
			if (all) {
				Nap__RunReply reply = NAP__RUN_REPLY__INIT;
				Nap__Instance *outs = calloc(req->n_instances, sizeof *outs);
				Nap__Instance **ptrs = calloc(req->n_instances, sizeof *ptrs);

				for (size_t i = 0; outs && ptrs && i < req->n_instances; i++) {
					const struct sw_inst *in = find_inst(&snap, req->release,
									     req->instances[i]);

					nap__instance__init(&outs[i]);
					sw_instance_fill(&outs[i], in);
					ptrs[i] = &outs[i];
					st->host->log(
						NAP_LOG_INFO,
						"scheduler-swarm: %s instance %u on %s (%s:%u)",
						req->app, (unsigned)in->instance, in->machine,
						in->host, (unsigned)in->port);
				}
				reply.n_instances = outs && ptrs ? req->n_instances : 0;
				reply.instances = ptrs;
				st->host->reply(run->call, &reply.base);
				for (size_t i = 0; outs && i < req->n_instances; i++)
					instance_ports_free(&outs[i]);
				free(outs);
				free(ptrs);
				sw_snapshot_free(&snap);
				return NAP_OK;
			}
		}
		sw_snapshot_free(&snap);
		if (st->host->cancelled(run->call) || atomic_load(&st->stopping)) {
			run_rollback(run);
			st->host->end(run->call, NAP_CANCELLED, "scheduler-swarm: run cancelled");
			return NAP_CANCELLED;
		}
		if (mono_ms() > deadline) {
			run_rollback(run);
			snprintf(err, sizeof err,
				 "%s release %u: Swarm did not start every task within %u s",
				 req->app, (unsigned)req->release, (unsigned)timeout_s);
			st->host->end(run->call, NAP_DEADLINE_EXCEEDED, "scheduler-swarm: %s", err);
			return NAP_DEADLINE_EXCEEDED;
		}
		nanosleep(&(struct timespec){0, SW_RUN_POLL_MS * 1000000L}, NULL);
	}
}

void sw_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sw_state *st = state;
	const Nap__RunRequest *req = (const Nap__RunRequest *)request;
	struct run run = {.st = st, .req = req, .call = call};
	const char *why;
	char buf[600];
	int r;

	why = run_request_check(req, buf, sizeof buf);
	if (!why && (!req->image || !*req->image || !nap_utf8_valid(req->image)))
		why = "no image given";
	if (!why)
		why = run_constraints(&run, buf, sizeof buf);
	if (why) {
		st->host->end(call, NAP_INVALID_ARGUMENT, "scheduler-swarm: %s", why);
		return;
	}
	run.created = calloc(req->n_instances, sizeof *run.created);
	run.node = calloc(req->n_instances, sizeof *run.node);
	run.replaced = calloc(req->n_instances, sizeof *run.replaced);
	if (!run.created || !run.node || !run.replaced) {
		free(run.created);
		free(run.node);
		free(run.replaced);
		st->host->end(call, NAP_RESOURCE_EXHAUSTED, "scheduler-swarm: out of memory");
		return;
	}
	r = docker_image_tcp_ports(&run.ports, &run.n_ports, st->images, req->image, buf,
				   sizeof buf);
	/* An image without EXPOSE runs as an instance with no port (a
	 * worker): nothing is published, Instance.port stays 0. */
	if (r < 0) {
		st->host->end(call, r == -ENOENT ? NAP_NOT_FOUND : nap_status_from_errno(r),
			      "scheduler-swarm: %s",
			      r == -ENOENT ? "the image is not on the builder's engine "
					     "(image_docker): build and push it first"
					   : buf);
		free(run.created);
		free(run.node);
		free(run.replaced);
		return;
	}
	if (run.n_constraints == 0) {
		r = sw_snapshot_read(&run.snap, st, req->app, buf, sizeof buf);
		if (r < 0) {
			st->host->end(call, nap_status_from_errno(r), "scheduler-swarm: %s", buf);
			goto out;
		}
		run_spread(&run);
	}
	for (size_t i = 0; i < req->n_instances; i++) {
		r = run_service(&run, i, false, buf, sizeof buf);
		if (r < 0) {
			run_rollback(&run);
			st->host->end(call, nap_status_from_errno(r),
				      "scheduler-swarm: instance %u of %s: %s",
				      (unsigned)req->instances[i], req->app, buf);
			goto out;
		}
	}
	run_wait(&run);
out:
	sw_snapshot_free(&run.snap);
	free(run.ports);
	free(run.created);
	free(run.node);
	free(run.replaced);
}
