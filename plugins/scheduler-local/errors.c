/* scheduler-local: ending a call on a Docker client error (a negative errno,
 * see docker_api.h) with the status nap_status_from_errno() gives it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

void sl_end_docker(const struct sl_state *st, nap_plugin_call *call, int err, const char *what)
{
	st->host->end(call, nap_status_from_errno(err), "scheduler-local: %s", what);
}
