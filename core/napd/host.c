/* The plugin host. One process per plugin: it loads the .so, checks its ABI,
 * tells napd what the plugin provides, and runs the plugin's handlers — on
 * its event loop for NAP_METHOD_INLINE methods, on a thread per call
 * otherwise, each reading its request stream (host->recv) as the loop
 * thread queues it. One recursive lock guards the connection and the call
 * table; the host functions handed to the plugin may be called from any
 * thread. The calls the plugin makes through napd are in host_calls.c. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>
#include <nap/frame.h>
#include <nap/limits.h>
#include <nap/plugin.h>

#include "../lib/idmap.h"
#include "host.h"
#include "host_state.h"
#include "log.h"
#include "msgq.h"

struct host_state H;

void host_lock(void)
{
	pthread_mutex_lock(&H.lock);
}

void host_unlock(void)
{
	/* Output that could not be written at once is the loop's to finish:
	 * wake it so that it polls for POLLOUT. */
	bool wake = H.conn && nap_conn_pending(H.conn) > 0 &&
		    !pthread_equal(pthread_self(), H.loop_thread);
	pthread_mutex_unlock(&H.lock);
	if (wake) {
		uint64_t one = 1;
		(void)!write(H.wake_fd, &one, sizeof(one));
	}
}

/* Ends the host: napd reads the reason from the END frame. */
static void __attribute__((noreturn)) refuse(int exit_code, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(int exit_code, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (H.conn) {
		nap_conn_abort(H.conn, status, "%s", msg);
		/* Wait (briefly) for napd to read the END and close: exiting
		 * with napd's HELLO unread would reset the socket, and napd
		 * would read "connection lost" instead of the reason. */
		struct pollfd p = {.fd = nap_conn_get_fd(H.conn), .events = POLLIN};
		char sink[4096];
		uint64_t until = nap_now_usec() + 2000000u;
		while (nap_now_usec() < until && poll(&p, 1, 100) >= 0) {
			/* What did not fit at once (the END last) goes out now. */
			(void)nap_conn_flush(H.conn);
			if ((p.revents & POLLIN) && read(p.fd, sink, sizeof(sink)) <= 0)
				break;
		}
	}
	_exit(exit_code);
}

/* --- what the plugin calls --- */

/* On the loop thread the loop flushes once per round, batching replies; a
 * handler thread writes its own at once. */
static void flush_if_off_loop(int r)
{
	if (r == 0 && !pthread_equal(pthread_self(), H.loop_thread))
		nap_conn_flush(H.conn);
}

/* Frees what a call's caller sent that its handler did not take, and says
 * so (the tests read it). */
static void drop_requests(nap_plugin_call *call, const char *why)
{
	if (call->requests.count > 0)
		log_debug("plugin %s: %s method %u (call %llu) %s: %zu bytes in %zu request "
			  "messages the handler did not take are dropped",
			  H.name, call->service, call->method_index, (unsigned long long)call->id,
			  why, call->requests.bytes, call->requests.count);
	msgq_clear(&call->requests);
}

static void call_done(nap_plugin_call *call)
{
	nap_idmap_remove(&H.calls, call->id);
	if (call->request)
		protobuf_c_message_free_unpacked(call->request, NULL);
	drop_requests(call, "was ended by its handler");
	pthread_cond_destroy(&call->arrived);
	free(call);
}

/* The call ended without its handler (cancel, deadline, a caller past its
 * credit): the handler's host->cancelled() and recv() say so at once, and
 * what the caller sent that the handler did not take goes now. Lock held. */
static void call_stop(nap_plugin_call *call, const char *why)
{
	atomic_store(&call->cancelled, true);
	call->answered = true;
	drop_requests(call, why);
	pthread_cond_broadcast(&call->arrived);
}

static int h_reply(nap_plugin_call *call, const ProtobufCMessage *reply)
{
	host_lock();
	int r = call->answered ? -ECANCELED : nap_conn_reply(H.conn, call->id, reply);
	flush_if_off_loop(r);
	call_done(call);
	host_unlock();
	return r;
}

static int h_send(nap_plugin_call *call, const ProtobufCMessage *msg)
{
	host_lock();
	int r = call->answered ? -ECANCELED : nap_conn_send(H.conn, call->id, msg);
	flush_if_off_loop(r);
	host_unlock();
	return r;
}

static int h_end(nap_plugin_call *call, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	host_lock();
	int r;
	if (call->answered)
		r = -ECANCELED;
	else if (status == NAP_CANCELLED && !atomic_load(&call->cancelled) && call->deadline &&
		 nap_now_usec() >= call->deadline)
		/* The handler stopped because host->cancelled() turned true at
		 * the deadline, before the loop thread's check: the caller did
		 * not cancel, the deadline passed (docs/protocol.md section 6). */
		r = nap_conn_end(H.conn, call->id, NAP_DEADLINE_EXCEEDED, NAP_DEADLINE_MESSAGE,
				 call->timeout_ms, call->service, call->method_index);
	else
		r = nap_conn_end(H.conn, call->id, status, "%s", msg);
	flush_if_off_loop(r);
	call_done(call);
	host_unlock();
	return r;
}

bool host_cancelled(const nap_plugin_call *call)
{
	if (atomic_load(&call->cancelled))
		return true;
	return call->deadline && nap_now_usec() >= call->deadline;
}

static uint32_t h_remaining_ms(const nap_plugin_call *call)
{
	if (!call->deadline)
		return UINT32_MAX;
	uint64_t now = nap_now_usec();
	return now >= call->deadline ? 0 : (uint32_t)((call->deadline - now) / 1000u);
}

static void h_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static const char *h_config(const char *key)
{
	if (!H.napd_hello)
		return NULL;
	size_t kl = strlen(key);
	for (size_t i = 0; i < H.napd_hello->n_config; i++) {
		const char *kv = H.napd_hello->config[i];
		if (strncmp(kv, key, kl) == 0 && kv[kl] == '=')
			return kv + kl + 1;
	}
	return NULL;
}

/* Gives the caller back the credit for what the handler took: once a
 * quarter window has been taken, or as soon as the handler has taken all
 * there is (a caller waiting for room for a message as big as the window
 * must get it even though the handler took less than a quarter). Lock held. */
static void grant(nap_plugin_call *call)
{
	/* Granted after the caller's half-close too: it needs no more, but
	 * then the WINDOWs it sees depend on what the handler took, never on
	 * when the half-close came (docs/protocol.md's example shows them). */
	if (call->ungranted == 0 || call->answered ||
	    (call->ungranted < NAP_STREAM_WINDOW / 4 && call->requests.count > 0))
		return;
	uint32_t n = call->ungranted > UINT32_MAX ? UINT32_MAX : (uint32_t)call->ungranted;
	int r = nap_conn_window(H.conn, call->id, n);
	if (r == 0) {
		call->credit += n;
		call->ungranted -= n;
	}
	flush_if_off_loop(r);
}

static int h_recv(nap_plugin_call *call, ProtobufCMessage **msgp)
{
	/* The loop thread is the one that reads what recv() waits for. */
	if (pthread_equal(pthread_self(), H.loop_thread))
		return -EDEADLK;
	host_lock();
	struct msgq_item *m = NULL;
	while (!call->answered && !host_cancelled(call) && !(m = msgq_pop(&call->requests)) &&
	       !call->half_closed) {
		/* Woken by the loop thread for each request, the half-close,
		 * a cancel and the deadline (expire_one); the timeout is only
		 * a safety net. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&call->arrived, &H.lock, &ts);
	}
	if (!m) {
		int r = call->half_closed && !call->answered && !host_cancelled(call) ? 0
										      : -ECANCELED;
		host_unlock();
		return r;
	}
	call->ungranted += m->len;
	grant(call);
	/* Decoded without the lock, which the loop thread needs meanwhile:
	 * the call stays until its handler (this thread) ends it. */
	host_unlock();
	ProtobufCMessage *msg = protobuf_c_message_unpack(call->input, NULL, m->len, m->data);
	free(m);
	char why[160];
	if (msg && nap_message_utf8_check(msg, why, sizeof(why)) == 0) {
		*msgp = msg;
		return 1;
	}
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	else
		snprintf(why, sizeof(why), "it is not a valid %s", call->input->name);
	host_lock();
	if (!call->answered) {
		int r = nap_conn_end(
			H.conn, call->id, NAP_INVALID_ARGUMENT,
			"%s method %u: a request message of the stream was refused: %s",
			call->service, call->method_index, why);
		flush_if_off_loop(r);
		call_stop(call, "refused a request message");
	}
	host_unlock();
	return -EBADMSG;
}

static const nap_host host_table = {
	.size = sizeof(nap_host),
	.abi = NAP_PLUGIN_ABI,
	.reply = h_reply,
	.send = h_send,
	.end = h_end,
	.cancelled = host_cancelled,
	.remaining_ms = h_remaining_ms,
	.log = h_log,
	.config = h_config,
	.call = host_call,
	.call_stream = host_call_stream,
	.recv = h_recv,
};

/* --- dispatch --- */

static void *run_handler(void *arg)
{
	nap_plugin_call *call = arg;
	call->method->fn(call, call->request, H.state);
	return NULL;
}

static void incoming_call(const Nap__Bus__Frame *f)
{
	struct bound_service *bs = NULL;
	for (size_t i = 0; i < H.nservices; i++)
		if (strcmp(H.services[i].desc->name, f->service) == 0)
			bs = &H.services[i];
	if (!bs) {
		nap_conn_end(H.conn, f->call_id, NAP_UNIMPLEMENTED, "plugin %s does not provide %s",
			     H.name, f->service);
		return;
	}
	const ProtobufCMethodDescriptor *md = nap_method_get(bs->desc, f->method);
	if (!md || !bs->by_index[f->method]) {
		nap_conn_end(H.conn, f->call_id, NAP_UNIMPLEMENTED,
			     "plugin %s does not implement method %u of %s", H.name, f->method,
			     f->service);
		return;
	}
	ProtobufCMessage *req = protobuf_c_message_unpack(md->input, NULL, f->payload.len,
							  f->payload.data);
	if (!req) {
		nap_conn_end(H.conn, f->call_id, NAP_INVALID_ARGUMENT,
			     "%s.%s: the request is not a valid %s", f->service, md->name,
			     md->input->name);
		return;
	}
	char why[160];
	if (nap_message_utf8_check(req, why, sizeof(why)) < 0) {
		protobuf_c_message_free_unpacked(req, NULL);
		nap_conn_end(H.conn, f->call_id, NAP_INVALID_ARGUMENT,
			     "%s.%s: %s: strings are UTF-8 (docs/protocol.md section 12)",
			     f->service, md->name, why);
		return;
	}
	nap_plugin_call *call = calloc(1, sizeof(*call));
	if (!call || nap_idmap_put(&H.calls, f->call_id, call) < 0) {
		free(call); /* nothing else of it was set up yet */
		protobuf_c_message_free_unpacked(req, NULL);
		nap_conn_end(H.conn, f->call_id, NAP_RESOURCE_EXHAUSTED, "plugin %s: out of memory",
			     H.name);
		return;
	}
	call->id = f->call_id;
	call->method = bs->by_index[f->method];
	call->request = req;
	call->input = md->input;
	msgq_init(&call->requests);
	call->credit = NAP_STREAM_WINDOW;
	/* A caller older than 1.2 cannot stream: its request is the first
	 * message alone, as if it had half-closed at once. */
	call->half_closed = nap_conn_peer_hello(H.conn)->protocol_minor < 2;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call->arrived, &ca);
	pthread_condattr_destroy(&ca);
	call->timeout_ms = f->timeout_ms;
	call->service = bs->desc->name;
	call->method_index = f->method;
	if (f->timeout_ms)
		call->deadline = nap_now_usec() + (uint64_t)f->timeout_ms * 1000u;
	if (call->method->flags & NAP_METHOD_INLINE) {
		call->method->fn(call, req, H.state);
		return;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int r = pthread_create(&t, &attr, run_handler, call);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		nap_conn_end(H.conn, f->call_id, NAP_RESOURCE_EXHAUSTED,
			     "plugin %s: cannot start a thread: %s", H.name, strerror(r));
		call->answered = true;
		call_done(call);
	}
}

/* The caller's MESSAGE (one more request) or END (its half-close) of a
 * call being served, kept for the handler's recv(). A caller that sends
 * past the credit it was granted is ended: the queue never holds more than
 * one window. */
static void incoming_request(nap_plugin_call *call, const Nap__Bus__Frame *f)
{
	bool stop = true;
	if (call->half_closed)
		nap_conn_end(H.conn, call->id, NAP_INVALID_ARGUMENT,
			     "%s method %u: a request message after the caller's half-close",
			     call->service, call->method_index);
	else if (f->kind == NAP__BUS__KIND__MESSAGE && f->payload.len > call->credit)
		nap_conn_end(H.conn, call->id, NAP_RESOURCE_EXHAUSTED,
			     "%s method %u: a request message of %zu bytes is over the credit "
			     "left (%zu bytes): a caller sends only what WINDOW frames allow "
			     "(docs/protocol.md section 5)",
			     call->service, call->method_index, f->payload.len, call->credit);
	else if (f->kind == NAP__BUS__KIND__MESSAGE &&
		 msgq_push(&call->requests, f->payload.data, f->payload.len) < 0)
		nap_conn_end(H.conn, call->id, NAP_RESOURCE_EXHAUSTED, "plugin %s: out of memory",
			     H.name);
	else
		stop = false;
	if (stop) {
		call_stop(call, "was ended: its caller broke the request stream's rules");
		return;
	}
	if (f->kind == NAP__BUS__KIND__END)
		call->half_closed = true;
	else
		call->credit -= f->payload.len;
	pthread_cond_signal(&call->arrived);
}

static void incoming(nap_conn *conn, const Nap__Bus__Frame *f, void *ud)
{
	(void)conn;
	(void)ud;
	if (f->kind == NAP__BUS__KIND__CALL) {
		incoming_call(f);
		return;
	}
	if (f->kind == NAP__BUS__KIND__HELLO) {
		nap_conn_abort(H.conn, NAP_INVALID_ARGUMENT, "napd sent a second HELLO");
		return;
	}
	nap_plugin_call *call = nap_idmap_get(&H.calls, f->call_id);
	if (!call || call->answered)
		return; /* it ended: what the caller still sends is ignored */
	if (f->kind == NAP__BUS__KIND__CANCEL)
		/* The caller already ended its side: no END goes back. */
		call_stop(call, "was cancelled");
	else
		incoming_request(call, f);
}

static void expire_one(uint64_t id, void *value, void *ud)
{
	uint64_t now = *(uint64_t *)ud;
	nap_plugin_call *call = value;
	if (call->answered || !call->deadline || call->deadline > now)
		return;
	call_stop(call, "passed its deadline");
	nap_conn_end(H.conn, id, NAP_DEADLINE_EXCEEDED, NAP_DEADLINE_MESSAGE, call->timeout_ms,
		     call->service, call->method_index);
}

static int poll_timeout_ms(void)
{
	uint64_t next = 0, t;
	if (nap_conn_get_timeout(H.conn, &t) == 0)
		next = t;
	/* Handler deadlines: checked every 100 ms while calls with one run. */
	if (H.calls.count > 0 && (!next || next > nap_now_usec() + 100000))
		next = nap_now_usec() + 100000;
	if (!next)
		return -1;
	uint64_t now = nap_now_usec();
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

/* --- start-up --- */

static void bind_services(void)
{
	size_t n = 0;
	while (H.plugin->services && H.plugin->services[n].descriptor)
		n++;
	H.services = calloc(n ? n : 1, sizeof(*H.services));
	if (!H.services)
		refuse(HOST_EXIT_FAILED, NAP_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct nap_plugin_service *ps = &H.plugin->services[i];
		struct bound_service *bs = &H.services[i];
		bs->desc = ps->descriptor;
		if (bs->desc->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC)
			refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
			       "plugin %s: service %zu has no valid protobuf-c descriptor", H.name,
			       i);
		bs->by_index = calloc(bs->desc->n_methods ? bs->desc->n_methods : 1,
				      sizeof(*bs->by_index));
		if (!bs->by_index)
			refuse(HOST_EXIT_FAILED, NAP_RESOURCE_EXHAUSTED, "out of memory");
		for (const struct nap_plugin_method *m = ps->methods; m && m->name; m++) {
			int idx = nap_method_index(bs->desc, m->name);
			if (idx < 0 || !m->fn)
				refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
				       "plugin %s: method %s is not in service %s", H.name, m->name,
				       bs->desc->name);
			bs->by_index[idx] = m;
		}
	}
	H.nservices = n;
}

