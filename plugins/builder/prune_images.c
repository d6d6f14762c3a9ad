/* plugins/builder: nap.Builder.PruneImages — an app's images in the
 * registry, through the registry's HTTP API v2 (the builder pushed them, so
 * it is the part that knows the registry):
 *   GET    /v2/<repo>/tags/list
 *   GET    /v2/<repo>/manifests/<tag>     (Accept: a schema 2 manifest; the
 *          answer's Docker-Content-Digest names it, its body gives sizes)
 *   DELETE /v2/<repo>/manifests/<digest>
 * A registry deletes a manifest with every tag that points to it, so a tag
 * is deleted only when no kept tag shares its manifest (a release that was
 * pushed twice with the same content). Deleting frees no disk space by
 * itself: the registry's garbage collection does, with the registry stopped
 * or read-only (scripts/servers gc). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <nap/builder.pb-c.h>
#include <nap/names.h>

#include "builder.h"
#include "http_client.h"

#define MANIFEST_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define REGISTRY_TIMEOUT_MS 10000L
/* Tags of one app looked at in one call: far more than a record keeps. */
#define PRUNE_TAGS_MAX 1000u

struct tag {
	const char *name; /* borrowed from the tags list */
	char digest[128]; /* of its manifest; "" when it has none any more */
	json_t *manifest;
	bool keep, deleted;
};

struct prune {
	const struct builder *b;
	char repo[BUILDER_REGISTRY_MAX + 80]; /* "<path>/<app>" or "<app>" */
	char err[512];
	int status; /* NAP_* of the failure */
};

/* GET or DELETE <registry_api>/v2/<repo>/<what>; the answer in *resp. */
static int registry_request(struct prune *p, struct http_response *resp, const char *method,
			    const char *what)
{
	char url[1024];
	static const char *const headers[] = {"Accept: " MANIFEST_V2, NULL};
	snprintf(url, sizeof(url), "%s/v2/%s/%s", p->b->registry_api, p->repo, what);
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = headers,
		.timeout_ms = REGISTRY_TIMEOUT_MS,
		.capture_header = "Docker-Content-Digest",
	};
	char err[400];
	int r = http_perform(resp, &req, err, sizeof(err));
	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "cannot reach the registry at %s: %s",
			 p->b->registry_api, err);
		p->status = NAP_UNAVAILABLE;
	}
	return r;
}

static int registry_refused(struct prune *p, const struct http_response *resp, const char *what)
{
	char why[256];
	http_response_reason(resp, why, sizeof(why));
	if (resp->status == 405) {
		snprintf(p->err, sizeof(p->err),
			 "the registry at %s does not allow deletes: set storage.delete.enabled: "
			 "true in its configuration (scripts/servers does)",
			 p->b->registry_api);
		p->status = NAP_FAILED_PRECONDITION;
	} else {
		snprintf(p->err, sizeof(p->err), "the registry at %s answered %ld to %s: %s",
			 p->b->registry_api, resp->status, what, why);
		p->status = NAP_UNAVAILABLE;
	}
	return -EIO;
}

/* The repository's tags into *listp (a JSON array, maybe empty): a
 * repository the registry does not know has none. */
static int list_tags(struct prune *p, json_t **listp)
{
	struct http_response resp;
	int r = registry_request(p, &resp, "GET", "tags/list");
	if (r < 0)
		return r;
	json_t *body = NULL, *tags = NULL;
	if (resp.status == 404) {
		tags = json_array();
	} else if (resp.status == 200) {
		body = json_loadb(resp.body, resp.body_len, 0, NULL);
		tags = json_object_get(body, "tags"); /* null once every tag is deleted */
		tags = json_is_array(tags) ? json_incref(tags) : json_array();
	} else {
		r = registry_refused(p, &resp, "a list of tags");
	}
	json_decref(body);
	http_response_release(&resp);
	if (r == 0)
		*listp = tags;
	return r;
}

static int read_manifest(struct prune *p, struct tag *t)
{
	char what[200];
	struct http_response resp;
	snprintf(what, sizeof(what), "manifests/%s", t->name);
	int r = registry_request(p, &resp, "GET", what);
	if (r < 0)
		return r;
	if (resp.status == 200) {
		snprintf(t->digest, sizeof(t->digest), "%s", resp.header);
		t->manifest = json_loadb(resp.body, resp.body_len, 0, NULL);
	} else if (resp.status != 404) { /* 404: deleted meanwhile */
		r = registry_refused(p, &resp, "a manifest");
	}
	http_response_release(&resp);
	return r;
}

static int delete_manifest(struct prune *p, const char *digest)
{
	char what[200];
	struct http_response resp;
	snprintf(what, sizeof(what), "manifests/%s", digest);
	int r = registry_request(p, &resp, "DELETE", what);
	if (r < 0)
		return r;
	if (resp.status != 202 && resp.status != 200 && resp.status != 404)
		r = registry_refused(p, &resp, "a delete");
	http_response_release(&resp);
	return r;
}

/* A Docker tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; nothing else goes into
 * a URL path. */
static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n < 1 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

/* Adds the blob's size to *bytes unless seen (an object of digests). */
static void count_blob(json_t *blob, json_t *seen, uint64_t *bytes)
{
	const char *d = json_string_value(json_object_get(blob, "digest"));
	json_int_t size = json_integer_value(json_object_get(blob, "size"));
	if (!d || size <= 0 || json_object_get(seen, d))
		return;
	json_object_set_new(seen, d, json_true());
	*bytes += (uint64_t)size;
}

