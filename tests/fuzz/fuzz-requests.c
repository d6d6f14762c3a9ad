/* libFuzzer target: the unpacking of every request message napd or a
 * plugin accepts, then the checks their handlers make with functions of
 * their own (names, images, metadata, record keys, UTF-8, notifications).
 *
 * The first byte picks the message type (its value modulo the table
 * below); the rest is the message as it arrives in a CALL's payload. What
 * unpacks is (1) walked: every string field, however deep, goes through
 * every check, as a caller controls which field reaches which check; (2)
 * checked as its own handler checks it (scheduler-fleet's run_check()
 * order, scheduler-local's env check, the notifier's notification_check()
 * and what it writes after); (3) packed again, and that must unpack (when it held no unknown
 * fields: see `unknown`). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <nap/builder.pb-c.h>
#include <nap/bus.pb-c.h>
#include <nap/control.pb-c.h>
#include <nap/discovery.pb-c.h>
#include <nap/env.h>
#include <nap/names.h>
#include <nap/notifier.pb-c.h>
#include <nap/scheduler.pb-c.h>

#include "builder/names.h"
#include "discovery-etcd/discovery.h"
#include "notifier/notification.h"
#include "scheduler-fleet/units.h"
#include "scheduler-local/scheduler_local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static const ProtobufCMessageDescriptor *const requests[] = {
	/* nap.Control (napd) */
	&nap__ping_request__descriptor,
	&nap__list_plugins_request__descriptor,
	&nap__deploy_request__descriptor,
	&nap__app_request__descriptor,
	&nap__list_apps_request__descriptor,
	&nap__scale_request__descriptor,
	&nap__set_env_request__descriptor,
	&nap__rollback_request__descriptor,
	&nap__logs_request__descriptor,
	/* nap.Builder */
	&nap__build_request__descriptor,
	&nap__remove_image_request__descriptor,
	/* nap.Scheduler (Logs: LogsRequest above) */
	&nap__run_request__descriptor,
	&nap__remove_request__descriptor,
	&nap__list_instances_request__descriptor,
	/* nap.Discovery */
	&nap__announce_request__descriptor,
	&nap__withdraw_request__descriptor,
	&nap__resolve_request__descriptor,
	&nap__record__descriptor,
	&nap__get_records_request__descriptor,
	/* nap.Notifier */
	&nap__notification__descriptor,
	/* the bus */
	&nap__bus__hello__descriptor,
};
#define N_REQUESTS (sizeof(requests) / sizeof(requests[0]))

static void check_string(const char *s)
{
	if (!s)
		return;
	sink += nap_app_name_valid(s) + nap_env_key_valid(s) + sf_image_valid(s) +
		sf_metadata_valid(s) + sf_host_valid(s) + sf_path_valid(s) + sf_url_valid(s) +
		sf_text_valid(s) + nap_utf8_valid(s) + builder_valid_image(s) +
		builder_valid_registry(s) + endpoint_host_valid(s) + disc_record_key_valid(s, true);
	char buf[64];
	sink += strlen(builder_printable(buf, sizeof(buf), s));
}

/* Unknown fields seen by walk(). protobuf-c keeps even invalid ones (field
 * number 0) and writes them back, so only messages without any are
 * expected to read back after packing. */
static size_t unknown;

/* Every string of m, in nested messages too. */
static void walk(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	unknown += m->n_unknown_fields;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			void *const *v = *(void *const *const *)base;

			for (size_t k = 0; k < n; k++) {
				if (f->type == PROTOBUF_C_TYPE_STRING)
					check_string(v[k]);
				else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
					walk(v[k]);
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			check_string(*(const char *const *)base);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)base) {
			walk(*(const ProtobufCMessage *const *)base);
		}
	}
}

/* scheduler-fleet's run_check() (run.c), in its order. */
static bool run_request_ok(const Nap__RunRequest *req)
{
	const Nap__Placement *pl = req->placement;

	if (!nap_app_name_valid(req->app) || req->release == 0 || !sf_image_valid(req->image) ||
	    req->n_instances == 0)
		return false;
	for (size_t i = 0; i < req->n_instances; i++)
		if (req->instances[i] == 0)
			return false;
	for (size_t i = 0; i < req->n_env; i++)
		if (!nap_env_key_valid(req->env[i]->key) || !sf_text_valid(req->env[i]->value))
			return false;
	for (size_t i = 0; pl && i < pl->n_machine_metadata; i++)
		if (!sf_metadata_valid(pl->machine_metadata[i]))
			return false;
	return true;
}

static void handler_checks(const ProtobufCMessage *m)
{
	char err[512];

	if (m->descriptor == &nap__run_request__descriptor) {
		const Nap__RunRequest *req = (const Nap__RunRequest *)m;

		if (run_request_ok(req)) {
			char name[SF_UNIT_NAME_MAX], app[NAP_APP_NAME_MAX + 1];
			enum sf_unit_kind kind;
			uint32_t rel, inst;

			sf_unit_name(name, sizeof(name), SF_UNIT_RUN, req->app, req->release,
				     req->instances[0]);
			if (!sf_unit_parse(name, app, &kind, &rel, &inst) ||
			    strcmp(app, req->app) != 0 || rel != req->release ||
			    inst != req->instances[0] || kind != SF_UNIT_RUN)
				__builtin_trap();
		}
		/* scheduler-local: keys by the name rule, values UTF-8. */
		for (size_t i = 0; i < req->n_env; i++)
			sink += nap_env_key_valid(req->env[i]->key) &&
				nap_utf8_valid(req->env[i]->value ? req->env[i]->value : "");
	} else if (m->descriptor == &nap__notification__descriptor) {
		const Nap__Notification *n = (const Nap__Notification *)m;

		sink += strlen(notification_event(n));
		if (notification_check(n, err, sizeof(err)) == 0) {
			size_t len;
			char *json = notification_json(n, &len, err, sizeof(err));
			char line[NOTIFICATION_LINE_MAX];

			if (json && strlen(json) != len)
				__builtin_trap();
			free(json);
			notification_line(n, line);
			if (strlen(line) >= NOTIFICATION_LINE_MAX || strchr(line, '\n'))
				__builtin_trap();
		}
	} else if (m->descriptor == &nap__deploy_request__descriptor) {
		const Nap__DeployRequest *req = (const Nap__DeployRequest *)m;

		sink += nap_app_name_valid(req->app);
		for (size_t i = 0; i < req->n_env; i++)
			sink += nap_env_key_valid(req->env[i]->key);
	} else if (m->descriptor == &nap__set_env_request__descriptor) {
		const Nap__SetEnvRequest *req = (const Nap__SetEnvRequest *)m;

		for (size_t i = 0; i < req->n_set; i++)
			sink += nap_env_key_valid(req->set[i]->key);
		for (size_t i = 0; i < req->n_unset; i++)
			sink += nap_env_key_valid(req->unset[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m, *again;
	uint8_t *buf;
	size_t n;

	if (size == 0)
		return 0;
	desc = requests[data[0] % N_REQUESTS];
	m = protobuf_c_message_unpack(desc, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	unknown = 0;
	walk(m);
	handler_checks(m);
	n = protobuf_c_message_get_packed_size(m);
	buf = malloc(n ? n : 1);
	if (buf) {
		if (protobuf_c_message_pack(m, buf) != n)
			__builtin_trap();
		again = protobuf_c_message_unpack(desc, NULL, n, buf);
		if (!again && unknown == 0)
			__builtin_trap();
		if (again)
			protobuf_c_message_free_unpacked(again, NULL);
		free(buf);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
