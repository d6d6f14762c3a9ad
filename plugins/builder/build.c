/* plugins/builder: nap.Builder.Build — checks the request, takes its build
 * context (the tar archive a client uploaded, context.c), has dockerd build
 * it as <registry>/<app>:<release>, optionally pushes it, and streams what
 * Docker says as BuildEvents. The last event before the end names the image
 * and, after a push, its digest.
 *
 * The context goes to Docker streamed from its spool file, a chunk at a
 * time, so a build holds no more of it in memory than one chunk, whatever
 * its size. Nothing reaches Docker before the app name, release and context
 * have passed their checks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>

#include "builder.h"
#include "cancel_watch.h"
#include "context.h"
#include "names.h"
#include "spool.h"

/* Longest message of one BuildEvent; longer output lines are cut. */
#define EVENT_MESSAGE_MAX 4096

/* One Build call on its way: what the stream callbacks need. */
struct build_run {
	const struct builder *b;
	nap_plugin_call *call;
	const char *stage;   /* "build" or "push" */
	char step_text[256]; /* the instruction of the step being run */
	int step, steps;
	char *error; /* the first error Docker reported in the stream */
};

/* Sends one event; returns 0, or 1 to stop the Docker stream (the caller
 * went away). */
static int send_event(struct build_run *run, const char *message, size_t len, int step, int steps)
{
	char text[EVENT_MESSAGE_MAX + 1];
	Nap__BuildEvent ev = NAP__BUILD_EVENT__INIT;

	if (len > EVENT_MESSAGE_MAX)
		len = EVENT_MESSAGE_MAX;
	memcpy(text, message, len);
	text[len] = '\0';
	ev.stage = (char *)run->stage;
	ev.message = text;
	ev.step = (uint32_t)step;
	ev.steps = (uint32_t)steps;
	if (run->b->host->send(run->call, &ev.base) < 0 || run->b->host->cancelled(run->call))
		return 1;
	return 0;
}

static int keep_error(struct build_run *run, const char *error)
{
	if (run->error)
		return 0;
	run->error = strdup(error);
	return run->error ? 0 : -ENOMEM;
}

/* One line of build output: "Step 2/3 : RUN false" starts a step. */
static int build_output_line(struct build_run *run, const char *p, size_t len)
{
	char head[32];
	int step, steps, at = 0;

	snprintf(head, sizeof(head), "%.*s", (int)(len < sizeof(head) - 1 ? len : sizeof(head) - 1),
		 p);
	if (sscanf(head, "Step %d/%d :%n", &step, &steps, &at) == 2 && at > 0 && step > 0 &&
	    steps >= step) {
		const char *text = p + at;
		size_t n = len - (size_t)at;

		while (n > 0 && *text == ' ')
			text++, n--;
		snprintf(run->step_text, sizeof(run->step_text), "%.*s", (int)n, text);
		run->step = step;
		run->steps = steps;
		return send_event(run, p, len, step, steps);
	}
	return send_event(run, p, len, 0, 0);
}

/* docker_line_fn for the build: each output line becomes an event. */
static int on_build_line(void *user, const struct docker_line *line)
{
	struct build_run *run = user;
	const char *text = line->stream ? line->stream : line->status;
	int r;

	if (line->error) {
		r = keep_error(run, line->error);
		return r ? r : send_event(run, line->error, strlen(line->error), 0, 0);
	}
	/* A "stream" may hold several lines, or only part of one with its newline. */
	while (text && *text) {
		size_t len = strcspn(text, "\n");
		size_t shown = len;

		while (shown > 0 && (text[shown - 1] == '\r' || text[shown - 1] == ' '))
			shown--;
		if (shown > 0) {
			r = build_output_line(run, text, shown);
			if (r)
				return r;
		}
		text += len;
		if (*text == '\n')
			text++;
	}
	return 0;
}

/* docker_line_fn for the push: status lines, without the progress bars. */
static int on_push_line(void *user, const struct docker_line *line)
{
	struct build_run *run = user;
	char msg[512];
	const char *id;
	int n;

	if (line->error) {
		int r = keep_error(run, line->error);

		return r ? r : send_event(run, line->error, strlen(line->error), 0, 0);
	}
	if (!line->status || json_object_get(line->object, "progress"))
		return run->b->host->cancelled(run->call) ? 1 : 0;
	id = json_string_value(json_object_get(line->object, "id"));
	n = id ? snprintf(msg, sizeof(msg), "%s: %s", id, line->status)
	       : snprintf(msg, sizeof(msg), "%s", line->status);
	if (n < 0)
		return 0;
	return send_event(run, msg, strlen(msg), 0, 0);
}

