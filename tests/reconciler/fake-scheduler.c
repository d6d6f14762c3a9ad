/* Test fixture: fake-scheduler, a nap.Scheduler for the reconciler's tests
 * (see fake-scheduler.h for how its instances work).
 *
 * Run starts each requested instance as a listener on 127.0.0.1 (Instance:
 * host "127.0.0.1", port, id "fake-<app>-<release>-<instance>-<n>", state
 * "running"); a running instance of the same app, release and instance is
 * kept, as scheduler-local keeps its container. Remove, List, Logs and
 * Watch ("present"..., "synced", then "started", "died", "removed") work
 * as the real schedulers'. Exited instances stay listed until removed.
 *
 * The Run request's environment sets an instance's behaviour:
 *   FAKE_START_DELAY_MS=N  listen only N ms after the start (slow start)
 *   FAKE_EXIT_AT_ONCE=CODE die FAKE_EXIT_AT_ONCE_MS after the start with
 *                          CODE, never listening (a crash loop)
 *   FAKE_HTTP_STATUS=N     answer HTTP requests with status N (default 200)
 *   FAKE_FLAP_MS=N         close the listener and open it again every N ms
 *
 * Setting announcer = sidekick makes the fake announce each instance in
 * nap.Discovery itself while it accepts connections (fake-announcer.c),
 * as scheduler-fleet's sidekick units do; its instances then say
 * announcer "sidekick". Without it, announcing is the orchestrator's job.
 *
 * Setting control_socket = PATH opens the control channel (fake-control.h):
 *   kill APP INSTANCE [CODE]  the instance dies (exit code default 137)
 *   unhealthy APP INSTANCE    its listener closes; it stays "running"
 *   healthy APP INSTANCE      its listener opens again, same port
 *   http APP INSTANCE STATUS  it answers HTTP requests with STATUS now
 *   list [APP]                "APP RELEASE INSTANCE STATE PORT ID" lines
 *   runs APP                  "COUNT T1 T2 ...": instances Run started for
 *                             APP since the plugin started, with their
 *                             start times (Unix ms)
 *   crash                     the plugin aborts (its instances vanish)
 * INSTANCE is an instance number (every release's) or an instance id. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/names.h>

#include "fake-scheduler.h"
#include "run_request.h"

#define KILL_EXIT_CODE 137
#define FAKE_MS_MAX 600000u /* the longest delay or period a FAKE_* takes */

static struct fsched the_fs = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .applied = PTHREAD_COND_INITIALIZER};

void fs_snap_to_msg(Nap__Instance *msg, const struct fsnap *s)
{
	nap__instance__init(msg);
	msg->app = (char *)s->app;
	msg->release = s->release;
	msg->instance = s->instance;
	msg->id = (char *)s->id;
	msg->host = "127.0.0.1";
	msg->port = s->port;
	msg->state = s->running ? "running" : "exited";
	msg->machine = "fake";
	msg->exit_code = s->exit_code;
	msg->started_unix_ms = s->started_ms;
	msg->announcer = the_fs.sidekick ? "sidekick" : "";
}

/* Reads a number in [lo, hi] (an optional '-' allowed when lo < 0). */
static bool parse_num(long *outp, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi)
		return false;
	*outp = n;
	return true;
}

static const char *parse_behaviour(struct fbehaviour *b, const Nap__RunRequest *req, char *err,
				   size_t len)
{
	*b = (struct fbehaviour){.http_status = 200};
	for (size_t i = 0; i < req->n_env; i++) {
		const char *k = req->env[i]->key, *v = req->env[i]->value;
		long n;
		bool ok = true;
		if (strcmp(k, "FAKE_START_DELAY_MS") == 0 &&
		    (ok = parse_num(&n, v, 0, FAKE_MS_MAX)))
			b->start_delay_ms = (uint32_t)n;
		else if (strcmp(k, "FAKE_EXIT_AT_ONCE") == 0 &&
			 (ok = parse_num(&n, v, -255, 255))) {
			b->exit_at_once = true;
			b->exit_code = (int)n;
		} else if (strcmp(k, "FAKE_HTTP_STATUS") == 0 && (ok = parse_num(&n, v, 100, 599)))
			b->http_status = (uint32_t)n;
		else if (strcmp(k, "FAKE_FLAP_MS") == 0 && (ok = parse_num(&n, v, 0, FAKE_MS_MAX)))
			b->flap_ms = (uint32_t)n;
		if (!ok) {
			snprintf(err, len, "fake-scheduler: %s=%.40s is not a number it takes", k,
				 v);
			return err;
		}
	}
	return NULL;
}

