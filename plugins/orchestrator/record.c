/* The app record: an app's desired state as JSON, stored at
 * "apps/<app>/app" (store.c):
 *   {"app":"web","release":3,"state":"running","instances":2,"slots":[1,2],
 *    "memory":268435456,"updated":1764100000,
 *    "check":{"http_path":"/health","interval_ms":2000,...},
 *    "releases":[{"release":3,"image":"…","env":{…},"created":1764100000},…],
 *    "rollout":{"from":2,"from_slots":[3,4],"deadline_ms":…,"op":"deploy"},
 *    "failure":{"release":4,"stage":"ready","reason":"…","at_ms":…},
 *    "napd":"host:/run/nap/napd.sock"}
 * "napd" names the napd whose orchestrator keeps the app: several napds may
 * share one etcd, and each reconciles only its own apps (a record without
 * it, written by nap 0.1, is adopted by the napd whose scheduler runs its
 * instances, or by the first operation on it).
 * "release" and "slots" are the target: what should run. "rollout" is there
 * while the target replaces release "from", whose instances "from_slots"
 * serve until every target instance is ready. "state" is "running",
 * "stopped", "failed" (no release ever got ready) or "new". Records written
 * by nap 0.1 (no check, no rollout) read the same. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"

json_t *record_new(const char *app)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:i, s:[], s:[]}", "app", app, "napd", O.napd_id,
			 "release", 0, "state", "new", "instances", 0, "slots", "releases");
}

const char *rec_owner(json_t *rec)
{
	const char *o = json_string_value(json_object_get(rec, "napd"));
	return o ? o : "";
}

json_t *record_parse(const uint8_t *data, size_t len)
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

uint32_t rec_u32(json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));
	return v < 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
}

json_t *rec_release(json_t *rec, uint32_t n)
{
	if (n == 0)
		n = rec_u32(rec, "release");
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(rec, "releases"), i, r)
	{
		if (rec_u32(r, "release") == n)
			return r;
	}
	return NULL;
}

uint32_t rec_last_release(json_t *rec)
{
	uint32_t max = rec_u32(rec, "release");
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(rec, "releases"), i, r)
	{
		if (rec_u32(r, "release") > max)
			max = rec_u32(r, "release");
	}
	json_t *f = json_object_get(rec, "failure");
	if (rec_u32(f, "release") > max)
		max = rec_u32(f, "release");
	return max;
}

const char *rec_state(json_t *rec)
{
	const char *s = json_string_value(json_object_get(rec, "state"));
	return s ? s : "new";
}

bool rec_running(json_t *rec)
{
	return strcmp(rec_state(rec), "running") == 0;
}

json_t *rec_rollout(json_t *rec)
{
	json_t *r = json_object_get(rec, "rollout");
	return json_is_object(r) ? r : NULL;
}

bool slots_has(json_t *slots, uint32_t n)
{
	size_t i;
	json_t *v;
	json_array_foreach(slots, i, v)
	{
		if ((uint32_t)json_integer_value(v) == n)
			return true;
	}
	return false;
}

json_t *slots_pick(json_t *used, size_t n)
{
	json_t *out = json_array();
	for (uint32_t k = 1; out && json_array_size(out) < n; k++)
		if (!slots_has(used, k))
			json_array_append_new(out, json_integer(k));
	return out;
}

static uint32_t or_default(json_t *c, const char *key, uint32_t def)
{
	uint32_t v = rec_u32(c, key);
	return v ? v : def;
}

void rec_check(json_t *rec, Nap__Check *out)
{
	json_t *c = json_object_get(rec, "check");
	nap__check__init(out);
	out->http_path = (char *)json_string_value(json_object_get(c, "http_path"));
	if (!out->http_path)
		out->http_path = (char *)"";
	out->interval_ms = or_default(c, "interval_ms", O.check.interval_ms);
	out->timeout_ms = or_default(c, "timeout_ms", O.check.timeout_ms);
	out->failures = or_default(c, "failures", O.check.failures);
	out->ready_timeout_s = or_default(c, "ready_timeout_s", O.check.ready_timeout_s);
}

json_t *check_to_json(const Nap__Check *c)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (c->http_path && *c->http_path)
		json_object_set_new(o, "http_path", json_string(c->http_path));
	if (c->interval_ms)
		json_object_set_new(o, "interval_ms", json_integer(c->interval_ms));
	if (c->timeout_ms)
		json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
	if (c->failures)
		json_object_set_new(o, "failures", json_integer(c->failures));
	if (c->ready_timeout_s)
		json_object_set_new(o, "ready_timeout_s", json_integer(c->ready_timeout_s));
	return o;
}