/* Ends the call for a Docker request that could not even start. A missing
 * socket says so rather than curl's "connection refused". */
static void end_unreachable(const struct builder *b, nap_plugin_call *call, int r)
{
	struct stat st;
	const char *reason = strerror(-r);

	if (stat(b->socket_path, &st) < 0)
		reason = strerror(errno);
	b->host->end(call, NAP_UNAVAILABLE, "cannot reach Docker at %s: %s; is dockerd running?",
		     b->socket_path, reason);
}

/* Checks the request; ends the call and returns false if it is refused. */
static bool check_request(const struct builder *b, nap_plugin_call *call,
			  const Nap__BuildRequest *req)
{
	char shown[80];

	if (!nap_app_name_valid(req->app)) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "invalid app name \"%s\": use 1 to 63 lowercase letters, digits and "
			     "'-', starting with a letter",
			     builder_printable(shown, sizeof(shown), req->app));
		return false;
	}
	if (req->release == 0) {
		b->host->end(call, NAP_INVALID_ARGUMENT, "release must be 1 or more");
		return false;
	}
	return true;
}

/* What read_context() reads: the context, and the call's cancel flag (a
 * context still arriving is waited for only while the call stands). */
struct context_source {
	struct spool_reader *reader;
	const atomic_int *cancel;
	bool upload_failed; /* its upload failed while Docker read it */
};

/* docker_read_fn over the context's spool file. */
static ssize_t read_context(void *user, void *buf, size_t len)
{
	struct context_source *src = user;
	ssize_t n = spool_read(src->reader, buf, len, src->cancel);

	if (n == -EPIPE)
		src->upload_failed = true;
	return n;
}

/* Builds; ends the call and returns -1 on failure. */
static int run_build(struct build_run *run, const char *tag, struct spool_reader *context,
		     const atomic_int *cancel)
{
	const struct builder *b = run->b;
	struct docker_build_options opts = {.tag = tag, .cancel = cancel};
	struct context_source src = {.reader = context, .cancel = cancel};
	char err[1024] = "";
	int r;

	run->stage = "build";
	r = docker_build(NULL, b->docker, &opts, read_context, &src, on_build_line, run, err,
			 sizeof(err));
	if (r == 0)
		return 0;
	if (src.upload_failed)
		b->host->end(run->call, NAP_ABORTED,
			     "the upload of the build context failed or was cancelled while it "
			     "was built");
	else if (r == -ECANCELED || b->host->cancelled(run->call))
		b->host->end(run->call, NAP_CANCELLED, "build of %s cancelled", tag);
	else if (r == -ECONNREFUSED)
		end_unreachable(b, run->call, r);
	else if (r == -ETIMEDOUT)
		b->host->end(run->call, NAP_UNAVAILABLE,
			     "Docker at %s did not answer in time; is dockerd overloaded?",
			     b->socket_path);
	else if (run->error && run->step > 0)
		b->host->end(run->call, NAP_FAILED_PRECONDITION,
			     "build failed at step %d/%d (%s): %s", run->step, run->steps,
			     run->step_text, run->error);
	else if (run->error)
		b->host->end(run->call, NAP_FAILED_PRECONDITION, "build failed: %s", run->error);
	else if (r == -EIO || r == -EINVAL) /* Docker refused the Dockerfile */
		b->host->end(run->call, NAP_FAILED_PRECONDITION, "build failed: %s",
			     strncmp(err, "build: ", 7) == 0 ? err + 7 : err);
	else if (r == -ENOMEM)
		b->host->end(run->call, NAP_RESOURCE_EXHAUSTED, "out of memory during the build");
	else
		b->host->end(run->call, NAP_INTERNAL, "build of %s failed: %s", tag, err);
	return -1;
}

/* Pushes; on success *digestp is the manifest's digest (caller frees). Ends
 * the call and returns -1 on failure. */
