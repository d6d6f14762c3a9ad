/* plugins/builder: nap.Builder.Upload (protocol 1.2) — a client streams a
 * build context (the tar archive napc packs as the calling user) into a spool
 * file of the builder's own (spool.h). The context's id comes back at once,
 * in a first ContextReply, so that the client's Deploy can start (and its
 * build read the context as it arrives) while the upload goes on; a last
 * ContextReply with the size kept ends the call. Memory stays bounded: each
 * chunk is written out as it comes, and the bus's flow control holds the
 * client back meanwhile.
 *
 * Nothing is kept from an upload that does not end well: a refused size, a
 * write that fails (full disk), more or fewer bytes than announced, a cancel,
 * a passed deadline or a caller that went away all delete the file. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/names.h>

#include "builder.h"
#include "names.h"
#include "spool.h"

/* Ends the call for a failed write or finish (the upload is gone). */
static void end_failed(const struct builder *b, nap_plugin_call *call, int r, const char *err)
{
	if (r == -EFBIG || r == -EPROTO)
		b->host->end(call, NAP_INVALID_ARGUMENT, "%s", err);
	else if (r == -ENOSPC || r == -EDQUOT || r == -ENOMEM)
		b->host->end(call, NAP_RESOURCE_EXHAUSTED, "%s", err);
	else
		b->host->end(call, NAP_INTERNAL, "%s", err);
}

/* Receives the chunks after the first into u until the caller closes its
 * side. Returns 0, or -1 with u aborted and the call ended. */
static int receive(const struct builder *b, nap_plugin_call *call, struct spool_upload *u,
		   const char *app)
{
	char err[512] = "";

	for (;;) {
		ProtobufCMessage *msg = NULL;
		int r = b->host->recv(call, &msg);

		if (r == 0)
			return 0;
		if (r == -EBADMSG) { /* the host ended the call, saying so */
			spool_upload_abort(u);
			return -1;
		}
		if (r < 0) {
			b->host->log(NAP_LOG_INFO,
				     "builder: the upload of a build context for %s was cancelled "
				     "after %llu bytes; they are deleted",
				     app, (unsigned long long)spool_upload_size(u));
			spool_upload_abort(u);
			b->host->end(call, NAP_CANCELLED, "upload of the build context cancelled");
			return -1;
		}
		const Nap__ContextChunk *c = (const Nap__ContextChunk *)msg;

		r = spool_upload_write(u, c->data.data, c->data.len, err, sizeof(err));
		protobuf_c_message_free_unpacked(msg, NULL);
		if (r < 0) {
			spool_upload_abort(u);
			end_failed(b, call, r, err);
			return -1;
		}
	}
}

void builder_upload(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct builder *b = state;
	const Nap__ContextChunk *first = (const Nap__ContextChunk *)request;
	Nap__ContextReply reply = NAP__CONTEXT_REPLY__INIT;
	struct spool_upload *u = NULL;
	char id[SPOOL_ID_LEN + 1], shown[80], err[512] = "";
	uint64_t size;
	int r;

	if (!NAP_HOST_HAS(b->host, recv)) { /* a host older than protocol 1.2 */
		b->host->end(call, NAP_UNIMPLEMENTED,
			     "this napd cannot receive a build context (protocol 1.2): upgrade "
			     "napd");
		return;
	}
	if (!nap_app_name_valid(first->app)) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "invalid app name \"%s\": use 1 to 63 lowercase letters, digits and "
			     "'-', starting with a letter",
			     builder_printable(shown, sizeof(shown), first->app));
		return;
	}
	r = spool_upload_start(&u, id, b->spool, first->app, first->size, err, sizeof(err));
	if (r == -EFBIG) {
		b->host->end(call, NAP_FAILED_PRECONDITION,
			     "%s: list what the image does not need in its .dockerignore", err);
		return;
	}
	if (r < 0) {
		end_failed(b, call, r, err);
		return;
	}
	reply.context_id = id;
	if (b->host->send(call, &reply.base) < 0) {
		spool_upload_abort(u);
		b->host->end(call, NAP_CANCELLED, "upload of the build context cancelled");
		return;
	}
	r = spool_upload_write(u, first->data.data, first->data.len, err, sizeof(err));
	if (r < 0) {
		spool_upload_abort(u);
		end_failed(b, call, r, err);
		return;
	}
	if (receive(b, call, u, first->app) < 0)
		return;
	size = spool_upload_size(u);
	r = spool_upload_finish(u, err, sizeof(err));
	if (r < 0) {
		end_failed(b, call, r, err);
		return;
	}
	b->host->log(NAP_LOG_INFO, "builder: received a build context of %llu bytes for %s (%s)",
		     (unsigned long long)size, first->app, id);
	reply.size = size;
	b->host->send(call, &reply.base); /* a caller gone by now loses nothing */
	b->host->end(call, NAP_OK, "%s", "");
}
