/* The plugin host's state, shared by its two files: host.c (start-up, the
 * loop, the calls its plugin serves) and host_calls.c (the calls its plugin
 * makes through napd). Only the --plugin-host process has it. One recursive
 * lock (host_lock) guards all of it. */
#ifndef NAPD_HOST_STATE_H
#define NAPD_HOST_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>
#include <nap/plugin.h>

#include "../lib/idmap.h"
#include "msgq.h"

struct nap_plugin_call {
	uint64_t id;
	const struct nap_plugin_method *method;
	ProtobufCMessage *request;
	uint64_t deadline; /* usec, 0 = none */
	uint32_t timeout_ms;
	const char *service; /* the descriptor's name, for the deadline message */
	uint32_t method_index;
	atomic_bool cancelled;
	bool answered; /* an END went out (deadline, cancel, or the handler) */
	/* The request stream (protocol 1.2): messages after the first, queued
	 * by the loop thread until the handler's recv() takes them. */
	const ProtobufCMessageDescriptor *input;
	struct msgq requests;
	size_t credit;          /* bytes the caller may still send, as granted */
	size_t ungranted;       /* bytes taken by the handler, not granted back yet */
	bool half_closed;       /* the caller sent its END: no more requests */
	pthread_cond_t arrived; /* a request, the half-close, or the end came */
};

struct bound_service {
	const ProtobufCServiceDescriptor *desc;
	const struct nap_plugin_method **by_index; /* desc->n_methods entries */
};

struct host_state {
	pthread_mutex_t lock;
	pthread_t loop_thread;
	int wake_fd;
	nap_conn *conn;
	const struct nap_plugin *plugin;
	void *state;
	struct bound_service *services;
	size_t nservices;
	nap_idmap calls;
	const Nap__Bus__Hello *napd_hello; /* owned by conn */
	const char *name;
	bool said_hello; /* calls wait for it: napd takes none before */
	pthread_cond_t hello_cond;
};

extern struct host_state H;

void host_lock(void);
/* Unlocks, and wakes the loop when output waits to be written. */
void host_unlock(void);
/* host->cancelled(): the caller cancelled, or the deadline passed. */
bool host_cancelled(const nap_plugin_call *call);

/* host->call() and host->call_stream() (host_calls.c). */
int host_call(ProtobufCMessage **replyp, const char *service, uint32_t method,
	      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
	      uint32_t timeout_ms, nap_error *err);
int host_call_stream(const char *service, uint32_t method, const ProtobufCMessage *request,
		     const ProtobufCMessageDescriptor *msg_desc, uint32_t timeout_ms,
		     const nap_plugin_call *parent,
		     int (*on_message)(const ProtobufCMessage *msg, void *ud), void *ud,
		     nap_error *err);

#endif
