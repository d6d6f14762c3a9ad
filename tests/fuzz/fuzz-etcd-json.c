/* libFuzzer target: the JSON read from etcd's v3 gateway (plugins/common's
 * etcd_v3.c) and discovery-etcd's decoding of what it holds (endpoints.c's
 * Resolve and Withdraw, records.c's records, names.c's endpoint parser),
 * through the real clients with fake_http.c in place of the network.
 *
 * The first byte picks the call: g range, p put, d delete, l lease grant,
 * k lease keep-alive, v lease revoke, w watch; r Resolve, x Withdraw, R
 * GetRecords, P PutRecord, D DeleteRecords; e an endpoint value parsed
 * directly (key /services/web/h:1 and the rest as its value). Any other
 * byte picks by its value. The rest (after one optional newline) is etcd's
 * answers in answers.h's format. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/discovery.pb-c.h>

#include "answers.h"
#include "discovery-etcd/discovery.h"
#include "etcd_v3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;
static etcd_client *etcd;

/* ---- what discovery-etcd's handlers need around them ---- */

/* Reads every string of m (nested too) in instrumented code. */
static void touch_strings(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		size_t n = 1;
		void *const *v = (void *const *)base;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const char *)m + f->quantifier_offset);
			v = *(void *const *const *)base;
		}
		for (size_t k = 0; k < n; k++) {
			if (f->type == PROTOBUF_C_TYPE_STRING && v[k])
				for (const char *c = v[k]; *c; c++)
					sink += (unsigned char)*c;
			else if (f->type == PROTOBUF_C_TYPE_MESSAGE && v[k])
				touch_strings(v[k]);
		}
	}
}

static int host_reply(nap_plugin_call *call, const ProtobufCMessage *m)
{
	(void)call;
	if (m) {
		touch_strings(m);
		/* What the host would send: it must pack. */
		size_t n = protobuf_c_message_get_packed_size(m);
		uint8_t *buf = malloc(n ? n : 1);

		if (buf)
			sink += protobuf_c_message_pack(m, buf);
		free(buf);
	}
	return 0;
}

static int host_end(nap_plugin_call *call, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	(void)call;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sink += strlen(msg) + (size_t)status;
	return 0;
}

static const nap_host host = {.size = sizeof host,
			      .abi = NAP_PLUGIN_ABI,
			      .reply = host_reply,
			      .send = host_reply,
			      .end = host_end};
const nap_host *disc_host = &host;

/* discovery.c's (which holds the plugin's entry point and is not linked). */
void disc_end_etcd_error(const struct discovery *d, nap_plugin_call *call, int r, const char *what,
			 const char *err)
{
	(void)d;
	host_end(call, r, "%s: %s", what, err);
}

/* announcer.c's (threads and leases): the etcd request alone. */
int announcer_put(struct announcer *a, const struct endpoint_record *ep, enum ann_source src,
		  const char *container_id, char *err, size_t errlen)
{
	char key[ENDPOINT_KEY_MAX], *value = endpoint_record_json(ep);
	int r;

	(void)a, (void)src, (void)container_id;
	if (!value)
		return -ENOMEM;
	if (endpoint_key(key, sizeof key, ep) < 0) {
		free(value);
		return -EINVAL;
	}
	r = etcd_put(NULL, etcd, key, value, strlen(value), 0, err, errlen);
	free(value);
	return r;
}

int announcer_delete(struct announcer *a, const char *key, uint32_t release,
		     const char *container_id, int64_t *deletedp, char *err, size_t errlen)
{
	(void)a, (void)release, (void)container_id;
	return etcd_delete(deletedp, etcd, key, false, err, errlen);
}

/* ---- the calls ---- */

static void touch_kv(const struct etcd_kv *kv)
{
	sink += strlen(kv->key) + kv->value_len + (size_t)kv->mod_revision + (size_t)kv->lease;
	if (kv->value_len)
		sink += (unsigned char)kv->value[kv->value_len - 1];
}

