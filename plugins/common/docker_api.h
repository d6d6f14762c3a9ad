/* plugins/common: a Docker Engine API (v1.41) client over dockerd's Unix
 * socket, for the builder and scheduler-local plugins.
 *
 * Conventions:
 *  - Functions return 0 on success or a negative errno; on failure they write
 *    one line for the user into (err, errlen) (see errbuf.h).
 *  - Out-parameters come first and are written only on success; what they
 *    return is owned by the caller, who frees it as each function says.
 *  - Errors: -ECONNREFUSED dockerd cannot be reached; -ETIMEDOUT a request
 *    took longer than its limit; -ECANCELED a cancel flag was set;
 *    -EINVAL a bad argument (checked here) or HTTP 400; -ENOENT HTTP 404 (no
 *    such container/image); -EEXIST HTTP 409 (name in use, image in use);
 *    -EIO HTTP 5xx, or an error Docker reported inside a 200 stream (a build
 *    step or a push that failed: err holds Docker's message); -EPROTO an
 *    answer we cannot read; -ENOMEM.
 *  - Thread-safety: a docker_client is immutable after docker_client_new(),
 *    so every function may run in several threads at once on one client;
 *    each request uses its own curl handle. The caller must have called
 *    curl_global_init(CURL_GLOBAL_DEFAULT) once, before any thread uses this.
 *  - Timeouts: every request is bounded by DOCKER_TIMEOUT_MS (stop: its
 *    grace period more) except the streams (build, push, events), which
 *    only bound the connection set-up and can be cancelled instead. */
#ifndef NAP_PLUGIN_COMMON_DOCKER_API_H
#define NAP_PLUGIN_COMMON_DOCKER_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_API_VERSION "v1.41"
/* Limit on every request that is not a stream. */
#define DOCKER_TIMEOUT_MS 30000L

typedef struct docker_client docker_client;

/* A key and a value (labels). */
struct docker_kv {
	const char *key;
	const char *value;
};

/* Makes a client for dockerd at socket_path (NULL: DOCKER_DEFAULT_SOCKET):
 * a Unix socket ("/path" or "unix:///path") or an engine over TCP
 * ("tcp://host:port", plain HTTP: only on a network you trust, as Docker
 * says). Nothing is connected yet. Free it with docker_client_free().
 * Returns 0, -EINVAL (none of those forms) or -ENOMEM. */
int docker_client_new(docker_client **clientp, const char *socket_path);

/* Frees c (NULL is fine); returns NULL. */
docker_client *docker_client_free(docker_client *c);

/* GET /_ping. Returns 0 if dockerd answers "OK". */
int docker_ping(docker_client *c, char *err, size_t errlen);

/* ---- streams of JSON lines (build, push) ---- */

/* One decoded line of a build or push stream. Everything is borrowed and
 * valid during the callback only. */
struct docker_line {
	json_t *object;	    /* the whole decoded object */
	const char *stream; /* "stream" text (build output, with its newline), or NULL */
	const char *status; /* "status" text (push progress), or NULL */
	const char *error;  /* errorDetail.message (else "error"), or NULL */
	json_t *aux; /* "aux" object ({"ID":…} after a build, {"Digest":…} after a push), or NULL */
	int step;  /* build: the step being run ("Step 2/5"), 0 before the first */
	int steps; /* build: the number of steps, 0 before the first */
};

/* Called for every line. Return 0 to go on; a nonzero value stops the
 * request, which then fails with -ECANCELED (positive value) or with the
 * negative value returned. */
typedef int (*docker_line_fn)(void *user, const struct docker_line *line);

/* Supplies the build context tar: fills buf with up to len bytes and returns
 * how many, 0 at the end, or a negative errno to abandon the build. */
typedef ssize_t (*docker_read_fn)(void *user, void *buf, size_t len);

struct docker_build_options {
	const char *tag;	/* required: "127.0.0.1:5000/app:3" */
	const char *dockerfile; /* path in the context; NULL: "Dockerfile" */
	bool no_cache;
	const struct docker_kv *labels; /* image labels, n_labels of them */
	size_t n_labels;
	const atomic_int *cancel; /* optional: set it to abandon the build */
};

