/* builder: the nap plugin that turns a directory with a Dockerfile into an
 * image in a registry (service nap.Builder, proto/nap/builder.proto).
 *
 * Settings ([plugin builder] in napd.conf):
 *   registry = 127.0.0.1:5000          images are <registry>/<app>:<release>
 *   docker_socket = /var/run/docker.sock
 *   max_context_mb = 1024              bound on a build context in memory
 *   registry_api = http://<registry's host:port>   its HTTP API v2, where
 *                                      PruneImages lists and deletes tags
 *
 * Both methods run on threads of their own (they block on Docker). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <nap/builder.pb-c.h>
#include <nap/plugin.h>

#include "builder.h"
#include "names.h"

#define DEFAULT_REGISTRY "127.0.0.1:5000"

static void builder_free(struct builder *b)
{
	if (!b)
		return;
	docker_client_free(b->docker);
	free(b->socket_path);
	free(b->registry);
	free(b->registry_api);
	free(b);
}

/* max_context_mb: a whole number of MiB from 1 to 1 TiB's worth. */
static int parse_context_mb(size_t *bytesp, const char *s)
{
	char *end;
	unsigned long long mb;

	errno = 0;
	mb = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || mb < 1 || mb > (1ull << 20) ||
	    mb > SIZE_MAX >> 20)
		return -EINVAL;
	*bytesp = (size_t)mb << 20;
	return 0;
}

static int builder_init(const nap_host *host, void **statep)
{
	const char *registry = host->config("registry");
	const char *socket_path = host->config("docker_socket");
	const char *max_mb = host->config("max_context_mb");
	struct builder *b;

	if (!registry || !*registry)
		registry = DEFAULT_REGISTRY;
	if (!socket_path || !*socket_path)
		socket_path = DOCKER_DEFAULT_SOCKET;
	if (!builder_valid_registry(registry)) {
		host->log(NAP_LOG_ERROR,
			  "builder: registry = \"%s\" is not host[:port][/path]: fix [plugin "
			  "builder] in napd.conf",
			  registry);
		return -EINVAL;
	}
	if (socket_path[0] != '/') {
		host->log(NAP_LOG_ERROR,
			  "builder: docker_socket = \"%s\" must be an absolute path: fix [plugin "
			  "builder] in napd.conf",
			  socket_path);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->host = host;
	b->max_context = (size_t)BUILDER_DEFAULT_CONTEXT_MB << 20;
	if (max_mb && parse_context_mb(&b->max_context, max_mb) < 0) {
		host->log(NAP_LOG_ERROR,
			  "builder: max_context_mb = \"%s\" is not a number of MiB from 1 to "
			  "1048576: fix [plugin builder] in napd.conf",
			  max_mb);
		builder_free(b);
		return -EINVAL;
	}
	b->registry = strdup(registry);
	/* The API is at the registry's host:port; plain HTTP by default, as
	 * dockerd speaks to a registry on 127.0.0.0/8. */
	const char *api = host->config("registry_api");
	if (api && strncmp(api, "http://", 7) != 0 && strncmp(api, "https://", 8) != 0) {
		host->log(
			NAP_LOG_ERROR,
			"builder: registry_api = \"%.80s\" is not an http:// or https:// URL: fix "
			"[plugin builder] in napd.conf",
			api);
		builder_free(b);
		return -EINVAL;
	}
	if (api)
		b->registry_api = strdup(api);
	else if (asprintf(&b->registry_api, "http://%.*s", (int)strcspn(registry, "/"), registry) <
		 0)
		b->registry_api = NULL;
	if (b->registry_api && b->registry_api[0]) {
		size_t l = strlen(b->registry_api);
		while (l > 8 && b->registry_api[l - 1] == '/')
			b->registry_api[--l] = '\0';
	}
	b->socket_path = strdup(socket_path);
	if (!b->registry || !b->registry_api || !b->socket_path ||
	    docker_client_new(&b->docker, socket_path) < 0) {
		builder_free(b);
		return -ENOMEM;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(NAP_LOG_ERROR, "builder: libcurl failed to initialise");
		builder_free(b);
		return -EIO;
	}
	host->log(NAP_LOG_INFO, "builder: Docker at %s, registry %s (API %s)", socket_path,
		  registry, b->registry_api);
	*statep = b;
	return 0;
}

static void builder_shutdown(void *state)
{
	builder_free(state);
	curl_global_cleanup();
}

static const struct nap_plugin_method builder_methods[] = {
	{"Build", builder_build, 0},
	{"RemoveImage", builder_remove_image, 0},
	{"PruneImages", builder_prune_images, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service builder_services[] = {
	{&nap__builder__descriptor, builder_methods},
	{NULL, NULL},
};

static const struct nap_plugin builder_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "builder",
	.version = PACKAGE_VERSION,
	.description = "builds images from Dockerfiles with dockerd and pushes them to a registry",
	.services = builder_services,
	.init = builder_init,
	.shutdown = builder_shutdown,
};

NAP_PLUGIN_DEFINE(builder_plugin)
