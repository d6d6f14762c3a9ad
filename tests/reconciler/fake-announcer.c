/* Test fixture: fake-scheduler's own announcer, a "sidekick" like
 * scheduler-fleet's (setting announcer = sidekick).
 *
 * The network thread queues a job each time an instance starts or stops
 * accepting connections; this thread announces it in (or withdraws it
 * from) nap.Discovery through the bus, in order. Instances then say
 * announcer "sidekick", so the orchestrator leaves their announcing to the
 * scheduler. A failed call is logged and dropped: the fake keeps no
 * retries, like a sidekick that missed its chance. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nap/discovery.pb-c.h>

#include "fake-scheduler.h"

/* One Announce or Withdraw. */
#define ANNOUNCE_TIMEOUT_MS 2000u

void fs_announce_queue(struct fsched *fs, const struct fsnap *s, bool listening)
{
	if (!fs->sidekick || !fs->announcer_started)
		return;
	struct fjob *j = calloc(1, sizeof *j);
	if (!j) {
		fs->host->log(NAP_LOG_ERROR, "fake-scheduler: out of memory: %s not %s", s->id,
			      listening ? "announced" : "withdrawn");
		return;
	}
	j->announce = listening;
	j->s = *s;
	if (fs->jobs_tail)
		fs->jobs_tail->next = j;
	else
		fs->jobs = j;
	fs->jobs_tail = j;
	pthread_cond_signal(&fs->jobs_cond);
}

static void make(struct fsched *fs, const struct fjob *j)
{
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
		&nap__discovery__descriptor, j->announce ? "Announce" : "Withdraw");
	Nap__Endpoint ep = NAP__ENDPOINT__INIT, *eps[1] = {&ep};
	Nap__AnnounceRequest a = NAP__ANNOUNCE_REQUEST__INIT;
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	uint32_t instances[1] = {j->s.instance};
	ProtobufCMessage *reply = NULL;
	nap_error err = {0};

	ep.app = (char *)j->s.app;
	ep.host = "127.0.0.1";
	ep.port = j->s.port;
	ep.instance = j->s.instance;
	ep.release = j->s.release;
	a.n_endpoints = 1;
	a.endpoints = eps;
	w.app = (char *)j->s.app;
	w.release = j->s.release;
	w.n_instances = 1;
	w.instances = instances;
	int r = fs->host->call(&reply, nap__discovery__descriptor.name,
			       (uint32_t)(m - nap__discovery__descriptor.methods),
			       j->announce ? &a.base : &w.base, m->output, ANNOUNCE_TIMEOUT_MS,
			       &err);
	if (r < 0)
		fs->host->log(NAP_LOG_WARNING, "fake-scheduler: sidekick: %s %s: %s",
			      j->announce ? "announcing" : "withdrawing", j->s.id,
			      err.message[0] ? err.message : strerror(-r));
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
}

static void *announcer_main(void *arg)
{
	struct fsched *fs = arg;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stop) {
		struct fjob *j = fs->jobs;
		if (!j) {
			pthread_cond_wait(&fs->jobs_cond, &fs->lock);
			continue;
		}
		fs->jobs = j->next;
		if (!fs->jobs)
			fs->jobs_tail = NULL;
		pthread_mutex_unlock(&fs->lock);
		make(fs, j);
		free(j);
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int fs_announcer_start(struct fsched *fs)
{
	if (!fs->sidekick)
		return 0;
	pthread_cond_init(&fs->jobs_cond, NULL);
	int r = pthread_create(&fs->announcer, NULL, announcer_main, fs);
	if (r)
		return -r;
	fs->announcer_started = true;
	return 0;
}

void fs_announcer_stop(struct fsched *fs)
{
	if (!fs->announcer_started)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->stop = true;
	pthread_cond_broadcast(&fs->jobs_cond);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->announcer, NULL);
	fs->announcer_started = false;
	while (fs->jobs) {
		struct fjob *j = fs->jobs;
		fs->jobs = j->next;
		free(j);
	}
	fs->jobs_tail = NULL;
}