static struct finst *find(struct fsched *fs, const char *app, uint32_t release, uint32_t instance)
{
	for (struct finst *i = fs->insts; i; i = i->next)
		if (!i->gone && i->s.release == release && i->s.instance == instance &&
		    strcmp(i->s.app, app) == 0)
			return i;
	return NULL;
}

static void fs_run(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fsched *fs = state;
	const Nap__RunRequest *in = (const Nap__RunRequest *)request;
	struct fbehaviour b;
	char err[256];
	const char *why;

	if (fake_fault_begin(fs->host, call, "Run"))
		return;
	why = run_request_check(in, err, sizeof err);
	if (why || (why = parse_behaviour(&b, in, err, sizeof err))) {
		fs->host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		return;
	}
	struct fsnap *snaps = calloc(in->n_instances, sizeof *snaps);
	Nap__Instance *msgs = calloc(in->n_instances, sizeof *msgs);
	Nap__Instance **ptrs = calloc(in->n_instances, sizeof *ptrs);
	struct finst **started = calloc(in->n_instances, sizeof *started);
	if (!snaps || !msgs || !ptrs || !started) {
		fs->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-scheduler: out of memory");
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	size_t n = 0;
	int e = 0;
	for (; n < in->n_instances; n++) {
		struct finst *old = find(fs, in->app, in->release, in->instances[n]);
		if (old && old->s.running) {
			snaps[n] = old->s;
			continue;
		}
		if (old)
			fs_inst_remove(fs, old);
		if (!(started[n] = fs_inst_start(fs, in->app, in->release, in->instances[n], &b))) {
			e = errno;
			break;
		}
		snaps[n] = started[n]->s;
	}
	if (n < in->n_instances) /* all or nothing */
		for (size_t j = 0; j < n; j++)
			if (started[j])
				fs_inst_remove(fs, started[j]);
	fs_apply(fs);
	pthread_mutex_unlock(&fs->lock);
	if (n < in->n_instances) {
		fs->host->end(call, NAP_UNAVAILABLE,
			      "fake-scheduler: no port for instance %u of %s: %s", in->instances[n],
			      in->app, strerror(e));
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		fs_snap_to_msg(&msgs[j], &snaps[j]);
		ptrs[j] = &msgs[j];
	}
	Nap__RunReply out = NAP__RUN_REPLY__INIT;
	out.n_instances = n;
	out.instances = ptrs;
	fake_fault_end(fs->host, "Run");
	fs->host->reply(call, &out.base);
out:
	free(snaps);
	free(msgs);
	free(ptrs);
	free(started);
}

static bool wanted(const Nap__RemoveRequest *in, const struct fsnap *s)
{
	if (strcmp(in->app, s->app) != 0 || (in->release && in->release != s->release))
		return false;
	if (!in->n_instances)
		return true;
	for (size_t j = 0; j < in->n_instances; j++)
		if (in->instances[j] == s->instance)
			return true;
	return false;
}

static void fs_remove(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fsched *fs = state;
	const Nap__RemoveRequest *in = (const Nap__RemoveRequest *)request;
	uint32_t removed = 0;

	if (fake_fault_begin(fs->host, call, "Remove"))
		return;
	if (!nap_app_name_valid(in->app)) {
		fs->host->end(call, NAP_INVALID_ARGUMENT, "fake-scheduler: app name is not valid");
		return;
	}
	pthread_mutex_lock(&fs->lock);
	for (struct finst *i = fs->insts; i; i = i->next)
		if (!i->gone && wanted(in, &i->s)) {
			fs_inst_remove(fs, i);
			removed++;
		}
	fs_apply(fs);
	pthread_mutex_unlock(&fs->lock);
	Nap__RemoveReply out = NAP__REMOVE_REPLY__INIT;
	out.removed = removed;
	fake_fault_end(fs->host, "Remove");
	fs->host->reply(call, &out.base);
}

/* Copies of the instances of app ("" = all); *np of them. */
static struct fsnap *snapshot(struct fsched *fs, const char *app, size_t *np)
{
	size_t n = 0, cap = 0;
	struct fsnap *v = NULL;

	for (struct finst *i = fs->insts; i; i = i->next) {
		if (i->gone || (app[0] && strcmp(app, i->s.app) != 0))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct fsnap *w = realloc(v, cap * sizeof *w);
			if (!w)
				break;
			v = w;
		}
		v[n++] = i->s;
	}
	*np = n;
	return v;
}

