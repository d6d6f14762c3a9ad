/* nap.Apps.Export and Import (napc export / napc import): every app's
 * desired state as one JSON document, and back, so that an operator can
 * back up the records and restore them after etcd lost its data:
 *   {"nap_export":1,"napd":"<id>","key_prefix":"/nap/","exported_unix":T,
 *    "apps":[<record>,...]}
 * Each record is the app's record as the orchestrator keeps it (record.c):
 * releases with their images and environments, instances, memory, check,
 * constraints, scheduler, running or stopped. Only this napd's apps are
 * exported (several napds may share one etcd).
 *
 * Import writes the records as they are, under this napd's id (an export
 * moves to another host that way), without a rollout that was under way;
 * the reconciler then converges as after any restart: it starts what the
 * records want. An app that exists here is not touched unless force says to
 * replace its record; without force, an import naming one changes nothing.
 * Import says, per app, which releases' images the registry no longer has
 * (those cannot run: the current one needs a new deploy). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/limits.h>
#include <nap/names.h>

#include "orchestrator.h"
#include "requests.h"

#define EXPORT_FORMAT 1

void ops_export(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)request, (void)state;
	if (!op_loaded(call))
		return;
	json_t *apps = json_array();
	pthread_mutex_lock(&O.lock);
	for (struct app *a = O.apps; a && apps; a = a->next)
		if (a->rec && !a->owner[0] && !a->damaged)
			json_array_append_new(apps, json_deep_copy(a->rec));
	pthread_mutex_unlock(&O.lock);
	json_t *doc = json_pack("{s:i, s:s, s:s, s:I, s:o}", "nap_export", EXPORT_FORMAT, "napd",
				O.napd_id, "key_prefix", O.key_prefix, "exported_unix",
				(json_int_t)(wall_ms() / 1000), "apps", apps);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text) {
		O.host->end(call, NAP_RESOURCE_EXHAUSTED, "out of memory writing the export");
		return;
	}
	/* One reply: it must fit in a frame with room for the envelope. */
	if (strlen(text) > NAP_FRAME_MAX - 4096) {
		O.host->end(call, NAP_RESOURCE_EXHAUSTED,
			    "the export is %zu bytes, more than one reply carries (%u): export "
			    "fewer releases (keep_releases) or back up etcd itself (napd(8))",
			    strlen(text), NAP_FRAME_MAX - 4096);
		free(text);
		return;
	}
	Nap__ExportReply rep = NAP__EXPORT_REPLY__INIT;
	rep.document = text;
	O.host->reply(call, &rep.base);
	free(text);
}

/* Whether rec is a record this orchestrator can run; why if not. */
static bool record_ok(json_t *rec, char *why, size_t n)
{
	const char *app = json_string_value(json_object_get(rec, "app"));
	if (!json_is_object(rec) || !app || !nap_app_name_valid(app)) {
		snprintf(why, n, "an app in the document has no valid \"app\" name (%s)",
			 NAP_APP_NAME_RULE);
		return false;
	}
	if (!json_is_array(json_object_get(rec, "releases")) ||
	    !json_is_array(json_object_get(rec, "slots"))) {
		snprintf(why, n, "the record of %s has no \"releases\" or \"slots\" array", app);
		return false;
	}
	size_t i;
	json_t *rel;
	json_array_foreach(json_object_get(rec, "releases"), i, rel)
	{
		const char *image = json_string_value(json_object_get(rel, "image"));
		if (!rec_u32(rel, "release") || !image || !*image ||
		    strlen(image) > NAP_IMAGE_REF_MAX ||
		    strspn(image, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				  "._:/@-") != strlen(image) ||
		    !json_is_object(json_object_get(rel, "env"))) {
			snprintf(why, n,
				 "release %zu of %s has no release number, image reference or env "
				 "object",
				 i + 1, app);
			return false;
		}
		char envwhy[400];
		if (!request_env_merged_ok(json_object_get(rel, "env"), envwhy, sizeof(envwhy))) {
			snprintf(why, n, "release %u of %s: %s", rec_u32(rel, "release"), app,
				 envwhy);
			return false;
		}
	}
	if (json_array_size(json_object_get(rec, "releases")) > APP_RELEASES_MAX ||
	    rec_u32(rec, "instances") > NAP_INSTANCES_MAX) {
		snprintf(why, n, "the record of %s has more than %u releases or %u instances", app,
			 APP_RELEASES_MAX, NAP_INSTANCES_MAX);
		return false;
	}
	return true;
}

/* The document's apps, checked (a new reference), or NULL with why. */
static json_t *document_apps(const char *text, char *why, size_t n)
{
	json_error_t jerr;
	json_t *doc = json_loads(text ? text : "", 0, &jerr);
	if (!doc) {
		snprintf(why, n, "the document is not JSON (line %d: %s): give a napc export",
			 jerr.line, jerr.text);
		return NULL;
	}
	json_t *apps = json_object_get(doc, "apps");
	if (json_integer_value(json_object_get(doc, "nap_export")) != EXPORT_FORMAT ||
	    !json_is_array(apps)) {
		snprintf(why, n,
			 "the document is not a napc export (no \"nap_export\": %d and \"apps\" "
			 "array)",
			 EXPORT_FORMAT);
		json_decref(doc);
		return NULL;
	}
	size_t i, j;
	json_t *rec;
	json_array_foreach(apps, i, rec)
	{
		if (!record_ok(rec, why, n))
			break;
		for (j = 0; j < i; j++)
			if (json_equal(json_object_get(rec, "app"),
				       json_object_get(json_array_get(apps, j), "app"))) {
				snprintf(why, n, "%s is in the document twice",
					 json_string_value(json_object_get(rec, "app")));
				break;
			}
		if (j < i)
			break;
	}
	apps = i == json_array_size(apps) ? json_incref(apps) : NULL;
	json_decref(doc);
	return apps;
}