static int run_push(char **digestp, struct build_run *run, const char *repo, const char *tag,
		    const atomic_int *cancel)
{
	const struct builder *b = run->b;
	char err[1024] = "";
	int r;

	run->stage = "push";
	free(run->error);
	run->error = NULL;
	r = docker_push(digestp, b->docker, repo, tag, on_push_line, run, cancel, err, sizeof(err));
	if (r == 0)
		return 0;
	if (r == -ECANCELED || b->host->cancelled(run->call))
		b->host->end(run->call, NAP_CANCELLED, "push of %s:%s cancelled", repo, tag);
	else if (r == -ECONNREFUSED)
		end_unreachable(b, run->call, r);
	else if (r == -ENOMEM)
		b->host->end(run->call, NAP_RESOURCE_EXHAUSTED, "out of memory during the push");
	else if (strstr(run->error ? run->error : err, "HTTP status: 5"))
		/* The registry answered but failed to store the image: Docker
		 * passes on only the status; the reason (often a full disk) is
		 * in the registry's own log. */
		b->host->end(run->call, NAP_UNAVAILABLE,
			     "cannot push %s:%s: the registry at %s failed to store it (%s); see "
			     "its log for why (a full disk says \"no space left on device\")",
			     repo, tag, b->registry, run->error ? run->error : err);
	else
		b->host->end(run->call, NAP_UNAVAILABLE,
			     "cannot push %s:%s to the registry at %s: %s; check that "
			     "docker-registry is running there (scripts/servers status)",
			     repo, tag, b->registry, run->error ? run->error : err);
	return -1;
}

/* The last event: the image, and its digest after a push. */
static void send_result(struct build_run *run, const char *image, const char *digest)
{
	char msg[1024];
	Nap__BuildEvent ev = NAP__BUILD_EVENT__INIT;

	if (digest)
		snprintf(msg, sizeof(msg), "pushed %s (%s)", image, digest);
	else
		snprintf(msg, sizeof(msg), "built %s", image);
	ev.stage = (char *)run->stage;
	ev.message = msg;
	ev.image = (char *)image;
	ev.digest = (char *)(digest ? digest : "");
	/* A failed send means the caller went away; the call still ends once. */
	run->b->host->send(run->call, &ev.base);
	run->b->host->end(run->call, NAP_OK, "%s", "");
}

void builder_build(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct builder *b = state;
	const Nap__BuildRequest *req = (const Nap__BuildRequest *)request;
	struct build_run run = {.b = b, .call = call, .stage = "build"};
	struct cancel_watch watch;
	char repo[BUILDER_REGISTRY_MAX + 80], tag[16], image[sizeof(repo) + sizeof(tag)];
	char err[512] = "", *digest = NULL;
	struct spool_reader *context = NULL;
	uint64_t context_len = 0;
	int r;

	/* The context is taken first, so that however the build ends it ends
	 * with its spool file deleted (closing the reader). */
	if (!check_request(b, call, req) ||
	    builder_context_take(&context, &context_len, b, call, req) < 0)
		return;
	snprintf(repo, sizeof(repo), "%s/%s", b->registry, req->app);
	snprintf(tag, sizeof(tag), "%u", req->release);
	snprintf(image, sizeof(image), "%s:%s", repo, tag);

	/* Ask Docker first: an unreachable dockerd is the likeliest failure
	 * and should not wait for the directory to be read. */
	r = docker_ping(b->docker, err, sizeof(err));
	if (r == -ECONNREFUSED || r == -ETIMEDOUT) {
		spool_reader_close(context);
		end_unreachable(b, call, r);
		return;
	}
	if (r < 0) {
		spool_reader_close(context);
		b->host->end(call, NAP_UNAVAILABLE, "Docker at %s is not well: %s", b->socket_path,
			     err);
		return;
	}
	r = cancel_watch_start(&watch, b->host, call);
	if (r < 0) {
		spool_reader_close(context);
		b->host->end(call, NAP_RESOURCE_EXHAUSTED, "cannot start a thread: %s",
			     strerror(-r));
		return;
	}
	b->host->log(NAP_LOG_INFO, "builder: building %s from %s (%llu bytes of context)", image,
		     req->context_id && *req->context_id ? "an uploaded context" : req->dir,
		     (unsigned long long)context_len);
	r = run_build(&run, image, context, &watch.cancel);
	spool_reader_close(context);
	if (r == 0 && req->push)
		r = run_push(&digest, &run, repo, tag, &watch.cancel);
	cancel_watch_stop(&watch);
	if (r == 0) {
		b->host->log(NAP_LOG_INFO, "builder: %s %s%s%s", req->push ? "pushed" : "built",
			     image, digest ? " " : "", digest ? digest : "");
		send_result(&run, image, digest);
	}
	free(digest);
	free(run.error);
}