static int on_watch(void *user, const struct etcd_event *ev)
{
	int *count = user;

	if (ev->kv)
		touch_kv(ev->kv);
	sink += (size_t)ev->revision;
	return ++*count >= 50 ? 1 : 0;
}

static void run(char op, const uint8_t *data, size_t size)
{
	struct discovery d = {.etcd_url = "http://127.0.0.1:2379", .etcd = etcd};
	nap_plugin_call *call = (nap_plugin_call *)&d; /* never dereferenced */
	char err[512] = "";
	int64_t a = 0, b = 0;
	int count = 0;

	switch (op) {
	case 'g': {
		struct etcd_range range;

		if (etcd_get(&range, etcd, "/services/web/", true, 0, err, sizeof err) == 0) {
			for (size_t i = 0; i < range.n; i++)
				touch_kv(&range.kvs[i]);
			etcd_range_release(&range);
		}
		break;
	}
	case 'p':
		etcd_put(&a, etcd, "/nap/apps/web/app", "{}", 2, 7587, err, sizeof err);
		break;
	case 'd':
		etcd_delete(&a, etcd, "/nap/apps/web/", true, err, sizeof err);
		break;
	case 'l':
		etcd_lease_grant(&a, &b, etcd, 10, err, sizeof err);
		break;
	case 'k':
		etcd_lease_keepalive(&a, etcd, 7587, err, sizeof err);
		break;
	case 'v':
		etcd_lease_revoke(etcd, 7587, err, sizeof err);
		break;
	case 'w': {
		struct etcd_watch_options o = {.key = "/services/",
					       .prefix = true,
					       .start_revision = 12};

		etcd_watch(&a, etcd, &o, on_watch, &count, err, sizeof err);
		break;
	}
	case 'r': {
		Nap__ResolveRequest in = NAP__RESOLVE_REQUEST__INIT;

		in.app = "web";
		disc_resolve(call, &in.base, &d);
		in.release = 3;
		disc_resolve(call, &in.base, &d);
		break;
	}
	case 'x': {
		Nap__WithdrawRequest in = NAP__WITHDRAW_REQUEST__INIT;
		uint32_t instances[] = {1, 2};

		in.app = "web";
		in.release = 3;
		in.n_instances = 2;
		in.instances = instances;
		disc_withdraw(call, &in.base, &d);
		break;
	}
	case 'R': {
		Nap__GetRecordsRequest in = NAP__GET_RECORDS_REQUEST__INIT;

		in.prefix = "apps/";
		disc_get_records(call, &in.base, &d);
		break;
	}
	case 'P': {
		Nap__Record in = NAP__RECORD__INIT;

		in.key = "apps/web/app";
		in.value.data = (uint8_t *)"{}";
		in.value.len = 2;
		disc_put_record(call, &in.base, &d);
		break;
	}
	case 'D': {
		Nap__GetRecordsRequest in = NAP__GET_RECORDS_REQUEST__INIT;

		in.prefix = "apps/web";
		disc_delete_records(call, &in.base, &d);
		break;
	}
	default: {
		struct endpoint_record ep;

		if (endpoint_record_parse(&ep, "/services/web:8080/h:1", (const char *)data,
					  size) == 0) {
			char *v = endpoint_record_json(&ep);
			sink += strlen(ep.host) + ep.port;
			free(v);
		}
		break;
	}
	}
	sink += strlen(err) * 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ops[] = "gpdlkvwrxRPDe";
	char op;

	if (size == 0)
		return 0;
	if (!etcd && etcd_client_new(&etcd, "http://127.0.0.1:2379") < 0)
		abort();
	op = data[0] && strchr(ops, data[0]) ? (char)data[0] : ops[data[0] % (sizeof ops - 1)];
	data++, size--;
	if (size > 0 && data[0] == '\n')
		data++, size--;
	answers_reset(data, size);
	run(op, data, size);
	answers_reset(NULL, 0);
	return 0;
}