/* Apps of the document that have a record here, ", "-joined into buf (""
 * if none). Containers of an app without a record (etcd lost it) do not
 * count: adopting them is what an import is for. */
static void existing(json_t *apps, char *buf, size_t n)
{
	size_t i, used = 0;
	json_t *rec;
	buf[0] = '\0';
	pthread_mutex_lock(&O.lock);
	json_array_foreach(apps, i, rec)
	{
		struct app *a = app_find(json_string_value(json_object_get(rec, "app")));
		if (a && a->rec && used < n)
			used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
						 a->name);
	}
	pthread_mutex_unlock(&O.lock);
}

/* Puts rec in as a's desired state (lock held, a taken). */
static void adopt(struct app *a, json_t *rec)
{
	json_t *r = json_deep_copy(rec);
	json_object_set_new(r, "napd", json_string(O.napd_id));
	json_object_del(r, "rollout"); /* its target is the release to run */
	json_decref(a->rec);
	a->rec = r;
	a->known = true;
	a->damaged = false;
	orch_changed(a);
}

static Nap__ImportedApp *imported(const char *app, bool replaced, uint32_t release, json_t *missing)
{
	Nap__ImportedApp *im = calloc(1, sizeof(*im));
	if (!im)
		return NULL;
	nap__imported_app__init(im);
	im->app = strdup(app);
	im->replaced = replaced;
	im->release = release;
	im->missing_images = calloc(json_array_size(missing) + 1, sizeof(uint32_t));
	for (size_t k = 0; im->missing_images && k < json_array_size(missing); k++)
		im->missing_images[im->n_missing_images++] = (uint32_t)json_integer_value(
			json_array_get(missing, k));
	return im;
}

static void reply_free(Nap__ImportReply *rep)
{
	for (size_t i = 0; i < rep->n_apps; i++) {
		free(rep->apps[i]->app);
		free(rep->apps[i]->missing_images);
		free(rep->apps[i]);
	}
	free(rep->apps);
}

void ops_import(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__ImportRequest *req = (const Nap__ImportRequest *)request;
	char why[1024], err[512];
	json_t *apps = document_apps(req->document, why, sizeof(why));
	if (!apps) {
		O.host->end(call, NAP_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if (!op_loaded(call)) {
		json_decref(apps);
		return;
	}
	existing(apps, why, sizeof(why));
	if (why[0] && !req->force) {
		O.host->end(call, NAP_ALREADY_EXISTS,
			    "nothing imported: %s exist%s here; napc import --force replaces their "
			    "records with the document's (or napc destroy them first)",
			    why, strchr(why, ',') ? "" : "s");
		json_decref(apps);
		return;
	}
	/* Before any change: what the registry has, per app. */
	size_t n = json_array_size(apps);
	json_t *missing = json_array();
	for (size_t i = 0; i < n && missing; i++) {
		json_t *rec = json_array_get(apps, i), *m = json_array();
		const char *app = json_string_value(json_object_get(rec, "app"));
		if (!m || images_missing(app, rec, m, err, sizeof(err)) < 0) {
			O.host->end(call, NAP_UNAVAILABLE, "nothing imported: %s", err);
			json_decref(m);
			json_decref(missing);
			json_decref(apps);
			return;
		}
		json_array_append_new(missing, m);
	}
	Nap__ImportReply rep = NAP__IMPORT_REPLY__INIT;
	rep.apps = calloc(n + 1, sizeof(*rep.apps));
	for (size_t i = 0; i < n && rep.apps; i++) {
		json_t *rec = json_array_get(apps, i);
		const char *name = json_string_value(json_object_get(rec, "app"));
		struct app *a = op_begin(call, name, true);
		if (!a) /* the call has ended: another napd's app, or no etcd */
			goto out;
		bool replaced = a->rec != NULL;
		adopt(a, rec);
		uint32_t release = rec_u32(a->rec, "release");
		pthread_mutex_unlock(&O.lock);
		int r = store_save(a, err, sizeof(err));
		pthread_mutex_lock(&O.lock);
		op_finish(a);
		if (r < 0) {
			O.host->end(call, NAP_UNAVAILABLE,
				    "%s and the apps after it not imported: %s", name, err);
			goto out;
		}
		O.host->log(NAP_LOG_NOTICE, "orchestrator: %s imported (release %u)%s", name,
			    release, replaced ? ", replacing its record" : "");
		Nap__ImportedApp *im = imported(name, replaced, release,
						json_array_get(missing, i));
		if (im)
			rep.apps[rep.n_apps++] = im;
	}
	O.host->reply(call, &rep.base);
out:
	reply_free(&rep);
	json_decref(missing);
	json_decref(apps);
}
