/* plugins/common: an Instance's endpoint ports (see instance_ports.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "instance_ports.h"

#include <errno.h>
#include <stdlib.h>

/* One allocation: the pointer array protobuf-c wants, then what it points
 * to; out->ports is its start, so free(out->ports) frees it all. */
struct ports_block {
	Nap__InstancePort *ptrs[ENDPOINT_PORTS_MAX];
	Nap__InstancePort v[ENDPOINT_PORTS_MAX];
};

int instance_ports_set(Nap__Instance *out, const struct endpoint_port *ports, size_t n)
{
	struct ports_block *b;

	out->port = n ? ports[0].host_port : 0;
	out->ports = NULL;
	out->n_ports = 0;
	if (n == 0)
		return 0;
	if (n > ENDPOINT_PORTS_MAX)
		n = ENDPOINT_PORTS_MAX;
	b = malloc(sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		nap__instance_port__init(&b->v[i]);
		b->v[i].container_port = ports[i].container_port;
		b->v[i].host_port = ports[i].host_port;
		b->ptrs[i] = &b->v[i];
	}
	out->ports = b->ptrs;
	out->n_ports = n;
	return 0;
}

void instance_ports_free(Nap__Instance *out)
{
	free(out->ports); /* the block's start (see struct ports_block) */
	out->ports = NULL;
	out->n_ports = 0;
}
