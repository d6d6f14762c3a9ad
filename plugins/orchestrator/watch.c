/* The watcher: follows the scheduler's instances through
 * nap.Scheduler.Watch (a list, then every change) and keeps the picture in
 * state.c current. A stream that ends (a scheduler restarting, Docker
 * restarting) is opened again; a scheduler without Watch is listed every
 * second instead. Until a list is complete (O.synced) the reconciler starts
 * nothing, so that a gap in what is known never looks like a missing
 * instance. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <nap/scheduler.pb-c.h>

#include "orchestrator.h"

#define POLL_MS 1000u
#define RETRY_MS 500u

static int on_event(const ProtobufCMessage *msg, void *ud)
{
	(void)ud;
	if (atomic_load(&O.stopping))
		return 1;
	if (!msg)
		return 0;
	const Nap__InstanceEvent *ev = (const Nap__InstanceEvent *)msg;
	pthread_mutex_lock(&O.lock);
	if (ev->kind && strcmp(ev->kind, "synced") == 0) {
		O.synced = true;
		orch_changed(NULL);
	} else if (ev->kind && ev->instance) {
		state_apply(ev->kind, ev->instance);
	}
	pthread_mutex_unlock(&O.lock);
	return 0;
}

/* One List, applied as a complete picture. */
static int poll_once(nap_error *e)
{
	Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
	req.app = (char *)"";
	ProtobufCMessage *reply = NULL;
	int r = bus_call(&reply, &nap__scheduler__descriptor, "List", &req.base, 10000, e);
	if (r < 0)
		return r;
	const Nap__ListInstancesReply *l = (const Nap__ListInstancesReply *)reply;
	pthread_mutex_lock(&O.lock);
	state_unsee_all();
	for (size_t i = 0; i < l->n_instances; i++)
		state_apply("present", l->instances[i]);
	O.synced = true;
	orch_changed(NULL);
	pthread_mutex_unlock(&O.lock);
	protobuf_c_message_free_unpacked(reply, NULL);
	return 0;
}

static void pause_ms(uint32_t ms)
{
	for (uint32_t t = 0; t < ms && !atomic_load(&O.stopping); t += 50)
		usleep(50 * 1000);
}

void *watch_main(void *arg)
{
	(void)arg;
	bool polling = false, said_info = false, said_warning = false;
	while (!atomic_load(&O.stopping)) {
		nap_error e = {0};
		int r;
		if (polling) {
			r = poll_once(&e);
			if (r == 0) {
				said_info = said_warning = false;
				pause_ms(POLL_MS);
				continue;
			}
		} else {
			pthread_mutex_lock(&O.lock);
			state_unsee_all();
			pthread_mutex_unlock(&O.lock);
			Nap__ListInstancesRequest req = NAP__LIST_INSTANCES_REQUEST__INIT;
			req.app = (char *)"";
			int idx = nap_method_index(&nap__scheduler__descriptor, "Watch");
			r = O.host->call_stream("nap.Scheduler", (uint32_t)idx, &req.base,
						&nap__instance_event__descriptor, 0, NULL, on_event,
						NULL, &e);
			/* UNIMPLEMENTED also means "no scheduler (yet)": only a
			 * scheduler that answers List but not Watch is polled. */
			if (r < 0 && e.status == NAP_UNIMPLEMENTED && poll_once(&e) == 0) {
				O.host->log(NAP_LOG_NOTICE,
					    "orchestrator: the scheduler has no Watch (%s): listing "
					    "its instances every %u ms instead",
					    "it answered UNIMPLEMENTED", POLL_MS);
				polling = true;
				continue;
			}
			if (r == 0 || atomic_load(&O.stopping))
				continue;
		}
		int level = orch_retry_level();
		bool *said = level == NAP_LOG_WARNING ? &said_warning : &said_info;
		if (!*said)
			O.host->log(level,
				    "orchestrator: cannot follow the scheduler's instances: %s "
				    "(trying again)",
				    e.message);
		*said = true;
		pause_ms(RETRY_MS);
	}
	return NULL;
}
