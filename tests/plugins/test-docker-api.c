/* tests/plugins: docker_api against the real dockerd and registry
 * (scripts/servers start).
 *
 * Builds examples/hello (a copy, prepared in a temporary directory, so the
 * source tree is not written to), pushes it to the registry, runs it, reads
 * its page over HTTP, watches the container's events, stops and removes
 * it; then checks that a broken Dockerfile fails with its step and
 * Docker's message. Skipped (77) if dockerd or the registry do not answer.
 *
 * Environment: $NAP_DOCKER_SOCKET (default /var/run/docker.sock),
 * $NAP_REGISTRY (default 127.0.0.1:5000), $top_srcdir or $srcdir (the
 * source tree's top, as the automake test environment sets them; default
 * "."). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "docker_api.h"
#include "http_client.h"
#include "plugin_testing.h"
#include "tar_context.h"

static docker_client *docker;
static const char *registry;
static char tmp[] = "/tmp/nap-test-docker-XXXXXX";
static char app_label[64]; /* nap.app=<this run> */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* GET url; 0 with the status and body, or a negative errno. */
static int http_get(long *status, char **body, const char *url, long timeout_ms)
{
	struct http_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};
	struct http_response resp;
	char err[256];
	int r = http_perform(&resp, &req, err, sizeof err);

	if (r < 0)
		return r;
	*status = resp.status;
	*body = resp.body;
	return 0;
}

/* ---- build ---- */

struct build_log {
	int lines, max_step, steps;
	bool saw_aux;
};

static int on_build_line(void *user, const struct docker_line *l)
{
	struct build_log *b = user;

	b->lines++;
	if (l->step > b->max_step)
		b->max_step = l->step;
	b->steps = l->steps;
	b->saw_aux |= l->aux != NULL;
	return 0;
}

static int build_dir(char **id, const char *dir, const char *tag, struct build_log *log, char *err,
		     size_t errlen)
{
	struct docker_build_options o = {.tag = tag};
	char *tar;
	size_t len;
	int r;

	r = tar_context_buffer(&tar, &len, dir, NULL, 64u << 20, err, errlen);
	if (r < 0)
		return r;
	r = docker_build_buffer(id, docker, &o, tar, len, on_build_line, log, err, errlen);
	free(tar);
	return r;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

/* ---- events ---- */

#define MAX_EVENTS 64

struct event_log {
	pthread_t thread;
	atomic_int cancel;
	pthread_mutex_t lock;
	int n;
	char actions[MAX_EVENTS][32];
	char ids[MAX_EVENTS][80];
	char app[MAX_EVENTS][64];
	double at[MAX_EVENTS];
	int rc;
	char err[512];
	const char *filter;
};

static int on_event(void *user, const struct docker_event *ev)
{
	struct event_log *e = user;
	const char *app = json_string_value(json_object_get(ev->attributes, "nap.app"));
	bool destroy = strcmp(ev->action, "destroy") == 0;

	pthread_mutex_lock(&e->lock);
	if (e->n < MAX_EVENTS) {
		snprintf(e->actions[e->n], sizeof e->actions[0], "%s", ev->action);
		snprintf(e->ids[e->n], sizeof e->ids[0], "%s", ev->id);
		snprintf(e->app[e->n], sizeof e->app[0], "%s", app ? app : "");
		e->at[e->n] = now_ms();
		e->n++;
	}
	pthread_mutex_unlock(&e->lock);
	return destroy ? 1 : 0;
}

static void *event_thread(void *arg)
{
	struct event_log *e = arg;
	const char *filters[] = {e->filter};

	e->rc = docker_events(docker, filters, 1, 0, on_event, e, &e->cancel, e->err,
			      sizeof e->err);
	return NULL;
}

/* Index of the first event with this action for container id, or -1. */
static int find_event(struct event_log *e, const char *id, const char *action)
{
	int found = -1;

	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < e->n && found < 0; i++)
		if (strcmp(e->ids[i], id) == 0 && strcmp(e->actions[i], action) == 0)
			found = i;
	pthread_mutex_unlock(&e->lock);
	return found;
}

/* ---- the whole life of the hello app ---- */

