/* The calls a plugin makes through napd: host->call() (unary) and
 * host->call_stream() (server streaming), from a handler's thread or one of
 * the plugin's own, never from the loop thread, which reads their replies. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/plugin.h>

#include "host_state.h"
#include "msgq.h"

/* Threads a plugin starts in init() may call at once: their calls wait
 * until the host has said HELLO (napd refuses anything before it). Lock
 * held. */
static void wait_hello(void)
{
	while (!H.said_hello)
		pthread_cond_wait(&H.hello_cond, &H.lock);
}

struct sync_call {
	pthread_cond_t cond;
	bool done;
	int status;
	nap_error *err;
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *reply;
};

/* A call that could not start (no connection to napd): UNAVAILABLE. */
static int not_started(nap_error *err, int r)
{
	if (err) {
		err->status = NAP_UNAVAILABLE;
		snprintf(err->message, sizeof(err->message), "%s", nap_strerror(r));
	}
	return r;
}

static void sync_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct sync_call *s = ud;
	if (!r->end)
		return;
	s->status = r->status;
	if (r->status == NAP_OK) {
		s->reply = protobuf_c_message_unpack(s->desc, NULL, r->payload_len, r->payload);
		if (!s->reply)
			s->status = NAP_INTERNAL;
	}
	if (s->err) {
		s->err->status = s->status;
		snprintf(s->err->message, sizeof(s->err->message), "%s",
			 s->status == NAP_OK || r->status != NAP_OK ? r->message
								    : "reply could not be decoded");
	}
	s->done = true;
	pthread_cond_signal(&s->cond);
}

int host_call(ProtobufCMessage **replyp, const char *service, uint32_t method,
	      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
	      uint32_t timeout_ms, nap_error *err)
{
	if (pthread_equal(pthread_self(), H.loop_thread)) {
		if (err) {
			err->status = NAP_FAILED_PRECONDITION;
			snprintf(err->message, sizeof(err->message),
				 "host->call() from an inline handler would deadlock");
		}
		return -EDEADLK;
	}
	struct sync_call s = {.err = err, .desc = reply_desc};
	pthread_cond_init(&s.cond, NULL);
	host_lock();
	wait_hello();
	int r = nap_call_start(NULL, H.conn, service, method, request, timeout_ms, sync_done, &s);
	if (r == 0) {
		nap_conn_flush(H.conn);
		uint64_t one = 1;
		(void)!write(H.wake_fd, &one, sizeof(one));
		while (!s.done)
			pthread_cond_wait(&s.cond, &H.lock);
	}
	host_unlock();
	pthread_cond_destroy(&s.cond);
	if (r < 0)
		return not_started(err, r);
	if (s.status != NAP_OK)
		return -EPROTO;
	*replyp = s.reply;
	return 0;
}

/* A streaming call made from a handler thread: the loop thread queues each
 * message's bytes, the calling thread unpacks them and runs the plugin's
 * callback, so that the callback may block or make calls of its own. */
struct stream_call {
	pthread_cond_t cond;
	nap_call *call; /* NULL once it ended */
	struct msgq msgs;
	bool done;
	int status;
	char message[NAP_MESSAGE_MAX];
};

static void stream_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct stream_call *s = ud;
	if (!r->end) {
		/* On failure dropped: the caller sees a gap, not a crash. */
		(void)msgq_push(&s->msgs, r->payload, r->payload_len);
	} else {
		s->done = true;
		s->call = NULL;
		s->status = r->status;
		snprintf(s->message, sizeof(s->message), "%s", r->message);
	}
	pthread_cond_signal(&s->cond);
}

/* Waits up to 250 ms for a message or the end; returns the message (the
 * caller frees it) or NULL. Called and returns with the lock held. */
static struct msgq_item *stream_next(struct stream_call *s)
{
	if (!s->msgs.head && !s->done) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &H.lock, &ts);
	}
	return msgq_pop(&s->msgs);
}

static void stream_cancel(struct stream_call *s)
{
	if (s->call)
		nap_call_cancel(s->call); /* runs stream_done with the end */
	nap_conn_flush(H.conn);
}

int host_call_stream(const char *service, uint32_t method, const ProtobufCMessage *request,
		     const ProtobufCMessageDescriptor *msg_desc, uint32_t timeout_ms,
		     const nap_plugin_call *parent,
		     int (*on_message)(const ProtobufCMessage *msg, void *ud), void *ud,
		     nap_error *err)
{
	if (pthread_equal(pthread_self(), H.loop_thread)) {
		if (err) {
			err->status = NAP_FAILED_PRECONDITION;
			snprintf(err->message, sizeof(err->message),
				 "host->call_stream() from an inline handler would deadlock");
		}
		return -EDEADLK;
	}
	struct stream_call s = {0};
	msgq_init(&s.msgs);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s.cond, &ca);
	pthread_condattr_destroy(&ca);
	host_lock();
	wait_hello();
	int r = nap_call_start(&s.call, H.conn, service, method, request, timeout_ms, stream_done,
			       &s);
	if (r == 0) {
		nap_conn_flush(H.conn);
		uint64_t one = 1;
		(void)!write(H.wake_fd, &one, sizeof(one));
		int stop = 0;
		while (!s.done || s.msgs.head) {
			struct msgq_item *m = stream_next(&s);
			if (stop) {
				free(m); /* the caller wanted no more */
				continue;
			}
			if (parent && host_cancelled(parent) && !s.done)
				stream_cancel(&s);
			host_unlock();
			if (m) {
				ProtobufCMessage *msg = protobuf_c_message_unpack(msg_desc, NULL,
										  m->len, m->data);
				if (msg) {
					stop = on_message(msg, ud);
					protobuf_c_message_free_unpacked(msg, NULL);
				}
				free(m);
			} else if (!s.done) {
				stop = on_message(NULL, ud);
			}
			host_lock();
			if (stop && !s.done)
				stream_cancel(&s);
		}
	}
	host_unlock();
	pthread_cond_destroy(&s.cond);
	if (r < 0)
		return not_started(err, r);
	if (err) {
		err->status = s.status;
		snprintf(err->message, sizeof(err->message), "%s", s.message);
	}
	return s.status == NAP_OK ? 0 : -EPROTO;
}