static void fs_list(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fsched *fs = state;
	const Nap__ListInstancesRequest *in = (const Nap__ListInstancesRequest *)request;
	size_t n;

	if (fake_fault_begin(fs->host, call, "List"))
		return;
	pthread_mutex_lock(&fs->lock);
	struct fsnap *v = snapshot(fs, in->app ? in->app : "", &n);
	pthread_mutex_unlock(&fs->lock);
	Nap__Instance *msgs = calloc(n ? n : 1, sizeof *msgs);
	Nap__Instance **ptrs = calloc(n ? n : 1, sizeof *ptrs);
	if (!msgs || !ptrs) {
		fs->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-scheduler: out of memory");
	} else {
		for (size_t j = 0; j < n; j++) {
			fs_snap_to_msg(&msgs[j], &v[j]);
			ptrs[j] = &msgs[j];
		}
		Nap__ListInstancesReply out = NAP__LIST_INSTANCES_REPLY__INIT;
		out.n_instances = n;
		out.instances = ptrs;
		fake_fault_end(fs->host, "List");
		fs->host->reply(call, &out.base);
	}
	free(v);
	free(msgs);
	free(ptrs);
}

static void queue_event(struct fwatcher *w, const char *kind, const struct fsnap *s)
{
	struct fevent *e = calloc(1, sizeof *e);
	if (!e)
		return;
	snprintf(e->kind, sizeof e->kind, "%s", kind);
	if (s)
		e->s = *s;
	if (w->tail)
		w->tail->next = e;
	else
		w->head = e;
	w->tail = e;
}

static void free_events(struct fevent *e)
{
	while (e) {
		struct fevent *next = e->next;
		free(e);
		e = next;
	}
}

static void fs_watch(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fsched *fs = state;
	const Nap__ListInstancesRequest *in = (const Nap__ListInstancesRequest *)request;
	struct fwatcher *w = calloc(1, sizeof *w);
	bool cancelled = false;

	if (fake_fault_begin(fs->host, call, "Watch")) {
		free(w);
		return;
	}
	if (!w) {
		fs->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-scheduler: out of memory");
		return;
	}
	snprintf(w->app, sizeof w->app, "%s", in->app ? in->app : "");
	pthread_cond_init(&w->cond, NULL);
	pthread_mutex_lock(&fs->lock);
	for (struct finst *i = fs->insts; i; i = i->next)
		if (!i->gone && (!w->app[0] || strcmp(w->app, i->s.app) == 0))
			queue_event(w, "present", &i->s);
	queue_event(w, "synced", NULL);
	w->next = fs->watchers;
	fs->watchers = w;
	while (!cancelled && !fs->stop) {
		while (!w->head && !fs->stop && !(cancelled = fs->host->cancelled(call))) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cond, &fs->lock, &ts);
		}
		struct fevent *list = w->head;
		w->head = w->tail = NULL;
		pthread_mutex_unlock(&fs->lock);
		for (struct fevent *e = list; e && !cancelled; e = e->next) {
			Nap__InstanceEvent ev = NAP__INSTANCE_EVENT__INIT;
			Nap__Instance msg;
			ev.kind = e->kind;
			if (strcmp(e->kind, "synced") != 0) {
				fs_snap_to_msg(&msg, &e->s);
				ev.instance = &msg;
			}
			cancelled = fs->host->send(call, &ev.base) < 0;
		}
		free_events(list);
		pthread_mutex_lock(&fs->lock);
	}
	for (struct fwatcher **pp = &fs->watchers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	bool stopping = fs->stop;
	pthread_mutex_unlock(&fs->lock);
	free_events(w->head);
	pthread_cond_destroy(&w->cond);
	free(w);
	if (stopping && !cancelled)
		fs->host->end(call, NAP_UNAVAILABLE, "fake-scheduler: stopping");
	else
		fs->host->end(call, NAP_CANCELLED, "fake-scheduler: watch cancelled");
}

