/* greeter: a plugin that provides a service of its own, acme.Greeter
 * (greeter.proto beside it), instead of one nap defines.
 *
 * The plugin compiles the code protoc-c generates from its .proto into
 * itself: nap's libnap holds only nap's own services. pkg-config nap-plugin
 * adds -fvisibility=hidden, so that code stays inside the .so, and a
 * change of greeter.proto is the plugin's business alone. Clients compile
 * the same generated code (greet.c). See README.md for the commands. */
#include <stdio.h>

#include <nap/plugin.h>

#include "greeter.pb-c.h"

static const nap_host *host;

static int greeter_init(const nap_host *h, void **statep)
{
	host = h;
	*statep = NULL;
	return 0;
}

static void greeter_greet(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	(void)state;
	const Acme__GreetRequest *in = (const Acme__GreetRequest *)request;
	if (!in->name[0]) {
		host->end(call, NAP_INVALID_ARGUMENT, "greeter: Greet needs a name");
		return;
	}
	char text[300];
	snprintf(text, sizeof(text), "hello, %.256s", in->name);
	Acme__GreetReply out = ACME__GREET_REPLY__INIT;
	out.greeting = text;
	host->reply(call, &out.base);
}

static const struct nap_plugin_method greeter_methods[] = {
	{"Greet", greeter_greet, NAP_METHOD_INLINE},
	{NULL, NULL, 0},
};

static const struct nap_plugin_service greeter_services[] = {
	{&acme__greeter__descriptor, greeter_methods},
	{NULL, NULL},
};

static const struct nap_plugin greeter_plugin = {
	.size = sizeof(struct nap_plugin),
	.abi = NAP_PLUGIN_ABI,
	.name = "greeter",
	.version = "1.0",
	.description = "answers acme.Greeter, a service of its own",
	.services = greeter_services,
	.init = greeter_init,
};

NAP_PLUGIN_DEFINE(greeter_plugin)
