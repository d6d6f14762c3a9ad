/* plugins/builder: what the builder's files share — the plugin's state,
 * made once by init and read-only afterwards, and the two method handlers.
 *
 * Thread-safety: handlers run on threads of their own, many at once; they
 * only read the state (the Docker client is immutable, see docker_api.h). */
#ifndef NAP_PLUGIN_BUILDER_H
#define NAP_PLUGIN_BUILDER_H

#include <stddef.h>

#include <nap/plugin.h>

#include "docker_api.h"

/* Longest "host[:port][/path]" accepted as the registry setting. */
#define BUILDER_REGISTRY_MAX 255
/* Default bound on a build context held in memory (setting max_context_mb). */
#define BUILDER_DEFAULT_CONTEXT_MB 1024

struct builder {
	const nap_host *host;
	docker_client *docker;
	char *socket_path;  /* dockerd's socket, for messages */
	char *registry;     /* "127.0.0.1:5000": images are <registry>/<app>:<release> */
	char *registry_api; /* "http://127.0.0.1:5000": its HTTP API v2 (no trailing /) */
	size_t max_context; /* bytes */
};

/* nap.Builder.Build: validate, tar the directory, build, push (build.c). */
void builder_build(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* nap.Builder.RemoveImage: untag one local image (remove_image.c). */
void builder_remove_image(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

/* nap.Builder.PruneImages: the app's tags in the registry, older ones
 * deleted (prune_images.c). */
void builder_prune_images(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
