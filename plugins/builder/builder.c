/* builder: the nap plugin that turns a build context (a directory with a
 * Dockerfile, packed and uploaded by napc) into an image in a registry
 * (service nap.Builder, proto/nap/builder.proto).
 *
 * Settings ([plugin builder] in napd.conf):
 *   registry = 127.0.0.1:5000          images are <registry>/<app>:<release>
 *   docker_socket = /var/run/docker.sock
 *   registry_api = http://<registry's host:port>   its HTTP API v2, where
 *                                      PruneImages lists and deletes tags
 *   and those of the build context: max_context_mb, context_dir,
 *   allow_path_context (settings.h)
 *
 * Every method runs on a thread of its own (they block on Docker or on the
 * client's upload). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include <nap/builder.pb-c.h>
#include <nap/plugin.h>

#include "builder.h"
#include "names.h"
#include "settings.h"
#include "spool.h"

#define DEFAULT_REGISTRY "127.0.0.1:5000"

static void builder_free(struct builder *b)
{
	if (!b)
		return;
	spool_close(b->spool);
	if (b->spool_temp) /* a private napd's: gone with it when empty */
		rmdir(b->spool_temp);
	free(b->spool_temp);
	docker_client_free(b->docker);
	free(b->socket_path);
	free(b->registry);
	free(b->registry_api);
	free(b);
}

static int builder_init(const nap_host *host, void **statep)
{
	const char *registry = host->config("registry");
	const char *socket_path = host->config("docker_socket");
	struct builder_context_settings cs = {0};
	char err[512];
	struct builder *b;
	int r;

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
	r = builder_context_settings(&cs, host);
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b) {
		free(cs.dir);
		return -ENOMEM;
	}
	b->host = host;
	b->allow_path_context = cs.allow_path;
	r = spool_open(&b->spool, cs.dir, cs.max_bytes, SPOOL_SWEEP_MS, err, sizeof(err));
	if (cs.dir_temp)
		b->spool_temp = cs.dir;
	else
		free(cs.dir);
	if (r < 0) {
		host->log(NAP_LOG_ERROR, "builder: %s", err);
		builder_free(b);
		return r == -ENOMEM ? r : -EIO;
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
	host->log(NAP_LOG_INFO, "builder: Docker at %s, registry %s (API %s)%s", socket_path,
		  registry, b->registry_api,
		  b->allow_path_context ? ", directories named by clients allowed" : "");
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
	{"Upload", builder_upload, 0},
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