static void test_hello(void)
{
	char dir[256], tag[320], repo[256], name[64], url[512], err[1024];
	static struct event_log ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
	const char *srcdir = getenv("top_srcdir") ? getenv("top_srcdir") : getenv("srcdir");
	struct build_log blog = {0};
	struct docker_container_info *info = NULL;
	struct docker_container_summary *list = NULL;
	char *image_id = NULL, *digest = NULL, *cid = NULL, *body = NULL;
	unsigned port = 0;
	size_t n = 0;
	long status = 0;
	double t0, t_run;
	int r;

	snprintf(dir, sizeof dir, "%s/hello", tmp);
	r = shell("cp -R '%s/examples/hello' '%s' && '%s/prepare'", srcdir ? srcdir : ".", dir,
		  dir);
	CHECK(r == 0, "copy examples/hello and run its prepare");
	if (r != 0)
		return;
	snprintf(repo, sizeof repo, "%s/nap-test-hello", registry);
	snprintf(tag, sizeof tag, "%s:%ld", repo, (long)getpid());

	t0 = now_ms();
	r = build_dir(&image_id, dir, tag, &blog, err, sizeof err);
	CHECK(r == 0 && image_id && strncmp(image_id, "sha256:", 7) == 0,
	      "build examples/hello as %s: %s (%.0f ms)", tag, r ? err : image_id, now_ms() - t0);
	CHECK(blog.max_step > 0 && blog.max_step == blog.steps && blog.saw_aux,
	      "the line callback saw steps up to %d/%d and the image ID", blog.max_step,
	      blog.steps);

	t0 = now_ms();
	snprintf(name, sizeof name, "%ld", (long)getpid());
	r = docker_push(&digest, docker, repo, name, NULL, NULL, NULL, err, sizeof err);
	CHECK(r == 0 && digest && strncmp(digest, "sha256:", 7) == 0, "push to %s: %s (%.0f ms)",
	      registry, r ? err : digest, now_ms() - t0);
	snprintf(url, sizeof url, "http://%s/v2/nap-test-hello/tags/list", registry);
	r = http_get(&status, &body, url, 5000);
	CHECK(r == 0 && status == 200 && strstr(body, name), "the registry lists the tag");
	free(body);
	body = NULL;

	/* Watch this app's containers while it runs. */
	ev.filter = app_label;
	if (pthread_create(&ev.thread, NULL, event_thread, &ev) != 0)
		exit(99);
	usleep(200000); /* the subscription is in place before the events happen */

	{
		const char *env[] = {"GREETING=hello"};
		struct docker_kv labels[] = {{"nap.app", strchr(app_label, '=') + 1},
					     {"nap.release", "1"}};
		struct docker_container_spec spec = {
			.image = tag,
			.name = NULL,
			.env = env,
			.n_env = 1,
			.labels = labels,
			.n_labels = 2,
			.memory = 64 << 20,
		};
		char cname[64], *twin;

		snprintf(cname, sizeof cname, "nap-test-hello-%ld", (long)getpid());
		spec.name = cname;
		t0 = now_ms();
		r = docker_container_run(&cid, docker, &spec, err, sizeof err);
		t_run = now_ms();
		CHECK(r == 0 && cid, "create + start a container: %s (%.0f ms)", r ? err : cid,
		      t_run - t0);
		if (r < 0)
			goto stop_events;
		r = docker_container_run(&twin, docker, &spec, err, sizeof err);
		CHECK(r == -EEXIST, "a second container with the same name: %s", err);
		if (r == 0) {
			docker_container_remove(docker, twin, err, sizeof err);
			free(twin);
		}
	}

	r = docker_container_inspect(&info, docker, cid, err, sizeof err);
	CHECK(r == 0 && info->running && strcmp(info->state, "running") == 0, "inspect: running %s",
	      r ? err : "");
	/* The IPv4 binding: Docker gives the IPv6 one a port of its own. */
	for (size_t i = 0; r == 0 && i < info->n_ports; i++)
		if (info->ports[i].container_port == 8080 &&
		    strcmp(info->ports[i].proto, "tcp") == 0 &&
		    !strchr(info->ports[i].host_ip, ':'))
			port = info->ports[i].host_port;
	CHECK(port > 0, "inspect: 8080/tcp is published on IPv4 host port %u (%zu bindings)", port,
	      r == 0 ? info->n_ports : 0);
	if (r == 0) {
		uint64_t wall_ms = (uint64_t)time(NULL) * 1000u;

		CHECK(info->started_unix_ms + 60000 > wall_ms &&
			      info->started_unix_ms < wall_ms + 1000,
		      "inspect: started %llu ms since the epoch (now about %llu)",
		      (unsigned long long)info->started_unix_ms, (unsigned long long)wall_ms);
		CHECK(!info->oom_killed && info->health && !*info->health,
		      "inspect: not OOM-killed, no health without a HEALTHCHECK (\"%s\")",
		      info->health ? info->health : "(null)");
	}
	info = docker_container_info_free(info);

	/* The page, over HTTP: retried for a while, as the server may still be
	 * starting when the start call returns. */
	snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
	for (;;) {
		r = http_get(&status, &body, url, 2000);
		if ((r == 0 && status == 200) || now_ms() - t_run > 5000)
			break;
		free(body);
		body = NULL;
		usleep(10000);
	}
	CHECK(r == 0 && status == 200 && strstr(body, "Hello from nap"),
	      "GET %s serves the page, %.0f ms after the start call returned", url,
	      now_ms() - t_run);
	free(body);
	body = NULL;

	{
		const char *filters[] = {app_label};

		r = docker_container_list(&list, &n, docker, filters, 1, false, err, sizeof err);
		CHECK(r == 0 && n == 1 && strcmp(list[0].id, cid) == 0 &&
			      strcmp(json_string_value(
					     json_object_get(list[0].labels, "nap.release")),
				     "1") == 0,
		      "list by label finds it, with its labels %s", r ? err : "");
		docker_container_list_free(list, n);
	}

	t0 = now_ms();
	r = docker_container_stop(docker, cid, 10, err, sizeof err);
	CHECK(r == 0 && now_ms() - t0 < 5000,
	      "stop (Init: no wait for the grace period): %.0f ms %s", now_ms() - t0, r ? err : "");
	r = docker_container_inspect(&info, docker, cid, err, sizeof err);
	CHECK(r == 0 && !info->running, "inspect: no longer running (%s)", r ? err : info->state);
	info = docker_container_info_free(info);
	r = docker_container_stop(docker, cid, 10, err, sizeof err);
	CHECK(r == 0, "stopping a stopped container is fine");

	t0 = now_ms();
	r = docker_container_remove(docker, cid, err, sizeof err);
	CHECK(r == 0, "remove (%.0f ms) %s", now_ms() - t0, r ? err : "");
	r = docker_container_inspect(&info, docker, cid, err, sizeof err);
	CHECK(r == -ENOENT, "inspect after remove: %s", err);
	r = docker_container_remove(docker, cid, err, sizeof err);
	CHECK(r == -ENOENT, "remove again: %s", err);

stop_events : {
	double t_wait = now_ms();
	int i_start, i_die, i_destroy;

	/* The stream ends by itself at "destroy"; the flag is a fallback. */
	while (cid && find_event(&ev, cid, "destroy") < 0 && now_ms() - t_wait < 5000)
		usleep(10000);
	atomic_store(&ev.cancel, 1);
	pthread_join(ev.thread, NULL);
	if (cid) {
		i_start = find_event(&ev, cid, "start");
		i_die = find_event(&ev, cid, "die");
		i_destroy = find_event(&ev, cid, "destroy");
		CHECK(ev.rc == 0 && i_start >= 0 && i_start < i_die && i_die < i_destroy,
		      "events: start, die, destroy, in order; the stream ended at destroy (rc %d "
		      "%s)",
		      ev.rc, ev.rc ? ev.err : "");
		if (i_start >= 0)
			diag("start event arrived %.1f ms after the run call returned",
			     ev.at[i_start] - t_run);
		CHECK(i_start >= 0 && strcmp(ev.app[i_start], strchr(app_label, '=') + 1) == 0,
		      "events carry the container's labels");
	}
}
	r = docker_image_remove(docker, tag, false, err, sizeof err);
	CHECK(r == 0, "remove the image %s", r ? err : "");
	r = docker_image_remove(docker, tag, false, err, sizeof err);
	CHECK(r == -ENOENT, "remove it again: %s", err);
	if (digest) {
		struct http_request req = {.method = "DELETE", .url = url, .timeout_ms = 5000};
		struct http_response resp = {0};

		snprintf(url, sizeof url, "http://%s/v2/nap-test-hello/manifests/%s", registry,
			 digest);
		r = http_perform(&resp, &req, err, sizeof err);
		CHECK(r == 0 && resp.status == 202,
		      "delete the manifest from the registry (HTTP %ld)", resp.status);
		http_response_release(&resp);
	}
	free(image_id);
	free(digest);
	free(cid);
}

