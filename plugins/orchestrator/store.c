/* App records through nap.Discovery's record methods (etcd under napd.conf's
 * key_prefix, /nap/ by default, with discovery-etcd): the orchestrator knows
 * no etcd. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/discovery.pb-c.h>

#include "orchestrator.h"

#define RECORD_TIMEOUT_MS 10000u

static int call_failed(int r, const nap_error *e, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot %s: %s", what, e->message[0] ? e->message : nap_strerror(r));
	return r;
}

int store_save(struct app *a, char *err, size_t errlen)
{
	/* Writes leave in the order their contents were taken. */
	pthread_mutex_lock(&O.save_lock);
	pthread_mutex_lock(&O.lock);
	char key[128], *text = NULL;
	if (a->rec) {
		json_object_set_new(a->rec, "updated",
				    json_integer((json_int_t)(wall_ms() / 1000)));
		text = json_dumps(a->rec, JSON_COMPACT);
	}
	snprintf(key, sizeof(key), "apps/%s/app", a->name);
	pthread_mutex_unlock(&O.lock);
	int r = -ENOMEM;
	nap_error e = {0};
	if (text) {
		Nap__Record rec = NAP__RECORD__INIT;
		rec.key = key;
		rec.value.data = (uint8_t *)text;
		rec.value.len = strlen(text);
		r = bus_call(NULL, &nap__discovery__descriptor, "PutRecord", &rec.base,
			     RECORD_TIMEOUT_MS, &e);
	}
	pthread_mutex_unlock(&O.save_lock);
	free(text);
	if (r < 0)
		return call_failed(r, &e, "save the app's desired state", err, errlen);
	return 0;
}

int store_delete(const char *app, char *err, size_t errlen)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "apps/%s/", app);
	Nap__GetRecordsRequest req = NAP__GET_RECORDS_REQUEST__INIT;
	req.prefix = prefix;
	nap_error e = {0};
	int r = bus_call(NULL, &nap__discovery__descriptor, "DeleteRecords", &req.base,
			 RECORD_TIMEOUT_MS, &e);
	return r < 0 ? call_failed(r, &e, "delete the app's records", err, errlen) : 0;
}

/* Reads every app record into O.apps (lock not held). Markers that nap 0.1
 * left ("apps/<app>/pending") are history: the reconciler settles what they
 * were about from the record alone. */
int store_load_all(char *err, size_t errlen)
{
	Nap__GetRecordsRequest req = NAP__GET_RECORDS_REQUEST__INIT;
	req.prefix = (char *)"apps/";
	ProtobufCMessage *reply = NULL;
	nap_error e = {0};
	int r = bus_call(&reply, &nap__discovery__descriptor, "GetRecords", &req.base,
			 RECORD_TIMEOUT_MS, &e);
	if (r < 0)
		return call_failed(r, &e, "read the apps' desired state", err, errlen);
	const Nap__GetRecordsReply *rep = (const Nap__GetRecordsReply *)reply;
	pthread_mutex_lock(&O.lock);
	for (size_t i = 0; i < rep->n_records; i++) {
		const Nap__Record *rec = rep->records[i];
		char app[64];
		if (sscanf(rec->key, "apps/%63[a-z0-9-]/app", app) != 1)
			continue;
		size_t kl = strlen(rec->key);
		if (kl < 4 || strcmp(rec->key + kl - 4, "/app") != 0)
			continue;
		json_t *j = record_parse(rec->value.data, rec->value.len);
		struct app *a = app_get(app);
		if (a && !j)
			a->damaged = true;
		if (!a || !j) {
			O.host->log(NAP_LOG_WARNING,
				    "orchestrator: the record %s%s is damaged; "
				    "app %s is left alone",
				    O.key_prefix, rec->key, app);
			json_decref(j);
			continue;
		}
		const char *owner = rec_owner(j);
		if (*owner && strcmp(owner, O.napd_id) != 0) {
			/* another napd's: not ours to run, show or change */
			snprintf(a->owner, sizeof(a->owner), "%s", owner);
			json_decref(j);
			continue;
		}
		json_decref(a->rec);
		a->rec = j;
		a->known = true;
		orch_changed(a);
	}
	O.loaded = true;
	orch_changed(NULL);
	pthread_mutex_unlock(&O.lock);
	protobuf_c_message_free_unpacked(reply, NULL);
	return r;
}

int store_owner(const char *app, char *owner, size_t n, char *err, size_t errlen)
{
	char prefix[128], key[128];
	snprintf(prefix, sizeof(prefix), "apps/%s/", app);
	snprintf(key, sizeof(key), "apps/%s/app", app);
	Nap__GetRecordsRequest req = NAP__GET_RECORDS_REQUEST__INIT;
	req.prefix = prefix;
	ProtobufCMessage *reply = NULL;
	nap_error e = {0};
	int r = bus_call(&reply, &nap__discovery__descriptor, "GetRecords", &req.base,
			 RECORD_TIMEOUT_MS, &e);
	if (r < 0)
		return call_failed(r, &e, "read the app's record", err, errlen);
	const Nap__GetRecordsReply *rep = (const Nap__GetRecordsReply *)reply;
	owner[0] = '\0';
	r = 0;
	for (size_t i = 0; i < rep->n_records; i++) {
		if (strcmp(rep->records[i]->key, key) != 0)
			continue;
		r = 1;
		json_t *j = record_parse(rep->records[i]->value.data, rep->records[i]->value.len);
		snprintf(owner, n, "%s", j ? rec_owner(j) : "");
		json_decref(j);
	}
	protobuf_c_message_free_unpacked(reply, NULL);
	return r;
}
