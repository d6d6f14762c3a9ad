/* plugins/common: an Instance's endpoint ports (Nap__Instance.ports and
 * .port, protocol 1.2), filled the same way by every scheduler from the
 * ports endpoint_ports() chose (docs/protocol.md, "Endpoints"). */
#ifndef NAP_PLUGIN_COMMON_INSTANCE_PORTS_H
#define NAP_PLUGIN_COMMON_INSTANCE_PORTS_H

#include <stddef.h>

#include <nap/scheduler.pb-c.h>

#include "endpoint.h"

/* Sets out->ports to the n ports (the default first) and out->port to the
 * default's host port (0 if n is 0). The array is allocated: free it with
 * instance_ports_free(). -ENOMEM leaves out->ports empty, port set. */
int instance_ports_set(Nap__Instance *out, const struct endpoint_port *ports, size_t n);

/* Frees what instance_ports_set() allocated in out (none is fine). */
void instance_ports_free(Nap__Instance *out);

#endif