static void test_broken_builds(void)
{
	char dir[256], path[300], tag[128], err[1024];
	struct build_log blog = {0};
	char *id = NULL;
	int r;

	snprintf(dir, sizeof dir, "%s/broken", tmp);
	snprintf(tag, sizeof tag, "nap-test-broken:%ld", (long)getpid());
	if (shell("mkdir -p '%s'", dir) != 0)
		exit(99);
	snprintf(path, sizeof path, "%s/Dockerfile", dir);
	write_text(path, "FROM scratch\nCOPY missing.txt /\nEXPOSE 8080\n");
	r = build_dir(&id, dir, tag, &blog, err, sizeof err);
	CHECK(r == -EIO && strstr(err, "step 2/3") && strstr(err, "missing.txt"),
	      "a COPY of a missing file fails at its step with Docker's reason: %s", err);
	free(id);

	write_text(path, "FROMM scratch\n");
	r = build_dir(&id, dir, tag, &blog, err, sizeof err);
	CHECK(r < 0 && strstr(err, "unknown instruction"), "a bad instruction: %d %s", r, err);

	r = docker_push(NULL, docker, "127.0.0.1:5000/nap-test-never-built", "1", NULL, NULL, NULL,
			err, sizeof err);
	CHECK(r < 0 && strstr(err, "push"), "pushing an image that does not exist: %d %s", r, err);
}

