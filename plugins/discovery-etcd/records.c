/* discovery-etcd: napd's own records under its key prefix (napd.conf's
 * key_prefix, /nap/ by default; napd knows nothing of etcd; it keeps its
 * apps and releases here through these three calls).
 * Keys are checked so that no caller reaches outside the prefix, and an empty
 * prefix cannot be deleted (that would wipe every record). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/discovery.pb-c.h>

#include "discovery.h"

#define KEY_RULE "1-200 characters of [a-z0-9._/-], no \"..\", not starting with \"/\""

void disc_put_record(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__Record *in = (const Nap__Record *)request;
	char key[256], err[512];
	int r;

	if (!disc_record_key_valid(in->key, false)) {
		disc_host->end(call, NAP_INVALID_ARGUMENT,
			       "record key \"%.210s\" is not valid: use " KEY_RULE, in->key);
		return;
	}
	snprintf(key, sizeof key, "%s%s", d->records_prefix, in->key);
	r = etcd_put(NULL, d->etcd, key, in->value.data ? (const void *)in->value.data : "",
		     in->value.len, 0, err, sizeof err);
	if (r < 0) {
		disc_end_etcd_error(d, call, r, "storing a record", err);
		return;
	}
	Nap__PutRecordReply out = NAP__PUT_RECORD_REPLY__INIT;
	disc_host->reply(call, &out.base);
}

void disc_get_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__GetRecordsRequest *in = (const Nap__GetRecordsRequest *)request;
	const size_t plen = strlen(d->records_prefix);
	Nap__GetRecordsReply out = NAP__GET_RECORDS_REPLY__INIT;
	Nap__Record *recs = NULL, **ptrs = NULL;
	struct etcd_range range;
	char key[256], err[512];
	int r;

	if (!disc_record_key_valid(in->prefix, true)) {
		disc_host->end(call, NAP_INVALID_ARGUMENT,
			       "record prefix \"%.210s\" is not valid: use \"\" or " KEY_RULE,
			       in->prefix);
		return;
	}
	snprintf(key, sizeof key, "%s%s", d->records_prefix, in->prefix);
	r = etcd_get(&range, d->etcd, key, true, 0, err, sizeof err);
	if (r < 0) {
		disc_end_etcd_error(d, call, r, "reading records", err);
		return;
	}
	if (range.n) {
		recs = calloc(range.n, sizeof *recs);
		ptrs = calloc(range.n, sizeof *ptrs);
		if (!recs || !ptrs) {
			free(recs);
			free(ptrs);
			etcd_range_release(&range);
			disc_host->end(call, NAP_RESOURCE_EXHAUSTED,
				       "reading records: out of memory");
			return;
		}
	}
	/* etcd answers sorted by key, and the prefix is the same for all (a
	 * key without it, which etcd would not send, is left out rather than
	 * read past its end). */
	for (size_t i = 0; i < range.n; i++) {
		size_t n = out.n_records;

		if (strncmp(range.kvs[i].key, key, strlen(key)) != 0)
			continue;
		nap__record__init(&recs[n]);
		recs[n].key = range.kvs[i].key + plen;
		recs[n].value.data = (uint8_t *)range.kvs[i].value;
		recs[n].value.len = range.kvs[i].value_len;
		ptrs[n] = &recs[n];
		out.n_records++;
	}
	out.records = ptrs;
	disc_host->reply(call, &out.base);
	free(recs);
	free(ptrs);
	etcd_range_release(&range);
}

void disc_delete_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	struct discovery *d = state;
	const Nap__GetRecordsRequest *in = (const Nap__GetRecordsRequest *)request;
	char key[256], err[512];
	int r;

	if (!in->prefix || !*in->prefix) {
		disc_host->end(
			call, NAP_INVALID_ARGUMENT,
			"refusing to delete every record: give a prefix such as \"apps/myapp\"");
		return;
	}
	if (!disc_record_key_valid(in->prefix, false)) {
		disc_host->end(call, NAP_INVALID_ARGUMENT,
			       "record prefix \"%.210s\" is not valid: use " KEY_RULE, in->prefix);
		return;
	}
	snprintf(key, sizeof key, "%s%s", d->records_prefix, in->prefix);
	r = etcd_delete(NULL, d->etcd, key, true, err, sizeof err);
	if (r < 0) {
		disc_end_etcd_error(d, call, r, "deleting records", err);
		return;
	}
	Nap__PutRecordReply out = NAP__PUT_RECORD_REPLY__INIT;
	disc_host->reply(call, &out.base);
}