static void load(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION, "plugin %s: cannot load: %s",
		       H.name, dlerror());
	nap_plugin_entry_fn entry;
	*(void **)&entry = dlsym(dl, NAP_PLUGIN_ENTRY_SYMBOL);
	if (!entry)
		refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
		       "plugin %s: %s is not a nap plugin (no %s symbol)", H.name, path,
		       NAP_PLUGIN_ENTRY_SYMBOL);
	H.plugin = entry(&host_table);
	if (!H.plugin)
		refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
		       "plugin %s: %s returned no descriptor", H.name, NAP_PLUGIN_ENTRY_SYMBOL);
	if (H.plugin->abi != NAP_PLUGIN_ABI)
		refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
		       "plugin %s: %s was built for plugin ABI %u, napd %s speaks ABI %u: "
		       "rebuild it against nap-plugin %s",
		       H.name, path, H.plugin->abi, PACKAGE_VERSION, NAP_PLUGIN_ABI,
		       PACKAGE_VERSION);
	if (H.plugin->size < offsetof(struct nap_plugin, shutdown) + sizeof(H.plugin->shutdown))
		refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
		       "plugin %s: descriptor of %u bytes is too small for ABI %u", H.name,
		       H.plugin->size, NAP_PLUGIN_ABI);
	if (!H.plugin->name || strcmp(H.plugin->name, H.name) != 0)
		log_warning("plugin %s: calls itself '%s'", H.name,
			    H.plugin->name ? H.plugin->name : "(nothing)");
}

