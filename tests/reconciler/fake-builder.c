/* Test fixture: fake-builder, a nap.Builder that builds nothing.
 *
 * Build streams a "build" event per step (step n of FAKE_BUILD_STEPS), a
 * "push" event, and a last event with image "fake/<app>:<release>" and a
 * made-up digest, waiting `build_ms` (setting; default 50) between events
 * and honouring cancellation. A build context holding a file named
 * FAIL_BUILD ends the call with INTERNAL and one line instead.
 * RemoveImage always succeeds. Upload (1.2) reads the whole archive, keeps
 * nothing, and only then answers: its context id is a counter whose last
 * hex digit says whether the archive held a FAIL_BUILD entry (1) or not
 * (0), which Build then reads back; Build also still takes a directory
 * (context.dir), as fake-call sends.
 *
 * Setting control_socket = PATH opens the control channel (fake-control.h):
 * crash and the fault commands only (crash-on Build, fail Build ...). */
#define _GNU_SOURCE /* memmem */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>
#include <nap/names.h>
#include <nap/plugin.h>

#include "fake-control.h"

#define FAKE_BUILD_STEPS 2
#define FAKE_BUILD_MS_DEFAULT 50u
#define FAKE_BUILD_MS_MAX 60000u

static const nap_host *host;
static unsigned build_ms = FAKE_BUILD_MS_DEFAULT;
static struct fake_control *control;

static int fb_init(const nap_host *h, void **statep)
{
	const char *v;

	host = h;
	*statep = NULL;
	if ((v = h->config("build_ms"))) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || n > FAKE_BUILD_MS_MAX) {
			h->log(NAP_LOG_ERROR, "fake-builder: build_ms = %s: give 0 to %u", v,
			       FAKE_BUILD_MS_MAX);
			return -EINVAL;
		}
		build_ms = (unsigned)n;
	}
	if ((v = h->config("control_socket"))) {
		int r = fake_control_start(&control, "fake-builder", v, NULL, NULL);
		if (r < 0) {
			h->log(NAP_LOG_ERROR, "fake-builder: control_socket = %s: %s", v,
			       strerror(-r));
			return r == -ENAMETOOLONG ? -EINVAL : r;
		}
	}
	return 0;
}

/* Waits build_ms in slices; false if the call was cancelled meanwhile. */
static bool pause_build(nap_plugin_call *call)
{
	for (unsigned waited = 0; waited < build_ms; waited += 10) {
		if (host->cancelled(call))
			return false;
		fake_sleep_ms(build_ms - waited < 10 ? build_ms - waited : 10);
	}
	return !host->cancelled(call);
}

static void fb_build(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__BuildRequest *in = (const Nap__BuildRequest *)request;
	Nap__BuildEvent ev = NAP__BUILD_EVENT__INIT;
	char line[200], image[128], path[PATH_MAX];

	if (fake_fault_begin(host, call, "Build"))
		return;
	if (!nap_app_name_valid(in->app)) {
		host->end(call, NAP_INVALID_ARGUMENT,
			  "fake-builder: app name \"%.70s\" is not valid", in->app);
		return;
	}
	bool uploaded = in->context_id && strlen(in->context_id) == NAP_CONTEXT_ID_LEN;
	if (!uploaded && (!in->dir || in->dir[0] != '/')) {
		host->end(call, NAP_INVALID_ARGUMENT,
			  "fake-builder: the build context must be an uploaded one or an "
			  "absolute path");
		return;
	}
	bool fail = uploaded ? in->context_id[NAP_CONTEXT_ID_LEN - 1] == '1' : false;
	if (!uploaded) {
		snprintf(path, sizeof path, "%s/FAIL_BUILD", in->dir);
		fail = access(path, F_OK) == 0;
	}
	ev.stage = "build";
	ev.message = line;
	ev.steps = FAKE_BUILD_STEPS;
	for (unsigned s = 1; s <= FAKE_BUILD_STEPS; s++) {
		if (!pause_build(call))
			goto cancelled;
		if (s == FAKE_BUILD_STEPS && fail) {
			host->end(call, NAP_INTERNAL,
				  "fake-builder: step %u/%u failed: FAIL_BUILD is in %.200s", s,
				  FAKE_BUILD_STEPS, uploaded ? "the uploaded context" : in->dir);
			return;
		}
		snprintf(line, sizeof line, "Step %u/%u : fake step for %s", s, FAKE_BUILD_STEPS,
			 in->app);
		ev.step = s;
		host->send(call, &ev.base);
	}
	snprintf(image, sizeof image, "fake/%s:%u", in->app, in->release);
	if (in->push) {
		if (!pause_build(call))
			goto cancelled;
		Nap__BuildEvent push = NAP__BUILD_EVENT__INIT;
		snprintf(line, sizeof line, "pushing %s", image);
		push.stage = "push";
		push.message = line;
		host->send(call, &push.base);
	}
	Nap__BuildEvent last = NAP__BUILD_EVENT__INIT;
	char digest[80];
	snprintf(digest, sizeof digest, "sha256:%064x", in->release);
	snprintf(line, sizeof line, "built %s", image);
	last.stage = in->push ? "push" : "build";
	last.message = line;
	last.image = image;
	last.digest = in->push ? digest : "";
	host->send(call, &last.base);
	fake_fault_end(host, "Build");
	host->end(call, NAP_OK, "%s", "");
	return;
cancelled:
	host->end(call, NAP_CANCELLED, "fake-builder: build of %s cancelled", in->app);
}

