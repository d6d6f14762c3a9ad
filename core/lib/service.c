/* libnap: methods of a protobuf-c service descriptor by index and by name
 * (a CALL names its method by index, docs/protocol.md section 5). */
#include "config.h"

#include <string.h>

#include <nap/bus.h>

const ProtobufCMethodDescriptor *nap_method_get(const ProtobufCServiceDescriptor *service,
						uint32_t method)
{
	if (!service || method >= service->n_methods)
		return NULL;
	return &service->methods[method];
}

int nap_method_index(const ProtobufCServiceDescriptor *service, const char *name)
{
	for (unsigned i = 0; i < service->n_methods; i++)
		if (strcmp(service->methods[i].name, name) == 0)
			return (int)i;
	return -1;
}