static void say_hello(void)
{
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR;
	h.protocol_minor = NAP_PROTOCOL_MINOR;
	h.peer_name = (char *)H.name;
	h.peer_version = (char *)PACKAGE_VERSION;
	h.plugin_name = (char *)H.name;
	h.plugin_version = (char *)(H.plugin->version ? H.plugin->version : "");
	h.plugin_description = (char *)(H.plugin->description ? H.plugin->description : "");
	h.plugin_abi = H.plugin->abi;
	char *names[64];
	h.n_services = H.nservices < 64 ? H.nservices : 64;
	for (size_t i = 0; i < h.n_services; i++)
		names[i] = (char *)H.services[i].desc->name;
	h.services = names;
	host_lock();
	nap_conn_send_hello(H.conn, &h);
	nap_conn_flush(H.conn);
	H.said_hello = true;
	pthread_cond_broadcast(&H.hello_cond);
	host_unlock();
}

int host_main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "napd --plugin-host is started by napd itself\n");
		return 2;
	}
	const char *path = argv[2];
	H.name = argv[3];
	char ident[96];
	snprintf(ident, sizeof(ident), "napd[%s]", H.name);
	log_setup(ident, atoi(argv[4]), strcmp(argv[5], "syslog") == 0);
	/* If napd dies without closing our socket, do not outlive it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&H.lock, &ma);
	pthread_cond_init(&H.hello_cond, NULL);
	pthread_mutexattr_destroy(&ma);
	H.loop_thread = pthread_self();
	H.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (H.wake_fd < 0 || nap_conn_adopt(&H.conn, HOST_FD, H.name, false) < 0) {
		log_error("plugin %s: cannot set up its connection to napd", H.name);
		return HOST_EXIT_FAILED;
	}
	nap_conn_set_incoming(H.conn, incoming, NULL);

	load(path);
	bind_services();
	/* napd's HELLO carries the plugin's settings: wait for it. */
	while (!nap_conn_peer_ready(H.conn))
		if (nap_conn_wait(H.conn, -1) < 0)
			return HOST_EXIT_FAILED;
	H.napd_hello = nap_conn_peer_hello(H.conn);
	if (H.plugin->init) {
		int r = H.plugin->init(&host_table, &H.state);
		/* -EINVAL is the plugin's way of saying its settings are wrong:
		 * restarting will not help, the operator must fix napd.conf. */
		if (r == -EINVAL)
			refuse(HOST_EXIT_REFUSED, NAP_FAILED_PRECONDITION,
			       "plugin %s: its settings in napd.conf are wrong (see the line "
			       "above); fix them and restart napd",
			       H.name);
		if (r < 0)
			refuse(HOST_EXIT_FAILED, NAP_UNAVAILABLE, "plugin %s: init failed: %s",
			       H.name, nap_strerror(r));
	}
	say_hello();

	for (;;) {
		struct pollfd p[2] = {
			{.fd = nap_conn_get_fd(H.conn), .events = nap_conn_get_events(H.conn)},
			{.fd = H.wake_fd, .events = POLLIN},
		};
		host_lock();
		p[0].events = nap_conn_get_events(H.conn);
		int timeout = poll_timeout_ms();
		pthread_mutex_unlock(&H.lock);
		int n = poll(p, 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			uint64_t v;
			(void)!read(H.wake_fd, &v, sizeof(v));
		}
		host_lock();
		int r = nap_conn_process(H.conn);
		if (r == 0 && H.calls.count > 0) {
			uint64_t now = nap_now_usec();
			nap_idmap_foreach(&H.calls, expire_one, &now);
			nap_conn_flush(H.conn);
		}
		pthread_mutex_unlock(&H.lock);
		if (r < 0)
			break; /* napd closed our socket: time to stop */
	}
	if (H.plugin->shutdown)
		H.plugin->shutdown(H.state);
	log_debug("plugin %s: stopped", H.name);
	/* Handler threads may still hold calls; the process ends them. */
	_exit(0);
}
