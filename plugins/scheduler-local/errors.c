/* scheduler-local: Docker client errors (negative errno values, see
 * docker_api.h) as the nap statuses a caller sees. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <errno.h>

int sl_status(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -ECONNRESET:
		return NAP_UNAVAILABLE; /* dockerd is down or stuck: retry later */
	case -ECANCELED:
		return NAP_CANCELLED;
	case -EINVAL:
		return NAP_INVALID_ARGUMENT;
	case -ENOENT:
		return NAP_NOT_FOUND;
	case -EEXIST:
		return NAP_ALREADY_EXISTS;
	case -ENOMEM:
		return NAP_RESOURCE_EXHAUSTED;
	default:
		return NAP_INTERNAL;
	}
}

void sl_end_docker(const struct sl_state *st, nap_plugin_call *call, int err, const char *what)
{
	st->host->end(call, sl_status(err), "scheduler-local: %s", what);
}
