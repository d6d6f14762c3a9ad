/* echo: the smallest useful nap plugin, and the one to copy.
 *
 * It provides nap.Echo (proto/nap/echo.proto): Echo answers with the payload
 * it was sent, on the host's event loop (NAP_METHOD_INLINE: it never
 * blocks); EchoStream sends the payload `count` times, `interval_ms` apart,
 * on a thread of its own, and stops early when the caller cancels.
 *
 * Build it out of tree:
 *   cc -shared -fPIC -o echo.so echo.c $(pkg-config --cflags --libs nap-plugin)
 * and load it with "plugins = /path/to/echo.so" in napd.conf. */
#define _POSIX_C_SOURCE 200809L

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

static const struct nap_plugin_method echo_methods[] = {
	{"Echo", echo_echo, NAP_METHOD_INLINE},
	{"EchoStream", echo_stream, 0},
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
