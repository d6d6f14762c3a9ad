/* napc: the build context of a deploy, packed here and sent (protocol 1.2).
 *
 * napc reads the directory as the user who runs it (core/context: a tar
 * archive honouring .dockerignore) and streams the archive to the builder
 * with nap.Builder.Upload while it packs: no temporary file, and no more
 * than one chunk in memory, because nap_call_send_wait() waits for the
 * bus's credit. The directory is walked once first without reading any file
 * (tar_context_measure()): that finds an entry the user cannot read before
 * anything is sent, and gives the size the first message announces.
 *
 * The builder answers the context's id as soon as the upload starts; the
 * caller's on_id then starts the Deploy, whose build reads the context as it
 * arrives, so that sending and building overlap as with `docker build`.
 * Both calls share the connection: waiting for credit here also delivers
 * the Deploy's events. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nap/builder.pb-c.h>
#include <nap/bus.h>
#include <nap/limits.h>

#include "napc.h"
#include "tar_context.h"

struct upload {
	struct napc *n;
	nap_call *call;
	bool done; /* the call ended (its last reply, or the builder refused) */
	int status;
	char message[1024];
	char id[NAP_CONTEXT_ID_LEN + 1]; /* from the first ContextReply */
	uint64_t kept;                   /* from the last one */
	napc_context_fn on_id;
	void *on_id_ud;
	bool started;     /* on_id ran */
	int start_result; /* what it returned */
	const bool *stop; /* set by the caller's Deploy ending */
	uint8_t buf[NAP_CONTEXT_CHUNK];
	size_t len;                    /* bytes in buf */
	unsigned long long sent, size; /* bytes sent so far, of size */
	bool progress;                 /* show "sending context: ..." */
	struct timespec shown;         /* when the progress line was last drawn */
	int send_error;                /* nap_call_send_wait()'s, when it failed */
};

static void on_upload(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct upload *u = ud;
	if (!r->end) {
		Nap__ContextReply *m = nap__context_reply__unpack(NULL, r->payload_len, r->payload);
		if (!m)
			return;
		if (!u->id[0] && m->context_id && strlen(m->context_id) == NAP_CONTEXT_ID_LEN)
			memcpy(u->id, m->context_id, sizeof(u->id));
		u->kept = m->size;
		nap__context_reply__free_unpacked(m, NULL);
		return;
	}
	u->done = true;
	u->status = r->status;
	snprintf(u->message, sizeof(u->message), "%s", r->message);
}

/* Starts the caller's Deploy once the id came; false when it could not. */
static bool start_deploy(struct upload *u)
{
	if (u->started || !u->id[0])
		return true;
	u->started = true;
	u->start_result = u->on_id(u->on_id_ud, u->id);
	return u->start_result == NAPC_EXIT_OK;
}

static double mib(unsigned long long bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* The bytes sent, once the builder kept them: the last progress line on a
 * terminal, one line of text otherwise, or a JSON object with --json. */
static void show_sent(const struct upload *u)
{
	if (u->n->json) {
		napc_print_json(json_pack("{s:s, s:s, s:I}", "stage", "context", "message",
					  "sent the build context", "bytes", (json_int_t)u->sent));
	} else if (!u->progress) {
		printf("context: sent %llu bytes (%.1f MiB)\n", u->sent, mib(u->sent));
		fflush(stdout);
	}
}

/* Redraws the progress line at most ten times a second (and at the end). */
static void show_progress(struct upload *u, bool last)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - u->shown.tv_sec) * 1000 +
		  (now.tv_nsec - u->shown.tv_nsec) / 1000000;
	if (!u->progress || (!last && ms < 100))
		return;
	u->shown = now;
	printf("\r\033[Ksending context: %.1f MiB of %.1f MiB%s", mib(u->sent), mib(u->size),
	       last ? "\n" : "");
	fflush(stdout);
}

/* Sends what buf holds as one ContextChunk. */
static int flush_chunk(struct upload *u)
{
	Nap__ContextChunk c = NAP__CONTEXT_CHUNK__INIT;
	c.data.data = u->buf;
	c.data.len = u->len;
	/* The builder ended the call, or the Deploy did: nobody listens. */
	if (u->done || *u->stop || !start_deploy(u))
		return -ECANCELED;
	int r = nap_call_send_wait(u->call, &c.base, -1);
	if (r < 0) {
		u->send_error = r;
		return -ECANCELED;
	}
	u->sent += u->len;
	u->len = 0;
	show_progress(u, false);
	return 0;
}

