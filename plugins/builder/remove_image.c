/* plugins/builder: nap.Builder.RemoveImage — removes one local image tag
 * (an image with other tags keeps them). An image that is already gone
 * counts as removed, so that clean-ups can be repeated. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>

#include "builder.h"
#include "names.h"

void builder_remove_image(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct builder *b = state;
	const Nap__RemoveImageRequest *req = (const Nap__RemoveImageRequest *)request;
	Nap__RemoveImageReply reply = NAP__REMOVE_IMAGE_REPLY__INIT;
	char err[512] = "", shown[80];
	int r;

	/* Checked here, not only by the Docker client: the reference goes into
	 * a URL path, where "x/../../containers/y" would address something
	 * else entirely. */
	if (!builder_valid_image(req->image) || strlen(req->image) > NAP_IMAGE_REF_MAX) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "invalid image reference \"%s\": expected [host[:port]/]name[:tag]",
			     builder_printable(shown, sizeof(shown), req->image));
		return;
	}
	r = docker_image_remove(b->docker, req->image, false, err, sizeof(err));
	switch (r) {
	case 0:
		b->host->log(NAP_LOG_INFO, "builder: removed image %s", req->image);
		/* fall through */
	case -ENOENT:
		b->host->reply(call, &reply.base);
		break;
	case -ECONNREFUSED:
		b->host->end(call, NAP_UNAVAILABLE,
			     "cannot reach Docker at %s: %s; is dockerd running?", b->socket_path,
			     err);
		break;
	case -EEXIST:
		b->host->end(call, NAP_FAILED_PRECONDITION,
			     "image %s is used by a container: remove the container first",
			     req->image);
		break;
	case -ETIMEDOUT:
		b->host->end(call, NAP_UNAVAILABLE,
			     "Docker at %s did not answer in time removing %s", b->socket_path,
			     req->image);
		break;
	default:
		b->host->end(call, NAP_INTERNAL, "cannot remove image %s: %s", req->image, err);
		break;
	}
}