/* Finds "FAIL_BUILD" (a tar entry's NUL-padded name) across chunks: tail
 * keeps the last bytes of the chunk before. */
static bool has_fail_build(char tail[16], size_t *tail_len, const uint8_t *data, size_t len)
{
	static const char name[] = "FAIL_BUILD"; /* its NUL too */
	char buf[16 + 4096];
	bool found = false;
	while (len > 0 && !found) {
		size_t n = len < 4096 ? len : 4096;
		memcpy(buf, tail, *tail_len);
		memcpy(buf + *tail_len, data, n);
		size_t all = *tail_len + n;
		found = memmem(buf, all, name, sizeof name) != NULL;
		*tail_len = all < sizeof name ? all : sizeof name;
		memcpy(tail, buf + all - *tail_len, *tail_len);
		data += n;
		len -= n;
	}
	return found;
}

static void fb_upload(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	static unsigned long counter;
	const Nap__ContextChunk *first = (const Nap__ContextChunk *)request;
	char tail[16], id[NAP_CONTEXT_ID_LEN + 1];
	size_t tail_len = 0;
	uint64_t got = first->data.len;
	bool fail = has_fail_build(tail, &tail_len, first->data.data, first->data.len);
	ProtobufCMessage *msg;
	int r;
	while ((r = host->recv(call, &msg)) == 1) {
		const Nap__ContextChunk *c = (const Nap__ContextChunk *)msg;
		fail |= has_fail_build(tail, &tail_len, c->data.data, c->data.len);
		got += c->data.len;
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	if (r < 0) {
		host->end(call, NAP_CANCELLED, "fake-builder: upload cancelled");
		return;
	}
	snprintf(id, sizeof id, "%031lx%d", __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST),
		 fail ? 1 : 0);
	/* The real builder answers the id first and the size last; a client
	 * that waits for the id sees it here, with the end right after. */
	Nap__ContextReply out = NAP__CONTEXT_REPLY__INIT;
	out.context_id = id;
	host->send(call, &out.base);
	out.size = got;
	host->send(call, &out.base);
	host->end(call, NAP_OK, "%s", "");
}

static void fb_remove_image(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)request;
	(void)state;
	if (fake_fault_begin(host, call, "RemoveImage"))
		return;
	Nap__RemoveImageReply out = NAP__REMOVE_IMAGE_REPLY__INIT;
	fake_fault_end(host, "RemoveImage");
	host->reply(call, &out.base);
}

static void fb_shutdown(void *state)
{
	(void)state;
	fake_control_stop(control);
	control = NULL;
}

static const struct nap_plugin_method fb_methods[] = {
	{"Build", fb_build, 0},
	{"RemoveImage", fb_remove_image, 0},
	{"Upload", fb_upload, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service fb_services[] = {
	{&nap__builder__descriptor, fb_methods},
	{NULL, NULL},
};

static const struct nap_plugin fb_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "fake-builder",
	.version = "0.0",
	.description = "test fixture: a nap.Builder that builds nothing",
	.services = fb_services,
	.init = fb_init,
	.shutdown = fb_shutdown,
};

NAP_PLUGIN_DEFINE(fb_plugin)
