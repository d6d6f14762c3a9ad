/* Test fixture: fake-discovery, a nap.Discovery kept in memory.
 *
 *  - fake-discovery.c: the plugin, Announce/Withdraw/Resolve/Watch and the
 *    control commands;
 *  - fake-records.c: PutRecord/GetRecords/DeleteRecords, and the records'
 *    state file.
 *
 * Everything in struct fdisc is under its lock. */
#ifndef NAP_TESTS_FAKE_DISCOVERY_H
#define NAP_TESTS_FAKE_DISCOVERY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <nap/plugin.h>

#include "fake-control.h"

/* One endpoint, keyed as discovery-etcd keys it: app, host and instance. */
struct fdep {
	char app[64];
	char host[256];
	uint32_t port, instance, release;
};

/* One record under /nap/ (the key without that prefix). */
struct frec {
	char *key;
	uint8_t *value;
	size_t len;
};

struct fdisc {
	const nap_host *host;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* gen moved */
	uint64_t gen;           /* endpoint changes so far */
	struct fdep *eps;
	size_t n_eps, cap_eps;
	struct frec *recs; /* sorted by key */
	size_t n_recs, cap_recs;
	const char *state_file; /* NULL: records are kept in memory only */
	bool stop;
	struct fake_control *control;
};

/* ---- fake-records.c ---- */

/* Reads the state file, if there is one (lock not held). -EINVAL with a
 * message logged if it cannot be read. */
int fd_records_load(struct fdisc *d);
/* "key value" lines of the records under prefix, for the control channel
 * (lock held). */
void fd_records_print(struct fdisc *d, const char *prefix, FILE *out);
void fd_put_record(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void fd_get_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state);
void fd_delete_records(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

#endif