static uint64_t kept_bytes(const struct tag *tags, size_t n)
{
	uint64_t bytes = 0;
	json_t *seen = json_object();
	for (size_t i = 0; i < n && seen; i++) {
		if (tags[i].deleted || !tags[i].manifest)
			continue;
		count_blob(json_object_get(tags[i].manifest, "config"), seen, &bytes);
		size_t j;
		json_t *layer;
		json_array_foreach(json_object_get(tags[i].manifest, "layers"), j, layer)
			count_blob(layer, seen, &bytes);
	}
	json_decref(seen);
	return bytes;
}

/* Whether ref is <registry>/<app>:<tag> (what the builder pushes). */
static bool is_kept(const struct builder *b, const char *app, const Nap__PruneImagesRequest *req,
		    const char *tag)
{
	size_t rl = strlen(b->registry), al = strlen(app);
	for (size_t i = 0; i < req->n_keep; i++) {
		const char *k = req->keep[i];
		if (strncmp(k, b->registry, rl) == 0 && k[rl] == '/' &&
		    strncmp(k + rl + 1, app, al) == 0 && k[rl + 1 + al] == ':' &&
		    strcmp(k + rl + 2 + al, tag) == 0)
			return true;
	}
	return false;
}

static bool digest_kept(const struct tag *tags, size_t n, const char *digest)
{
	for (size_t i = 0; i < n; i++)
		if (tags[i].keep && strcmp(tags[i].digest, digest) == 0)
			return true;
	return false;
}

/* Reads every tag's manifest, then deletes those not kept (with prune). */
static int prune(struct prune *p, const Nap__PruneImagesRequest *req, struct tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tags[i].keep = is_kept(p->b, req->app, req, tags[i].name);
		int r = read_manifest(p, &tags[i]);
		if (r < 0)
			return r;
		if (!tags[i].digest[0])
			tags[i].deleted = true; /* gone already */
	}
	if (!req->prune)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct tag *t = &tags[i];
		if (t->keep || t->deleted || digest_kept(tags, n, t->digest))
			continue;
		int r = delete_manifest(p, t->digest);
		if (r < 0)
			return r;
		for (size_t j = 0; j < n; j++) /* its other tags went with it */
			if (strcmp(tags[j].digest, t->digest) == 0)
				tags[j].deleted = true;
		p->b->host->log(NAP_LOG_INFO, "builder: deleted %s/%s:%s (%s) from the registry",
				p->b->registry, req->app, t->name, t->digest);
	}
	return 0;
}

static void reply(nap_plugin_call *call, const struct builder *b, const char *app, struct tag *tags,
		  size_t n)
{
	Nap__PruneImagesReply out = NAP__PRUNE_IMAGES_REPLY__INIT;
	char **images = calloc(n ? n : 1, sizeof(*images));
	char **deleted = calloc(n ? n : 1, sizeof(*deleted));
	bool oom = !images || !deleted;
	for (size_t i = 0; i < n && !oom; i++) {
		if (tags[i].deleted && !tags[i].digest[0])
			continue; /* gone before this call */
		char *ref = NULL;
		if (asprintf(&ref, "%s/%s:%s", b->registry, app, tags[i].name) < 0)
			oom = true;
		else if (tags[i].deleted)
			deleted[out.n_deleted++] = ref;
		else
			images[out.n_images++] = ref;
	}
	out.images = images;
	out.deleted = deleted;
	out.bytes = kept_bytes(tags, n);
	if (oom)
		b->host->end(call, NAP_RESOURCE_EXHAUSTED, "out of memory listing images");
	else
		b->host->reply(call, &out.base);
	for (size_t i = 0; images && i < out.n_images; i++)
		free(images[i]);
	for (size_t i = 0; deleted && i < out.n_deleted; i++)
		free(deleted[i]);
	free(images);
	free(deleted);
}

void builder_prune_images(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct builder *b = state;
	const Nap__PruneImagesRequest *req = (const Nap__PruneImagesRequest *)request;
	struct prune p = {.b = b};

	if (!nap_app_name_valid(req->app)) {
		b->host->end(call, NAP_INVALID_ARGUMENT, "'%.64s' is not a valid app name: %s",
			     req->app ? req->app : "", NAP_APP_NAME_RULE);
		return;
	}
	/* "host:port/path" keeps its images in repositories "path/<app>" */
	const char *slash = strchr(b->registry, '/');
	snprintf(p.repo, sizeof(p.repo), "%s%s%s", slash ? slash + 1 : "", slash ? "/" : "",
		 req->app);
	json_t *list = NULL;
	if (list_tags(&p, &list) < 0) {
		b->host->end(call, p.status, "%s", p.err);
		return;
	}
	size_t n = json_array_size(list);
	if (n > PRUNE_TAGS_MAX)
		n = PRUNE_TAGS_MAX; /* the rest waits for the next call */
	struct tag *tags = calloc(n ? n : 1, sizeof(*tags));
	if (!tags) {
		json_decref(list);
		b->host->end(call, NAP_RESOURCE_EXHAUSTED, "out of memory listing images");
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(list, i));
		if (name && tag_valid(name)) /* it goes into a URL path */
			tags[k++].name = name;
	}
	if (prune(&p, req, tags, k) < 0)
		b->host->end(call, p.status, "%s", p.err);
	else
		reply(call, b, req->app, tags, k);
	for (size_t i = 0; i < k; i++)
		json_decref(tags[i].manifest);
	free(tags);
	json_decref(list);
}