/* POST /build with the tar context that read() supplies (sent chunked, so
 * it may be any size and is never held here whole). line() (may be NULL)
 * sees every line. On success, if image_idp is not NULL, *image_idp is the
 * image ID ("sha256:…"), which the caller frees with free(). A failing
 * step returns -EIO with err "step 2/4 failed: <Docker's message>". */
int docker_build(char **image_idp, docker_client *c, const struct docker_build_options *opts,
		 docker_read_fn read, void *read_user, docker_line_fn line, void *line_user,
		 char *err, size_t errlen);

/* docker_build() with the whole context tar in memory (tar, tar_len). */
int docker_build_buffer(char **image_idp, docker_client *c, const struct docker_build_options *opts,
			const void *tar, size_t tar_len, docker_line_fn line, void *line_user,
			char *err, size_t errlen);

/* POST /images/<repo>/push?tag=<tag>, e.g. repo "127.0.0.1:5000/app", tag
 * "3", with an empty X-Registry-Auth (the registry needs no credentials).
 * line() (may be NULL) sees the progress. On success, if digestp is not
 * NULL, *digestp is the pushed manifest's digest ("sha256:…"), which the
 * caller frees with free(). A refused push returns -EIO with Docker's
 * message. cancel is optional. */
int docker_push(char **digestp, docker_client *c, const char *repo, const char *tag,
		docker_line_fn line, void *line_user, const atomic_int *cancel, char *err,
		size_t errlen);

/* DELETE /images/<image>?force=…: removes an image (name, name:tag or ID).
 * -ENOENT if there is no such image, -EEXIST if a container uses it and
 * force is false. */
int docker_image_remove(docker_client *c, const char *image, bool force, char *err, size_t errlen);

/* ---- containers ---- */

struct docker_container_spec {
	const char *image;	/* required */
	const char *name;	/* optional container name: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
	const char *const *env; /* "KEY=value" strings, n_env of them */
	size_t n_env;
	const struct docker_kv *labels;
	size_t n_labels;
	int64_t memory; /* limit in bytes; 0: none */
};

/* POST /containers/create with PublishAllPorts and Init set (so a PID 1
 * that ignores SIGTERM still stops at once) and no restart policy (the
 * orchestrator restarts instances), then POST …/start. On success
 * *idp is the new container's ID (caller frees it). If start fails, the
 * created container is removed again. */
int docker_container_run(char **idp, docker_client *c, const struct docker_container_spec *spec,
			 char *err, size_t errlen);

/* One published port: container_port/proto is reachable at host_ip:host_port.
 * Docker 20.10 binds IPv4 ("0.0.0.0") and IPv6 ("::") separately and may
 * give them different host ports: choose a binding by its host_ip. */
struct docker_port {
	unsigned container_port;
	char proto[8];	  /* "tcp", "udp", "sctp" */
	char host_ip[64]; /* "0.0.0.0", "::" */
	unsigned host_port;
};

struct docker_container_info {
	char *id;
	char *name;  /* without the leading '/' */
	char *image; /* as given at create */
	char *state; /* "created", "running", "exited", ... */
	bool running;
	int exit_code;
	struct docker_port *ports; /* published ports, n_ports of them */
	size_t n_ports;
	bool oom_killed;	  /* State.OOMKilled: the kernel killed it for memory */
	char *health;		  /* State.Health.Status: "starting", "healthy",
				   * "unhealthy"; "" without a HEALTHCHECK */
	uint64_t started_unix_ms; /* State.StartedAt; 0 if it never started */
	json_t *labels;		  /* Config.Labels: label -> string (an object, maybe
				   * empty); owned by info */
};

/* GET /containers/<id>/json. On success *infop is the container's state and
 * published ports; free it with docker_container_info_free(). -ENOENT if
 * there is no such container. */
int docker_container_inspect(struct docker_container_info **infop, docker_client *c, const char *id,
			     char *err, size_t errlen);

/* Frees info (NULL is fine); returns NULL. */
struct docker_container_info *docker_container_info_free(struct docker_container_info *info);