static void test_checks(void)
{
	struct docker_container_spec spec = {.image = "busybox", .name = "bad name"};
	struct docker_container_info *info;
	docker_client *bad;
	char err[512], *id;
	int r;

	r = docker_container_run(&id, docker, &spec, err, sizeof err);
	CHECK(r == -EINVAL, "an invalid container name is refused before Docker: %s", err);
	spec = (struct docker_container_spec){.image = "x?y=1"};
	r = docker_container_run(&id, docker, &spec, err, sizeof err);
	CHECK(r == -EINVAL, "an image name with URL characters is refused: %s", err);
	r = docker_container_inspect(&info, docker, "../../images/json", err, sizeof err);
	CHECK(r == -EINVAL, "a container id with a path in it is refused: %s", err);
	spec = (struct docker_container_spec){.image = "nap-test-no-such-image:1"};
	r = docker_container_run(&id, docker, &spec, err, sizeof err);
	CHECK(r == -ENOENT, "running an image that does not exist: %s", err);

	if (docker_client_new(&bad, "/nonexistent/docker.sock") < 0)
		exit(99);
	r = docker_ping(bad, err, sizeof err);
	CHECK(r == -ECONNREFUSED && strstr(err, "/nonexistent/docker.sock"),
	      "an unreachable dockerd: one clear line: %s", err);
	docker_client_free(bad);
}

static void test_cancel(void)
{
	static struct event_log ev = {.lock = PTHREAD_MUTEX_INITIALIZER,
				      .filter = "nap.app=nap-test-nothing-happens"};
	double t0;

	if (pthread_create(&ev.thread, NULL, event_thread, &ev) != 0)
		exit(99);
	usleep(100000);
	t0 = now_ms();
	atomic_store(&ev.cancel, 1);
	pthread_join(ev.thread, NULL);
	CHECK(ev.rc == -ECANCELED, "the cancel flag ends an idle event stream in %.0f ms: %s",
	      now_ms() - t0, ev.err);
}

#define THREADS 8
#define PINGS 25

static void *ping_thread(void *arg)
{
	long failed = 0;
	char err[256];

	(void)arg;
	for (int i = 0; i < PINGS; i++)
		if (docker_ping(docker, err, sizeof err) < 0)
			failed++;
	return (void *)failed;
}

static void test_threads(void)
{
	pthread_t th[THREADS];
	long failed = 0;
	void *ret;

	for (int t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, ping_thread, NULL) != 0)
			exit(99);
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], &ret);
		failed += (long)ret;
	}
	CHECK(failed == 0, "%d threads x %d pings on one client", THREADS, PINGS);
}

int main(void)
{
	char err[512], url[256], *body = NULL;
	long status = 0;
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	registry = getenv("NAP_REGISTRY") ? getenv("NAP_REGISTRY") : "127.0.0.1:5000";
	if (docker_client_new(&docker, getenv("NAP_DOCKER_SOCKET")) < 0)
		return 99;
	if (docker_ping(docker, err, sizeof err) < 0)
		skip_all("test-docker-api: SKIP: %s", err);
	snprintf(url, sizeof url, "http://%s/v2/", registry);
	if (http_get(&status, &body, url, 5000) < 0 || status != 200)
		skip_all("test-docker-api: SKIP: no registry answers at %s", url);
	free(body);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(app_label, sizeof app_label, "nap.app=nap-test-%ld", (long)getpid());

	test_hello();
	test_broken_builds();
	test_checks();
	test_cancel();
	test_threads();

	if (shell("rm -rf '%s'", tmp) != 0)
		diag("could not remove %s", tmp);
	docker_client_free(docker);
	rc = DONE();
	curl_global_cleanup();
	return rc;
}