static void fs_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fsched *fs = state;
	const Nap__LogsRequest *in = (const Nap__LogsRequest *)request;
	char line[256];
	size_t n;

	if (fake_fault_begin(fs->host, call, "Logs"))
		return;
	pthread_mutex_lock(&fs->lock);
	struct fsnap *v = snapshot(fs, in->app ? in->app : "", &n);
	pthread_mutex_unlock(&fs->lock);
	for (size_t j = 0; j < n; j++) {
		Nap__LogLine out = NAP__LOG_LINE__INIT;
		snprintf(line, sizeof line, "fake instance %s on port %u: %s", v[j].id, v[j].port,
			 v[j].running ? "running" : "exited");
		out.instance = v[j].instance;
		out.line = line;
		fs->host->send(call, &out.base);
	}
	free(v);
	while (in->follow && !fs->host->cancelled(call))
		fake_sleep_ms(50);
	fs->host->end(call, NAP_OK, "%s", "");
}

/* ---- control commands ---- */

static bool matches(const struct finst *i, const char *app, const char *which)
{
	char num[16];
	if (i->gone || strcmp(i->s.app, app) != 0)
		return false;
	snprintf(num, sizeof num, "%u", i->s.instance);
	return strcmp(which, num) == 0 || strcmp(which, i->s.id) == 0;
}

/* What a control command does to the running instances it names. */
enum act {
	ACT_NONE,
	ACT_KILL,
	ACT_UNHEALTHY,
	ACT_HEALTHY,
	ACT_HTTP
};

static enum act parse_act(int argc, char **argv, long *valuep, const char **whyp)
{
	const char *cmd = argv[0];

	*valuep = KILL_EXIT_CODE;
	if (strcmp(cmd, "kill") == 0 && (argc == 3 || argc == 4)) {
		if (argc == 4 && !parse_num(valuep, argv[3], -255, 255))
			*whyp = "kill APP INSTANCE [CODE]: an exit code from -255 to 255";
		return ACT_KILL;
	}
	if (strcmp(cmd, "http") == 0) {
		if (argc != 4 || !parse_num(valuep, argv[3], 100, 599))
			*whyp = "http APP INSTANCE STATUS: a status from 100 to 599";
		return ACT_HTTP;
	}
	if (strcmp(cmd, "unhealthy") == 0 && argc == 3)
		return ACT_UNHEALTHY;
	if (strcmp(cmd, "healthy") == 0 && argc == 3)
		return ACT_HEALTHY;
	return ACT_NONE;
}