/* POST /containers/<id>/stop?t=<grace_s>. A container that is already
 * stopped is not an error. -ENOENT if there is no such container. */
int docker_container_stop(docker_client *c, const char *id, int grace_s, char *err, size_t errlen);

/* DELETE /containers/<id>?force=1&v=1: kills it if running and removes it
 * with its anonymous volumes. -ENOENT if there is no such container. */
int docker_container_remove(docker_client *c, const char *id, char *err, size_t errlen);

/* One container in a list. */
struct docker_container_summary {
	char *id;
	char *name; /* the first name, without '/' */
	char *image;
	char *state;	/* "running", "exited", ... */
	json_t *labels; /* object of label → string; owned by the list */
};

/* GET /containers/json?all=…&filters={"label":[…]}: the containers (running
 * only unless all) that match every label filter ("key" or "key=value").
 * On success *listp is an array of *np entries (possibly 0 and NULL); free
 * it with docker_container_list_free(). */
int docker_container_list(struct docker_container_summary **listp, size_t *np, docker_client *c,
			  const char *const *label_filters, size_t n_filters, bool all, char *err,
			  size_t errlen);

void docker_container_list_free(struct docker_container_summary *list, size_t n);

/* ---- events ---- */

/* One event; everything is borrowed and valid during the callback only. */
struct docker_event {
	json_t *object;	    /* the whole decoded event */
	const char *type;   /* "container", "image", "network", ... */
	const char *action; /* "create", "start", "die", "destroy", ... */
	const char *id;	    /* Actor.ID: the container ID for container events */
	json_t *attributes; /* Actor.Attributes: labels, "name", "image", "exitCode" */
	int64_t time_nano;  /* when it happened, nanoseconds since the epoch */
};

/* Called per event: return 0 to go on, a positive value to end
 * docker_events() with 0, a negative errno to end it with that value. */
typedef int (*docker_event_fn)(void *user, const struct docker_event *ev);

/* GET /events, following the stream until event() says stop (0), *cancel
 * becomes nonzero (-ECANCELED, noticed within about a second; cancel may be
 * NULL), or the stream ends: -ECONNRESET when dockerd closed it (it is
 * stopping), -EPROTO when the connection broke. To resume without a gap,
 * call again with since_nano set to the last event's time_nano (that event
 * may then be seen twice). Only events matching every label filter ("key"
 * or "key=value") are sent. since_nano: replay events from then on (0: only
 * new ones). */
int docker_events(docker_client *c, const char *const *label_filters, size_t n_filters,
		  int64_t since_nano, docker_event_fn event, void *user, const atomic_int *cancel,
		  char *err, size_t errlen);

/* ---- JSON requests, images, Swarm (docker_swarm.c) ---- */

/* One request whose answer is JSON: method, path after "/v1.41" with its
 * query ("/services?filters=…"), body a JSON value or NULL (not consumed).
 * On success *outp (if outp is not NULL) is the decoded answer, owned by the
 * caller (json_decref), or NULL for an empty body. Errors as above; what
 * names the request in err. */
int docker_json(json_t **outp, docker_client *c, const char *method, const char *path, json_t *body,
		const char *what, char *err, size_t errlen);

/* The TCP ports an image EXPOSEs (Config.ExposedPorts), ascending: *portsp
 * (caller frees; NULL when *np is 0). -ENOENT if there is no such image. */
int docker_image_tcp_ports(unsigned **portsp, size_t *np, docker_client *c, const char *image,
			   char *err, size_t errlen);

/* GET path (e.g. "/services/<id>/logs?stdout=1&stderr=1&tail=100"), whose
 * answer is Docker's multiplexed log stream, collected whole (at most
 * HTTP_MAX_BODY): line() gets each line (without its newline) of stream 1
 * (stdout) or 2 (stderr); a raw (TTY) answer counts as stdout. A nonzero
 * return of line() stops and is returned. */
typedef int (*docker_log_line_fn)(void *user, int stream, const char *line, size_t len);
int docker_logs_get(docker_client *c, const char *path, docker_log_line_fn line, void *user,
		    char *err, size_t errlen);

#endif