/* tar_context_write_fn: fills buf, sending each full chunk. */
static int sink(void *user, const void *data, size_t len)
{
	struct upload *u = user;
	const uint8_t *p = data;
	while (len > 0) {
		size_t n = sizeof(u->buf) - u->len;
		if (n > len)
			n = len;
		memcpy(u->buf + u->len, p, n);
		u->len += n;
		p += n;
		len -= n;
		if (u->len == sizeof(u->buf)) {
			int r = flush_chunk(u);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Ends a failed upload: the builder's reason when it gave one, or
 * NAPC_EXIT_OK to let the Deploy that started tell. */
static int upload_failed(struct upload *u, int r, const char *what)
{
	bool refused = u->done && u->status != NAP_OK;
	if (u->progress && u->sent)
		fputc('\n', stdout);
	if (!u->done && u->call)
		nap_call_cancel(u->call); /* the builder deletes what it has */
	if (u->started && u->start_result != NAPC_EXIT_OK)
		return u->start_result; /* on_id said why */
	/* The Deploy ended first, or it reads this context and fails with it
	 * (at stage build, with the reason and the release that keeps serving):
	 * its end says why, in one line. */
	if (*u->stop || u->started)
		return NAPC_EXIT_OK;
	if (refused) {
		nap_error err = {.status = u->status};
		snprintf(err.message, sizeof(err.message), "%s", u->message);
		return napc_fail(u->n, &err, -EPROTO);
	}
	nap_error err = {NAP_UNAVAILABLE, ""};
	snprintf(err.message, sizeof(err.message), "%s: %s", what, strerror(-r));
	return napc_fail(u->n, &err, r);
}

static int send_context(struct upload *u, const char *app, const char *dir)
{
	char err[1024] = "";
	Nap__ContextChunk first = NAP__CONTEXT_CHUNK__INIT;
	first.app = (char *)app;
	first.size = u->size;
	int r = nap_call_start(&u->call, u->n->conn, "nap.Builder",
			       (uint32_t)nap_method_index(&nap__builder__descriptor, "Upload"),
			       &first.base, u->n->timeout_given ? u->n->timeout_ms : 0, on_upload,
			       u);
	if (r < 0)
		return upload_failed(u, r, "cannot start the upload of the build context");
	clock_gettime(CLOCK_MONOTONIC, &u->shown);
	r = tar_context_write(dir, NULL, sink, u, err, sizeof(err));
	if (r == 0 && u->len)
		r = flush_chunk(u);
	if (r < 0 && !u->done && !u->send_error && !*u->stop && u->start_result == 0) {
		/* the directory, not the bus: say what could not be read (the
		 * cancel has the builder delete what it received) */
		if (u->progress && u->sent)
			fputc('\n', stdout);
		nap_call_cancel(u->call);
		fprintf(stderr, "napc: %s\n", err);
		return NAPC_EXIT_USAGE;
	}
	if (r < 0)
		return upload_failed(u, u->send_error ? u->send_error : r,
				     "cannot send the build context");
	if (u->done) /* the builder ended the call before the close */
		return upload_failed(u, -EPIPE, "the upload of the build context");
	if (u->sent != u->size) {
		nap_call_cancel(u->call);
		fprintf(stderr, "napc: %s changed while it was sent: deploy again\n", dir);
		return NAPC_EXIT_USAGE;
	}
	r = nap_call_close_send(u->call);
	while (r >= 0 && !u->done && !*u->stop && start_deploy(u))
		r = nap_conn_wait(u->n->conn, -1);
	if (r >= 0 && u->done && u->status == NAP_OK && !start_deploy(u))
		r = -ECANCELED;
	if (r < 0 || !u->done || u->status != NAP_OK || !u->id[0] || u->kept != u->size)
		return upload_failed(u, r < 0 ? r : -EPROTO, "the upload of the build context");
	show_progress(u, true);
	show_sent(u);
	return NAPC_EXIT_OK;
}

int napc_upload_context(struct napc *n, const char *app, const char *dir, napc_context_fn on_id,
			void *ud, const bool *stop)
{
	char err[1024] = "";
	unsigned long long size;
	/* Everything is opened here first, as this user: an unreadable entry
	 * is refused before anything is sent. */
	int r = tar_context_measure(&size, dir, NULL, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "napc: %s\n", err);
		return NAPC_EXIT_USAGE;
	}
	r = napc_connect(n);
	if (r)
		return r;
	/* An older napd gets no call at all: one line says to upgrade it. */
	nap_error e = {0};
	r = nap_conn_require(n->conn, 2, n->timeout_given ? (int)n->timeout_ms : -1, &e);
	if (r < 0 && !e.message[0]) {
		e.status = NAP_UNAVAILABLE;
		snprintf(e.message, sizeof(e.message), "napd did not say hello: %s", strerror(-r));
	}
	if (r < 0)
		return napc_fail(n, &e, r);
	static struct upload u; /* 64 KiB of buffer: not on the stack */
	u = (struct upload){.n = n,
			    .size = size,
			    .progress = isatty(1) && !n->json,
			    .on_id = on_id,
			    .on_id_ud = ud,
			    .stop = stop};
	return send_context(&u, app, dir);
}
