/* Test fixture: fake-discovery's records (napd's and the orchestrator's
 * store), in memory, with the key rules of discovery-etcd (names.c).
 *
 * With the setting state_file = PATH, every change rewrites PATH whole
 * (a temporary file, fsync, rename), and init reads it back, so records
 * outlive a crash of the plugin or of napd. The file is a JSON object
 * {"records": {KEY: VALUE}}; a value that is not UTF-8 text is written as
 * {"base64": "..."}. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <nap/discovery.pb-c.h>

#include "base64.h"
#include "fake-discovery.h"

#define KEY_RULE "1-200 characters of [a-z0-9._/-], no \"..\", not starting with \"/\""

/* As discovery-etcd's disc_record_key_valid(). */
static bool key_valid(const char *key, bool allow_empty)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0)
		return allow_empty;
	if (n > 200 || key[0] == '/' || strstr(key, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '/' || c == '-'))
			return false;
	}
	return true;
}

/* Index of key, or where it would go (*found false). */
static size_t rec_find(const struct fdisc *d, const char *key, bool *found)
{
	size_t lo = 0, hi = d->n_recs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(d->recs[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int rec_put(struct fdisc *d, const char *key, const void *value, size_t len)
{
	bool found;
	size_t at = rec_find(d, key, &found);
	uint8_t *v = malloc(len ? len : 1);

	if (!v)
		return -ENOMEM;
	if (len)
		memcpy(v, value, len);
	if (found) {
		free(d->recs[at].value);
		d->recs[at].value = v;
		d->recs[at].len = len;
		return 0;
	}
	if (d->n_recs == d->cap_recs) {
		size_t cap = d->cap_recs ? 2 * d->cap_recs : 16;
		struct frec *r = realloc(d->recs, cap * sizeof *r);
		if (!r) {
			free(v);
			return -ENOMEM;
		}
		d->recs = r;
		d->cap_recs = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	memmove(&d->recs[at + 1], &d->recs[at], (d->n_recs - at) * sizeof *d->recs);
	d->recs[at] = (struct frec){k, v, len};
	d->n_recs++;
	return 0;
}

static bool has_prefix(const char *key, const char *prefix)
{
	return strncmp(key, prefix, strlen(prefix)) == 0;
}

/* Writes every record to the state file; 0 or a negative errno. */
static int save(struct fdisc *d)
{
	char tmp[4200];
	json_t *root, *recs;
	int r = 0;

	if (!d->state_file)
		return 0;
	snprintf(tmp, sizeof tmp, "%s.tmp", d->state_file);
	root = json_object();
	recs = json_object();
	if (!root || !recs || json_object_set_new(root, "records", recs) < 0) {
		json_decref(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_recs && r == 0; i++) {
		const struct frec *rec = &d->recs[i];
		json_t *v = json_stringn((const char *)rec->value, rec->len);
		if (!v) { /* not UTF-8 */
			char *b64;
			if ((r = base64_encode(&b64, rec->value, rec->len)) < 0)
				break;
			v = json_pack("{s:s}", "base64", b64);
			free(b64);
		}
		if (!v || json_object_set_new(recs, rec->key, v) < 0)
			r = -ENOMEM;
	}
	FILE *f = r == 0 ? fopen(tmp, "w") : NULL;
	if (r == 0 && !f)
		r = -errno;
	if (f) {
		if (json_dumpf(root, f, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 || fflush(f) != 0 ||
		    fsync(fileno(f)) < 0)
			r = -EIO;
		if (fclose(f) != 0 && r == 0)
			r = -EIO;
		if (r == 0 && rename(tmp, d->state_file) < 0)
			r = -errno;
		if (r < 0)
			unlink(tmp);
	}
	json_decref(root);
	if (r < 0)
		d->host->log(NAP_LOG_ERROR, "fake-discovery: writing %s: %s", d->state_file,
			     strerror(-r));
	return r;
}

int fd_records_load(struct fdisc *d)
{
	json_error_t jerr;
	json_t *root, *recs, *v;
	const char *key;
	int r = 0;

	if (!d->state_file || access(d->state_file, F_OK) < 0)
		return 0;
	root = json_load_file(d->state_file, JSON_ALLOW_NUL, &jerr);
	recs = json_object_get(root, "records");
	if (!json_is_object(recs)) {
		d->host->log(NAP_LOG_ERROR, "fake-discovery: state_file %s:%d: %s", d->state_file,
			     jerr.line, root ? "no \"records\" object" : jerr.text);
		json_decref(root);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	json_object_foreach(recs, key, v)
	{
		const char *b64 = json_string_value(json_object_get(v, "base64"));
		unsigned char *bin = NULL;
		size_t len = 0;
		if (!key_valid(key, false)) {
			r = -EINVAL;
		} else if (json_is_string(v)) {
			r = rec_put(d, key, json_string_value(v), json_string_length(v));
		} else if (b64 && (r = base64_decode(&bin, &len, b64, strlen(b64))) == 0) {
			r = rec_put(d, key, bin, len);
			free(bin);
		} else {
			r = -EINVAL;
		}
		if (r < 0) {
			d->host->log(NAP_LOG_ERROR,
				     "fake-discovery: state_file %s: record %.200s: %s",
				     d->state_file, key, strerror(-r));
			break;
		}
	}
	d->host->log(NAP_LOG_INFO, "fake-discovery: %zu records from %s", d->n_recs, d->state_file);
	pthread_mutex_unlock(&d->lock);
	json_decref(root);
	return r < 0 ? -EINVAL : 0;
}

void fd_records_print(struct fdisc *d, const char *prefix, FILE *out)
{
	for (size_t i = 0; i < d->n_recs; i++) {
		const struct frec *rec = &d->recs[i];
		if (!has_prefix(rec->key, prefix))
			continue;
		fprintf(out, "%s ", rec->key);
		/* One line per record, whatever the value holds. */
		for (size_t j = 0; j < rec->len; j++) {
			int c = rec->value[j];
			fputc(c == '\n' || c == '\r' || c == '\0' ? ' ' : c, out);
		}
		fputc('\n', out);
	}
}

void fd_put_record(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__Record *in = (const Nap__Record *)request;

	if (fake_fault_begin(d->host, call, "PutRecord"))
		return;
	if (!key_valid(in->key, false)) {
		d->host->end(call, NAP_INVALID_ARGUMENT,
			     "record key \"%.210s\" is not valid: use " KEY_RULE, in->key);
		return;
	}
	pthread_mutex_lock(&d->lock);
	int r = rec_put(d, in->key, in->value.data, in->value.len);
	if (r == 0)
		r = save(d);
	pthread_mutex_unlock(&d->lock);
	if (r < 0) {
		d->host->end(call, NAP_UNAVAILABLE, "fake-discovery: storing a record: %s",
			     strerror(-r));
		return;
	}
	Nap__PutRecordReply out = NAP__PUT_RECORD_REPLY__INIT;
	fake_fault_end(d->host, "PutRecord");
	d->host->reply(call, &out.base);
}

void fd_get_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__GetRecordsRequest *in = (const Nap__GetRecordsRequest *)request;
	Nap__GetRecordsReply out = NAP__GET_RECORDS_REPLY__INIT;

	if (fake_fault_begin(d->host, call, "GetRecords"))
		return;
	if (!key_valid(in->prefix, true)) {
		d->host->end(call, NAP_INVALID_ARGUMENT,
			     "record prefix \"%.210s\" is not valid: use \"\" or " KEY_RULE,
			     in->prefix);
		return;
	}
	pthread_mutex_lock(&d->lock);
	size_t n = d->n_recs ? d->n_recs : 1;
	Nap__Record *recs = calloc(n, sizeof *recs);
	Nap__Record **ptrs = calloc(n, sizeof *ptrs);
	for (size_t i = 0; recs && ptrs && i < d->n_recs; i++) {
		if (!has_prefix(d->recs[i].key, in->prefix))
			continue;
		Nap__Record *r = &recs[out.n_records];
		nap__record__init(r);
		r->key = d->recs[i].key;
		r->value.data = d->recs[i].value;
		r->value.len = d->recs[i].len;
		ptrs[out.n_records++] = r;
	}
	out.records = ptrs;
	/* Replied under the lock: the records point into the map. */
	if (recs && ptrs) {
		fake_fault_end(d->host, "GetRecords");
		d->host->reply(call, &out.base);
	} else {
		d->host->end(call, NAP_RESOURCE_EXHAUSTED, "fake-discovery: out of memory");
	}
	pthread_mutex_unlock(&d->lock);
	free(recs);
	free(ptrs);
}

void fd_delete_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct fdisc *d = state;
	const Nap__GetRecordsRequest *in = (const Nap__GetRecordsRequest *)request;

	if (fake_fault_begin(d->host, call, "DeleteRecords"))
		return;
	if (!in->prefix || !*in->prefix) {
		d->host->end(
			call, NAP_INVALID_ARGUMENT,
			"refusing to delete every record: give a prefix such as \"apps/myapp\"");
		return;
	}
	if (!key_valid(in->prefix, false)) {
		d->host->end(call, NAP_INVALID_ARGUMENT,
			     "record prefix \"%.210s\" is not valid: use " KEY_RULE, in->prefix);
		return;
	}
	pthread_mutex_lock(&d->lock);
	size_t kept = 0;
	for (size_t i = 0; i < d->n_recs; i++) {
		if (has_prefix(d->recs[i].key, in->prefix)) {
			free(d->recs[i].key);
			free(d->recs[i].value);
		} else {
			d->recs[kept++] = d->recs[i];
		}
	}
	bool changed = kept != d->n_recs;
	d->n_recs = kept;
	int r = changed ? save(d) : 0;
	pthread_mutex_unlock(&d->lock);
	if (r < 0) {
		d->host->end(call, NAP_UNAVAILABLE, "fake-discovery: deleting records: %s",
			     strerror(-r));
		return;
	}
	Nap__PutRecordReply out = NAP__PUT_RECORD_REPLY__INIT;
	fake_fault_end(d->host, "DeleteRecords");
	d->host->reply(call, &out.base);
}
