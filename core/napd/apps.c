#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"

const char *app_key(char *buf, size_t n, const char *app)
{
	snprintf(buf, n, "apps/%s/app", app);
	return buf;
}

const char *app_pending_key(char *buf, size_t n, const char *app)
{
	snprintf(buf, n, "apps/%s/pending", app);
	return buf;
}


json_t *app_record_new(const char *app)
{
	return json_pack("{s:s, s:i, s:s, s:i, s:[], s:[]}", "app", app, "release", 0, "state",
			 "new", "instances", 0, "slots", "releases");
}

json_t *app_record_parse(const uint8_t *data, size_t len)
{
	json_t *rec = json_loadb((const char *)data, len, 0, NULL);
	if (rec && (!json_is_object(rec) || !json_is_string(json_object_get(rec, "app")) ||
		    !json_is_array(json_object_get(rec, "releases")) ||
		    !json_is_array(json_object_get(rec, "slots")))) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

uint32_t app_u32(json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));
	return v < 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
}

json_t *app_release(json_t *rec, uint32_t n)
{
	if (n == 0)
		n = app_u32(rec, "release");
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(rec, "releases"), i, r) if (app_u32(r, "release") == n) return r;
	return NULL;
}

uint32_t app_last_release(json_t *rec)
{
	uint32_t max = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(rec, "releases"), i, r) if (app_u32(r, "release") > max) max =
		app_u32(r, "release");
	return max;
}

void app_status_fill(Nap__AppStatus *st, json_t *rec, bool with_env)
{
	nap__app_status__init(st);
	st->app = (char *)json_string_value(json_object_get(rec, "app"));
	st->release = app_u32(rec, "release");
	st->instances = app_u32(rec, "instances");
	st->state = (char *)json_string_value(json_object_get(rec, "state"));
	st->updated_unix = (uint64_t)json_integer_value(json_object_get(rec, "updated"));
	st->memory_bytes = (uint64_t)json_integer_value(json_object_get(rec, "memory"));
	json_t *cur = app_release(rec, 0);
	st->image = cur ? (char *)json_string_value(json_object_get(cur, "image")) : (char *)"";
	if (!st->image)
		st->image = (char *)"";
	json_t *rels = json_object_get(rec, "releases");
	st->releases = calloc(json_array_size(rels) + 1, sizeof(uint32_t));
	size_t i;
	json_t *r;
	json_array_foreach(rels, i, r) if (st->releases) st->releases[st->n_releases++] =
		app_u32(r, "release");
	json_t *env = cur ? json_object_get(cur, "env") : NULL;
	if (with_env && json_object_size(env)) {
		st->env = calloc(json_object_size(env), sizeof(*st->env));
		const char *k;
		json_t *v;
		json_object_foreach(env, k, v)
		{
			if (!st->env)
				break;
			Nap__EnvVar *e = malloc(sizeof(*e));
			if (!e)
				break;
			nap__env_var__init(e);
			e->key = (char *)k;
			e->value = (char *)json_string_value(v);
			st->env[st->n_env++] = e;
		}
	}
}

void app_status_clear(Nap__AppStatus *st)
{
	for (size_t i = 0; i < st->n_env; i++)
		free(st->env[i]);
	free(st->env);
	free(st->releases);
	for (size_t i = 0; i < st->n_endpoints; i++)
		nap__endpoint__free_unpacked(st->endpoints[i], NULL);
	free(st->endpoints);
	nap__app_status__init(st);
}