static const char *control(int argc, char **argv, FILE *out, char *err, size_t len, void *ud)
{
	struct fsched *fs = ud;
	const char *cmd = argv[0], *why = NULL;
	long value;
	int hits = 0;
	enum act act = parse_act(argc, argv, &value, &why);

	if (why)
		return why;
	if (act != ACT_NONE) {
		pthread_mutex_lock(&fs->lock);
		for (struct finst *i = fs->insts; i; i = i->next) {
			if (!matches(i, argv[1], argv[2]) || !i->s.running)
				continue;
			hits++;
			if (act == ACT_KILL)
				fs_inst_die(fs, i, (int)value);
			else if (act == ACT_HTTP)
				i->b.http_status = (uint32_t)value;
			else
				i->unhealthy = act == ACT_UNHEALTHY;
		}
		fs_apply(fs);
		pthread_mutex_unlock(&fs->lock);
		if (!hits) {
			snprintf(err, len, "no running instance %s of %s", argv[2], argv[1]);
			why = err;
		}
	} else if (strcmp(cmd, "list") == 0 && argc <= 2) {
		size_t n;
		pthread_mutex_lock(&fs->lock);
		struct fsnap *v = snapshot(fs, argc == 2 ? argv[1] : "", &n);
		pthread_mutex_unlock(&fs->lock);
		for (size_t j = 0; j < n; j++)
			fprintf(out, "%s %u %u %s %u %s\n", v[j].app, v[j].release, v[j].instance,
				v[j].running ? "running" : "exited", v[j].port, v[j].id);
		free(v);
	} else if (strcmp(cmd, "runs") == 0 && argc == 2) {
		pthread_mutex_lock(&fs->lock);
		struct fapp_runs *r = fs->runs;
		while (r && strcmp(r->app, argv[1]) != 0)
			r = r->next;
		fprintf(out, "%zu", r ? r->n : 0);
		for (size_t j = 0; r && j < r->n; j++)
			fprintf(out, " %" PRIu64, r->times[j]);
		fputc('\n', out);
		pthread_mutex_unlock(&fs->lock);
	} else {
		why = "commands: kill APP INSTANCE [CODE], unhealthy APP INSTANCE, healthy APP "
		      "INSTANCE, http APP INSTANCE STATUS, list [APP], runs APP, crash, and the "
		      "fault commands";
	}
	return why;
}

static int fs_init(const nap_host *h, void **statep)
{
	struct fsched *fs = &the_fs;
	const char *path = h->config("control_socket"), *ann = h->config("announcer");
	int r;

	fs->host = h;
	if (ann && *ann && strcmp(ann, "sidekick") != 0) {
		h->log(NAP_LOG_ERROR, "fake-scheduler: announcer = %s: give sidekick, or nothing",
		       ann);
		return -EINVAL;
	}
	fs->sidekick = ann && *ann;
	if ((r = fs_announcer_start(fs)) < 0 || (r = fs_net_start(fs)) < 0) {
		h->log(NAP_LOG_ERROR, "fake-scheduler: starting its threads: %s", strerror(-r));
		fs_announcer_stop(fs);
		return r;
	}
	if (path && (r = fake_control_start(&fs->control, "fake-scheduler", path, control, fs))) {
		h->log(NAP_LOG_ERROR, "fake-scheduler: control_socket = %s: %s", path,
		       strerror(-r));
		fs_net_stop(fs);
		fs_announcer_stop(fs);
		return r == -ENAMETOOLONG ? -EINVAL : r;
	}
	*statep = fs;
	return 0;
}

/* Handler threads may still run (the host exits right after): the state
 * stays allocated, only the threads stop. */
static void fs_shutdown(void *state)
{
	struct fsched *fs = state;
	fake_control_stop(fs->control);
	fs->control = NULL;
	fs_net_stop(fs);
	fs_announcer_stop(fs);
}

static const struct nap_plugin_method fs_methods[] = {
	{"Run", fs_run, 0},   {"Remove", fs_remove, 0}, {"List", fs_list, 0},
	{"Logs", fs_logs, 0}, {"Watch", fs_watch, 0},   {NULL, NULL, 0},
};

static const struct nap_plugin_service fs_services[] = {
	{&nap__scheduler__descriptor, fs_methods},
	{NULL, NULL},
};

static const struct nap_plugin fs_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "fake-scheduler",
	.version = "0.0",
	.description = "test fixture: a nap.Scheduler whose instances are listeners in its process",
	.services = fs_services,
	.init = fs_init,
	.shutdown = fs_shutdown,
};

NAP_PLUGIN_DEFINE(fs_plugin)
