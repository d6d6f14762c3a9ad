/* echo: the smallest useful nap plugin, and the one to copy.
 *
 * It provides nap.Echo (proto/nap/echo.proto): Echo answers with the payload
 * it was sent, on the host's event loop (NAP_METHOD_INLINE: it never
 * blocks); EchoStream sends the payload `count` times, `interval_ms` apart,
 * on a thread of its own, and stops early when the caller cancels. Sum and
 * Chat (protocol 1.2) read a request stream with host->recv(): Sum counts
 * what it is sent and answers once the caller half-closes; Chat answers each
 * message as it takes it.
 *
 * Build it out of tree:
 *   cc -shared -fPIC -o echo.so echo.c $(pkg-config --cflags --libs nap-plugin)
 * and load it with "plugins = /path/to/echo.so" in napd.conf. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <nap/echo.pb-c.h>
#include <nap/plugin.h>

static const nap_host *host;

static int echo_init(const nap_host *h, void **statep)
{
	host = h;
	*statep = NULL;
	const char *greeting = host->config("greeting");
	if (greeting)
		host->log(NAP_LOG_INFO, "echo: %s", greeting);
	return 0;
}

static void echo_echo(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__EchoMessage *in = (const Nap__EchoMessage *)request;
	Nap__EchoMessage out = NAP__ECHO_MESSAGE__INIT;
	out.payload = in->payload;
	host->reply(call, &out.base);
}

static void echo_stream(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Nap__EchoStreamRequest *in = (const Nap__EchoStreamRequest *)request;
	Nap__EchoMessage out = NAP__ECHO_MESSAGE__INIT;
	out.payload = in->payload;
	for (uint32_t i = 0; i < in->count; i++) {
		if (host->cancelled(call)) {
			host->end(call, NAP_CANCELLED, "echo: cancelled after %u messages", i);
			return;
		}
		if (host->send(call, &out.base) < 0)
			break;
		if (in->interval_ms) {
			struct timespec ts = {in->interval_ms / 1000,
					      (long)(in->interval_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	host->end(call, NAP_OK, "%s", "");
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Adler-32 (RFC 1950), the check that a stream came whole and in order. */
struct sum {
	uint64_t bytes, messages;
	uint32_t a, b;
};

static void sum_add(struct sum *s, const uint8_t *p, size_t n)
{
	s->bytes += n;
	s->messages++;
	while (n > 0) {
		/* 5552 bytes is the most that cannot overflow 32 bits before
		 * the modulo (zlib's NMAX). */
		size_t k = n < 5552 ? n : 5552;
		n -= k;
		while (k--) {
			s->a += *p++;
			s->b += s->a;
		}
		s->a %= 65521u;
		s->b %= 65521u;
	}
}

/* A host older than protocol 1.2 cannot read a request stream. */
static bool can_recv(nap_plugin_call *call)
{
	if (NAP_HOST_HAS(host, recv))
		return true;
	host->end(call, NAP_UNIMPLEMENTED, "echo: this napd cannot read request streams (1.2)");
	return false;
}

static void echo_sum(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	if (!can_recv(call))
		return;
	const Nap__SumChunk *first = (const Nap__SumChunk *)request;
	struct sum s = {.a = 1};
	sum_add(&s, first->data.data, first->data.len);
	uint32_t delay = first->delay_ms;
	for (;;) {
		if (delay)
			sleep_ms(delay);
		ProtobufCMessage *m = NULL;
		int r = host->recv(call, &m);
		if (r == 0)
			break;
		if (r < 0) {
			/* Tests read this line: how far the stream got. */
			host->log(NAP_LOG_NOTICE,
				  "echo: Sum stopped after %llu bytes in %llu messages: %s",
				  (unsigned long long)s.bytes, (unsigned long long)s.messages,
				  strerror(-r));
			host->end(call, NAP_CANCELLED, "echo: Sum stopped");
			return;
		}
		const Nap__SumChunk *c = (const Nap__SumChunk *)m;
		sum_add(&s, c->data.data, c->data.len);
		delay = c->delay_ms;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	Nap__SumReply out = NAP__SUM_REPLY__INIT;
	out.bytes = s.bytes;
	out.messages = s.messages;
	out.adler32 = s.b << 16 | s.a;
	host->reply(call, &out.base);
}

static void echo_chat(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	if (!can_recv(call))
		return;
	int r = host->send(call, request);
	while (r >= 0) {
		ProtobufCMessage *m = NULL;
		r = host->recv(call, &m);
		if (r == 0) {
			host->end(call, NAP_OK, "%s", "");
			return;
		}
		if (r > 0) {
			r = host->send(call, m);
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	/* Every call ends once, even one the caller gave up (it is dropped). */
	host->end(call, NAP_CANCELLED, "echo: Chat stopped: %s", strerror(-r));
}

static const struct nap_plugin_method echo_methods[] = {
	{"Echo", echo_echo, NAP_METHOD_INLINE},
	{"EchoStream", echo_stream, 0},
	{"Sum", echo_sum, 0},
	{"Chat", echo_chat, 0},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service echo_services[] = {
	{&nap__echo__descriptor, echo_methods},
	{NULL, NULL},
};

static const struct nap_plugin echo_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "echo",
	.version = "1.0",
	.description = "answers nap.Echo calls with what it was sent",
	.services = echo_services,
	.init = echo_init,
};

NAP_PLUGIN_DEFINE(echo_plugin)
