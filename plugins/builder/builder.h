/* plugins/builder: what the builder's files share — the plugin's state,
 * made once by init and read-only afterwards, and the two method handlers.
 *
 * Thread-safety: handlers run on threads of their own, many at once; they
 * only read the state (the Docker client is immutable, see docker_api.h). */
#ifndef NAP_PLUGIN_BUILDER_H
#define NAP_PLUGIN_BUILDER_H

#include <stdbool.h>
#include <stddef.h>

#include <nap/plugin.h>

#include "docker_api.h"

/* Longest "host[:port][/path]" accepted as the registry setting. */
#define BUILDER_REGISTRY_MAX 255
/* Default bound on one build context in the spool (setting max_context_mb). */
#define BUILDER_DEFAULT_CONTEXT_MB 2048
/* What a BuildRequest or DeployRequest that names a directory is told when
 * allow_path_context is off (napc before protocol 1.2 sends one). */
#define BUILDER_PATH_REFUSED                                                                       \
	"this napd takes the build context from napc (protocol 1.2): upgrade napc"

struct spool;

struct builder {
	const nap_host *host;
	docker_client *docker;
	char *socket_path;       /* dockerd's socket, for messages */
	char *registry;          /* "127.0.0.1:5000": images are <registry>/<app>:<release> */
	char *registry_api;      /* "http://127.0.0.1:5000": its HTTP API v2 (no trailing /) */
	struct spool *spool;     /* uploaded contexts (spool.h) */
	char *spool_temp;        /* the spool's directory, to remove at shutdown, or NULL */
	bool allow_path_context; /* BuildRequest.dir is packed here (older napc) */
};

/* nap.Builder.Build: validate, take the uploaded context (or, with
 * allow_path_context, tar the directory), build, push (build.c). */
void builder_build(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* nap.Builder.Upload: receive a context into the spool (upload.c). */
void builder_upload(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* nap.Builder.RemoveImage: untag one local image (remove_image.c). */
void builder_remove_image(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* nap.Builder.PruneImages: the app's tags in the registry, older ones
 * deleted (prune_images.c). */
void builder_prune_images(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
