/* An app's images in the registry. The orchestrator knows which releases
 * an app keeps (the record's "releases", at most keep_releases of them);
 * the builder owns the registry. After a release gets ready, every image of
 * the app that no kept release uses is deleted from the registry
 * (nap.Builder.PruneImages) and from this host's Docker; destroy deletes
 * them all. What is left, in bytes, goes into the record ("image_bytes")
 * for napc status. A registry that cannot be reached or refuses deletes
 * never fails an operation: the images stay, and the log says why. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>

#include "orchestrator.h"

#define PRUNE_TIMEOUT_MS 60000u

/* The images of rec's kept releases (a new array of strings). */
static json_t *kept_images(json_t *rec)
{
	json_t *keep = json_array();
	size_t i;
	json_t *rel;
	json_array_foreach(json_object_get(rec, "releases"), i, rel)
	{
		json_t *image = json_object_get(rel, "image");
		if (keep && json_is_string(image))
			json_array_append(keep, image);
	}
	return keep;
}

/* nap.Builder.PruneImages for app (lock not held); NULL with e filled. */
static Nap__PruneImagesReply *prune_call(const char *app, json_t *keep, bool prune, nap_error *e)
{
	Nap__PruneImagesRequest req = NAP__PRUNE_IMAGES_REQUEST__INIT;
	size_t n = json_array_size(keep);
	char **refs = calloc(n + 1, sizeof(*refs));
	if (!refs) {
		snprintf(e->message, sizeof(e->message), "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (char *)json_string_value(json_array_get(keep, i));
	req.app = (char *)app;
	req.keep = refs;
	req.n_keep = n;
	req.prune = prune;
	ProtobufCMessage *reply = NULL;
	int r = bus_call(&reply, &nap__builder__descriptor, "PruneImages", &req.base,
			 PRUNE_TIMEOUT_MS, e);
	free(refs);
	return r < 0 ? NULL : (Nap__PruneImagesReply *)reply;
}

/* Removes this host's copies of the images the registry no longer has. */
static void remove_local(const Nap__PruneImagesReply *rep)
{
	for (size_t i = 0; i < rep->n_deleted; i++)
		bus_remove_image(rep->deleted[i]);
}

void images_prune(struct app *a)
{
	char app[64], err[512];
	snprintf(app, sizeof(app), "%s", a->name);
	json_t *keep = kept_images(a->rec);
	pthread_mutex_unlock(&O.lock);
	nap_error e = {0};
	Nap__PruneImagesReply *rep = prune_call(app, keep, true, &e);
	json_decref(keep);
	if (!rep) {
		/* a builder without PruneImages (older, or a test's) is no fault */
		O.host->log(
			e.status == NAP_UNIMPLEMENTED ? NAP_LOG_INFO : NAP_LOG_WARNING,
			"orchestrator: the images of %s's older releases stay in the registry: %s",
			app, e.message);
		pthread_mutex_lock(&O.lock);
		return;
	}
	if (rep->n_deleted)
		O.host->log(NAP_LOG_INFO,
			    "orchestrator: %s keeps %zu image(s) in the registry (%llu bytes), "
			    "deleted %zu (keep_releases = %u)",
			    app, rep->n_images, (unsigned long long)rep->bytes, rep->n_deleted,
			    O.keep_releases);
	remove_local(rep);
	pthread_mutex_lock(&O.lock);
	bool changed = false;
	if (a->rec &&
	    (uint64_t)json_integer_value(json_object_get(a->rec, "image_bytes")) != rep->bytes) {
		json_object_set_new(a->rec, "image_bytes", json_integer((json_int_t)rep->bytes));
		changed = true;
	}
	nap__prune_images_reply__free_unpacked(rep, NULL);
	if (changed) {
		pthread_mutex_unlock(&O.lock);
		if (store_save(a, err, sizeof(err)) < 0)
			O.host->log(NAP_LOG_INFO, "orchestrator: %s's image size not saved: %s",
				    app, err);
		pthread_mutex_lock(&O.lock);
	}
}

void images_forget(const char *app)
{
	nap_error e = {0};
	Nap__PruneImagesReply *rep = prune_call(app, NULL, true, &e);
	if (!rep) {
		O.host->log(e.status == NAP_UNIMPLEMENTED ? NAP_LOG_INFO : NAP_LOG_WARNING,
			    "orchestrator: the images of %s stay in the registry: %s (the next "
			    "app deployed as %s deletes them; or delete them by hand)",
			    app, e.message, app);
		return;
	}
	remove_local(rep);
	nap__prune_images_reply__free_unpacked(rep, NULL);
}

int images_missing(const char *app, json_t *rec, json_t *missing, char *err, size_t errlen)
{
	nap_error e = {0};
	Nap__PruneImagesReply *rep = prune_call(app, NULL, false, &e);
	if (!rep) {
		snprintf(err, errlen, "cannot list %s's images in the registry: %s", app,
			 e.message);
		return -1;
	}
	size_t i;
	json_t *rel;
	json_array_foreach(json_object_get(rec, "releases"), i, rel)
	{
		const char *image = json_string_value(json_object_get(rel, "image"));
		bool found = false;
		for (size_t k = 0; image && k < rep->n_images && !found; k++)
			found = strcmp(rep->images[k], image) == 0;
		if (!found)
			json_array_append_new(missing, json_integer(rec_u32(rel, "release")));
	}
	nap__prune_images_reply__free_unpacked(rep, NULL);
	return 0;
}
